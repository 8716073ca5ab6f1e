//! The gateway's own tables in a Postgres database: [`SCHEMA`], the agent's steps (the audit
//! log, budget uses, TikTok tokens) followed by the gateway's (approvals and the OAuth
//! server's records), what `tiktok-gateway migrate` applies and `serve` checks.

use tiktok_agent::{Migration, Schema};

/// The schema this build of the gateway writes and needs.
pub const SCHEMA: Schema = Schema::with(MIGRATIONS);

/// The gateway's steps, after the agent's version 1: version 2, held calls and the OAuth
/// server's clients, codes and tokens.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 2,
    name: "approvals and the OAuth server's records",
    statements: "
CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    created_ms BIGINT NOT NULL,
    agent TEXT NOT NULL,
    open_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    arguments TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'unknown', 'denied', 'expired')),
    decided_ms BIGINT,
    decided_by TEXT,
    outcome TEXT,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX approvals_state ON approvals (state, created_ms);
CREATE INDEX approvals_agent_state ON approvals (agent, state);
CREATE TABLE oauth_clients (
    client_id TEXT PRIMARY KEY,
    client_name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE oauth_codes (
    code_sha256 TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    client_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    resource TEXT NOT NULL,
    scope TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT false,
    revoked BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX oauth_codes_family ON oauth_codes (family);
CREATE TABLE oauth_tokens (
    token_sha256 TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    family TEXT NOT NULL,
    client_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    resource TEXT NOT NULL,
    scope TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT false,
    revoked BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX oauth_tokens_family ON oauth_tokens (family);
",
}];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_migrated_when_the_agent_held_these_steps_stays_up_to_date() {
        // Such a database is at version 2 with the same tables: a version moved here would
        // have `migrate` run a step again, or `serve` refuse it.
        let steps: Vec<(i32, &str)> = SCHEMA
            .steps()
            .iter()
            .map(|step| (step.version, step.name))
            .collect();
        assert_eq!(
            steps,
            [
                (1, "the audit log, budget uses and TikTok tokens"),
                (2, "approvals and the OAuth server's records"),
            ]
        );
        assert_eq!(SCHEMA.version(), 2);
    }
}
