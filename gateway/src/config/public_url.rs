//! `http.public_url`: the origin remote clients reach the gateway at (a TLS proxy's), named
//! in the OAuth metadata and every `WWW-Authenticate` instead of the request's `Host`.

/// The origin of `text` (`https://gateway.example.com`), or why it is not one: an http or
/// https URL with no path, query, fragment or user.
pub(super) fn origin(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|error| format!("{text:?} is not a URL: {error}"))?;
    let bare = url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !matches!(url.scheme(), "http" | "https") || !bare {
        return Err(format!(
            "{text:?}: expected an http or https origin with no path, like https://gateway.example.com"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn a_public_url_is_an_origin() {
        assert_eq!(
            origin("https://Gateway.example.com/").unwrap(),
            "https://gateway.example.com"
        );
        assert_eq!(
            origin("http://127.0.0.1:8787").unwrap(),
            "http://127.0.0.1:8787"
        );
        for bad in [
            "https://gateway.example.com/mcp",
            "ftp://gateway.example.com",
            "https://user@gateway.example.com",
            "gateway.example.com",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
    }
}
