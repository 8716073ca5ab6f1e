//! `tiktok-gateway migrate`: creates or upgrades the schema of each Postgres database the
//! config names (`audit:`, `state:`, `accounts.NAME.token_store`), one transaction each; a newer schema is refused by its
//! version numbers.

use anyhow::Context;
use tiktok_agent::PgDatabase;

use crate::config::{Config, Location};

/// Migrates each Postgres database of `config`; one line for each saying what was done.
pub async fn migrate(config: &Config) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    let token_stores = config
        .accounts
        .iter()
        .map(|(name, account)| (format!("accounts.{name}.token_store"), &account.token_store));
    let mut migrated = std::collections::BTreeSet::new();
    for (key, location) in [
        ("audit".to_string(), &config.audit),
        ("state".to_string(), &config.state),
    ]
    .into_iter()
    .chain(token_stores)
    {
        let Location::Postgres(url) = location else {
            continue;
        };
        if !migrated.insert(url) {
            continue;
        }
        let database = PgDatabase::connect(url)?;
        let (from, to) = database
            .migrate(crate::schema::SCHEMA)
            .await
            .with_context(|| format!("{key}: {location}"))?;
        done.push(if from == to {
            format!("{key}: {location}: schema version {to}, up to date")
        } else {
            format!("{key}: {location}: schema version {from} -> {to}")
        });
    }
    if done.is_empty() {
        done.push("no Postgres database in the config: nothing to migrate".into());
    }
    Ok(done)
}

/// [`migrate`], each line printed.
pub async fn run(config: &Config) -> anyhow::Result<()> {
    for line in migrate(config).await? {
        crate::terminal::print(&line)?;
    }
    Ok(())
}
