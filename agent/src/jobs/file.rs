//! An agent's uploads folder, [`UploadsDir`]: the only place its files may come from. A
//! name is refused when it is absolute, holds `..`, resolves (through any symlink) outside
//! the folder, or is not a regular file; the file is opened without following a last
//! symlink and without blocking on a FIFO, and checked on the handle it is read from.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

/// The folder an agent's files must be in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadsDir {
    root: PathBuf,
}

/// Why a file is refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The uploads folder itself cannot be used.
    #[error("the uploads folder {path:?} cannot be used")]
    Folder {
        /// The folder as configured.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The name is not a plain relative path inside the folder.
    #[error("{name:?} is not a file name inside the uploads folder: {why}")]
    Name {
        /// The name asked for.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The name resolves outside the folder (through a symlink).
    #[error("{name:?} leads outside the uploads folder")]
    Outside {
        /// The name asked for.
        name: String,
    },
    /// The file is larger than a video may be.
    #[error("{name:?} has {size} bytes, more than the {max} a video may have")]
    TooLarge {
        /// The name asked for.
        name: String,
        /// Its size.
        size: u64,
        /// The most allowed.
        max: u64,
    },
    /// The name is not a regular file (a folder, a device, a FIFO, a socket).
    #[error("{name:?} is not a regular file")]
    NotRegular {
        /// The name asked for.
        name: String,
    },
    /// The file cannot be read.
    #[error("{name:?} cannot be read")]
    Io {
        /// The name asked for.
        name: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A file opened inside the uploads folder, checked on its handle, with its size and
/// SHA-256 (the handle is rewound to its start).
#[derive(Debug)]
pub struct OpenedFile {
    /// The open file, at its start.
    pub file: File,
    /// Its size in bytes when it was hashed.
    pub size: u64,
    /// The SHA-256 of its bytes, hex.
    pub sha256: String,
}

impl UploadsDir {
    /// The folder at `path`, which must exist.
    pub fn new(path: impl AsRef<Path>) -> Result<UploadsDir, FileError> {
        let path = path.as_ref();
        let folder = |source| FileError::Folder {
            path: path.to_owned(),
            source,
        };
        let root = std::fs::canonicalize(path).map_err(folder)?;
        if !std::fs::metadata(&root).map_err(folder)?.is_dir() {
            return Err(folder(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "not a folder",
            )));
        }
        Ok(UploadsDir { root })
    }

    /// The folder, resolved.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Opens `name` (relative to the folder), refuses it over `max_bytes` (before reading
    /// it), reads it once for its SHA-256 and rewinds it. Blocking: call it from a blocking
    /// task.
    pub fn open(&self, name: &str, max_bytes: u64) -> Result<OpenedFile, FileError> {
        let refuse = |why| FileError::Name {
            name: name.to_string(),
            why,
        };
        if name.is_empty() {
            return Err(refuse("it is empty"));
        }
        if name.contains('\0') {
            return Err(refuse("it holds a NUL character"));
        }
        let relative = Path::new(name);
        for component in relative.components() {
            match component {
                Component::Normal(_) | Component::CurDir => {}
                Component::ParentDir => return Err(refuse("it holds `..`")),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(refuse("it is absolute"));
                }
            }
        }
        let io = |source| FileError::Io {
            name: name.to_string(),
            source,
        };
        let resolved = std::fs::canonicalize(self.root.join(relative)).map_err(io)?;
        if !resolved.starts_with(&self.root) {
            return Err(FileError::Outside {
                name: name.to_string(),
            });
        }
        let mut file = open_no_follow(&resolved).map_err(|source| {
            if source.raw_os_error() == Some(ELOOP) {
                // Swapped for a symlink since it was resolved.
                FileError::Outside {
                    name: name.to_string(),
                }
            } else {
                io(source)
            }
        })?;
        // Where the handle really is: a folder on the way swapped for a symlink between
        // the resolving and the opening would lead out (Linux tells through /proc).
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let link = format!("/proc/self/fd/{}", file.as_raw_fd());
            if let Ok(opened) = std::fs::read_link(link)
                && !opened.starts_with(&self.root)
            {
                return Err(FileError::Outside {
                    name: name.to_string(),
                });
            }
        }
        // Checked on the handle itself: what is read is what was checked.
        let metadata = file.metadata().map_err(io)?;
        if !metadata.is_file() {
            return Err(FileError::NotRegular {
                name: name.to_string(),
            });
        }
        if metadata.len() > max_bytes {
            return Err(FileError::TooLarge {
                name: name.to_string(),
                size: metadata.len(),
                max: max_bytes,
            });
        }
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let read = file.read(&mut buffer).map_err(io)?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            size += read as u64;
        }
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        Ok(OpenedFile {
            file,
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }
}

#[cfg(unix)]
const ELOOP: i32 = libc::ELOOP;
#[cfg(not(unix))]
const ELOOP: i32 = -1;

/// Opens `path` for reading without following a symlink in its last component and without
/// waiting for a writer when it is a FIFO.
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    options.open(path)
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;

    fn folder() -> (tempfile::TempDir, UploadsDir) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("uploads")).unwrap();
        std::fs::write(dir.path().join("uploads/clip.mp4"), b"video bytes").unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"not yours").unwrap();
        let uploads = UploadsDir::new(dir.path().join("uploads")).unwrap();
        (dir, uploads)
    }

    #[test]
    fn a_file_inside_opens_with_its_size_and_hash() {
        let (_dir, uploads) = folder();
        let opened = uploads.open("clip.mp4", u64::MAX).unwrap();
        assert_eq!(opened.size, 11);
        assert_eq!(opened.sha256, hex::encode(Sha256::digest(b"video bytes")));
        assert_eq!(uploads.open("./clip.mp4", u64::MAX).unwrap().size, 11);
        assert!(matches!(
            uploads.open("clip.mp4", 10).unwrap_err(),
            FileError::TooLarge {
                size: 11,
                max: 10,
                ..
            }
        ));
    }

    #[test]
    fn names_leading_out_are_refused() {
        let (dir, uploads) = folder();
        let absolute = dir.path().join("secret.txt");
        for (name, expected) in [
            ("", "empty"),
            ("../secret.txt", "`..`"),
            ("a/../../secret.txt", "`..`"),
            (absolute.to_str().unwrap(), "absolute"),
        ] {
            let error = uploads.open(name, u64::MAX).unwrap_err();
            assert!(matches!(error, FileError::Name { .. }), "{name}: {error}");
            assert!(error.to_string().contains(expected), "{error}");
        }
        std::os::unix::fs::symlink(&absolute, dir.path().join("uploads/link.txt")).unwrap();
        assert!(matches!(
            uploads.open("link.txt", u64::MAX).unwrap_err(),
            FileError::Outside { .. }
        ));
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("uploads/zero")).unwrap();
        assert!(matches!(
            uploads.open("zero", u64::MAX).unwrap_err(),
            FileError::Outside { .. }
        ));
    }

    #[test]
    fn a_symlink_inside_to_a_file_inside_is_followed() {
        let (dir, uploads) = folder();
        std::os::unix::fs::symlink("clip.mp4", dir.path().join("uploads/same.mp4")).unwrap();
        assert_eq!(uploads.open("same.mp4", u64::MAX).unwrap().size, 11);
    }

    #[test]
    fn folders_and_fifos_are_not_regular_files_and_a_fifo_never_blocks() {
        let (dir, uploads) = folder();
        std::fs::create_dir(dir.path().join("uploads/sub")).unwrap();
        assert!(matches!(
            uploads.open("sub", u64::MAX).unwrap_err(),
            FileError::NotRegular { .. }
        ));
        let fifo = dir.path().join("uploads/pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(matches!(
            uploads.open("pipe", u64::MAX).unwrap_err(),
            FileError::NotRegular { .. }
        ));
    }

    #[test]
    fn a_missing_folder_or_file_is_an_error_not_a_panic() {
        let (dir, uploads) = folder();
        assert!(matches!(
            UploadsDir::new(dir.path().join("nope")).unwrap_err(),
            FileError::Folder { .. }
        ));
        assert!(matches!(
            UploadsDir::new(dir.path().join("secret.txt")).unwrap_err(),
            FileError::Folder { .. }
        ));
        assert!(matches!(
            uploads.open("missing.mp4", u64::MAX).unwrap_err(),
            FileError::Io { .. }
        ));
    }
}
