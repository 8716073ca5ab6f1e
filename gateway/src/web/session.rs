//! Who is signed in to the approval page: [`Operators`], the operators' key hashes (a key
//! matched by its SHA-256 against every hash, in constant time), and [`Sessions`], each a
//! random cookie value known only by its SHA-256, with its operator, its CSRF token and its
//! expiry, at most [`MAX_SESSIONS`] at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Config;

/// The session cookie's name.
pub const COOKIE: &str = "tgw_approvals";

/// How long a session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);

/// The most sessions kept at once; signing in past it ends the oldest.
pub const MAX_SESSIONS: usize = 256;

/// The operators of the config, by key hash.
#[derive(Debug, Default)]
pub struct Operators(Vec<([u8; 32], String)>);

impl Operators {
    /// The operators under `operators:` in `config` (each hash already checked there).
    pub fn from_config(config: &Config) -> Operators {
        let mut known = Vec::new();
        for (name, operator) in &config.operators {
            let mut digest = [0u8; 32];
            if hex::decode_to_slice(&operator.key_sha256, &mut digest).is_ok() {
                known.push((digest, name.clone()));
            }
        }
        Operators(known)
    }

    /// Whether there is no operator (no one can sign in).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The operator whose key is `key`, compared with every hash so the time taken does
    /// not tell which one is close.
    pub fn find(&self, key: &str) -> Option<String> {
        let digest: [u8; 32] = Sha256::digest(key.trim().as_bytes()).into();
        let mut found = None;
        for (hash, name) in &self.0 {
            if bool::from(hash.ct_eq(&digest)) {
                found = Some(name.clone());
            }
        }
        found
    }
}

/// One signed-in operator.
#[derive(Debug, Clone)]
pub struct Session {
    /// The operator's name (from the config).
    pub operator: String,
    /// The token every form of this session carries.
    pub csrf: String,
    expires: Instant,
    /// The order sessions were opened in (the oldest ends first past the cap).
    serial: u64,
}

impl Session {
    /// Whether `presented` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|token| bool::from(token.as_bytes().ct_eq(self.csrf.as_bytes())))
    }
}

/// The sessions of the approval page, in this process's memory.
#[derive(Debug)]
pub struct Sessions {
    ttl: Duration,
    opened: AtomicU64,
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(SESSION_TTL)
    }
}

impl Sessions {
    /// Sessions that last `ttl`.
    pub fn new(ttl: Duration) -> Sessions {
        Sessions {
            ttl,
            opened: AtomicU64::new(0),
            by_hash: Mutex::new(HashMap::new()),
        }
    }

    /// Signs `operator` in: the new session's cookie value and the session.
    pub fn open(&self, operator: &str) -> (String, Session) {
        let cookie = hex::encode(rand::random::<[u8; 32]>());
        let session = Session {
            operator: operator.to_string(),
            csrf: hex::encode(rand::random::<[u8; 32]>()),
            expires: Instant::now() + self.ttl,
            serial: self.opened.fetch_add(1, Ordering::Relaxed),
        };
        let mut sessions = self.lock();
        let now = Instant::now();
        sessions.retain(|_, session| session.expires > now);
        if sessions.len() >= MAX_SESSIONS {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, session)| session.serial)
                .map(|(hash, _)| *hash);
            if let Some(oldest) = oldest {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(hash(&cookie), session.clone());
        (cookie, session)
    }

    /// The live session of cookie value `cookie`, if any (an expired one is dropped).
    pub fn get(&self, cookie: &str) -> Option<Session> {
        let mut sessions = self.lock();
        let key = hash(cookie);
        match sessions.get(&key) {
            Some(session) if session.expires > Instant::now() => Some(session.clone()),
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session of cookie value `cookie`.
    pub fn close(&self, cookie: &str) {
        self.lock().remove(&hash(cookie));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.by_hash
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn hash(cookie: &str) -> [u8; 32] {
    Sha256::digest(cookie.as_bytes()).into()
}

/// The session cookie's value in a request's `Cookie` headers, if sent.
pub fn cookie_value(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_string())
}

/// The `Set-Cookie` value of a new session: random, HttpOnly, SameSite=Strict, for the
/// page's paths only.
pub fn set_cookie(value: &str) -> String {
    format!(
        "{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/approvals; Max-Age={}",
        SESSION_TTL.as_secs()
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/approvals; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_found_by_its_cookie_until_it_expires_or_closes() {
        let sessions = Sessions::default();
        let (cookie, session) = sessions.open("alice");
        let found = sessions.get(&cookie).unwrap();
        assert_eq!(found.operator, "alice");
        assert!(found.csrf_matches(Some(&session.csrf)));
        assert!(!found.csrf_matches(Some("0")) && !found.csrf_matches(None));
        assert!(sessions.get("not-a-cookie").is_none());
        sessions.close(&cookie);
        assert!(sessions.get(&cookie).is_none());

        let expired = Sessions::new(Duration::ZERO);
        let (cookie, _) = expired.open("alice");
        assert!(expired.get(&cookie).is_none());
    }

    #[test]
    fn sessions_are_capped_the_oldest_ending_first() {
        let sessions = Sessions::default();
        let (first, _) = sessions.open("alice");
        for _ in 0..MAX_SESSIONS {
            sessions.open("bob");
        }
        assert!(sessions.get(&first).is_none());
        assert_eq!(sessions.lock().len(), MAX_SESSIONS);
    }

    #[test]
    fn the_cookie_is_read_among_others() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            format!("a=1; {COOKIE}=abc; b=2").parse().unwrap(),
        );
        assert_eq!(cookie_value(&headers).as_deref(), Some("abc"));
        assert!(cookie_value(&http::HeaderMap::new()).is_none());
    }
}
