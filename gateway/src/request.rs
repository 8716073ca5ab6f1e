//! What the HTTP server knows of a request beside its content, shared by `/mcp`, the
//! approval page and the OAuth endpoints: the connection's address ([`Peer`], for the
//! audit of a failure) and whether its `Host` is one the gateway answers to (the loopback
//! names and the config's `http.allowed_hosts`).

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, header};

/// The address a connection came from (set per connection by [`crate::http::serve`]).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The address a request came from, when served by [`crate::http::serve`].
pub fn source(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions.get::<Peer>().map(|peer| peer.0.ip())
}

/// The host names answered: the loopback names and `extra` (the config's
/// `http.allowed_hosts`).
pub fn allowed_hosts(extra: &[String]) -> Vec<String> {
    ["localhost", "127.0.0.1", "::1"]
        .into_iter()
        .map(String::from)
        .chain(extra.iter().cloned())
        .collect()
}

/// A request's `Host` (`name:port`) when its name is one of `hosts`.
pub fn answered_host(headers: &HeaderMap, hosts: &[String]) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let authority = host.parse::<http::uri::Authority>().ok()?;
    let name = authority.host().trim_matches(['[', ']']);
    hosts
        .iter()
        .any(|allowed| allowed == name)
        .then(|| host.to_string())
}
