//! A user's `open_id` as each app sees it. TikTok gives each app its own open_id for one
//! user, while `union_id` stays the same across a developer's apps. The mock keeps one id
//! per user (a creator's `open_id` in the fixtures and the control API): the first app of
//! the fixtures (the demo app) sees it as is, every other app a stable id derived from its
//! client key and that id, shaped like real ones (`-000` and 32 characters).

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::fixtures::Fixtures;
use crate::store::Store;

/// The open_ids of one mock's apps.
#[derive(Clone, Copy)]
pub struct OpenIds<'a> {
    /// The store, whose creators are the users.
    pub store: &'a dyn Store,
    /// The client key of the app that sees the users' own ids (the fixtures' first app).
    pub home: &'a str,
}

impl<'a> OpenIds<'a> {
    /// The open_ids of a mock with this store, built from these fixtures.
    pub fn new(store: &'a dyn Store, fixtures: &'a Fixtures) -> OpenIds<'a> {
        let home = fixtures.apps.first();
        let home = home.map_or("", |app| app.client_key.as_str());
        OpenIds { store, home }
    }

    /// The open_id the app `client_key` sees for the user `user_id`.
    pub fn of<'u>(&self, client_key: &str, user_id: &'u str) -> Cow<'u, str> {
        if client_key == self.home {
            Cow::Borrowed(user_id)
        } else {
            Cow::Owned(derived(client_key, user_id))
        }
    }

    /// The user whose open_id in the app `client_key` is `open_id`, if there is one: an
    /// open_id of another app names no one here.
    pub fn user(&self, client_key: &str, open_id: &str) -> Option<String> {
        if client_key == self.home {
            return self.store.creator(open_id).map(|creator| creator.open_id);
        }
        self.store
            .creators()
            .into_iter()
            .map(|creator| creator.open_id)
            .find(|user_id| derived(client_key, user_id) == open_id)
    }
}

/// The open_id of `user_id` in an app other than the first: `-000` and the first 16 bytes,
/// in hex, of HMAC-SHA256 keyed by the app's client key over the user's id.
pub fn derived(client_key: &str, user_id: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(client_key.as_bytes()).expect("HMAC takes any key length");
    mac.update(user_id.as_bytes());
    let digest = mac.finalize().into_bytes();
    format!("-000{}", hex::encode(&digest[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_per_app_and_shaped_like_real_ones() {
        let first = derived("app-a", "-000user");
        assert_eq!(first, derived("app-a", "-000user"));
        assert_ne!(first, derived("app-b", "-000user"));
        assert_ne!(first, derived("app-a", "-000other"));
        assert_eq!(first.len(), 36);
        assert!(first.starts_with("-000"));
    }
}
