//! What the appliance keeps about signing, in its state directory (docs/signed-records.md):
//!
//! - `root.json`: the pinned root's fingerprint and, once its declaration was seen, the root
//!   key, the recovery key pinned beside it and the subscription id;
//! - `seen.json`: the highest trust-list and policy numbers accepted, the revocations kept, and
//!   the highest version accepted per record as of its last rewrite;
//! - `seen-records.log`: record versions accepted since, one `VERSION RECORD_ID` line each.
//!
//! The two JSON files are written through a temporary file that is fsynced, renamed into place
//! and whose directory is fsynced; a record version is appended to the log and fsynced. Either
//! happens before the value recorded is used: a `kill -9` at any point leaves either the old
//! or the new state, never a version used but not recorded. The log keeps a first scan of many
//! records to one small write each (rewriting `seen.json` per record would grow with the
//! number of records); writing `seen.json` folds the log into it.

use crate::state_file::{self, FileError};
use sealscan_protocols::signing::{Anchor, fingerprint_text, parse_fingerprint};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const ROOT_FILE: &str = "root.json";
pub const SEEN_FILE: &str = "seen.json";
pub const SEEN_LOG: &str = "seen-records.log";
const MAX_FILE_LEN: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Malformed { path: PathBuf, message: String },
}

impl From<FileError> for StoreError {
    fn from(FileError { path, source }: FileError) -> Self {
        StoreError::Io { path, source }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    |source| state_file::at(path)(source).into()
}

/// The pinned root as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedRoot {
    /// [`fingerprint_text`] of the root key.
    pub fingerprint: String,
    /// Filled in from the root's declaration the first time one verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<StoredAnchor>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredAnchor {
    pub root_key: String,
    pub recovery_key: String,
    pub subscription_id: String,
}

impl PinnedRoot {
    pub fn new(fingerprint: &[u8; 32]) -> Self {
        PinnedRoot {
            fingerprint: fingerprint_text(fingerprint),
            anchor: None,
        }
    }

    pub fn from_anchor(anchor: &Anchor) -> Self {
        PinnedRoot {
            fingerprint: fingerprint_text(&anchor.fingerprint()),
            anchor: Some(StoredAnchor {
                root_key: fingerprint_text(&anchor.root_key),
                recovery_key: fingerprint_text(&anchor.recovery_key),
                subscription_id: anchor.subscription_id.clone(),
            }),
        }
    }

    pub fn fingerprint_bytes(&self) -> Option<[u8; 32]> {
        parse_fingerprint(&self.fingerprint)
    }

    /// The anchor, if the declaration was seen; None when the stored keys do not parse.
    pub fn anchor(&self) -> Option<Anchor> {
        let a = self.anchor.as_ref()?;
        Some(Anchor {
            root_key: parse_fingerprint(&a.root_key)?,
            recovery_key: parse_fingerprint(&a.recovery_key)?,
            subscription_id: a.subscription_id.clone(),
        })
    }
}

/// The highest numbers and versions accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seen {
    #[serde(default)]
    pub trust_list: u64,
    /// SHA-256 of the accepted trust list with that number, hex: a second list with the same
    /// number and other contents is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_list_hash: Option<String>,
    #[serde(default)]
    pub policy: u64,
    #[serde(default)]
    pub records: BTreeMap<String, u64>,
    /// Key fingerprints revoked by standalone revocations already accepted: kept, so that a
    /// control plane that stops sending a revocation does not bring the key back.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub revoked: std::collections::BTreeSet<String>,
}

pub fn root_path(state_dir: &Path) -> PathBuf {
    state_dir.join(ROOT_FILE)
}

pub fn seen_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SEEN_FILE)
}

/// The pinned root, or None on an appliance that has none.
pub fn load_root(state_dir: &Path) -> Result<Option<PinnedRoot>, StoreError> {
    let path = root_path(state_dir);
    let Some(bytes) = read(&path)? else {
        return Ok(None);
    };
    let root: PinnedRoot = serde_json::from_slice(&bytes).map_err(|e| StoreError::Malformed {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if root.fingerprint_bytes().is_none() {
        return Err(StoreError::Malformed {
            path,
            message: "the fingerprint is not 64 hex digits".into(),
        });
    }
    Ok(Some(root))
}

pub fn save_root(state_dir: &Path, root: &PinnedRoot) -> Result<(), StoreError> {
    let body = serde_json::to_vec_pretty(root).map_err(|e| StoreError::Malformed {
        path: root_path(state_dir),
        message: e.to_string(),
    })?;
    write_synced(&root_path(state_dir), &body)
}

pub fn seen_log_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SEEN_LOG)
}

pub fn load_seen(state_dir: &Path) -> Result<Seen, StoreError> {
    let path = seen_path(state_dir);
    let mut seen: Seen = match read(&path)? {
        None => Seen::default(),
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Malformed {
            path,
            message: e.to_string(),
        })?,
    };
    let log = seen_log_path(state_dir);
    if let Some(bytes) = read(&log)? {
        let text = String::from_utf8_lossy(&bytes);
        // A line without its newline is a write cut short by a crash: that version was never
        // used (the append is fsynced before use), so it is left out.
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        for line in complete.lines() {
            let parsed = line
                .split_once(' ')
                .and_then(|(v, id)| Some((v.parse::<u64>().ok()?, id)))
                .filter(|(_, id)| !id.is_empty() && !id.contains(char::is_whitespace));
            let Some((version, id)) = parsed else {
                return Err(StoreError::Malformed {
                    path: log,
                    message: "a line is not `VERSION RECORD_ID`".into(),
                });
            };
            let entry = seen.records.entry(id.to_string()).or_insert(0);
            *entry = (*entry).max(version);
        }
    }
    Ok(seen)
}

/// Writes all of `seen` (the log folded in), then drops the log it now contains.
pub fn save_seen(state_dir: &Path, seen: &Seen) -> Result<(), StoreError> {
    let body = serde_json::to_vec(seen).map_err(|e| StoreError::Malformed {
        path: seen_path(state_dir),
        message: e.to_string(),
    })?;
    write_synced(&seen_path(state_dir), &body)?;
    Ok(state_file::remove_if_present(&seen_log_path(state_dir))?)
}

/// Records that `record_id` was accepted at `version`: appended and fsynced before it returns.
pub fn append_record(state_dir: &Path, record_id: &str, version: u64) -> Result<(), StoreError> {
    let path = seen_log_path(state_dir);
    let created = !path.exists();
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(io(&path))?;
    file.write_all(format!("{version} {record_id}\n").as_bytes())
        .map_err(io(&path))?;
    file.sync_data().map_err(io(&path))?;
    if created {
        state_file::sync_parent(&path)?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(StoreError::Malformed {
            path: path.to_path_buf(),
            message: format!("larger than {MAX_FILE_LEN} bytes"),
        });
    }
    Ok(Some(bytes))
}

/// Temporary file, fsync, rename, fsync of the directory: durable before it returns.
fn write_synced(path: &Path, body: &[u8]) -> Result<(), StoreError> {
    Ok(state_file::replace(path, body)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn the_log_keeps_the_highest_version_and_ignores_a_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        append_record(dir.path(), "r-a", 3).unwrap();
        append_record(dir.path(), "r-b", 1).unwrap();
        append_record(dir.path(), "r-a", 2).unwrap();
        let seen = load_seen(dir.path()).unwrap();
        assert_eq!(seen.records.get("r-a"), Some(&3));
        assert_eq!(seen.records.get("r-b"), Some(&1));
        // A crash in the middle of an append: the cut line was never used.
        let mut f = OpenOptions::new()
            .append(true)
            .open(seen_log_path(dir.path()))
            .unwrap();
        f.write_all(b"9 r-").unwrap();
        assert_eq!(load_seen(dir.path()).unwrap().records.get("r-a"), Some(&3));
        // Writing seen.json folds the log in and drops it.
        save_seen(dir.path(), &seen).unwrap();
        assert!(!seen_log_path(dir.path()).exists());
        assert_eq!(load_seen(dir.path()).unwrap(), seen);
        // A garbled complete line is refused, not skipped.
        fs::write(seen_log_path(dir.path()), "x r-a\n").unwrap();
        assert!(load_seen(dir.path()).is_err());
    }
}
