//! Who an OAuth client is: one registered through RFC 7591 (in the store), or one whose
//! `client_id` is the HTTPS URL of its Client ID Metadata Document, fetched when it asks
//! for authorization: at most [`MAX_DOCUMENT`] bytes, within [`FETCH_TIMEOUT`], no
//! redirect followed, JSON whose `client_id` is that URL. And where its answers may go:
//! redirect URIs, checked at registration and matched exactly (a loopback one on any port).

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use super::store::{OAuthStore, RegisteredClient};

/// The largest Client ID Metadata Document read.
pub const MAX_DOCUMENT: usize = 64 * 1024;

/// How long fetching a Client ID Metadata Document may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// The most redirect URIs a client may have.
pub const MAX_REDIRECT_URIS: usize = 8;

/// The longest redirect URI, client id URL or client name, in bytes.
pub const MAX_FIELD: usize = 1024;

/// Fetches Client ID Metadata Documents.
pub struct Fetcher {
    http: reqwest::Client,
    loopback: bool,
}

#[derive(Deserialize)]
struct Document {
    client_id: String,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
}

impl Fetcher {
    /// A fetcher; `loopback` also allows `http://127.0.0.1` documents (tests only).
    pub fn new(loopback: bool) -> Fetcher {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .build()
            .unwrap_or_default();
        Fetcher { http, loopback }
    }

    /// Whether `client_id` names a metadata document (rather than a registered client).
    pub fn is_document_url(&self, client_id: &str) -> bool {
        client_id.starts_with("https://")
            || (self.loopback && client_id.starts_with("http://127.0.0.1:"))
    }

    /// The client whose metadata document is at `url`, or why not.
    pub async fn fetch(&self, url: &str) -> Result<RegisteredClient, String> {
        let parsed = Url::parse(url).map_err(|_| "the client_id is not a URL".to_string())?;
        if url.len() > MAX_FIELD || parsed.path() == "/" || parsed.fragment().is_some() {
            return Err("a client_id URL needs a path, no fragment, and at most 1 KiB".into());
        }
        let private_address = || "the client metadata document is on a private address".to_string();
        let mut http = self.http.clone();
        match parsed.host() {
            Some(url::Host::Ipv4(ip)) if self.loopback || is_public(IpAddr::V4(ip)) => {}
            Some(url::Host::Ipv6(ip)) if is_public(IpAddr::V6(ip)) => {}
            Some(url::Host::Domain(name))
                if !(name == "localhost" || name.ends_with(".localhost")) =>
            {
                // The name is resolved here, every address it has checked, and the fetch
                // pinned to the first: a name pointing into the private network (or one
                // whose answer changes between a check and the connection) reaches nothing.
                let port = parsed.port_or_known_default().unwrap_or(443);
                let addresses: Vec<std::net::SocketAddr> =
                    tokio::time::timeout(FETCH_TIMEOUT, tokio::net::lookup_host((name, port)))
                        .await
                        .map_err(|_| {
                            "the client metadata document's host did not resolve in time"
                                .to_string()
                        })?
                        .map_err(|_| {
                            "the client metadata document's host does not resolve".to_string()
                        })?
                        .collect();
                let address = pinned(&addresses)?;
                http = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(FETCH_TIMEOUT)
                    .resolve(name, address)
                    .build()
                    .map_err(|error| fetch_error(&error))?;
            }
            _ => return Err(private_address()),
        }
        let mut response = http
            .get(parsed)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| fetch_error(&error))?;
        if !response.status().is_success() {
            return Err(format!(
                "the client metadata document answered {} (redirects are not followed)",
                response.status()
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| fetch_error(&error))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(format!(
                    "the client metadata document is larger than {MAX_DOCUMENT} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let document: Document = serde_json::from_slice(&body)
            .map_err(|_| "the client metadata document is not a JSON client metadata object")?;
        if document.client_id != url {
            return Err("the client metadata document's client_id is not its URL".into());
        }
        let client = RegisteredClient {
            client_id: document.client_id,
            client_name: document.client_name.unwrap_or_else(|| url.to_string()),
            redirect_uris: document.redirect_uris,
        };
        check_metadata(&client)?;
        Ok(client)
    }

    /// The client `client_id`: its metadata document, or its registration in `store`.
    pub async fn resolve(
        &self,
        store: &dyn OAuthStore,
        client_id: &str,
    ) -> Result<RegisteredClient, String> {
        if self.is_document_url(client_id) {
            return self.fetch(client_id).await;
        }
        match store.client(client_id).await {
            Ok(Some(client)) => Ok(client),
            Ok(None) => Err("the client is not registered".into()),
            Err(error) => Err(format!(
                "the client could not be looked up: {}",
                tiktok_agent::error_chain(&error)
            )),
        }
    }
}

/// The address a document's host name is fetched from: the first it resolved to, when
/// every one of them is public (one private answer among public ones refuses it too).
fn pinned(addresses: &[std::net::SocketAddr]) -> Result<std::net::SocketAddr, String> {
    let first = addresses
        .first()
        .ok_or("the client metadata document's host does not resolve")?;
    if !addresses.iter().all(|address| is_public(address.ip())) {
        return Err("the client metadata document is on a private address".into());
    }
    Ok(*first)
}

fn fetch_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!(
            "the client metadata document took longer than {} s",
            FETCH_TIMEOUT.as_secs()
        )
    } else {
        "the client metadata document could not be fetched".into()
    }
}

/// Whether `ip` is an address on the internet (not loopback, private, link-local, ...).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let [first, second, ..] = ip.octets();
            !(ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_multicast()
                // 0.0.0.0/8 ("this network") and 100.64.0.0/10 (carrier-grade NAT).
                || first == 0
                || (first == 100 && (second & 0xc0) == 64))
        }
        IpAddr::V6(ip) => {
            let first = ip.segments()[0];
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || ip.to_ipv4_mapped().is_some()
                // 64:ff9b::/96, IPv4 addresses through NAT64.
                || ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0])
        }
    }
}

/// Whether `client`'s name and redirect URIs are acceptable: 1 to [`MAX_REDIRECT_URIS`]
/// URIs, each valid ([`check_redirect_uri`]), the name at most [`MAX_FIELD`] bytes.
pub fn check_metadata(client: &RegisteredClient) -> Result<(), String> {
    if client.client_name.len() > MAX_FIELD {
        return Err(format!("client_name is longer than {MAX_FIELD} bytes"));
    }
    if client.redirect_uris.is_empty() || client.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(format!(
            "redirect_uris must hold 1 to {MAX_REDIRECT_URIS} URIs"
        ));
    }
    client
        .redirect_uris
        .iter()
        .try_for_each(|uri| check_redirect_uri(uri))
}

/// Whether `uri` may receive authorization codes: absolute, no fragment, at most
/// [`MAX_FIELD`] bytes; `https`, `http` on a loopback host, or an app's own scheme.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let parsed = Url::parse(uri).map_err(|_| format!("redirect URI {uri:?} is not absolute"))?;
    let allowed = match parsed.scheme() {
        "https" => true,
        "http" => is_loopback(&parsed),
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" => false,
        _ => true,
    };
    if uri.len() > MAX_FIELD || parsed.fragment().is_some() || !allowed {
        return Err(format!(
            "redirect URI {uri:?} must be https, http on a loopback host, or an app's own scheme, without a fragment"
        ));
    }
    Ok(())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether `presented` is one of `registered`: the same string, or for a loopback `http`
/// URI the same but for its port (RFC 8252: a native app takes any free port).
pub fn redirect_registered(registered: &[String], presented: &str) -> bool {
    let Ok(presented_url) = Url::parse(presented) else {
        return false;
    };
    registered.iter().any(|uri| {
        uri == presented
            || Url::parse(uri).is_ok_and(|mut uri| {
                let mut presented_url = presented_url.clone();
                is_loopback(&uri)
                    && uri.scheme() == "http"
                    && uri.set_port(None).is_ok()
                    && presented_url.set_port(None).is_ok()
                    && uri == presented_url
            })
    })
}

/// `uri` with `pairs` added to its query.
pub fn with_query(uri: &str, pairs: &[(&str, String)]) -> String {
    match Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.to_string()
        }
        Err(_) => uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_loopback_http_or_an_apps_scheme() {
        for good in [
            "https://client.example/cb",
            "http://127.0.0.1:4000/cb",
            "http://localhost/cb",
            "com.example.app:/cb",
        ] {
            assert!(check_redirect_uri(good).is_ok(), "{good}");
        }
        for bad in [
            "http://client.example/cb",
            "https://client.example/cb#x",
            "javascript:alert(1)",
            "/relative",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_loopback_redirect_matches_on_any_port_others_exactly() {
        let registered = vec![
            "http://127.0.0.1/cb".to_string(),
            "https://client.example/cb".to_string(),
        ];
        assert!(redirect_registered(&registered, "http://127.0.0.1:5555/cb"));
        assert!(redirect_registered(
            &registered,
            "https://client.example/cb"
        ));
        assert!(!redirect_registered(
            &registered,
            "http://127.0.0.1:5555/other"
        ));
        assert!(!redirect_registered(
            &registered,
            "https://client.example/cb2"
        ));
        assert!(!redirect_registered(
            &registered,
            "https://client.example:444/cb"
        ));
    }

    #[test]
    fn private_addresses_are_not_public() {
        for private in [
            "10.0.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "100.128.0.1", "2606:4700::1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn a_name_is_fetched_only_when_every_address_it_resolves_to_is_public() {
        let address = |text: &str| -> std::net::SocketAddr { text.parse().unwrap() };
        let public = address("93.184.216.34:443");
        assert_eq!(pinned(&[public]), Ok(public));
        for refused in [
            vec![address("127.0.0.1:443")],
            vec![public, address("10.0.0.5:443")],
            vec![address("[::1]:443"), public],
            vec![],
        ] {
            assert!(pinned(&refused).is_err(), "{refused:?}");
        }
    }
}
