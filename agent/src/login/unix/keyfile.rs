//! What a private key file is, read before any connection: its armour (OpenSSH, PKCS#8 or
//! traditional PEM), whether it is encrypted, and its key type for the `method` line.
//!
//! libssh2 reports a wrong passphrase and an unreadable key alike (error -16), so knowing
//! whether the key is encrypted is what lets a cause say "wrong key passphrase". Decoded key
//! material only ever sits in zeroizing buffers of final size.

use crate::secret::SecretBytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Armour {
    OpenSsh,
    Pkcs8,
    Pem,
}

impl Armour {
    pub(super) fn name(self) -> &'static str {
        match self {
            Armour::OpenSsh => "OpenSSH",
            Armour::Pkcs8 => "PKCS#8",
            Armour::Pem => "PEM",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct KeyInfo {
    pub armour: Armour,
    pub encrypted: bool,
    /// The SSH key type (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`...), when it can be
    /// told without the passphrase.
    pub key_type: Option<&'static str>,
}

/// Reads the armour of `key`. Errors name what is wrong, never the key's contents.
pub(super) fn inspect(key: &SecretBytes) -> Result<KeyInfo, String> {
    let text = std::str::from_utf8(key.expose())
        .map_err(|_| "the private key is not text (PEM or OpenSSH armour expected)".to_string())?;
    let mut lines = text.lines().map(str::trim);
    let label = lines
        .by_ref()
        .find_map(|l| {
            l.strip_prefix("-----BEGIN ")
                .and_then(|rest| rest.strip_suffix("-----"))
        })
        .ok_or("no \"-----BEGIN ... PRIVATE KEY-----\" line in the private key")?;
    let mut encrypted_header = false;
    let mut body_chars = 0usize;
    let mut ended = false;
    let mut body_lines = Vec::new();
    for line in lines {
        if line.starts_with("-----END ") {
            ended = true;
            break;
        }
        if line.contains(':') {
            encrypted_header |= line.starts_with("Proc-Type:") && line.contains("ENCRYPTED");
            continue;
        }
        body_chars += line.len();
        body_lines.push(line);
    }
    if !ended {
        return Err(format!(
            "the private key has no \"-----END {label}-----\" line"
        ));
    }
    let body = decode_body(&body_lines, body_chars)?;
    let der = body.expose();
    match label {
        "OPENSSH PRIVATE KEY" => openssh(der),
        "PRIVATE KEY" => Ok(KeyInfo {
            armour: Armour::Pkcs8,
            encrypted: false,
            key_type: key_type_from_oids(der),
        }),
        "ENCRYPTED PRIVATE KEY" => Ok(KeyInfo {
            armour: Armour::Pkcs8,
            encrypted: true,
            key_type: None,
        }),
        "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "DSA PRIVATE KEY" => Ok(KeyInfo {
            armour: Armour::Pem,
            encrypted: encrypted_header,
            key_type: match label {
                "RSA PRIVATE KEY" => Some("ssh-rsa"),
                "DSA PRIVATE KEY" => Some("ssh-dss"),
                _ if encrypted_header => Some("ecdsa"),
                _ => key_type_from_oids(der).or(Some("ecdsa")),
            },
        }),
        other => Err(format!(
            "unsupported private key armour \"{}\"",
            other.chars().take(40).collect::<String>()
        )),
    }
}

/// Base64 body into a zeroizing buffer; an encrypted PEM body is not base64 of DER we can
/// read, but it still decodes, and we only look at it when it is not encrypted.
fn decode_body(lines: &[&str], chars: usize) -> Result<SecretBytes, String> {
    let mut joined = SecretBytes::zeroed(chars);
    let mut at = 0;
    for line in lines {
        let end = at + line.len();
        if let Some(dst) = joined.expose_mut().get_mut(at..end) {
            dst.copy_from_slice(line.as_bytes());
        }
        at = end;
    }
    let mut decoded = SecretBytes::zeroed(chars / 4 * 3 + 3);
    let len = STANDARD
        .decode_slice(joined.expose(), decoded.expose_mut())
        .map_err(|_| "the private key's base64 body is malformed".to_string())?;
    let mut exact = SecretBytes::zeroed(len);
    if let Some(src) = decoded.expose().get(..len) {
        exact.expose_mut().copy_from_slice(src);
    }
    Ok(exact)
}

/// `openssh-key-v1`: magic, cipher name, KDF name, KDF options, key count, then the public
/// key blob in clear, whose first string is the key type.
fn openssh(blob: &[u8]) -> Result<KeyInfo, String> {
    const MAGIC: &[u8] = b"openssh-key-v1\0";
    let malformed = || "the OpenSSH private key is malformed".to_string();
    let rest = blob.strip_prefix(MAGIC).ok_or_else(malformed)?;
    let (cipher, rest) = ssh_string(rest).ok_or_else(malformed)?;
    let (_kdf, rest) = ssh_string(rest).ok_or_else(malformed)?;
    let (_kdf_options, rest) = ssh_string(rest).ok_or_else(malformed)?;
    let (count, rest) = rest.split_first_chunk::<4>().ok_or_else(malformed)?;
    if u32::from_be_bytes(*count) != 1 {
        return Err("the OpenSSH private key file must hold exactly one key".into());
    }
    let (public, _) = ssh_string(rest).ok_or_else(malformed)?;
    let (key_type, _) = ssh_string(public).ok_or_else(malformed)?;
    Ok(KeyInfo {
        armour: Armour::OpenSsh,
        encrypted: cipher != b"none",
        key_type: known_key_type(key_type),
    })
}

/// An SSH `string`: a big-endian u32 length and that many bytes.
pub(super) fn ssh_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = data.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

pub(super) fn known_key_type(name: &[u8]) -> Option<&'static str> {
    [
        "ssh-ed25519",
        "ssh-rsa",
        "ssh-dss",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ]
    .into_iter()
    .find(|k| k.as_bytes() == name)
}

/// The key type named by the algorithm and curve OIDs of a DER key (PKCS#8 or SEC 1).
fn key_type_from_oids(der: &[u8]) -> Option<&'static str> {
    const RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
    let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
    [
        (RSA, "ssh-rsa"),
        (ED25519, "ssh-ed25519"),
        (P256, "ecdsa-sha2-nistp256"),
        (P384, "ecdsa-sha2-nistp384"),
        (P521, "ecdsa-sha2-nistp521"),
    ]
    .into_iter()
    .find(|(oid, _)| has(oid))
    .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(text: &str) -> Result<KeyInfo, String> {
        inspect(&SecretBytes::copy_from(text.as_bytes()))
    }

    #[test]
    fn refuses_what_is_not_a_key_without_echoing_it() {
        let err = info("hunter2").unwrap_err();
        assert!(err.contains("BEGIN"), "{err}");
        assert!(!err.contains("hunter2"));
        let err = inspect(&SecretBytes::copy_from(&[0xff, 0xfe])).unwrap_err();
        assert!(err.contains("not text"), "{err}");
        let err = info("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n").unwrap_err();
        assert!(err.contains("END"), "{err}");
        let err =
            info("-----BEGIN OPENSSH PRIVATE KEY-----\n!!!!\n-----END OPENSSH PRIVATE KEY-----\n")
                .unwrap_err();
        assert!(err.contains("base64"), "{err}");
        let err =
            info("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
                .unwrap_err();
        assert!(err.contains("malformed"), "{err}");
    }

    #[test]
    fn reads_traditional_pem_headers() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
                   DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n\
                   -----END RSA PRIVATE KEY-----\n";
        assert_eq!(
            info(key).unwrap(),
            KeyInfo {
                armour: Armour::Pem,
                encrypted: true,
                key_type: Some("ssh-rsa"),
            }
        );
    }

    #[test]
    fn ssh_string_never_reads_past_the_end() {
        assert_eq!(ssh_string(&[0, 0, 0, 9, 1]), None);
        assert_eq!(ssh_string(&[0, 0]), None);
        assert_eq!(
            ssh_string(&[0, 0, 0, 1, 7, 8]),
            Some((&[7u8][..], &[8u8][..]))
        );
    }
}
