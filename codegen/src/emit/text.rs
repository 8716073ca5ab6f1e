//! Text every emitter shares: rate limits, authentication and paging in words, the order
//! of groups, the token path. The one place each phrase is written, so the client's docs,
//! the reference and the OpenAPI document say the same thing.

use crate::Model;
use crate::model::{Auth, Endpoint, Group, Limit, Paging, PagingStyle, ScopeBy};

/// The token endpoint's path under the API host, for the OAuth flows.
pub const TOKEN_PATH: &str = "/v2/oauth/token/";

/// Who a rate limit counts against.
fn rate_limit_dimension(auth: Auth) -> &'static str {
    match auth {
        Auth::UserToken | Auth::ClientToken => "per access token",
        Auth::ClientCredentials => "per app",
    }
}

/// "600 requests per minute per access token", plus the seed's tier name where it gave one;
/// for a limit TikTok does not document, says so before the seed's figure.
pub fn rate_limit_text(endpoint: &Endpoint) -> String {
    let figure = format!(
        "{} requests per minute {}",
        endpoint.rate_limit.per_minute,
        rate_limit_dimension(endpoint.auth)
    );
    match (&endpoint.rate_limit.tier, endpoint.rate_limit.documented) {
        (Some(tier), false) => {
            format!("none documented by TikTok (the seed's {tier} tier: {figure})")
        }
        (Some(tier), true) => format!("{figure} (seed: {tier})"),
        (None, _) => figure,
    }
}

/// How the call authenticates, in words.
pub fn auth_text(auth: Auth) -> &'static str {
    match auth {
        Auth::UserToken => "user access token (`Authorization: Bearer act.…`)",
        Auth::ClientToken => "client access token (`Authorization: Bearer clt.…`)",
        Auth::ClientCredentials => "the app's `client_key` and `client_secret` in the form body",
    }
}

/// What a paging style means.
pub fn paging_text(style: PagingStyle) -> &'static str {
    match style {
        PagingStyle::TimestampMs => {
            "`cursor` is a Unix time in milliseconds; pages go back in time"
        }
        PagingStyle::Index => "`cursor` is a start index",
    }
}

/// "`post_mode`: `DIRECT_POST` needs `video.publish`, `MEDIA_UPLOAD` needs `video.upload`".
pub fn scope_by_text(scope_by: &ScopeBy) -> String {
    let rules: Vec<String> = scope_by
        .scopes
        .iter()
        .map(|(value, scope)| format!("`{value}` needs `{scope}`"))
        .collect();
    format!("`{}`: {}", scope_by.field, rules.join(", "))
}

/// What a paging block says: the cursor, where the items are, the page sizes, the reach.
pub fn paging_summary(paging: &Paging) -> String {
    let mut text = format!(
        "{}; items in `{}`; `max_count` default {}, at most {}",
        paging_text(paging.style),
        paging.items,
        paging.default_max_count,
        paging.max_max_count
    );
    if let Some(reach) = paging.max_reach {
        text.push_str(&format!("; `cursor + max_count` at most {reach}"));
    }
    text
}

/// "`max_video_ids`: 20 (Video ids per call.)".
pub fn limit_text(limit: &Limit) -> String {
    format!("`{}`: {} ({})", limit.name, limit.value, limit.description)
}

/// Groups in the order their first endpoint appears in `spec/endpoints.yaml` (the
/// seed's order), then any group without endpoints. The model's `groups` come sorted
/// by name, which would put "Content posting" before "User info".
pub fn ordered_groups(model: &Model) -> Vec<&Group> {
    let mut groups: Vec<(usize, &Group)> = model
        .groups
        .iter()
        .enumerate()
        .map(|(index, group)| {
            let first = model
                .endpoints
                .iter()
                .position(|endpoint| endpoint.group == group.name)
                .unwrap_or(model.endpoints.len() + index);
            (first, group)
        })
        .collect();
    groups.sort_by_key(|(first, _)| *first);
    groups.into_iter().map(|(_, group)| group).collect()
}
