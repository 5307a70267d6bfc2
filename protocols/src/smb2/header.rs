//! The 64-byte SMB2 sync header (MS-SMB2 2.2.1.2).

use super::Smb2Error;
use super::status::NtStatus;
use super::wire::{array, slice, u16_at, u32_at, u64_at};

pub const HEADER_LEN: usize = 64;
pub(crate) const SIGNATURE_OFFSET: usize = 48;
const PROTOCOL_ID: [u8; 4] = [0xFE, b'S', b'M', b'B'];

pub mod flags {
    pub const SERVER_TO_REDIR: u32 = 0x0000_0001;
    pub const SIGNED: u32 = 0x0000_0008;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Negotiate,
    SessionSetup,
    Logoff,
    TreeConnect,
}

impl Command {
    pub fn code(self) -> u16 {
        match self {
            Command::Negotiate => 0,
            Command::SessionSetup => 1,
            Command::Logoff => 2,
            Command::TreeConnect => 3,
        }
    }
}

/// The header fields a client sets or reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub credit_charge: u16,
    pub status: NtStatus,
    pub command: u16,
    pub credits: u16,
    pub flags: u32,
    pub message_id: u64,
    pub tree_id: u32,
    pub session_id: u64,
    pub signature: [u8; 16],
}

impl Header {
    /// A request header; the signature stays zero until [`super::sign`] fills it.
    pub fn request(command: Command, message_id: u64, session_id: u64, tree_id: u32) -> Self {
        Self {
            credit_charge: 1,
            status: NtStatus::SUCCESS,
            command: command.code(),
            credits: 1,
            flags: 0,
            message_id,
            tree_id,
            session_id,
            signature: [0; 16],
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&PROTOCOL_ID);
        out.extend_from_slice(&64u16.to_le_bytes());
        out.extend_from_slice(&self.credit_charge.to_le_bytes());
        out.extend_from_slice(&self.status.0.to_le_bytes());
        out.extend_from_slice(&self.command.to_le_bytes());
        out.extend_from_slice(&self.credits.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // NextCommand
        out.extend_from_slice(&self.message_id.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // Reserved (ProcessId)
        out.extend_from_slice(&self.tree_id.to_le_bytes());
        out.extend_from_slice(&self.session_id.to_le_bytes());
        out.extend_from_slice(&self.signature);
    }

    /// Parses a header and checks it is a response to `expected`.
    pub fn parse_response(msg: &[u8], expected: Command) -> Result<Self, Smb2Error> {
        let id = array::<4>(msg, 0, "ProtocolId")?;
        if id != PROTOCOL_ID {
            return Err(Smb2Error::NotSmb2(id));
        }
        let size = u16_at(msg, 4, "StructureSize")?;
        if size != 64 {
            return Err(Smb2Error::BadHeaderSize(size));
        }
        slice(msg, 0, HEADER_LEN, "header")?;
        let h = Header {
            credit_charge: u16_at(msg, 6, "CreditCharge")?,
            status: NtStatus(u32_at(msg, 8, "Status")?),
            command: u16_at(msg, 12, "Command")?,
            credits: u16_at(msg, 14, "CreditResponse")?,
            flags: u32_at(msg, 16, "Flags")?,
            message_id: u64_at(msg, 24, "MessageId")?,
            tree_id: u32_at(msg, 36, "TreeId")?,
            session_id: u64_at(msg, 40, "SessionId")?,
            signature: array(msg, SIGNATURE_OFFSET, "Signature")?,
        };
        if h.command != expected.code() {
            return Err(Smb2Error::WrongCommand {
                expected,
                found: h.command,
            });
        }
        if h.flags & flags::SERVER_TO_REDIR == 0 {
            return Err(Smb2Error::Direction("unset (a request, not a response)"));
        }
        Ok(h)
    }

    pub fn is_signed(&self) -> bool {
        self.flags & flags::SIGNED != 0
    }
}

/// Checks a body's StructureSize and returns the body (what follows the header).
pub(crate) fn body<'a>(
    msg: &'a [u8],
    command: &'static str,
    expected: u16,
) -> Result<&'a [u8], Smb2Error> {
    let body = msg.get(HEADER_LEN..).unwrap_or(&[]);
    let found = u16_at(body, 0, "body StructureSize")?;
    if found != expected {
        return Err(Smb2Error::BadBodySize {
            command,
            expected,
            found,
        });
    }
    Ok(body)
}

/// A response's `SecurityBuffer`, at an offset counted from the start of the header; an
/// empty one may name any offset.
pub(crate) fn security_buffer(msg: &[u8], offset: u16, len: u16) -> Result<Vec<u8>, Smb2Error> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let bytes = slice(msg, usize::from(offset), usize::from(len), "SecurityBuffer")?;
    Ok(bytes.to_vec())
}
