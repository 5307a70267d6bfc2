//! The person's signing key (docs/signed-records.md): an Ed25519 key made here, kept in the
//! CLI profile directory as an OpenSSH private-key file encrypted under a passphrase
//! (aes256-ctr with bcrypt-pbkdf, via the `ssh-key` crate), and never sent anywhere. Only the
//! public key and its fingerprint leave this module.
//!
//! The file's public half is readable without the passphrase (OpenSSH stores it in the clear),
//! so `show` needs no unlock; signing does.

pub mod command;
pub mod root;

use rand::rngs::OsRng;
use sealscan_protocols::signing::{SigningKey, fingerprint_text, key_fingerprint};
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::{LineEnding, PrivateKey};
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The key file's name in the profile directory.
pub const KEY_FILE: &str = "signing-key";
/// Shorter passphrases are refused: the file is only as strong as its passphrase.
pub const MIN_PASSPHRASE_LEN: usize = 12;
const MAX_FILE_LEN: u64 = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no signing key in {}; create one with `sealscan keys create`", path.display())]
    Missing { path: PathBuf },
    #[error(
        "a signing key already exists in {}; it is kept (replacing it would void every \
         statement it signed)",
        path.display()
    )]
    Exists { path: PathBuf },
    #[error("the passphrase does not unlock the signing key in {}", path.display())]
    WrongPassphrase { path: PathBuf },
    #[error("the passphrase is shorter than {MIN_PASSPHRASE_LEN} characters")]
    WeakPassphrase,
    #[error(
        "{} is not an encrypted Ed25519 OpenSSH key file as `sealscan keys create` writes \
         ({why})",
        path.display()
    )]
    NotAKeyFile { path: PathBuf, why: &'static str },
    #[error(
        "{} is readable by other users (mode {mode:o}); run `chmod 600 {}`",
        path.display(), path.display()
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the operating system's random number generator failed")]
    Random,
}

/// What `create` and `show` tell the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicInfo {
    pub public_key: [u8; 32],
    /// [`fingerprint_text`] of the key fingerprint.
    pub fingerprint: String,
    pub path: PathBuf,
}

pub fn key_path(profile_dir: &Path) -> PathBuf {
    profile_dir.join(KEY_FILE)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn info(public_key: [u8; 32], path: &Path) -> PublicInfo {
    PublicInfo {
        public_key,
        fingerprint: fingerprint_text(&key_fingerprint(&public_key)),
        path: path.to_path_buf(),
    }
}

/// Makes a new key and writes it encrypted under `passphrase` (0600, never over an existing
/// file). `comment` is stored in the clear (the user name, for the person's own reference).
pub fn create(
    profile_dir: &Path,
    passphrase: &[u8],
    comment: &str,
) -> Result<PublicInfo, KeyError> {
    if passphrase.len() < MIN_PASSPHRASE_LEN {
        return Err(KeyError::WeakPassphrase);
    }
    let path = key_path(profile_dir);
    if fs::symlink_metadata(&path).is_ok() {
        return Err(KeyError::Exists { path });
    }
    let key = SigningKey::generate().map_err(|_| KeyError::Random)?;
    let seed = key.seed();
    let keypair = Ed25519Keypair::from_seed(&seed);
    let plain = PrivateKey::new(KeypairData::Ed25519(keypair), comment).map_err(|_| {
        KeyError::NotAKeyFile {
            path: path.clone(),
            why: "the key could not be encoded",
        }
    })?;
    let encrypted = plain
        .encrypt(&mut OsRng, passphrase)
        .map_err(|_| KeyError::Random)?;
    let text = encrypted
        .to_openssh(LineEnding::LF)
        .map_err(|_| KeyError::NotAKeyFile {
            path: path.clone(),
            why: "the key could not be encoded",
        })?;
    fs::create_dir_all(profile_dir).map_err(io(profile_dir))?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => KeyError::Exists { path: path.clone() },
            _ => io(&path)(e),
        })?;
    file.write_all(text.as_bytes()).map_err(io(&path))?;
    file.sync_all().map_err(io(&path))?;
    Ok(info(key.public_key(), &path))
}

fn read(profile_dir: &Path) -> Result<(PrivateKey, PathBuf), KeyError> {
    let path = key_path(profile_dir);
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyError::Missing { path });
        }
        Err(e) => return Err(io(&path)(e)),
    };
    let meta = file.metadata().map_err(io(&path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen { path, mode });
    }
    let mut text = Zeroizing::new(Vec::new());
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut text)
        .map_err(io(&path))?;
    if text.len() as u64 > MAX_FILE_LEN {
        return Err(KeyError::NotAKeyFile {
            path,
            why: "too large",
        });
    }
    let key = PrivateKey::from_openssh(&*text).map_err(|_| KeyError::NotAKeyFile {
        path: path.clone(),
        why: "not an OpenSSH private key",
    })?;
    if !key.is_encrypted() {
        return Err(KeyError::NotAKeyFile {
            path,
            why: "not encrypted",
        });
    }
    Ok((key, path))
}

/// The public key and fingerprint, without the passphrase.
pub fn show(profile_dir: &Path) -> Result<PublicInfo, KeyError> {
    let (key, path) = read(profile_dir)?;
    let public = key
        .public_key()
        .key_data()
        .ed25519()
        .ok_or(KeyError::NotAKeyFile {
            path: path.clone(),
            why: "not an Ed25519 key",
        })?;
    Ok(info(public.0, &path))
}

/// The signing key, unlocked with `passphrase`, held only as long as the caller keeps it
/// (wiped on drop).
pub fn unlock(profile_dir: &Path, passphrase: &[u8]) -> Result<SigningKey, KeyError> {
    let (key, path) = read(profile_dir)?;
    let plain = key
        .decrypt(passphrase)
        .map_err(|_| KeyError::WrongPassphrase { path: path.clone() })?;
    let keypair = plain.key_data().ed25519().ok_or(KeyError::NotAKeyFile {
        path: path.clone(),
        why: "not an Ed25519 key",
    })?;
    let seed = Zeroizing::new(keypair.private.to_bytes());
    let key = SigningKey::from_seed(&seed);
    if key.public_key() != keypair.public.0 {
        return Err(KeyError::NotAKeyFile {
            path,
            why: "its public key does not match its private key",
        });
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASS: &[u8] = b"correct horse battery";

    #[test]
    fn a_key_is_created_encrypted_shown_and_unlocked() {
        let dir = tempfile::tempdir().unwrap();
        let made = create(dir.path(), PASS, "alice").unwrap();
        let text = fs::read_to_string(key_path(dir.path())).unwrap();
        assert!(
            text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"),
            "{text}"
        );
        let mode = fs::metadata(key_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(show(dir.path()).unwrap(), made);
        let key = unlock(dir.path(), PASS).unwrap();
        assert_eq!(key.public_key(), made.public_key);
        assert_eq!(fingerprint_text(&key.fingerprint()), made.fingerprint);
        // The seed is not in the file in the clear.
        let seed_hex: String = key.seed().iter().map(|b| format!("{b:02x}")).collect();
        assert!(!text.contains(&seed_hex));
    }

    #[test]
    fn every_wrong_case_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let missing = show(dir.path()).unwrap_err().to_string();
        assert!(missing.contains("sealscan keys create"), "{missing}");
        assert!(matches!(
            create(dir.path(), b"short", "a"),
            Err(KeyError::WeakPassphrase)
        ));
        create(dir.path(), PASS, "alice").unwrap();
        assert!(matches!(
            create(dir.path(), PASS, "alice"),
            Err(KeyError::Exists { .. })
        ));
        assert!(matches!(
            unlock(dir.path(), b"wrong passphrase!"),
            Err(KeyError::WrongPassphrase { .. })
        ));
        let path = key_path(dir.path());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            show(dir.path())
                .unwrap_err()
                .to_string()
                .contains("chmod 600")
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            unlock(dir.path(), PASS),
            Err(KeyError::NotAKeyFile { .. })
        ));
        // An unencrypted OpenSSH key is refused: the passphrase is the protection.
        let plain = PrivateKey::new(
            KeypairData::Ed25519(Ed25519Keypair::from_seed(&[7u8; 32])),
            "x",
        )
        .unwrap()
        .to_openssh(LineEnding::LF)
        .unwrap();
        fs::write(&path, plain.as_bytes()).unwrap();
        let err = show(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not encrypted"), "{err}");
    }
}
