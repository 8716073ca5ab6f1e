//! OAuth helpers: the authorize URL (scopes, state, PKCE) and, with the `client`
//! feature, code exchange, refresh, client-credentials tokens and revoke.

use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::{Error, Scope, spec_constants};

/// The characters RFC 7636 allows in a code_verifier.
const VERIFIER_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";

/// A PKCE pair: a secret verifier and its SHA-256 challenge.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkce {
    verifier: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkce")
            .field("verifier", &"[redacted]")
            .finish()
    }
}

impl Pkce {
    /// A fresh random verifier of 64 characters.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let verifier = (0..64)
            .map(|_| VERIFIER_CHARS[rng.random_range(0..VERIFIER_CHARS.len())] as char)
            .collect();
        Pkce { verifier }
    }

    /// Uses `verifier`, checking its length (43 to 128) and characters.
    pub fn from_verifier(verifier: impl Into<String>) -> Result<Self, Error> {
        let verifier = verifier.into();
        let length = verifier.len();
        if !(spec_constants::CODE_VERIFIER_MIN_LEN..=spec_constants::CODE_VERIFIER_MAX_LEN)
            .contains(&length)
        {
            return Err(Error::InvalidRequest(format!(
                "code_verifier has {length} characters; expected {} to {}",
                spec_constants::CODE_VERIFIER_MIN_LEN,
                spec_constants::CODE_VERIFIER_MAX_LEN
            )));
        }
        if let Some(bad) = verifier.bytes().find(|byte| !VERIFIER_CHARS.contains(byte)) {
            return Err(Error::InvalidRequest(format!(
                "code_verifier contains {:?}; only A-Z a-z 0-9 - . _ ~ are allowed",
                bad as char
            )));
        }
        Ok(Pkce { verifier })
    }

    /// The verifier, sent with the code exchange.
    pub fn verifier(&self) -> &str {
        &self.verifier
    }

    /// The challenge as TikTok documents it: hex of SHA-256(verifier).
    pub fn challenge_hex(&self) -> String {
        hex::encode(Sha256::digest(self.verifier.as_bytes()))
    }

    /// The challenge as RFC 7636 has it: unpadded base64url of SHA-256(verifier).
    pub fn challenge_base64url(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(self.verifier.as_bytes()))
    }
}

/// Checks a code_challenge against a verifier in either encoding the spec accepts.
pub fn challenge_matches(challenge: &str, verifier: &str) -> bool {
    let digest = Sha256::digest(verifier.as_bytes());
    let hex_form = hex::encode(digest);
    let base64_form = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    (spec_constants::PKCE_CHALLENGE_ENCODINGS.contains(&"hex")
        && challenge.eq_ignore_ascii_case(&hex_form))
        || (spec_constants::PKCE_CHALLENGE_ENCODINGS.contains(&"base64url")
            && challenge == base64_form)
}

/// How the challenge is encoded in the authorize URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeEncoding {
    /// Hex, as TikTok documents.
    Hex,
    /// Base64url, as RFC 7636 has it.
    Base64Url,
}

/// Builds the URL of TikTok's authorization page.
///
/// ```
/// use tiktok_api::{Scope, oauth::{AuthorizeUrl, Pkce}};
/// let pkce = Pkce::generate();
/// let url = AuthorizeUrl::new("my_client_key", "https://app.example/callback")
///     .scopes(&[Scope::UserInfoBasic, Scope::VideoList])
///     .state("csrf-123")
///     .pkce(&pkce)
///     .build();
/// assert!(url.starts_with("https://www.tiktok.com/v2/auth/authorize/?client_key=my_client_key"));
/// assert!(url.contains("scope=user.info.basic%2Cvideo.list"));
/// assert!(url.contains("code_challenge_method=S256"));
/// ```
#[derive(Debug, Clone)]
pub struct AuthorizeUrl {
    base: String,
    client_key: String,
    redirect_uri: String,
    scopes: Vec<Scope>,
    state: Option<String>,
    challenge: Option<String>,
    disable_auto_auth: Option<bool>,
}

impl AuthorizeUrl {
    /// An authorize URL for the app `client_key`, returning to `redirect_uri` (registered for the app).
    pub fn new(client_key: impl Into<String>, redirect_uri: impl Into<String>) -> Self {
        AuthorizeUrl {
            base: spec_constants::AUTHORIZE_URL.to_string(),
            client_key: client_key.into(),
            redirect_uri: redirect_uri.into(),
            scopes: Vec::new(),
            state: None,
            challenge: None,
            disable_auto_auth: None,
        }
    }

    /// Uses another authorization page (the mock's `{uri}/v2/auth/authorize/`).
    pub fn base(mut self, base: impl Into<String>) -> Self {
        self.base = base.into();
        self
    }

    /// The scopes to ask for; the user may deny some.
    pub fn scopes(mut self, scopes: &[Scope]) -> Self {
        self.scopes = scopes.to_vec();
        self
    }

    /// The CSRF state, echoed back on the redirect.
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }

    /// Adds a PKCE challenge in TikTok's hex form.
    pub fn pkce(self, pkce: &Pkce) -> Self {
        self.pkce_with(pkce, ChallengeEncoding::Hex)
    }

    /// Adds a PKCE challenge in the given encoding.
    pub fn pkce_with(mut self, pkce: &Pkce, encoding: ChallengeEncoding) -> Self {
        self.challenge = Some(match encoding {
            ChallengeEncoding::Hex => pkce.challenge_hex(),
            ChallengeEncoding::Base64Url => pkce.challenge_base64url(),
        });
        self
    }

    /// Web only: `false` skips the consent page when the session is valid, `true` always shows it.
    pub fn disable_auto_auth(mut self, disable: bool) -> Self {
        self.disable_auto_auth = Some(disable);
        self
    }

    /// The URL.
    pub fn build(&self) -> String {
        let scope = self
            .scopes
            .iter()
            .map(|scope| scope.as_str())
            .collect::<Vec<_>>()
            .join(spec_constants::SCOPE_SEPARATOR);
        let mut pairs: Vec<(&str, String)> = vec![
            ("client_key", self.client_key.clone()),
            ("scope", scope),
            ("redirect_uri", self.redirect_uri.clone()),
            ("response_type", "code".to_string()),
        ];
        if let Some(state) = &self.state {
            pairs.push(("state", state.clone()));
        }
        if let Some(challenge) = &self.challenge {
            pairs.push(("code_challenge", challenge.clone()));
            pairs.push(("code_challenge_method", "S256".to_string()));
        }
        if let Some(disable) = self.disable_auto_auth {
            pairs.push((
                "disable_auto_auth",
                if disable { "1" } else { "0" }.to_string(),
            ));
        }
        // Encoding a list of string pairs cannot fail.
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("{}?{}", self.base, query)
    }
}

/// Splits a comma-separated `scope`/`scopes` value into known scopes, dropping unknown names.
pub fn parse_scopes(value: &str) -> Vec<Scope> {
    value
        .split(spec_constants::SCOPE_SEPARATOR)
        .filter_map(|name| Scope::parse(name.trim()))
        .collect()
}

#[cfg(feature = "client")]
mod calls {
    use crate::{Client, Error, GrantType, RevokeRequest, Revoked, Token, TokenRequest};

    impl Client {
        /// Exchanges an authorization code (URL-decoded) for a user access token, as the
        /// app whose credentials this client holds.
        pub async fn exchange_code(
            &self,
            code: &str,
            redirect_uri: &str,
            code_verifier: Option<&str>,
        ) -> Result<Token, Error> {
            let credentials = self.require_credentials("exchanging a code")?;
            self.token(&TokenRequest {
                client_key: credentials.client_key.clone(),
                client_secret: Client::secret(credentials).into(),
                grant_type: GrantType::AuthorizationCode,
                code: Some(code.into()),
                redirect_uri: Some(redirect_uri.into()),
                code_verifier: code_verifier.map(Into::into),
                refresh_token: None,
            })
            .await
        }

        /// Mints a new access token from the latest refresh token, as the app whose
        /// credentials this client holds. Keep the refresh token it returns: TikTok rotates
        /// them and the old one stops working.
        pub async fn refresh_access_token(&self, refresh_token: &str) -> Result<Token, Error> {
            let credentials = self.require_credentials("refreshing a token")?;
            self.token(&TokenRequest {
                client_key: credentials.client_key.clone(),
                client_secret: Client::secret(credentials).into(),
                grant_type: GrantType::RefreshToken,
                code: None,
                redirect_uri: None,
                code_verifier: None,
                refresh_token: Some(refresh_token.into()),
            })
            .await
        }

        /// Mints a client access token (`clt.…`) for the Research API, as the app whose
        /// credentials this client holds.
        pub async fn client_credentials_token(&self) -> Result<Token, Error> {
            let credentials = self.require_credentials("minting a client token")?;
            self.token(&TokenRequest {
                client_key: credentials.client_key.clone(),
                client_secret: Client::secret(credentials).into(),
                grant_type: GrantType::ClientCredentials,
                code: None,
                redirect_uri: None,
                code_verifier: None,
                refresh_token: None,
            })
            .await
        }

        /// Revokes a user's access token, as the app whose credentials this client holds;
        /// it and its refresh token stop working at once.
        pub async fn revoke_token(&self, access_token: &str) -> Result<Revoked, Error> {
            let credentials = self.require_credentials("revoking a token")?;
            self.revoke(&RevokeRequest {
                client_key: credentials.client_key.clone(),
                client_secret: Client::secret(credentials).into(),
                token: access_token.into(),
            })
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_forms_match_rfc7636_appendix_b() {
        let pkce =
            Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").expect("valid");
        assert_eq!(
            pkce.challenge_base64url(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(
            pkce.challenge_hex(),
            "13d31e961a1ad8ec2f16b10c4c982e0876a878ad6df144566ee1894acb70f9c3"
        );
        assert!(challenge_matches(&pkce.challenge_hex(), pkce.verifier()));
        assert!(challenge_matches(
            &pkce.challenge_base64url(),
            pkce.verifier()
        ));
        assert!(!challenge_matches(
            &pkce.challenge_hex(),
            "another-verifier-another-verifier-another-verifier"
        ));
    }

    #[test]
    fn verifier_rules() {
        assert!(Pkce::from_verifier("short").is_err());
        assert!(Pkce::from_verifier("a".repeat(129)).is_err());
        assert!(Pkce::from_verifier(format!("{}!", "a".repeat(50))).is_err());
        let generated = Pkce::generate();
        assert!(Pkce::from_verifier(generated.verifier()).is_ok());
    }

    #[test]
    fn authorize_url_encodes_every_parameter() {
        let url = AuthorizeUrl::new("key", "https://app.example/cb?x")
            .base("http://127.0.0.1:1/v2/auth/authorize/")
            .scopes(&[Scope::UserInfoBasic])
            .state("a b")
            .disable_auto_auth(true)
            .build();
        assert_eq!(
            url,
            "http://127.0.0.1:1/v2/auth/authorize/?client_key=key&scope=user.info.basic&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%3Fx&response_type=code&state=a+b&disable_auto_auth=1"
        );
    }

    #[test]
    fn scopes_parse_and_drop_unknown() {
        assert_eq!(
            parse_scopes("user.info.basic,video.list,nope"),
            vec![Scope::UserInfoBasic, Scope::VideoList]
        );
    }
}
