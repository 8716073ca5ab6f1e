//! What a proxy forwards to and how: the upstream, the timeouts and their defaults, the
//! report file, the recording directory.

use std::path::PathBuf;
use std::time::Duration;

/// How long the proxy waits to connect to the upstream: 10 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the proxy waits for each read of the upstream's answer: 30 seconds.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Where rewritten upload URLs point on the proxy.
pub const UPLOAD_PREFIX: &str = "/_proxy/upload/";
/// How often, at most, the report file is rewritten while the proxy runs.
pub const REPORT_PERIOD: Duration = Duration::from_secs(1);

/// What the proxy forwards to and how.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The API host: TikTok's (`tiktok_api::spec_constants::API_BASE_URL`) by default.
    pub upstream: url::Url,
    /// Connecting to the upstream gives up after this.
    pub connect_timeout: Duration,
    /// Each read of the upstream's answer gives up after this.
    pub read_timeout: Duration,
    /// The drift report file: JSON when it ends in `.json`, Markdown otherwise.
    pub report: Option<PathBuf>,
    /// Where exchanges are recorded (`--record DIR`), if anywhere.
    pub record: Option<PathBuf>,
}

impl ProxyConfig {
    /// Forwarding to `upstream` with the default timeouts, no report file and no recording.
    pub fn new(upstream: url::Url) -> ProxyConfig {
        ProxyConfig {
            upstream,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            report: None,
            record: None,
        }
    }

    /// Parses `--upstream`: an http(s) URL without query or fragment.
    pub fn parse_upstream(text: &str) -> Result<url::Url, String> {
        let url = url::Url::parse(text.trim())
            .map_err(|error| format!("expected an http(s) URL, found {text:?}: {error}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!("expected an http(s) URL, found {text:?}"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "expected a base URL without query or fragment, found {text:?}"
            ));
        }
        Ok(url)
    }
}
