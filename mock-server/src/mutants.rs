//! Deliberate faults ("mutants") that prove the conformance suite has teeth.
//!
//! Compiled only with the cargo feature `mutants`, which no default build enables. With
//! the feature, at most one mutant is live per process, chosen by the environment variable
//! `TIKTOK_MOCK_MUTANT` (its kebab-case name, read once); without the variable the mock
//! behaves exactly as without the feature. `cargo xtask mutants` turns each on in turn and
//! checks that `cargo test -p tiktok-conformance` fails, naming the property that caught it.
//!
//! Without the feature, the crate's internal `mutant!(Name)` is the constant `false`: the faulty
//! branch is dead code and there is no way to switch it on.

use std::sync::OnceLock;

/// One deliberate fault, each in a different check of the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutant {
    /// A rate limit lets one call more than the spec allows per window.
    RateLimitOffByOne,
    /// Rate limits count per fixed 60 s bucket instead of the trailing 60 s.
    FixedWindow,
    /// `POST /v2/video/list/` asks for `user.info.basic` instead of `video.list`.
    WrongScope,
    /// Fields whose schema names a scope are served without that scope.
    FieldScopeSkipped,
    /// The video list's next cursor repeats the last video of the page on the next one.
    DuplicateAcrossPages,
    /// The smallest chunk accepted is one byte below 5 MB (under both readings of MB).
    ChunkBoundaryOffByOne,
    /// Webhook signatures are computed over the body without its last byte, so no receiver
    /// can verify them.
    WebhookWrongBytes,
    /// Revoking an access token leaves its refresh token usable.
    RefreshAliveAfterRevoke,
}

impl Mutant {
    /// Every mutant, in the order `cargo xtask mutants` runs them.
    pub const ALL: [Mutant; 8] = [
        Mutant::RateLimitOffByOne,
        Mutant::FixedWindow,
        Mutant::WrongScope,
        Mutant::FieldScopeSkipped,
        Mutant::DuplicateAcrossPages,
        Mutant::ChunkBoundaryOffByOne,
        Mutant::WebhookWrongBytes,
        Mutant::RefreshAliveAfterRevoke,
    ];

    /// The name `TIKTOK_MOCK_MUTANT` takes.
    pub const fn name(self) -> &'static str {
        match self {
            Mutant::RateLimitOffByOne => "rate-limit-off-by-one",
            Mutant::FixedWindow => "fixed-window",
            Mutant::WrongScope => "wrong-scope",
            Mutant::FieldScopeSkipped => "field-scope-skipped",
            Mutant::DuplicateAcrossPages => "duplicate-across-pages",
            Mutant::ChunkBoundaryOffByOne => "chunk-boundary-off-by-one",
            Mutant::WebhookWrongBytes => "webhook-wrong-bytes",
            Mutant::RefreshAliveAfterRevoke => "refresh-alive-after-revoke",
        }
    }

    /// The mutant named `name`, if any.
    pub fn from_name(name: &str) -> Option<Mutant> {
        Mutant::ALL.into_iter().find(|mutant| mutant.name() == name)
    }
}

/// The environment variable that selects the live mutant.
pub const ENV: &str = "TIKTOK_MOCK_MUTANT";

/// The live mutant of this process, if any.
///
/// # Panics
/// If `TIKTOK_MOCK_MUTANT` names no mutant: a typo must not pass for a surviving mutant.
pub fn live() -> Option<Mutant> {
    static LIVE: OnceLock<Option<Mutant>> = OnceLock::new();
    *LIVE.get_or_init(|| {
        let name = std::env::var(ENV).ok()?;
        match Mutant::from_name(&name) {
            Some(mutant) => Some(mutant),
            None => panic!(
                "{ENV}={name}: no such mutant (known: {})",
                Mutant::ALL.map(Mutant::name).join(", ")
            ),
        }
    })
}

/// Whether `mutant` is the live one.
pub fn is_live(mutant: Mutant) -> bool {
    live() == Some(mutant)
}
