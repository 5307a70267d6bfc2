//! The appliance's known-hosts store: the SSH host key pinned for each `[host]:port`, learned
//! on first contact, in `known_hosts` under the state directory (OpenSSH's file format, so an
//! operator can read it). A key that does not match is kept in `known_hosts.refused`, so that
//! `sealscan-agent known-hosts accept` can pin exactly the key the scan saw, by fingerprint.
//!
//! The daemon and the operator's command both change the files, so every operation takes an
//! exclusive `flock` on `known_hosts.lock`, re-reads the files, and writes them atomically
//! (temporary file, fsync, rename, fsync of the directory). The files are small; re-reading
//! them costs nothing next to an SSH handshake.

use crate::state_file;
use sealscan_protocols::host_key::HostKey;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const KNOWN: &str = "known_hosts";
const REFUSED: &str = "known_hosts.refused";
const LOCK: &str = "known_hosts.lock";

/// What the store says about a presented key.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No key was pinned for the place; this one now is.
    Learned,
    /// The pinned key.
    Matches,
    /// Another key is pinned; the presented one was kept as refused.
    Mismatch { pinned: HostKey },
}

/// One pinned or refused key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub place: String,
    pub key: HostKey,
}

/// What `accept` changed.
#[derive(Debug)]
pub struct Accepted {
    pub previous: Option<HostKey>,
    pub accepted: HostKey,
}

pub struct KnownHosts {
    /// None: kept in memory only (tests that need no persistence).
    dir: Option<PathBuf>,
    memory: Mutex<Files>,
}

#[derive(Clone, Default)]
struct Files {
    known: BTreeMap<String, HostKey>,
    refused: BTreeMap<String, HostKey>,
}

/// `[host]:port`, as OpenSSH names a host on a port other than 22 (used for every port, so a
/// place always has one spelling).
pub fn place(host: &str, port: u16) -> String {
    format!("[{host}]:{port}")
}

impl KnownHosts {
    /// The store in `state_dir`. The files are read on each use, so this only checks that
    /// they are readable now.
    pub fn open(state_dir: &Path) -> Result<Self, String> {
        let store = Self {
            dir: Some(state_dir.to_path_buf()),
            memory: Mutex::new(Files::default()),
        };
        store.with_files(|_| Ok(((), false)))?;
        Ok(store)
    }

    /// A store that forgets everything when dropped.
    pub fn in_memory() -> Self {
        Self {
            dir: None,
            memory: Mutex::new(Files::default()),
        }
    }

    /// Checks `presented` for `place`: pins it when nothing is pinned, and records it as
    /// refused when another key is.
    pub fn check(&self, place: &str, presented: &HostKey) -> Result<Verdict, String> {
        self.with_files(|files| match files.known.get(place) {
            None => {
                files.known.insert(place.to_string(), presented.clone());
                files.refused.remove(place);
                Ok((Verdict::Learned, true))
            }
            Some(pinned) if pinned == presented => Ok((Verdict::Matches, false)),
            Some(pinned) => {
                let pinned = pinned.clone();
                let changed = files.refused.get(place) != Some(presented);
                files.refused.insert(place.to_string(), presented.clone());
                Ok((Verdict::Mismatch { pinned }, changed))
            }
        })
    }

    /// Pins the refused key of `place` whose fingerprint is `fingerprint` (`SHA256:...`).
    pub fn accept(&self, place: &str, fingerprint: &str) -> Result<Accepted, String> {
        self.with_files(|files| {
            let Some(refused) = files.refused.get(place) else {
                return Err(format!(
                    "no refused host key is recorded for {place}; a key is recorded when a scan \
                     finds one that does not match the pinned key (`sealscan-agent known-hosts \
                     list` shows them)"
                ));
            };
            if refused.fingerprint() != fingerprint {
                return Err(format!(
                    "the refused host key of {place} is {refused}, not {fingerprint}; compare \
                     with the target's own key (`ssh-keygen -l -f /etc/ssh/ssh_host_*_key.pub`)"
                ));
            }
            let accepted = refused.clone();
            files.refused.remove(place);
            let previous = files.known.insert(place.to_string(), accepted.clone());
            Ok((Accepted { previous, accepted }, true))
        })
    }

    /// Removes the pinned and refused keys of `place`; the next scan learns its key again.
    pub fn forget(&self, place: &str) -> Result<Option<HostKey>, String> {
        self.with_files(|files| {
            files.refused.remove(place);
            let previous = files.known.remove(place);
            let changed = previous.is_some();
            Ok((previous, changed))
        })
    }

    /// Pinned keys, then refused ones.
    pub fn list(&self) -> Result<(Vec<Entry>, Vec<Entry>), String> {
        self.with_files(|files| {
            let entries = |map: &BTreeMap<String, HostKey>| {
                map.iter()
                    .map(|(place, key)| Entry {
                        place: place.clone(),
                        key: key.clone(),
                    })
                    .collect::<Vec<_>>()
            };
            Ok(((entries(&files.known), entries(&files.refused)), false))
        })
    }

    /// Runs `change` on the current files under the lock; writes them back when it says they
    /// changed.
    fn with_files<T>(
        &self,
        change: impl FnOnce(&mut Files) -> Result<(T, bool), String>,
    ) -> Result<T, String> {
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        let Some(dir) = &self.dir else {
            return change(&mut memory).map(|(out, _)| out);
        };
        let _lock = FileLock::take(&dir.join(LOCK))?;
        let mut files = Files {
            known: read(&dir.join(KNOWN))?,
            refused: read(&dir.join(REFUSED))?,
        };
        let (out, changed) = change(&mut files)?;
        if changed {
            write(dir, REFUSED, &files.refused)?;
            write(dir, KNOWN, &files.known)?;
        }
        Ok(out)
    }
}

/// Held for the duration of an operation; closing the file releases the lock.
struct FileLock {
    _file: File,
}

impl FileLock {
    fn take(path: &Path) -> Result<Self, String> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // Released when the file is closed.
        file.lock()
            .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
        Ok(Self { _file: file })
    }
}

fn read(path: &Path) -> Result<BTreeMap<String, HostKey>, String> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut map = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (place, key) = line
            .split_once(' ')
            .ok_or_else(|| format!("{} line {}: no key after the host", path.display(), n + 1))?;
        let key =
            HostKey::parse(key).map_err(|e| format!("{} line {}: {e}", path.display(), n + 1))?;
        map.insert(place.to_string(), key);
    }
    Ok(map)
}

fn write(dir: &Path, name: &str, map: &BTreeMap<String, HostKey>) -> Result<(), String> {
    let path = dir.join(name);
    let mut text = String::new();
    for (place, key) in map {
        text.push_str(&format!("{place} {}\n", key.to_line()));
    }
    state_file::replace(&path, text.as_bytes())
        .map_err(|e| format!("cannot save {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(line: &str) -> HostKey {
        HostKey::parse(line).unwrap()
    }

    const A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICVDmpgSY1h5lZkf1q+jJv46GPYGy9HudZoG/S/TbG3d";
    const B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

    #[test]
    fn learns_pins_refuses_and_accepts_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let place = place("127.0.0.60", 22);
        let store = KnownHosts::open(dir.path()).unwrap();
        assert_eq!(store.check(&place, &key(A)).unwrap(), Verdict::Learned);
        let store = KnownHosts::open(dir.path()).unwrap();
        assert_eq!(store.check(&place, &key(A)).unwrap(), Verdict::Matches);
        assert_eq!(
            store.check(&place, &key(B)).unwrap(),
            Verdict::Mismatch { pinned: key(A) }
        );
        let err = store.accept(&place, &key(A).fingerprint()).unwrap_err();
        assert!(err.contains("not SHA256:"), "{err}");
        let accepted = store.accept(&place, &key(B).fingerprint()).unwrap();
        assert_eq!(accepted.previous, Some(key(A)));
        let store = KnownHosts::open(dir.path()).unwrap();
        assert_eq!(store.check(&place, &key(B)).unwrap(), Verdict::Matches);
        let text = fs::read_to_string(dir.path().join(KNOWN)).unwrap();
        assert_eq!(text, format!("[127.0.0.60]:22 {B}\n"));
        assert!(store.accept(&place, &key(B).fingerprint()).is_err());
    }

    #[test]
    fn a_damaged_file_is_named_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KNOWN), "[h]:22 ssh-ed25519 !!!\n").unwrap();
        let err = KnownHosts::open(dir.path()).err().unwrap();
        assert!(err.contains("known_hosts line 1"), "{err}");
    }
}
