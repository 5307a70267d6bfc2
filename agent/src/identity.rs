//! The appliance identity key: generation, storage, loading into the arena.
//!
//! The private key is an X25519 scalar that exists in memory only inside a locked arena
//! [`Slot`]. It is generated from the OS RNG directly into the slot, written from the slot to
//! the key file, and read from the key file directly into a slot, so no heap copy of it is
//! ever made.
//!
//! Key file format (`<state_dir>/identity.key`, 66 bytes, mode 0600): the 34-byte ASCII line
//! `sealscan-agent x25519 identity v1\n` followed by the 32 raw bytes of the private key.

use crate::arena::{Arena, ArenaError, Slot};
use rand_core::{OsRng, RngCore};
use sealscan_protocols::envelope::RecipientKey;
use sealscan_protocols::identity::{PUBLIC_KEY_LEN, fingerprint, key_id};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use x25519_dalek::{PublicKey, StaticSecret};

/// Name of the key file inside the state directory.
pub const KEY_FILE_NAME: &str = "identity.key";
/// First line of every key file; names the format and its version.
pub const KEY_FILE_HEADER: &[u8] = b"sealscan-agent x25519 identity v1\n";
/// Length of the private key.
pub const PRIVATE_KEY_LEN: usize = 32;
const KEY_FILE_LEN: usize = KEY_FILE_HEADER.len() + PRIVATE_KEY_LEN;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("no identity key at {}: run `sealscan-agent keygen` first", path.display())]
    Missing { path: PathBuf },
    #[error(
        "refusing to use the identity key {path}: it is readable or writable by group or others \
         (mode {mode:04o}). Run `chmod 600 {path}` (and consider the key exposed if others \
         could read it: generate a new one and re-enroll)",
        path = path.display()
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error(
        "refusing to use the identity key {path}: it is not a regular file. Point state_dir at \
         the directory that holds the real key file",
        path = path.display()
    )]
    NotRegular { path: PathBuf },
    #[error(
        "refusing to use the identity key {path}: it is owned by uid {owner} but the agent runs \
         as uid {uid}. Run `chown sealscan-agent: {path}` (or the agent's service user)",
        path = path.display()
    )]
    Owner { path: PathBuf, owner: u32, uid: u32 },
    #[error(
        "the identity key {path} is not a sealscan key file: {what}. Restore it from a backup, \
         or move it away and run `sealscan-agent keygen` (the appliance must then be enrolled \
         again)",
        path = path.display()
    )]
    Malformed { path: PathBuf, what: &'static str },
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot read random bytes from the operating system: {0}")]
    Random(rand_core::Error),
    #[error(transparent)]
    Arena(#[from] ArenaError),
}

fn io_err<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl FnOnce(io::Error) -> IdentityError + 'p {
    move |source| IdentityError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The appliance's X25519 key pair. The private half lives in the locked arena.
pub struct IdentityKey {
    secret: Slot,
    public: [u8; PUBLIC_KEY_LEN],
}

impl IdentityKey {
    /// A fresh key pair, drawn from the OS RNG straight into the arena.
    pub fn generate(arena: &Arena) -> Result<Self, IdentityError> {
        let mut secret = arena.alloc(PRIVATE_KEY_LEN)?;
        OsRng
            .try_fill_bytes(secret.expose_mut())
            .map_err(IdentityError::Random)?;
        Self::from_slot(secret)
    }

    /// Loads the key file at `path` into the arena, after checking that it is a regular file
    /// that only its owner can read.
    pub fn load(arena: &Arena, path: &Path) -> Result<Self, IdentityError> {
        let mut file = open_checked(path)?;

        let mut header = [0u8; KEY_FILE_HEADER.len()];
        read_fully(&mut file, &mut header, path)?;
        if header != KEY_FILE_HEADER {
            return Err(malformed(
                path,
                "its first line is not the sealscan key header",
            ));
        }
        let mut secret = arena.alloc(PRIVATE_KEY_LEN)?;
        read_fully(&mut file, secret.expose_mut(), path)?;
        let mut extra = [0u8; 1];
        if file.read(&mut extra).map_err(io_err("read", path))? != 0 {
            return Err(malformed(path, "it is longer than a key file"));
        }
        if secret.expose().iter().all(|b| *b == 0) {
            return Err(malformed(path, "its key is all zero bytes"));
        }
        Self::from_slot(secret)
    }

    fn from_slot(secret: Slot) -> Result<Self, IdentityError> {
        let private = secret
            .as_array::<PRIVATE_KEY_LEN>()
            .ok_or(ArenaError::EmptySlot)?;
        let public = public_key_of(private);
        Ok(Self { secret, public })
    }

    /// Writes the key to a new file at `path` (mode 0600 from the moment it exists, never
    /// replacing an existing file) and syncs it and its directory to disk. When run as root
    /// the file is given to the owner of its directory, the agent's service user.
    pub fn save_new(&self, path: &Path) -> Result<(), IdentityError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(io_err("create", path))?;
        let written = self.write_to(&mut file, path);
        if written.is_err() {
            // The file is ours (O_EXCL) and incomplete; leaving it would block the next keygen.
            let _ = std::fs::remove_file(path);
        }
        written
    }

    fn write_to(&self, file: &mut File, path: &Path) -> Result<(), IdentityError> {
        if let Some(dir) = path.parent() {
            give_to_directory_owner(file, dir, path)?;
        }
        file.write_all(KEY_FILE_HEADER)
            .and_then(|()| file.write_all(self.secret.expose()))
            .map_err(io_err("write", path))?;
        file.sync_all().map_err(io_err("sync", path))?;
        if let Some(dir) = path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err("sync the directory of", path))?;
        }
        Ok(())
    }

    pub fn public_key(&self) -> &[u8; PUBLIC_KEY_LEN] {
        &self.public
    }

    /// The human fingerprint people compare when they approve the appliance.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public)
    }

    /// The key id that envelopes sealed to this appliance carry.
    pub fn key_id(&self) -> [u8; 16] {
        key_id(&self.public)
    }

    /// The key as the envelope code opens with it: the public key this type already holds
    /// is reused, so an open never re-derives it (a base-point multiplication each time).
    pub fn recipient(&self) -> RecipientKey<'_> {
        RecipientKey::with_public_key(self.private_key(), &self.public)
    }

    /// The private key, borrowed from the arena, for opening envelopes.
    pub fn private_key(&self) -> &[u8; PRIVATE_KEY_LEN] {
        // Built only by `from_slot`, which checked the length.
        match self.secret.as_array::<PRIVATE_KEY_LEN>() {
            Some(key) => key,
            None => unreachable!("identity slot is always {PRIVATE_KEY_LEN} bytes"),
        }
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKey")
            .field("fingerprint", &self.fingerprint())
            .field("private", &"[REDACTED]")
            .finish()
    }
}

/// Opens the key file at `path` without following a link, and checks it as `load` does
/// before reading a byte of it.
fn open_checked(path: &Path) -> Result<File, IdentityError> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(IdentityError::Missing {
                path: path.to_path_buf(),
            });
        }
        // O_NOFOLLOW reports a symbolic link as ELOOP.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(IdentityError::NotRegular {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(io_err("open", path)(e)),
    };
    check_file(&file, path)?;
    Ok(file)
}

/// The checks `run` makes on the key file (type, mode, owner, length), without reading the
/// key: `check-config` refuses what `run` would refuse. `false` when there is no key yet.
pub fn check_key_file(path: &Path) -> Result<bool, IdentityError> {
    match open_checked(path) {
        Ok(_) => Ok(true),
        Err(IdentityError::Missing { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The path of the key file in `state_dir`.
pub fn key_path(state_dir: &Path) -> PathBuf {
    state_dir.join(KEY_FILE_NAME)
}

/// Whether `keygen` made a new key or found one.
#[derive(Debug)]
pub enum Keygen {
    Created(IdentityKey),
    Existing(IdentityKey),
}

/// Loads the key in `state_dir`, or generates and stores one if there is none. An existing
/// key is never replaced: every record sealed to it would become unreadable.
pub fn load_or_generate(arena: &Arena, state_dir: &Path) -> Result<Keygen, IdentityError> {
    let path = key_path(state_dir);
    match IdentityKey::load(arena, &path) {
        Ok(key) => return Ok(Keygen::Existing(key)),
        Err(IdentityError::Missing { .. }) => {}
        Err(other) => return Err(other),
    }
    ensure_state_dir(state_dir)?;
    let key = IdentityKey::generate(arena)?;
    match key.save_new(&path) {
        Ok(()) => Ok(Keygen::Created(key)),
        // Another keygen won the race: use its key, never ours.
        Err(IdentityError::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => {
            drop(key);
            IdentityKey::load(arena, &path).map(Keygen::Existing)
        }
        Err(other) => Err(other),
    }
}

fn ensure_state_dir(state_dir: &Path) -> Result<(), IdentityError> {
    if state_dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(state_dir)
        .map_err(io_err("create the state directory", state_dir))
}

fn check_file(file: &File, path: &Path) -> Result<(), IdentityError> {
    let meta = file.metadata().map_err(io_err("inspect", path))?;
    if !meta.file_type().is_file() {
        return Err(IdentityError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(IdentityError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let uid = nix::unistd::geteuid().as_raw();
    // Root may inspect the service user's key (e.g. `fingerprint` run by an operator).
    if uid != 0 && meta.uid() != uid {
        return Err(IdentityError::Owner {
            path: path.to_path_buf(),
            owner: meta.uid(),
            uid,
        });
    }
    if meta.len() != KEY_FILE_LEN as u64 {
        return Err(malformed(
            path,
            "its size is not the 66 bytes of a key file (truncated or not a key)",
        ));
    }
    Ok(())
}

fn give_to_directory_owner(file: &File, dir: &Path, path: &Path) -> Result<(), IdentityError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let owner = std::fs::metadata(dir).map_err(io_err("inspect the directory of", path))?;
    if owner.uid() == 0 && owner.gid() == 0 {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(owner.uid()), Some(owner.gid()))
        .map_err(io_err("give the service user", path))
}

fn read_fully(file: &mut File, buf: &mut [u8], path: &Path) -> Result<(), IdentityError> {
    file.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            malformed(path, "it is shorter than a key file")
        } else {
            io_err("read", path)(e)
        }
    })
}

fn malformed(path: &Path, what: &'static str) -> IdentityError {
    IdentityError::Malformed {
        path: path.to_path_buf(),
        what,
    }
}

/// The public key of `private`. The scalar has to be copied by value into x25519-dalek's
/// `StaticSecret`, which wipes itself on drop; the stack it ran on is wiped afterwards, best
/// effort, since a compiler may leave spilled copies there.
fn public_key_of(private: &[u8; PRIVATE_KEY_LEN]) -> [u8; PUBLIC_KEY_LEN] {
    let public = derive_public(private);
    zeroize::zeroize_stack::<16384>();
    public
}

#[inline(never)]
fn derive_public(private: &[u8; PRIVATE_KEY_LEN]) -> [u8; PUBLIC_KEY_LEN] {
    let secret = StaticSecret::from(*private);
    PublicKey::from(&secret).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_matches_x25519_base_point_multiplication() {
        // RFC 7748 section 6.1, Alice's key pair.
        let private: [u8; 32] = [
            0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72, 0x51, 0xb2,
            0x66, 0x45, 0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5,
            0x1d, 0xb9, 0x2c, 0x2a,
        ];
        let public: [u8; 32] = [
            0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e,
            0xf7, 0x5a, 0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e,
            0xaa, 0x9b, 0x4e, 0x6a,
        ];
        assert_eq!(public_key_of(&private), public);
    }

    #[test]
    fn debug_hides_the_private_key() {
        let arena = Arena::with_capacity(4096).expect("arena");
        let key = IdentityKey::generate(&arena).expect("key");
        let shown = format!("{key:?}");
        assert!(shown.contains("[REDACTED]") && shown.contains(&key.fingerprint()));
    }
}
