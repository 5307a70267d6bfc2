//! What enrollment leaves in the state directory.
//!
//! `enrollment.json` (0600): the control plane's URL and CA file, the appliance id and the
//! poll secret that lets this appliance collect its credential once a Manager approves it.
//! `credential` (0600): the appliance's API credential, written once it is collected. Nothing
//! else: the identity key has its own file, and no target secret is ever stored.

use crate::secret::SecretText;
use crate::state_file::{self, FileError};
use sealscan_protocols::signing::{fingerprint_text, parse_fingerprint};
use serde::{Deserialize, Serialize};
use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const ENROLLMENT_FILE: &str = "enrollment.json";
pub const CREDENTIAL_FILE: &str = "credential";
/// A credential is a short token; anything longer is not one.
const MAX_CREDENTIAL_LEN: u64 = 4096;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    pub url: String,
    pub ca_file: PathBuf,
    pub appliance_id: String,
    pub name: String,
    pub fingerprint: String,
    pub poll_secret: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrollmentError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "this appliance is not enrolled (no {}); run `sealscan-agent enroll --url URL --token TOKEN` first",
        path.display()
    )]
    NotEnrolled { path: PathBuf },
    #[error("{}: {message}", path.display())]
    Malformed { path: PathBuf, message: String },
    #[error(
        "{} is readable by other users (mode {mode:o}); run `chmod 600 {}`",
        path.display(), path.display()
    )]
    TooOpen { path: PathBuf, mode: u32 },
}

impl From<FileError> for EnrollmentError {
    fn from(FileError { path, source }: FileError) -> Self {
        EnrollmentError::Io { path, source }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EnrollmentError + '_ {
    |source| state_file::at(path)(source).into()
}

impl Enrollment {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(ENROLLMENT_FILE)
    }

    pub fn load(state_dir: &Path) -> Result<Self, EnrollmentError> {
        let path = Self::path(state_dir);
        let bytes = read_private(&path, 64 * 1024)?;
        serde_json::from_slice(&bytes).map_err(|e| EnrollmentError::Malformed {
            path,
            message: e.to_string(),
        })
    }

    /// Replaces the enrollment (a new `enroll` starts over; the old credential goes with it).
    pub fn save(&self, state_dir: &Path) -> Result<(), EnrollmentError> {
        let body = serde_json::to_vec_pretty(self).map_err(|e| EnrollmentError::Malformed {
            path: Self::path(state_dir),
            message: e.to_string(),
        })?;
        remove_credential(state_dir)?;
        write_private(&Self::path(state_dir), &body)
    }
}

/// Separates the control plane's one-time token from the subscription root's fingerprint in
/// the token text a Manager's CLI prints: `enr_...` `.root=` `3f2a-...` (docs/signed-records.md).
/// `.` never occurs in a token (URL-safe base64), so the split is unambiguous.
pub const ROOT_MARK: &str = ".root=";

/// An enrollment token as the operator pastes it.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollmentToken {
    /// What the control plane checks; only this part is sent.
    pub token: String,
    /// The subscription root to pin, when the token text carries one.
    pub root: Option<[u8; 32]>,
}

impl std::fmt::Debug for EnrollmentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollmentToken")
            .field("token", &"[REDACTED]")
            .field("root", &self.root.map(|r| fingerprint_text(&r)))
            .finish()
    }
}

/// Splits token text into the token and the optional root fingerprint; a fingerprint that
/// does not parse is an error (never silently enrolled without the pin it was meant to set).
pub fn parse_token(text: &str) -> Result<EnrollmentToken, String> {
    let text = text.trim();
    let (token, root) = match text.split_once(ROOT_MARK) {
        None => (text, None),
        Some((token, fp)) => {
            let root = parse_fingerprint(fp).ok_or_else(|| {
                "the enrollment token's root fingerprint is not 64 hex digits; copy the whole \
                 token text again"
                    .to_string()
            })?;
            (token, Some(root))
        }
    };
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err("the enrollment token is empty or contains spaces".into());
    }
    Ok(EnrollmentToken {
        token: token.to_string(),
        root,
    })
}

pub fn credential_path(state_dir: &Path) -> PathBuf {
    state_dir.join(CREDENTIAL_FILE)
}

/// The stored credential, or `None` before approval.
pub fn load_credential(state_dir: &Path) -> Result<Option<SecretText>, EnrollmentError> {
    let path = credential_path(state_dir);
    let bytes = match read_private(&path, MAX_CREDENTIAL_LEN) {
        Ok(b) => b,
        Err(EnrollmentError::NotEnrolled { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| EnrollmentError::Malformed {
        path: path.clone(),
        message: "the credential is not UTF-8".into(),
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Err(EnrollmentError::Malformed {
            path,
            message: "the credential file is empty".into(),
        });
    }
    Ok(Some(SecretText::copy_from(text)))
}

pub fn save_credential(state_dir: &Path, credential: &str) -> Result<(), EnrollmentError> {
    write_private(&credential_path(state_dir), credential.as_bytes())
}

fn remove_credential(state_dir: &Path) -> Result<(), EnrollmentError> {
    Ok(state_file::remove_if_present(&credential_path(state_dir))?)
}

fn read_private(path: &Path, limit: u64) -> Result<Zeroizing<Vec<u8>>, EnrollmentError> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(EnrollmentError::NotEnrolled {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(io(path)(e)),
    };
    let meta = file.metadata().map_err(io(path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(EnrollmentError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    if meta.len() > limit {
        return Err(EnrollmentError::Malformed {
            path: path.to_path_buf(),
            message: format!("larger than {limit} bytes"),
        });
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(
        usize::try_from(meta.len()).unwrap_or(0) + 1,
    ));
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    Ok(bytes)
}

/// Through [`state_file::replace`]: a reader never sees half a file and the mode is private
/// from the first byte.
fn write_private(path: &Path, body: &[u8]) -> Result<(), EnrollmentError> {
    Ok(state_file::replace(path, body)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn sample() -> Enrollment {
        Enrollment {
            url: "https://127.0.0.1:8443".into(),
            ca_file: "/etc/sealscan/ca.pem".into(),
            appliance_id: "app_1".into(),
            name: "scanner-1".into(),
            fingerprint: "ab:cd".into(),
            poll_secret: "ps_1".into(),
        }
    }

    #[test]
    fn enrollment_and_credential_round_trip_privately() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Enrollment::load(dir.path()),
            Err(EnrollmentError::NotEnrolled { .. })
        ));
        sample().save(dir.path()).unwrap();
        assert_eq!(Enrollment::load(dir.path()).unwrap(), sample());
        assert!(load_credential(dir.path()).unwrap().is_none());
        save_credential(dir.path(), "apc_secret").unwrap();
        assert_eq!(
            load_credential(dir.path()).unwrap().unwrap().expose(),
            "apc_secret"
        );
        for f in [ENROLLMENT_FILE, CREDENTIAL_FILE] {
            let mode = fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        // Enrolling again drops the old credential.
        sample().save(dir.path()).unwrap();
        assert!(load_credential(dir.path()).unwrap().is_none());
    }

    #[test]
    fn a_token_carries_an_optional_root_fingerprint() {
        let fp = [0xabu8; 32];
        let plain = parse_token("enr_AbC-_9").unwrap();
        assert_eq!((plain.token.as_str(), plain.root), ("enr_AbC-_9", None));
        let text = format!("enr_AbC-_9{ROOT_MARK}{}", fingerprint_text(&fp));
        let with_root = parse_token(&text).unwrap();
        assert_eq!(
            (with_root.token.as_str(), with_root.root),
            ("enr_AbC-_9", Some(fp))
        );
        assert!(!format!("{with_root:?}").contains("AbC"));
        assert!(parse_token("enr_x.root=12-34").is_err());
        assert!(parse_token(".root=").is_err());
        assert!(parse_token("").is_err());
    }

    #[test]
    fn an_open_credential_file_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        save_credential(dir.path(), "apc").unwrap();
        let path = credential_path(dir.path());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_credential(dir.path()).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
