//! NTLMv2 (NTLMSSP) messages and computations, sans I/O (MS-NLMP).
//!
//! The client side only: NEGOTIATE, parsing the server's CHALLENGE (with its target-info AV
//! pairs and OS version), and AUTHENTICATE with an NTLMv2 response and MIC. The password is
//! handled only inside zeroizing buffers sized before they are filled.

mod authenticate;
mod challenge;
mod keys;
mod mac;
mod negotiate;

pub use authenticate::{Authenticate, AuthenticateInput, authenticate};
pub use challenge::{AvPairs, Challenge, OsVersion, parse_challenge};
pub use keys::{lmv2_response, nt_hash, ntlmv2_blob, ntlmv2_proof, ntowf_v2, session_base_key};
pub use mac::{Direction, message_signature};
pub use negotiate::negotiate_message;

use crate::smb2::wire::OutOfBounds;
use thiserror::Error;

/// "NTLMSSP\0", the first eight bytes of every NTLMSSP message.
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// NegotiateFlags bits used here (MS-NLMP 2.2.2.5).
pub mod flags {
    pub const UNICODE: u32 = 0x0000_0001;
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    pub const SIGN: u32 = 0x0000_0010;
    pub const NTLM: u32 = 0x0000_0200;
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    pub const TARGET_INFO: u32 = 0x0080_0000;
    pub const VERSION: u32 = 0x0200_0000;
    pub const N128: u32 = 0x2000_0000;
    pub const KEY_EXCH: u32 = 0x4000_0000;
    pub const N56: u32 = 0x8000_0000;
}

/// What was wrong with an NTLM message or with the inputs to build one.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum NtlmError {
    #[error("NTLM message does not start with the NTLMSSP signature")]
    BadSignature,
    #[error("NTLM message type is {found}, expected {expected}")]
    WrongType { expected: u32, found: u32 },
    #[error("NTLM message is truncated or malformed: {0}")]
    Bounds(#[from] OutOfBounds),
    #[error("NTLM target info: AV pair {id} declares {len} bytes, past the end of the list")]
    AvPairOverrun { id: u16, len: usize },
    #[error("NTLM target info has no MsvAvEOL terminator")]
    AvPairsUnterminated,
    #[error("the server did not offer NTLMv2 target info (NEGOTIATE_TARGET_INFO unset)")]
    NoTargetInfo,
    #[error("the server does not support extended session security, required for NTLMv2")]
    NoExtendedSessionSecurity,
    #[error("the password is not valid UTF-8")]
    PasswordNotUtf8,
    #[error("NTLM field {0} is longer than 65535 bytes")]
    FieldTooLong(&'static str),
}
