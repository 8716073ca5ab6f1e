//! The rules an init is checked against: the chunk rules (both readings of "MB"), pull URLs
//! (https, verified domains), the creator's posting block and privacy options, the
//! unaudited restriction and the daily caps of the endpoint's `limits`.

use serde_json::Value;
use tiktok_api::ChunkRules;
use tiktok_api::meta::EndpointMeta;
use tiktok_api::{ErrorCode, PrivacyLevel};

use crate::content_posting::lifecycle::view;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{App, Creator, PostFlow, PostingProfile};

/// The path of upload URLs on the mock (`{base}/upload/video/?upload_id=…&upload_token=…`).
pub const UPLOAD_PATH: &str = "/upload/video/";
/// The host of TikTok's sample video, usable by any app without verification for testing
/// (the media transfer guide).
pub const SAMPLE_HOST: &str = "sf16-va.tiktokcdn.com";
/// Hosts under this top-level domain, once verified, are accepted at init, but the download
/// fails later (`video_pull_failed`, `photo_pull_failed`).
pub const FAILING_TLD: &str = "invalid";

const DAY_MS: i64 = 86_400_000;
/// TikTok's message for a chunk rule breach, followed by the rule.
const CHUNK_INVALID: &str = "The chunk size is invalid";

/// A creator-level block, if the endpoint can answer it.
pub fn check_block(endpoint: &EndpointMeta, profile: &PostingProfile) -> Result<(), ApiError> {
    match profile.blocked {
        Some(block) if endpoint.status_of(&block.code()).is_some() => {
            let code = block.code();
            let message = code
                .meta()
                .map(|meta| meta.meaning.to_owned())
                .unwrap_or_else(|| "The creator can't post now.".to_owned());
            Err(ApiError::for_endpoint(endpoint, code, message))
        }
        _ => Ok(()),
    }
}

/// `source_info` of a video, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSource {
    /// Chunks to PUT.
    File {
        /// Bytes.
        video_size: i64,
        /// Bytes per chunk.
        chunk_size: i64,
        /// Chunks.
        total_chunk_count: i64,
    },
    /// A URL to download; `fails` when its host is one that fails the download.
    Pull {
        /// The URL.
        url: String,
        /// Whether the download will fail.
        fails: bool,
    },
}

/// Checks the chunk rules with the client's own implementation
/// ([`tiktok_api::ChunkRules::lenient`]): both readings of "MB" pass at each boundary.
pub fn check_chunks(
    video_size: i64,
    chunk_size: i64,
    total_chunk_count: i64,
) -> Result<(), String> {
    let mut rules = ChunkRules::lenient();
    rules.min_chunk -= u64::from(mutant!(ChunkBoundaryOffByOne));
    let positive = |value: i64| u64::try_from(value).unwrap_or(0);
    rules
        .check(
            positive(video_size),
            positive(chunk_size),
            positive(total_chunk_count),
        )
        .map_err(|rule| format!("{CHUNK_INVALID}: {rule}"))
}

/// The scheme, host (lowercase, without a trailing dot) and the rest of a URL, if it has
/// a host.
fn split_url(url: &str) -> Option<(String, String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if host_port.starts_with('[') {
        // An IPv6 literal keeps its brackets, so it is never taken for a name.
        host_port.split(']').next().map(|host| format!("{host}]"))?
    } else {
        host_port.split(':').next().unwrap_or_default().to_owned()
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then(|| (scheme.to_ascii_lowercase(), host, path))
}

/// Whether a host is an IP address (v4, or a bracketed v6 literal).
fn is_ip(host: &str) -> bool {
    host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()
}

fn under(host: &str, domain: &str) -> bool {
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// Whether `url` falls under the verified prefix `prefix`: the same scheme and host (never
/// a subdomain), and the URL starts with the prefix's path exactly; a prefix not ending in
/// `/` must end where a path segment, the query or the fragment does.
fn under_prefix(url: (&str, &str, &str), prefix: &str) -> bool {
    let Some((scheme, host, path)) = split_url(prefix) else {
        return false;
    };
    let (url_scheme, url_host, url_path) = url;
    if scheme != url_scheme || host != url_host || is_ip(&host) {
        return false;
    }
    let path = if path.is_empty() { "/" } else { path };
    let url_path = if url_path.is_empty() { "/" } else { url_path };
    match url_path.strip_prefix(path) {
        Some(rest) => path.ends_with('/') || rest.is_empty() || rest.starts_with(['/', '?', '#']),
        None => false,
    }
}

/// Checks a pull URL against the app's verified domains and URL prefixes (TikTok's rule:
/// https, a verified domain or any of its subdomains, or a verified prefix exactly; never an
/// IP address; the sample host needs no verification). 403 `url_ownership_unverified`
/// otherwise, 400 for a URL without a host. Tells whether the download will fail (a host
/// under `.invalid`).
pub fn check_pull_url(
    endpoint: &EndpointMeta,
    app: &App,
    field: &str,
    url: &str,
) -> Result<bool, ApiError> {
    let unverified = |why: String| {
        ApiError::for_endpoint(
            endpoint,
            ErrorCode::UrlOwnershipUnverified,
            format!("{field}: {why}"),
        )
    };
    let (scheme, host, path) = split_url(url).ok_or_else(|| {
        ApiError::InvalidParams(format!("{field}: must be an https URL with a host"))
    })?;
    if scheme != "https" {
        return Err(unverified(format!(
            "{scheme}:// URLs are never verified; TikTok pulls only https URLs."
        )));
    }
    if is_ip(&host) {
        return Err(unverified(format!(
            "the host {host} is an IP address; only verified domains and URL prefixes are pulled from."
        )));
    }
    let verified = host == SAMPLE_HOST
        || app.verified_domains.iter().any(|domain| {
            let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
            !domain.is_empty() && !is_ip(&domain) && under(&host, &domain)
        })
        || app
            .verified_url_prefixes
            .iter()
            .any(|prefix| under_prefix((&scheme, &host, path), prefix.trim()));
    if !verified {
        return Err(unverified(format!(
            "the domain or URL prefix of {host:?} is not verified for this app (verified domains: {}; URL prefixes: {}).",
            list_or_none(&app.verified_domains),
            list_or_none(&app.verified_url_prefixes)
        )));
    }
    Ok(under(&host, FAILING_TLD))
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// The string at `path` in a JSON body.
pub fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |value, key| value.get(key))
        .and_then(Value::as_str)
}

/// The integer at `path` in a JSON body.
pub fn i64_at(value: &Value, path: &[&str]) -> Option<i64> {
    path.iter()
        .try_fold(value, |value, key| value.get(key))
        .and_then(Value::as_i64)
}

/// Reads and checks `source_info` of a video init.
pub fn video_source(
    endpoint: &EndpointMeta,
    app: &App,
    body: &Value,
) -> Result<VideoSource, ApiError> {
    let source = str_at(body, &["source_info", "source"]).unwrap_or_default();
    match source {
        "FILE_UPLOAD" => {
            let field = |name: &str| {
                i64_at(body, &["source_info", name]).ok_or_else(|| {
                    ApiError::InvalidParams(format!(
                        "source_info.{name}: is required for FILE_UPLOAD"
                    ))
                })
            };
            let video_size = field("video_size")?;
            let chunk_size = field("chunk_size")?;
            let total_chunk_count = field("total_chunk_count")?;
            check_chunks(video_size, chunk_size, total_chunk_count)
                .map_err(ApiError::InvalidParams)?;
            if let Some(max) = endpoint.limit("max_video_size_bytes")
                && u64::try_from(video_size).is_ok_and(|size| size > max)
            {
                return Err(ApiError::InvalidParams(format!(
                    "source_info.video_size: {video_size} bytes is more than TikTok accepts ({max} bytes, 4 GB)"
                )));
            }
            Ok(VideoSource::File {
                video_size,
                chunk_size,
                total_chunk_count,
            })
        }
        "PULL_FROM_URL" => {
            let url = str_at(body, &["source_info", "video_url"]).ok_or_else(|| {
                ApiError::InvalidParams(
                    "source_info.video_url: is required for PULL_FROM_URL".to_owned(),
                )
            })?;
            let fails = check_pull_url(endpoint, app, "source_info.video_url", url)?;
            Ok(VideoSource::Pull {
                url: url.to_owned(),
                fails,
            })
        }
        other => Err(ApiError::InvalidParams(format!(
            "source_info.source: expected FILE_UPLOAD or PULL_FROM_URL, found {other:?}"
        ))),
    }
}

/// Refuses a direct post the app or the creator's settings don't allow; returns the
/// privacy level in force.
pub fn check_direct_post(
    state: &AppState,
    endpoint: &EndpointMeta,
    app: &App,
    creator: &Creator,
    profile: &PostingProfile,
    privacy_level: &str,
    now_ms: i64,
) -> Result<String, ApiError> {
    check_block(endpoint, profile)?;
    if !app.audited && !profile.private_account {
        return Err(ApiError::for_endpoint(
            endpoint,
            ErrorCode::UnauditedClientCanOnlyPostToPrivateAccounts,
            "This app has not passed the content audit: it may post only to private accounts, and only as SELF_ONLY.",
        ));
    }
    if !app.audited {
        check_active_users(state, endpoint, app, creator, now_ms)?;
    }
    let options = profile.privacy_level_options();
    if !options.iter().any(|level| level.as_str() == privacy_level) {
        return Err(ApiError::for_endpoint(
            endpoint,
            ErrorCode::PrivacyLevelOptionMismatch,
            format!(
                "post_info.privacy_level: {privacy_level} is not one of the creator's privacy_level_options ({})",
                options
                    .iter()
                    .map(|level| level.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let cap = endpoint
        .limit("direct_posts_per_day")
        .ok_or_else(|| ApiError::missing_in_table(endpoint, "limit direct_posts_per_day"))?;
    let recent = state
        .store()
        .creator_posts(&creator.open_id)
        .iter()
        .filter(|post| post.flow == PostFlow::Direct && now_ms - post.created_ms < DAY_MS)
        .count();
    if recent as u64 >= cap {
        return Err(ApiError::for_endpoint(
            endpoint,
            ErrorCode::SpamRiskTooManyPosts,
            format!(
                "The creator has made {cap} direct posts in the last 24 hours; post from the TikTok app instead."
            ),
        ));
    }
    Ok(if app.audited {
        privacy_level.to_owned()
    } else {
        PrivacyLevel::SelfOnly.as_str().to_owned()
    })
}

/// An unaudited app direct-posts for at most `unaudited_active_user_cap` distinct
/// creators per 24 h; a creator already among them may post again.
fn check_active_users(
    state: &AppState,
    endpoint: &EndpointMeta,
    app: &App,
    creator: &Creator,
    now_ms: i64,
) -> Result<(), ApiError> {
    let cap = endpoint
        .limit("unaudited_active_user_cap")
        .ok_or_else(|| ApiError::missing_in_table(endpoint, "limit unaudited_active_user_cap"))?;
    let users: std::collections::BTreeSet<String> = state
        .store()
        .posts()
        .into_iter()
        .filter(|post| {
            post.client_key == app.client_key
                && post.flow == PostFlow::Direct
                && now_ms - post.created_ms < DAY_MS
        })
        .map(|post| post.open_id)
        .collect();
    if !users.contains(&creator.open_id) && users.len() as u64 >= cap {
        return Err(ApiError::for_endpoint(
            endpoint,
            ErrorCode::ReachedActiveUserCap,
            format!(
                "This unaudited app has direct-posted for {cap} creators in the last 24 hours, its cap until it passes the audit."
            ),
        ));
    }
    Ok(())
}

/// Whether a direct video is longer than the creator may post (the posting settings'
/// `video_duration_sec` stands for the video's length: the mock reads no media). Not
/// refused at init, where TikTok cannot know the length yet: the post fails with
/// `duration_check_failed` once its bytes are in ([`crate::content_posting::lifecycle`]).
pub fn too_long(state: &AppState, profile: &PostingProfile, default_max: i32) -> bool {
    let duration = state.posting().settings().video_duration_sec;
    duration > profile.max_video_post_duration_sec.unwrap_or(default_max)
}

/// Refuses an inbox upload when the creator has too many pending shares.
pub fn check_inbox(
    state: &AppState,
    endpoint: &EndpointMeta,
    creator: &Creator,
    profile: &PostingProfile,
    now_ms: i64,
) -> Result<(), ApiError> {
    check_block(endpoint, profile)?;
    let cap = endpoint
        .limit("pending_shares_per_day")
        .ok_or_else(|| ApiError::missing_in_table(endpoint, "limit pending_shares_per_day"))?;
    let pending = state
        .store()
        .creator_posts(&creator.open_id)
        .iter()
        .filter(|post| {
            post.flow == PostFlow::Inbox
                && now_ms - post.created_ms < DAY_MS
                && post.user_posted_ms.is_none()
                && view(post, now_ms).status != "FAILED"
        })
        .count();
    if pending as u64 >= cap {
        return Err(ApiError::for_endpoint(
            endpoint,
            ErrorCode::SpamRiskTooManyPendingShare,
            format!(
                "The creator has {cap} pending shares in the last 24 hours; they must act on them in the TikTok app first."
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worked_example_of_the_reference_passes() {
        assert_eq!(check_chunks(50_000_123, 10_000_000, 5), Ok(()));
    }

    #[test]
    fn hosts_are_read_from_urls() {
        assert_eq!(
            split_url("https://User@Media.Example:443/v.mp4"),
            Some(("https".to_owned(), "media.example".to_owned(), "/v.mp4"))
        );
        assert_eq!(split_url("https:///v.mp4"), None);
        assert!(is_ip("10.0.0.1") && is_ip("[::1]") && !is_ip("media.example"));
        assert!(under("cdn.media.example", "media.example"));
        assert!(!under("notmedia.example", "media.example"));
    }

    #[test]
    fn prefixes_match_exactly() {
        let url = |text: &'static str| split_url(text).expect("url");
        let matches = |text: &'static str, prefix: &str| {
            let (scheme, host, path) = url(text);
            under_prefix((&scheme, &host, path), prefix)
        };
        assert!(matches(
            "https://cdn.example/videos/a.mp4",
            "https://cdn.example/videos/"
        ));
        assert!(matches(
            "https://CDN.example/videos/a.mp4",
            "https://cdn.example/videos/"
        ));
        assert!(matches(
            "https://cdn.example/videos/a.mp4",
            "https://cdn.example/videos"
        ));
        assert!(!matches(
            "https://cdn.example/videos-x/a.mp4",
            "https://cdn.example/videos"
        ));
        assert!(!matches(
            "https://cdn.example/Videos/a.mp4",
            "https://cdn.example/videos/"
        ));
        assert!(!matches(
            "https://sub.cdn.example/videos/a.mp4",
            "https://cdn.example/videos/"
        ));
        assert!(!matches(
            "https://cdn.example.evil/videos/a.mp4",
            "https://cdn.example"
        ));
        assert!(matches("https://cdn.example/a.mp4", "https://cdn.example"));
    }
}
