//! SMB2/3 NEGOTIATE, SESSION_SETUP and TREE_CONNECT messages, sans I/O (MS-SMB2), with
//! message signing for every dialect from 2.0.2 to 3.1.1.
//!
//! Requests are encoded to bytes without the 4-byte NetBIOS session header (see
//! [`frame`]); responses are parsed from the bytes after it into typed structs. No input
//! makes these functions panic: every read is bounds-checked and names its field.

mod dialect;
mod encryption;
mod header;
mod negotiate;
mod session;
mod signing;
mod status;
mod tree;
pub(crate) mod wire;

pub use dialect::{Dialect, DialectError};
pub use encryption::{AES128_GCM, CipherKeys, decrypt, encrypt, is_encrypted};
pub use header::{Command, HEADER_LEN, Header, flags as header_flags};
pub use negotiate::{NegotiateRequest, NegotiateResponse, negotiate_request, parse_negotiate};
pub use session::{
    SessionSetupResponse, parse_session_setup, session_flags, session_setup_request,
};
pub use signing::{PreauthHash, SigningKey, sign, signing_key, verify};
pub use status::{NtStatus, status_name};
pub use tree::{TreeConnectResponse, parse_tree_connect, tree_connect_request};
pub use wire::OutOfBounds;

use thiserror::Error;

/// SecurityMode bits (NEGOTIATE and SESSION_SETUP).
pub mod security_mode {
    pub const SIGNING_ENABLED: u16 = 0x0001;
    pub const SIGNING_REQUIRED: u16 = 0x0002;
}

/// What was wrong with an SMB2 message.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Smb2Error {
    #[error("not an SMB2 message: protocol id is {0:02x?}, expected fe 53 4d 42")]
    NotSmb2([u8; 4]),
    #[error("SMB2 header StructureSize is {0}, expected 64")]
    BadHeaderSize(u16),
    #[error("SMB2 response is for command {found:?}, expected {expected:?}")]
    WrongCommand { expected: Command, found: u16 },
    #[error("SMB2 message has the response flag {0}")]
    Direction(&'static str),
    #[error("SMB2 {command} body StructureSize is {found}, expected {expected}")]
    BadBodySize {
        command: &'static str,
        expected: u16,
        found: u16,
    },
    #[error("the server chose dialect {0:#06x}, which was not offered")]
    UnofferedDialect(u16),
    #[error("SMB2 message is truncated or malformed: {0}")]
    Bounds(#[from] OutOfBounds),
    #[error("SMB2 {0} is longer than its length field allows")]
    TooLong(&'static str),
    #[error("SMB2 encryption: {0}")]
    Encryption(&'static str),
}

/// Prefixes an SMB2 message with the NetBIOS session-service header (RFC 1002: type 0x00
/// and a 24-bit length), as SMB2 over TCP port 445 requires.
pub fn frame(message: &[u8]) -> Result<Vec<u8>, Smb2Error> {
    let len = u32::try_from(message.len())
        .ok()
        .filter(|l| *l < 1 << 24)
        .ok_or(Smb2Error::TooLong("message"))?;
    let mut out = Vec::with_capacity(4 + message.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(message);
    Ok(out)
}

/// What a NetBIOS session header announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum FrameError {
    #[error("reply is not a NetBIOS session message (type byte {0:#04x})")]
    NotSessionMessage(u8),
}

/// The length of the message following a 4-byte NetBIOS session header.
pub fn frame_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let [kind, a, b, c] = header;
    if kind != 0 {
        return Err(FrameError::NotSessionMessage(kind));
    }
    Ok(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
}
