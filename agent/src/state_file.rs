//! The durable, private writes of the state directory's small files (enrollment, credential,
//! pinned root, accepted versions): one place for the sequence a crash must not cut.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// An I/O failure and the file or directory it happened on; each state module turns it into
/// its own error.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct FileError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Maps an I/O error on `path` into a [`FileError`].
pub fn at(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError {
        path: path.to_path_buf(),
        source,
    }
}

/// Replaces `path` with `body`: a 0600 temporary file (no link followed), written, fsynced,
/// renamed into place, then the directory fsynced. A reader never sees half a file, the mode
/// is private from the first byte, and the new content is durable before this returns.
pub fn replace(path: &Path, body: &[u8]) -> Result<(), FileError> {
    let tmp = temporary(path);
    // A temporary file left by a crash; create_new below refuses anything still there.
    let _ = fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .map_err(at(&tmp))?;
    file.write_all(body).map_err(at(&tmp))?;
    file.sync_all().map_err(at(&tmp))?;
    fs::rename(&tmp, path).map_err(at(path))?;
    sync_parent(path)
}

/// `path` with `.tmp` appended: distinct for every file name (`known_hosts` and
/// `known_hosts.refused` would share `known_hosts.tmp` if the extension were replaced).
fn temporary(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Fsyncs the directory holding `path`, so that a file created or renamed there survives a
/// crash.
pub fn sync_parent(path: &Path) -> Result<(), FileError> {
    let dir = match path.parent() {
        None => return Ok(()),
        Some(dir) if dir.as_os_str().is_empty() => Path::new("."),
        Some(dir) => dir,
    };
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(at(dir))
}

/// Removes `path`; a file that is already gone is not an error.
pub fn remove_if_present(path: &Path) -> Result<(), FileError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(at(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replace_writes_a_private_file_over_a_stale_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(temporary(&path), "left by a crash").unwrap();
        replace(&path, b"one").unwrap();
        replace(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!temporary(&path).exists());
        remove_if_present(&path).unwrap();
        remove_if_present(&path).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_failure_names_the_path_it_happened_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("state.json");
        let err = replace(&path, b"x").unwrap_err();
        assert_eq!(err.path, temporary(&path));
    }
}
