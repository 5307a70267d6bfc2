//! The appliance's X25519 private key as the envelope code sees it.

use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, Serializable};
use zeroize::Zeroizing;

use super::error::{EnvelopeError, Result};
use super::random;
use crate::identity::{self, KEY_ID_LEN, PUBLIC_KEY_LEN};

/// Length of an X25519 private key.
pub const PRIVATE_KEY_LEN: usize = 32;

/// An X25519 private key, wiped on drop and never printed. The agent keeps its key in a
/// locked arena instead and passes `&[u8; 32]` to [`super::open`]; this type is for callers
/// (tools, tests) that own a key in ordinary memory.
pub struct PrivateKey(Zeroizing<[u8; PRIVATE_KEY_LEN]>);

impl PrivateKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self> {
        let mut bytes = Zeroizing::new([0u8; PRIVATE_KEY_LEN]);
        random::fill(bytes.as_mut_slice())?;
        Ok(PrivateKey(bytes))
    }

    /// Takes a copy of `bytes`; the caller wipes its own copy.
    pub fn from_bytes(bytes: &[u8; PRIVATE_KEY_LEN]) -> Self {
        PrivateKey(Zeroizing::new(*bytes))
    }

    pub fn as_bytes(&self) -> &[u8; PRIVATE_KEY_LEN] {
        &self.0
    }

    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        public_key(&self.0)
    }

    pub fn key_id(&self) -> [u8; KEY_ID_LEN] {
        identity::key_id(&self.public_key())
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey([REDACTED])")
    }
}

/// The X25519 public key of `private_key`.
pub fn public_key(private_key: &[u8; PRIVATE_KEY_LEN]) -> [u8; PUBLIC_KEY_LEN] {
    let mut out = [0u8; PUBLIC_KEY_LEN];
    if let Ok(sk) = hpke_private_key(private_key) {
        out.copy_from_slice(&X25519HkdfSha256::sk_to_pk(&sk).to_bytes());
    }
    out
}

pub(crate) fn hpke_private_key(
    private_key: &[u8; PRIVATE_KEY_LEN],
) -> Result<<X25519HkdfSha256 as Kem>::PrivateKey> {
    // Any 32 bytes are an X25519 private key, so this cannot fail for a fixed-size array.
    <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(private_key).map_err(|_| {
        EnvelopeError::Malformed {
            at: "private key is not 32 bytes",
        }
    })
}
