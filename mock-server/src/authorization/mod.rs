//! The `authorization` group: OAuth as a real app meets it: the consent page (`GET /v2/auth/authorize/`, an askama
//! template), authorization codes with PKCE, the token endpoint's three grants, revoke, and
//! the control routes for token lifetimes, refresh-token rotation and codes.
//!
//! The token and revoke endpoints go through the generic pipeline (client authentication,
//! form decoding and validation happen there); their behaviours are in [`token`]. The
//! consent page is outside the endpoint table: [`consent`] serves it; [`control`] holds the
//! control routes `/_mock/oauth/settings` and `/_mock/oauth/codes`. Token minting and
//! revocation themselves are functions of the store (`crate::tokens`).

use axum::Router;

use crate::state::AppState;

pub mod consent;
pub mod control;
pub mod token;

/// The consent page and the OAuth control routes.
pub fn routes() -> Router<AppState> {
    consent::routes().merge(control::routes())
}
