//! The app's client secret, read once at start from its environment variable or from an
//! owner-only file, as the config's `tiktok.client_secret_env` or `client_secret_file` says.

use std::path::{Path, PathBuf};

use crate::config::{Config, SecretSource};

/// Why the app's client secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable the config names is not set (or not Unicode).
    #[error(
        "the environment variable {name} (tiktok.client_secret_env in {}) must hold the app's client secret",
        config.display()
    )]
    EnvMissing {
        /// The variable.
        name: String,
        /// The config file that names it.
        config: PathBuf,
    },
    /// The secret file could not be read.
    #[error(
        "cannot read {} (tiktok.client_secret_file in {})",
        path.display(),
        config.display()
    )]
    FileUnreadable {
        /// The secret file.
        path: PathBuf,
        /// The config file that names it.
        config: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The secret file can be read by others than its owner.
    #[error(
        "{} (tiktok.client_secret_file) can be read by others (mode {mode:o}): chmod 600 it",
        path.display()
    )]
    TooOpen {
        /// The secret file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The secret file holds nothing but white space.
    #[error("{} (tiktok.client_secret_file) is empty", path.display())]
    Empty {
        /// The secret file.
        path: PathBuf,
    },
}

/// The app's client secret, from where `config` says.
pub fn read(config: &Config) -> Result<String, SecretError> {
    read_from(&config.tiktok.client_secret, &config.file)
}

/// The secret from `source`, named in the config file `config` (for the messages).
fn read_from(source: &SecretSource, config: &Path) -> Result<String, SecretError> {
    match source {
        SecretSource::Env(name) => std::env::var(name).map_err(|_| SecretError::EnvMissing {
            name: name.clone(),
            config: config.to_path_buf(),
        }),
        SecretSource::File(path) => {
            let unreadable = |source| SecretError::FileUnreadable {
                path: path.clone(),
                config: config.to_path_buf(),
                source,
            };
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)
                    .map_err(unreadable)?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    return Err(SecretError::TooOpen {
                        path: path.clone(),
                        mode: mode & 0o777,
                    });
                }
            }
            let text = std::fs::read_to_string(path).map_err(unreadable)?;
            let secret = text.trim().to_string();
            if secret.is_empty() {
                return Err(SecretError::Empty { path: path.clone() });
            }
            Ok(secret)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `text` to a file `secret` in `dir` with `mode`, and returns its path.
    fn secret_file(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let path = dir.join("secret");
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        path
    }

    #[test]
    fn an_owner_only_file_gives_its_trimmed_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = secret_file(dir.path(), "s3cret\n", 0o600);
        let secret = read_from(&SecretSource::File(path), Path::new("gateway.yaml")).unwrap();
        assert_eq!(secret, "s3cret");
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_can_read_is_too_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = secret_file(dir.path(), "s3cret", 0o644);
        let error =
            read_from(&SecretSource::File(path.clone()), Path::new("gateway.yaml")).unwrap_err();
        assert!(
            matches!(&error, SecretError::TooOpen { path: found, mode: 0o644 } if *found == path),
            "{error:?}"
        );
        assert!(error.to_string().ends_with("chmod 600 it"), "{error}");
    }

    #[test]
    fn an_empty_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = secret_file(dir.path(), " \n", 0o600);
        let error = read_from(&SecretSource::File(path), Path::new("gateway.yaml")).unwrap_err();
        assert!(matches!(error, SecretError::Empty { .. }), "{error:?}");
    }

    #[test]
    fn a_missing_file_is_unreadable_with_the_io_error_as_its_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");
        let error = read_from(&SecretSource::File(path), Path::new("gateway.yaml")).unwrap_err();
        let SecretError::FileUnreadable { source, .. } = &error else {
            panic!("{error:?}")
        };
        assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        // The cause is the source's to say, not the message's.
        let source_text = source.to_string();
        assert!(!error.to_string().contains(&source_text), "{error}");
        assert!(std::error::Error::source(&error).is_some());
    }

    #[test]
    fn a_missing_variable_names_itself_and_the_config_key() {
        let name = "TIKTOK_GATEWAY_TEST_SECRET_THAT_IS_NEVER_SET";
        let error =
            read_from(&SecretSource::Env(name.into()), Path::new("gateway.yaml")).unwrap_err();
        assert!(matches!(&error, SecretError::EnvMissing { name: found, .. } if found == name));
        let message = error.to_string();
        assert!(message.contains(name), "{message}");
        assert!(
            message.contains("tiktok.client_secret_env in gateway.yaml"),
            "{message}"
        );
    }
}
