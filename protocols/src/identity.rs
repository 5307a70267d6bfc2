//! Names for an appliance's X25519 public key: the key id that envelopes carry, and the
//! fingerprint that people compare out of band when they approve an appliance.
//!
//! Both are hashes of the raw 32-byte public key under distinct labels, so neither can be
//! mistaken for the other and neither reveals anything beyond the public key itself.

use sha2::{Digest, Sha256};

/// Length of an X25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of a recipient key id inside an envelope.
pub const KEY_ID_LEN: usize = 16;

const KEY_ID_LABEL: &[u8] = b"sealscan ncsm v1 key id\0";
const FINGERPRINT_LABEL: &[u8] = b"sealscan appliance fingerprint v1\0";

/// The recipient key id of `public_key`: the first 16 bytes of
/// SHA-256("sealscan ncsm v1 key id" || 0x00 || public_key).
pub fn key_id(public_key: &[u8; PUBLIC_KEY_LEN]) -> [u8; KEY_ID_LEN] {
    let digest = Sha256::new()
        .chain_update(KEY_ID_LABEL)
        .chain_update(public_key)
        .finalize();
    let mut id = [0u8; KEY_ID_LEN];
    id.copy_from_slice(&digest[..KEY_ID_LEN]);
    id
}

/// The human-comparable fingerprint of `public_key`: the first 16 bytes of
/// SHA-256("sealscan appliance fingerprint v1" || 0x00 || public_key) as eight groups of
/// four lowercase hex digits joined by `-`, e.g. `3f2a-9c01-77be-10d4-aa02-5b6e-c0d9-1e48`.
pub fn fingerprint(public_key: &[u8; PUBLIC_KEY_LEN]) -> String {
    let digest = Sha256::new()
        .chain_update(FINGERPRINT_LABEL)
        .chain_update(public_key)
        .finalize();
    let mut out = String::with_capacity(39);
    for (i, pair) in digest[..16].chunks(2).enumerate() {
        if i > 0 {
            out.push('-');
        }
        for byte in pair {
            out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
            out.push(char::from_digit(u32::from(byte & 0x0f), 16).unwrap_or('0'));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_shape_is_eight_groups_of_four() {
        let fp = fingerprint(&[7u8; 32]);
        assert_eq!(fp.len(), 39);
        assert_eq!(fp.split('-').count(), 8);
        assert!(
            fp.split('-')
                .all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_hexdigit()))
        );
    }

    #[test]
    fn key_id_and_fingerprint_use_distinct_labels() {
        let pk = [9u8; 32];
        let fp_bytes: String = fingerprint(&pk).replace('-', "");
        let id_hex: String = key_id(&pk).iter().map(|b| format!("{b:02x}")).collect();
        assert_ne!(fp_bytes, id_hex);
        assert_ne!(key_id(&pk), key_id(&[10u8; 32]));
    }
}
