//! Rules of the keys that say how an endpoint shows as a tool: its `title` and, on a
//! write, `destructive`.

use crate::error::NodePath;
use crate::model::Access;
use crate::spec::RawEndpoint;
use crate::validate::checker::{Checker, ENDPOINTS};

/// The longest title: a few words, as clients show it in a list of tools.
const TITLE_MAX_CHARS: usize = 40;

/// Rule: an endpoint's title is a few words on one line, without a closing period.
pub(super) fn check_endpoint_title(checker: &mut Checker, path: &NodePath, raw: &RawEndpoint) {
    let title = raw.title.trim();
    if title.is_empty()
        || title != raw.title
        || title.chars().count() > TITLE_MAX_CHARS
        || title.contains('\n')
        || title.ends_with('.')
    {
        checker.fail(
            ENDPOINTS,
            path.key("title"),
            format!(
                "a few words on one line, at most {TITLE_MAX_CHARS} characters, no closing period"
            ),
            format!("{:?}", raw.title),
        );
    }
}

/// Rule: a write says whether it may change or remove what exists (`destructive`); a
/// read never does, so it has no such key.
pub(super) fn endpoint_destructive(
    checker: &mut Checker,
    path: &NodePath,
    raw: &RawEndpoint,
    access: Access,
) -> bool {
    match (access, raw.destructive) {
        (Access::Write, Some(destructive)) => destructive,
        (Access::Write, None) => {
            checker.fail(
                ENDPOINTS,
                path.key("destructive"),
                "true or false on a write (false: it only adds)",
                "nothing",
            );
            true
        }
        (Access::Read, None) => false,
        (Access::Read, Some(_)) => {
            checker.fail(
                ENDPOINTS,
                path.key("destructive"),
                "no `destructive` on a read",
                "the key",
            );
            false
        }
    }
}
