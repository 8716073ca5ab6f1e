//! Where a store of the gateway lives: a SQLite file (a path, relative to the config file's
//! folder) or a Postgres database (a `postgres://` URL), as `audit:` says.

use std::fmt;
use std::path::{Path, PathBuf};

/// A SQLite file or a Postgres database. Shown (and debugged) with any password in the URL
/// replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    File(PathBuf),
    /// A Postgres database's URL.
    Postgres(String),
}

impl Location {
    /// `text` as a location: a `postgres://` (or `postgresql://`) URL, checked, or a path
    /// resolved by `resolve`.
    pub fn parse(text: &str, resolve: impl Fn(&str) -> PathBuf) -> Result<Location, String> {
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            return Ok(Location::File(resolve(text)));
        }
        match tiktok_agent::PgDatabase::connect(text) {
            Ok(_) => Ok(Location::Postgres(text.to_owned())),
            Err(error) => Err(format!(
                "{}: {}",
                Location::Postgres(text.to_owned()),
                tiktok_agent::error_chain(&error)
            )),
        }
    }

    /// The SQLite file, if it is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::File(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => f.write_str(&masked(url)),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `url` with the password of its `user:password@` part, if any, replaced by `***`.
fn masked(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_a_database_with_its_password_hidden_and_anything_else_a_file() {
        let resolve = |relative: &str| Path::new("conf").join(relative);
        assert_eq!(
            Location::parse("audit.sqlite", resolve).unwrap(),
            Location::File(PathBuf::from("conf/audit.sqlite"))
        );
        let url = "postgres://gateway:s3cret@db.internal:5432/tiktok";
        let location = Location::parse(url, resolve).unwrap();
        assert_eq!(location, Location::Postgres(url.into()));
        assert_eq!(location.file(), None);
        assert_eq!(
            location.to_string(),
            "postgres://gateway:***@db.internal:5432/tiktok"
        );
        assert!(!format!("{location:?}").contains("s3cret"));
        let socket = "postgresql://gateway@%2Frun%2Fpostgresql/tiktok";
        assert_eq!(
            Location::parse(socket, resolve).unwrap().to_string(),
            socket
        );
        let refused = Location::parse("postgres://gateway:pw@host:notaport/db", resolve);
        let message = refused.unwrap_err();
        assert!(
            message.starts_with("postgres://gateway:***@host:notaport/db: "),
            "{message}"
        );
        assert!(!message.contains("pw@"), "{message}");
    }
}
