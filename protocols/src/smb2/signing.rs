//! SMB2/3 message signing (MS-SMB2 3.1.4.1) and signing-key derivation (3.1.4.2):
//! HMAC-SHA256 with the session key for 2.0.2/2.1; AES-128-CMAC with an SP800-108 derived
//! key for 3.0/3.0.2, and for 3.1.1 with the preauth-integrity hash as the KDF context.

use super::dialect::Dialect;
use super::header::{HEADER_LEN, SIGNATURE_OFFSET, flags};
use aes::Aes128;
use cmac::Cmac;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

/// SHA-512 chain over the NEGOTIATE and SESSION_SETUP exchanges (3.1.1 only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreauthHash(pub [u8; 64]);

impl Default for PreauthHash {
    fn default() -> Self {
        Self([0; 64])
    }
}

impl PreauthHash {
    /// H(i) = SHA-512(H(i-1) || message), the message without its NetBIOS header.
    pub fn update(&mut self, message: &[u8]) {
        let mut h = Sha512::new();
        h.update(self.0);
        h.update(message);
        self.0.copy_from_slice(&h.finalize());
    }
}

/// The key a session signs with.
pub enum SigningKey {
    HmacSha256(Zeroizing<[u8; 16]>),
    AesCmac(Zeroizing<[u8; 16]>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SigningKey::HmacSha256(_) => "SigningKey::HmacSha256([REDACTED])",
            SigningKey::AesCmac(_) => "SigningKey::AesCmac([REDACTED])",
        })
    }
}

/// SP800-108 counter-mode KDF with HMAC-SHA256, one 128-bit block, as SMB 3 uses it.
pub(super) fn kdf(key: &[u8; 16], label: &[u8], context: &[u8]) -> Zeroizing<[u8; 16]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(&1u32.to_be_bytes());
    mac.update(label);
    mac.update(&[0]);
    mac.update(context);
    mac.update(&128u32.to_be_bytes());
    let full = mac.finalize().into_bytes();
    let mut out = Zeroizing::new([0u8; 16]);
    out.copy_from_slice(full.get(..16).unwrap_or(&[0; 16]));
    out
}

/// The signing key for `dialect` from the session key (the first 16 bytes of the
/// authentication's exported key). `preauth` is the session's final preauth hash, needed
/// for 3.1.1 only.
pub fn signing_key(
    dialect: Dialect,
    session_key: &[u8; 16],
    preauth: Option<&PreauthHash>,
) -> SigningKey {
    match dialect {
        Dialect::Smb202 | Dialect::Smb210 => SigningKey::HmacSha256(Zeroizing::new(*session_key)),
        Dialect::Smb300 | Dialect::Smb302 => {
            SigningKey::AesCmac(kdf(session_key, b"SMB2AESCMAC\0", b"SmbSign\0"))
        }
        Dialect::Smb311 => {
            let context = preauth.map(|p| p.0).unwrap_or([0; 64]);
            SigningKey::AesCmac(kdf(session_key, b"SMBSigningKey\0", &context))
        }
    }
}

fn mac_over(key: &SigningKey, msg: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    match key {
        SigningKey::HmacSha256(k) => {
            let mut m =
                <Hmac<Sha256> as Mac>::new_from_slice(&k[..]).unwrap_or_else(|_| unreachable!());
            m.update(msg);
            out.copy_from_slice(m.finalize().into_bytes().get(..16).unwrap_or(&[0; 16]));
        }
        SigningKey::AesCmac(k) => {
            let mut m =
                <Cmac<Aes128> as Mac>::new_from_slice(&k[..]).unwrap_or_else(|_| unreachable!());
            m.update(msg);
            out.copy_from_slice(&m.finalize().into_bytes());
        }
    }
    out
}

/// Sets the SIGNED flag and writes the signature into `msg` (a whole SMB2 message).
/// Messages shorter than a header are left unchanged.
pub fn sign(msg: &mut [u8], key: &SigningKey) {
    if msg.len() < HEADER_LEN {
        return;
    }
    if let Some(f) = msg.get_mut(16..20) {
        let v = u32::from_le_bytes([f[0], f[1], f[2], f[3]]) | flags::SIGNED;
        f.copy_from_slice(&v.to_le_bytes());
    }
    if let Some(s) = msg.get_mut(SIGNATURE_OFFSET..HEADER_LEN) {
        s.fill(0);
    }
    let sig = mac_over(key, msg);
    if let Some(s) = msg.get_mut(SIGNATURE_OFFSET..HEADER_LEN) {
        s.copy_from_slice(&sig);
    }
}

/// Whether `msg` carries a valid signature under `key` (compared in constant time).
pub fn verify(msg: &[u8], key: &SigningKey) -> bool {
    let Some(theirs) = msg.get(SIGNATURE_OFFSET..HEADER_LEN) else {
        return false;
    };
    let mut copy = msg.to_vec();
    if let Some(s) = copy.get_mut(SIGNATURE_OFFSET..HEADER_LEN) {
        s.fill(0);
    }
    let ours = mac_over(key, &copy);
    ours.iter()
        .zip(theirs)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}
