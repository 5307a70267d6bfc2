//! The NEGOTIATE message (MS-NLMP 2.2.1.1).

use super::{SIGNATURE, flags};

/// Flags the client asks for: Unicode, NTLMv2 with extended session security, 128-bit keys,
/// signing (SMB signing needs the session key) and the version field, so the AUTHENTICATE
/// message has room for a MIC at its fixed offset.
pub const CLIENT_FLAGS: u32 = flags::UNICODE
    | flags::REQUEST_TARGET
    | flags::SIGN
    | flags::NTLM
    | flags::ALWAYS_SIGN
    | flags::EXTENDED_SESSIONSECURITY
    | flags::TARGET_INFO
    | flags::VERSION
    | flags::N128
    | flags::N56;

/// The version field sent by the client: 10.0 build 20348, NTLMSSP revision 15. It is only
/// informational; servers do not act on it.
pub(crate) const CLIENT_VERSION: [u8; 8] = [10, 0, 0x4c, 0x4f, 0, 0, 0, 15];

/// A NEGOTIATE message with no domain or workstation supplied.
pub fn negotiate_message() -> Vec<u8> {
    let mut m = Vec::with_capacity(40);
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&CLIENT_FLAGS.to_le_bytes());
    // DomainNameFields and WorkstationFields: empty, offset just past the header.
    for _ in 0..2 {
        m.extend_from_slice(&0u16.to_le_bytes());
        m.extend_from_slice(&0u16.to_le_bytes());
        m.extend_from_slice(&40u32.to_le_bytes());
    }
    m.extend_from_slice(&CLIENT_VERSION);
    m
}
