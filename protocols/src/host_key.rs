//! SSH public host keys as OpenSSH writes them (`ssh-ed25519 AAAA... comment`), and their
//! SHA-256 fingerprints in `ssh-keygen -l` form. The control plane checks a record's keys with
//! this when they are entered; the agent compares what a server presents against them.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};
use std::fmt;

/// Key types a host may present that libssh2 can negotiate.
const HOST_KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
];

/// A public host key: its type name and the SSH wire blob.
#[derive(Clone, PartialEq, Eq)]
pub struct HostKey {
    pub key_type: String,
    pub blob: Vec<u8>,
}

impl HostKey {
    /// Parses `type base64 [comment]`. The error names what is wrong, not the key.
    pub fn parse(line: &str) -> Result<Self, String> {
        let mut words = line.split_whitespace();
        let (Some(key_type), Some(body)) = (words.next(), words.next()) else {
            return Err(
                "a host key is written as OpenSSH does: \"TYPE BASE64 [comment]\", e.g. the \
                 line of /etc/ssh/ssh_host_ed25519_key.pub"
                    .into(),
            );
        };
        if !HOST_KEY_TYPES.contains(&key_type) {
            return Err(format!(
                "host key type {:?} is not one of {}",
                key_type.chars().take(40).collect::<String>(),
                HOST_KEY_TYPES.join(", ")
            ));
        }
        let blob = STANDARD
            .decode(body)
            .map_err(|_| format!("the {key_type} host key's base64 is malformed"))?;
        Self::from_blob(&blob)
            .filter(|k| k.key_type == key_type)
            .ok_or_else(|| {
                format!("the {key_type} host key's data does not start with its own type name")
            })
    }

    /// The key a server presented, from its wire blob (whose first string names the type).
    pub fn from_blob(blob: &[u8]) -> Option<Self> {
        let (len, rest) = blob.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        let name = rest.get(..len)?;
        let key_type = std::str::from_utf8(name).ok()?.to_string();
        Some(Self {
            key_type,
            blob: blob.to_vec(),
        })
    }

    /// `SHA256:...` as `ssh-keygen -l -E sha256` prints it.
    pub fn fingerprint(&self) -> String {
        format!(
            "SHA256:{}",
            STANDARD_NO_PAD.encode(Sha256::digest(&self.blob))
        )
    }

    /// `type base64`, one line of a known-hosts or authorized-keys file without a comment.
    pub fn to_line(&self) -> String {
        format!("{} {}", self.key_type, STANDARD.encode(&self.blob))
    }
}

impl fmt::Display for HostKey {
    /// `ssh-ed25519 SHA256:...`: how a key is shown in causes and facts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.key_type, self.fingerprint())
    }
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ssh-keygen -t ed25519; ssh-keygen -l -E sha256 printed the fingerprint below.
    const LINE: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICVDmpgSY1h5lZkf1q+jJv46GPYGy9HudZoG/S/TbG3d host";

    #[test]
    fn parses_an_openssh_line_and_round_trips() {
        let key = HostKey::parse(LINE).unwrap();
        assert_eq!(key.key_type, "ssh-ed25519");
        assert_eq!(HostKey::parse(&key.to_line()).unwrap(), key);
        assert_eq!(
            key.fingerprint(),
            "SHA256:SWMfj5JzJnnB7foteyT4wRsb7FCC6HsyqHMiFjnTn2Y"
        );
    }

    #[test]
    fn refuses_what_is_not_a_host_key() {
        assert!(HostKey::parse("").unwrap_err().contains("TYPE BASE64"));
        assert!(
            HostKey::parse("ssh-foo AAAA")
                .unwrap_err()
                .contains("not one of")
        );
        assert!(
            HostKey::parse("ssh-ed25519 !!!")
                .unwrap_err()
                .contains("base64")
        );
        // An RSA blob under an ed25519 name.
        let rsa = "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQAB";
        assert!(HostKey::parse(rsa).unwrap_err().contains("own type name"));
    }
}
