//! The gateway end to end: the real binary, driven by `rmcp`'s own MCP client (over stdio
//! and over streamable HTTP), against the mock TikTok server on a real socket. The mock's
//! call log shows what reached "TikTok"; the gateway's commands approve, deny and audit.

mod accounts;
mod agents;
mod approval_page;
mod approvals;
mod browser;
mod elicitation;
mod http_limits;
mod jobs;
mod notify;
mod oauth;
mod oauth_codes;
mod oauth_documents;
mod oauth_typescript;
mod operator;
mod postgres;
mod setup;
mod tasks;
mod team;
