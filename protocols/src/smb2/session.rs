//! SESSION_SETUP (MS-SMB2 2.2.5, 2.2.6).

use super::header::{Command, HEADER_LEN, Header, body, security_buffer};
use super::wire::u16_at;
use super::{Smb2Error, security_mode};

pub mod session_flags {
    pub const IS_GUEST: u16 = 0x0001;
    pub const IS_NULL: u16 = 0x0002;
    pub const ENCRYPT_DATA: u16 = 0x0004;
}

/// A SESSION_SETUP request carrying `token` (an NTLMSSP or SPNEGO token).
pub fn session_setup_request(
    message_id: u64,
    session_id: u64,
    signing_required: bool,
    token: &[u8],
) -> Result<Vec<u8>, Smb2Error> {
    let len = u16::try_from(token.len()).map_err(|_| Smb2Error::TooLong("security token"))?;
    let mut m = Vec::with_capacity(HEADER_LEN + 24 + token.len());
    Header::request(Command::SessionSetup, message_id, session_id, 0).encode(&mut m);
    let mode = if signing_required {
        security_mode::SIGNING_REQUIRED
    } else {
        security_mode::SIGNING_ENABLED
    } as u8;
    m.extend_from_slice(&25u16.to_le_bytes());
    m.push(0); // Flags
    m.push(mode);
    m.extend_from_slice(&0u32.to_le_bytes()); // Capabilities
    m.extend_from_slice(&0u32.to_le_bytes()); // Channel
    m.extend_from_slice(&((HEADER_LEN + 24) as u16).to_le_bytes());
    m.extend_from_slice(&len.to_le_bytes());
    m.extend_from_slice(&0u64.to_le_bytes()); // PreviousSessionId
    m.extend_from_slice(token);
    Ok(m)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSetupResponse {
    pub header: Header,
    pub session_flags: u16,
    pub token: Vec<u8>,
}

/// Parses a SESSION_SETUP response. Error statuses carry a 9-byte error body (StructureSize
/// 9 too), so the body is read the same way; a body shorter than that is an error only when
/// the status is success or more-processing.
pub fn parse_session_setup(msg: &[u8]) -> Result<SessionSetupResponse, Smb2Error> {
    let header = Header::parse_response(msg, Command::SessionSetup)?;
    let ok = matches!(header.status.0, 0 | 0xC000_0016);
    if !ok {
        return Ok(SessionSetupResponse {
            header,
            session_flags: 0,
            token: Vec::new(),
        });
    }
    let b = body(msg, "SESSION_SETUP", 9)?;
    let session_flags = u16_at(b, 2, "SessionFlags")?;
    let offset = u16_at(b, 4, "SecurityBufferOffset")?;
    let len = u16_at(b, 6, "SecurityBufferLength")?;
    let token = security_buffer(msg, offset, len)?;
    Ok(SessionSetupResponse {
        header,
        session_flags,
        token,
    })
}
