//! What can go wrong with an envelope, named precisely enough to act on.

use thiserror::Error;

/// Which authenticated layer refused the envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The HPKE-wrapped content key of this appliance's recipient entry.
    Wrap,
    /// The payload ciphertext under the content key.
    Payload,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Wrap => "recipient key wrap",
            Stage::Payload => "payload",
        })
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("NCSM envelope version {0} is not supported (only version 1)")]
    UnknownVersion(u8),
    #[error(
        "NCSM envelope cipher suite kem={kem:#06x} kdf={kdf:#06x} aead={aead:#06x} is not supported (only 0x0020/0x0001/0x0003)"
    )]
    UnsupportedSuite { kem: u16, kdf: u16, aead: u16 },
    #[error("this appliance (key id {key_id}) is not a recipient of the NCSM envelope")]
    NotARecipient { key_id: String },
    #[error("NCSM envelope is bound to a different {field} than expected")]
    BindingMismatch { field: &'static str },
    #[error("NCSM envelope failed authentication at the {0} stage")]
    Authentication(Stage),
    #[error("NCSM envelope is malformed: {at}")]
    Malformed { at: &'static str },
    #[error("NCSM envelope limit exceeded: {what}")]
    LimitExceeded { what: &'static str },
    #[error("NCSM binding field {field} is invalid: {reason}")]
    InvalidBinding {
        field: &'static str,
        reason: &'static str,
    },
    #[error("the public key with key id {key_id} is already a recipient of the NCSM envelope")]
    AlreadyARecipient { key_id: String },
    #[error("recipient public key {index} is unusable (low-order X25519 point)")]
    InvalidPublicKey { index: usize },
    #[error("the operating system's random number generator failed")]
    Randomness,
}

pub type Result<T> = std::result::Result<T, EnvelopeError>;

pub(crate) fn hex_id(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}
