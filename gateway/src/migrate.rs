//! `tiktok-gateway migrate`: creates or upgrades the schema of each Postgres database the
//! config names (today `audit:`), one transaction each; a newer schema is refused by its
//! version numbers.

use anyhow::Context;
use tiktok_agent::PgDatabase;

use crate::config::{Config, Location};

/// Migrates each Postgres database of `config`; one line for each saying what was done.
pub async fn migrate(config: &Config) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    for (key, location) in [("audit", &config.audit)] {
        let Location::Postgres(url) = location else {
            continue;
        };
        let database = PgDatabase::connect(url)?;
        let (from, to) = database
            .migrate()
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
