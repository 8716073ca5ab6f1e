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
/// Hosts under this domain fail the ownership check at init (403 `url_ownership_unverified`).
pub const UNVERIFIED_DOMAIN: &str = "unverified.example";
/// Hosts under this top-level domain are accepted at init, but the download fails later.
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

/// The host of an https URL, or why it is not one.
fn https_host(url: &str) -> Result<String, String> {
    let rest = url
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])
        .ok_or_else(|| "must be an https URL".to_owned())?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if host_port.starts_with('[') {
        host_port
            .split(']')
            .next()
            .unwrap_or_default()
            .trim_start_matches('[')
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return Err("must be an https URL with a host".to_owned());
    }
    Ok(host)
}

fn under(host: &str, domain: &str) -> bool {
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// Checks a pull URL: 400 if it is not https, 403 if its host is unverified; tells whether
/// the download will fail.
pub fn check_pull_url(endpoint: &EndpointMeta, field: &str, url: &str) -> Result<bool, ApiError> {
    let host = https_host(url)
        .map_err(|problem| ApiError::InvalidParams(format!("{field}: {problem}")))?;
    if under(&host, UNVERIFIED_DOMAIN) {
        return Err(ApiError::for_endpoint(
            endpoint,
            ErrorCode::UrlOwnershipUnverified,
            format!("{field}: the domain or URL prefix of {host:?} is not verified for this app."),
        ));
    }
    Ok(under(&host, FAILING_TLD))
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
pub fn video_source(endpoint: &EndpointMeta, body: &Value) -> Result<VideoSource, ApiError> {
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
            let fails = check_pull_url(endpoint, "source_info.video_url", url)?;
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
    fn hosts_are_read_from_https_urls() {
        assert_eq!(
            https_host("https://User@Media.Example:443/v.mp4"),
            Ok("media.example".to_owned())
        );
        assert!(https_host("http://media.example/v.mp4").is_err());
        assert!(https_host("https:///v.mp4").is_err());
        assert!(under("cdn.unverified.example", UNVERIFIED_DOMAIN));
        assert!(!under("notunverified.example", UNVERIFIED_DOMAIN));
    }
}
