//! SMB 3.1.1 encryption (MS-SMB2 2.2.41, 3.1.4.3): the TRANSFORM header around a message,
//! AES-128-GCM, and the cipher keys derived from the session key and the preauth hash. Used
//! when the server marks the session ENCRYPT_DATA (`smb encrypt = required`).

use super::Smb2Error;
use super::signing::{PreauthHash, kdf};
use super::wire::{array, u32_at, u64_at};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use zeroize::Zeroizing;

/// The cipher id of AES-128-GCM in the ENCRYPTION_CAPABILITIES context.
pub const AES128_GCM: u16 = 0x0002;
const TRANSFORM_ID: [u8; 4] = [0xFD, b'S', b'M', b'B'];
const TRANSFORM_LEN: usize = 52;
/// Where the authenticated part of the TRANSFORM header starts (after its signature).
const AAD_FROM: usize = 20;
const ENCRYPTED: u16 = 0x0001;

/// A session's two cipher keys (3.1.1).
pub struct CipherKeys {
    to_server: Zeroizing<[u8; 16]>,
    to_client: Zeroizing<[u8; 16]>,
}

impl std::fmt::Debug for CipherKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CipherKeys([REDACTED])")
    }
}

impl CipherKeys {
    /// The 3.1.1 keys from the session key and the session's final preauth hash.
    pub fn derive(session_key: &[u8; 16], preauth: &PreauthHash) -> Self {
        Self {
            to_server: kdf(session_key, b"SMBC2SCipherKey\0", &preauth.0),
            to_client: kdf(session_key, b"SMBS2CCipherKey\0", &preauth.0),
        }
    }
}

/// Wraps `message` for `session_id` in a TRANSFORM header, encrypted with a fresh `nonce`
/// (12 bytes for GCM; the caller never reuses one with the same key).
pub fn encrypt(keys: &CipherKeys, session_id: u64, nonce: [u8; 12], message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(TRANSFORM_LEN + message.len());
    out.extend_from_slice(&TRANSFORM_ID);
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(message.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&ENCRYPTED.to_le_bytes());
    out.extend_from_slice(&session_id.to_le_bytes());
    let mut body = message.to_vec();
    let cipher = Aes128Gcm::new_from_slice(&keys.to_server[..]).unwrap_or_else(|_| unreachable!());
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), &out[AAD_FROM..], &mut body)
        .unwrap_or_else(|_| unreachable!());
    out[4..20].copy_from_slice(&tag);
    out.extend_from_slice(&body);
    out
}

/// Whether `message` is a TRANSFORM (encrypted) message.
pub fn is_encrypted(message: &[u8]) -> bool {
    message.starts_with(&TRANSFORM_ID)
}

/// Opens a TRANSFORM message from the server: the SMB2 message inside, when the tag verifies.
pub fn decrypt(keys: &CipherKeys, message: &[u8]) -> Result<Vec<u8>, Smb2Error> {
    if !is_encrypted(message) || message.len() < TRANSFORM_LEN {
        return Err(Smb2Error::Encryption("not an SMB2 TRANSFORM message"));
    }
    let tag: [u8; 16] = array(message, 4, "TRANSFORM Signature")?;
    let nonce: [u8; 16] = array(message, 20, "TRANSFORM Nonce")?;
    let size = u32_at(message, 36, "OriginalMessageSize")? as usize;
    let _session = u64_at(message, 44, "SessionId")?;
    let mut body = message[TRANSFORM_LEN..].to_vec();
    if body.len() != size {
        return Err(Smb2Error::Encryption(
            "TRANSFORM size does not match its message",
        ));
    }
    let cipher = Aes128Gcm::new_from_slice(&keys.to_client[..]).unwrap_or_else(|_| unreachable!());
    cipher
        .decrypt_in_place_detached(
            Nonce::from_slice(&nonce[..12]),
            &message[AAD_FROM..TRANSFORM_LEN],
            &mut body,
            Tag::from_slice(&tag),
        )
        .map_err(|_| Smb2Error::Encryption("the server's encrypted message does not verify"))?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> CipherKeys {
        // The server's view: its to_client key is the client's, and the other way round.
        CipherKeys::derive(&[7; 16], &PreauthHash([1; 64]))
    }

    #[test]
    fn a_message_round_trips_and_tampering_is_caught() {
        let k = keys();
        let swapped = CipherKeys {
            to_server: k.to_client.clone(),
            to_client: k.to_server.clone(),
        };
        let sealed = encrypt(&k, 42, [3; 12], b"\xfeSMB hello");
        assert!(is_encrypted(&sealed));
        assert_eq!(decrypt(&swapped, &sealed).unwrap(), b"\xfeSMB hello");
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(decrypt(&swapped, &bad).is_err());
        assert!(decrypt(&swapped, &sealed[..30]).is_err());
    }
}
