//! The control plane's data key: 32 random bytes in `<data-dir>/keys/control.key` (0600),
//! used to encrypt at rest what the server itself must read back (TOTP shared secrets). A
//! stolen database without the key file yields none of them.
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rand::rngs::OsRng;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or create the data key {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the data key {path} is not 32 bytes; restore it from backup")]
    BadLength { path: PathBuf },
    #[error("the data key {path} is readable by others (mode {mode:o}); chmod 600 it")]
    TooOpen { path: PathBuf, mode: u32 },
}

pub struct DataKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("control.key")
}

impl DataKey {
    pub fn load_or_create(data_dir: &Path) -> Result<DataKey, KeyError> {
        let path = key_path(data_dir);
        let io = |source| KeyError::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let mode = std::fs::metadata(&path).map_err(io)?.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(KeyError::TooOpen { path, mode });
                }
                let mut key = Zeroizing::new([0u8; 32]);
                if bytes.len() != key.len() {
                    return Err(KeyError::BadLength { path });
                }
                key.copy_from_slice(&bytes);
                Ok(DataKey(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(dir)
                        .map_err(io)?;
                }
                let mut key = Zeroizing::new([0u8; 32]);
                OsRng.fill_bytes(&mut key[..]);
                // create_new: two processes racing never overwrite each other's key.
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(io)?;
                f.write_all(&key[..]).map_err(io)?;
                f.sync_all().map_err(io)?;
                Ok(DataKey(key))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// version || nonce || ciphertext; `context` binds the blob to where it is stored.
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, context: &[u8], blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (&version, rest) = blob.split_first()?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new((&*self.0).into());
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context,
                },
            )
            .ok()
            .map(Zeroizing::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_context_binding() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = DataKey::load_or_create(dir.path()).expect("key");
        let blob = key.seal(b"user:1", b"secret");
        assert_eq!(
            key.open(b"user:1", &blob).as_deref().map(|v| v.as_slice()),
            Some(&b"secret"[..])
        );
        assert!(key.open(b"user:2", &blob).is_none());
        let again = DataKey::load_or_create(dir.path()).expect("reload");
        assert!(again.open(b"user:1", &blob).is_some());
        let mode = std::fs::metadata(key_path(dir.path()))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
