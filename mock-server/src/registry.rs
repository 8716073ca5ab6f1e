//! The behaviour registry: which feature serves each endpoint, by the endpoint id of
//! `spec/endpoints.yaml` (every endpoint of the spec has one). An endpoint without one (added
//! to the spec before its code, or dropped by a test) answers from the spec's examples.
//! [`AppState::new`] and [`AppState::builder`] start from this registry.

use std::sync::Arc;

use serde_json::Value;

use crate::authorization::token::{revoke, token};
use crate::content_posting::endpoints::{
    content_init, creator_info, inbox_video_init, status_fetch, video_init,
};
use crate::error::{ApiError, Data};
use crate::research::comment_list;
use crate::state::{AppState, AppStateBuilder, Behaviour, Call, Registry};
use crate::user_info::user_info;
use crate::videos::{video_list, video_query};

/// The behaviours this crate writes by hand, by endpoint id.
pub fn default_behaviours() -> Registry {
    let entries: [(&str, Behaviour); 11] = [
        // authorization
        ("token", value(token)),
        ("revoke", value(revoke)),
        // user_info (serializes its own bytes: the hot path)
        ("user_info", Arc::new(user_info)),
        // videos (serialize their own bytes: the hot path)
        ("video_list", Arc::new(video_list)),
        ("video_query", Arc::new(video_query)),
        // content_posting
        ("creator_info", value(creator_info)),
        ("video_init", value(video_init)),
        ("inbox_video_init", value(inbox_video_init)),
        ("content_init", value(content_init)),
        ("status_fetch", value(status_fetch)),
        // research
        ("research_comment_list", value(comment_list)),
    ];
    entries
        .into_iter()
        .map(|(id, behaviour)| (id.to_owned(), behaviour))
        .collect()
}

/// A behaviour that answers a `serde_json::Value`.
fn value(behaviour: fn(&AppState, &Call<'_>) -> Result<Value, ApiError>) -> Behaviour {
    Arc::new(move |state, call| behaviour(state, call).map(Data::from))
}

impl AppState {
    /// The demo data on the system clock, with the spec's endpoint table.
    pub fn new() -> AppState {
        AppState::builder()
            .build()
            .expect("the embedded demo data loads")
    }

    /// A builder for fixtures, clock, rate-limit scale, store, endpoint table and behaviours,
    /// starting from the default behaviours.
    pub fn builder() -> AppStateBuilder {
        AppStateBuilder::default()
    }
}

impl Default for AppState {
    fn default() -> Self {
        AppState::new()
    }
}

impl Default for AppStateBuilder {
    fn default() -> Self {
        AppStateBuilder::with_registry(default_behaviours())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hand_written_behaviour_is_an_endpoint_of_the_table() {
        for id in default_behaviours().keys() {
            assert!(
                tiktok_api::ENDPOINTS
                    .iter()
                    .any(|endpoint| endpoint.id == id),
                "{id} is not in the endpoint table"
            );
        }
    }
}
