//! The result spool: every result is on disk before it is posted, and leaves the disk only
//! once the control plane has acknowledged it. A crash, a lost control plane or a restart
//! therefore loses nothing; the idempotency key makes the re-post after a restart harmless.
//!
//! Holds outcomes only (status, QID, cause, login id, method, facts): never a secret.

use crate::state_file::{self, FileError};
use sealscan_protocols::appliance::ResultPost;
use serde::{Deserialize, Serialize};
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub const SPOOL_DIR_NAME: &str = "spool";
const SUFFIX: &str = ".json";

/// One spooled result: the job it belongs to and the body to post.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Spooled {
    pub job_id: String,
    pub post: ResultPost,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("result spool {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("result spool entry {}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
}

impl From<FileError> for SpoolError {
    fn from(FileError { path, source }: FileError) -> Self {
        SpoolError::Io { path, source }
    }
}

/// The spool directory, `<state_dir>/spool`.
#[derive(Clone, Debug)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// Opens (creating, 0700) the spool under `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Self, SpoolError> {
        let dir = state_dir.join(SPOOL_DIR_NAME);
        let io = |source| SpoolError::Io {
            path: dir.clone(),
            source,
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io)?;
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `entry` durably ([`state_file::replace`]: temporary file, fsync, rename, fsync
    /// of the directory). Writing the same idempotency key again replaces the earlier entry.
    pub fn put(&self, entry: &Spooled) -> Result<PathBuf, SpoolError> {
        let path = self.path_for(&entry.post.idempotency_key);
        let body = serde_json::to_vec(entry).map_err(|e| SpoolError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        state_file::replace(&path, &body)?;
        Ok(path)
    }

    /// Removes the entry for `idempotency_key` (acknowledged by the control plane).
    pub fn remove(&self, idempotency_key: &str) -> Result<(), SpoolError> {
        Ok(state_file::remove_if_present(
            &self.path_for(idempotency_key),
        )?)
    }

    /// Every entry waiting to be posted, oldest name first. An unreadable entry is reported
    /// with its path and left in place for an operator to look at.
    pub fn pending(&self) -> Result<Vec<Result<Spooled, SpoolError>>, SpoolError> {
        let io = |source| SpoolError::Io {
            path: self.dir.clone(),
            source,
        };
        let mut paths: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_str().is_some_and(|s| s.ends_with(SUFFIX)))
            .collect();
        paths.sort();
        Ok(paths.into_iter().map(|p| read_entry(&p)).collect())
    }

    /// File names are the idempotency key with every byte outside `[A-Za-z0-9_-]` written as
    /// `%XX`: keys come from the control plane, so they must never name a path elsewhere.
    fn path_for(&self, idempotency_key: &str) -> PathBuf {
        let mut name = String::with_capacity(idempotency_key.len() + SUFFIX.len());
        for b in idempotency_key.bytes() {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                name.push(char::from(b));
            } else {
                name.push_str(&format!("%{b:02X}"));
            }
        }
        name.push_str(SUFFIX);
        self.dir.join(name)
    }
}

fn read_entry(path: &Path) -> Result<Spooled, SpoolError> {
    let bytes = fs::read(path).map_err(|source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| SpoolError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealscan_protocols::results::{LoginKind, LoginOutcome, Status, Step};

    fn entry(job: &str, target: &str) -> Spooled {
        Spooled {
            job_id: job.into(),
            post: ResultPost {
                idempotency_key: ResultPost::key_for(job, target, LoginKind::Unix),
                target_id: target.into(),
                host: "127.0.0.1".into(),
                record_id: Some("r1".into()),
                outcome: LoginOutcome::not_passed(
                    LoginKind::Unix,
                    Status::Failed,
                    Step::Authentication,
                    "password refused",
                    "alice",
                ),
            },
        }
    }

    #[test]
    fn entries_survive_reopening_and_leave_once_removed() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        spool.put(&entry("j1", "t1")).unwrap();
        spool.put(&entry("j1", "t2")).unwrap();
        // Putting the same key again replaces, never doubles.
        spool.put(&entry("j1", "t2")).unwrap();

        let reopened = Spool::open(dir.path()).unwrap();
        let pending: Vec<Spooled> = reopened
            .pending()
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let keys: Vec<&str> = pending
            .iter()
            .map(|e| e.post.idempotency_key.as_str())
            .collect();
        assert_eq!(keys, ["j1/t1/unix", "j1/t2/unix"]);
        assert_eq!(pending[0].post.outcome.qid, 105053);

        reopened.remove("j1/t1/unix").unwrap();
        reopened.remove("j1/t1/unix").unwrap();
        assert_eq!(reopened.pending().unwrap().len(), 1);
    }

    #[test]
    fn hostile_keys_stay_inside_the_spool() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let mut e = entry("j", "t");
        e.post.idempotency_key = "../../etc/passwd".into();
        let path = spool.put(&e).unwrap();
        assert_eq!(path.parent().unwrap(), spool.dir());
        assert!(
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("%2E%2E%2F")
        );
    }

    #[test]
    fn a_corrupt_entry_is_named_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        fs::write(spool.dir().join("bad.json"), b"{not json").unwrap();
        let pending = spool.pending().unwrap();
        let err = pending[0].as_ref().unwrap_err().to_string();
        assert!(err.contains("bad.json"), "{err}");
        assert!(spool.dir().join("bad.json").exists());
    }

    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let path = spool.put(&entry("j", "t")).unwrap();
        let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
