//! TREE_CONNECT (MS-SMB2 2.2.9, 2.2.10): connecting to IPC$ is the harmless proof that the
//! session works (and, when signing, that both sides hold the same key).

use super::Smb2Error;
use super::header::{Command, HEADER_LEN, Header, body};
use super::status::NtStatus;
use super::wire::{u8_at, u32_at};

/// A TREE_CONNECT request for `path` (e.g. `\\127.0.0.1\IPC$`), unsigned.
pub fn tree_connect_request(
    message_id: u64,
    session_id: u64,
    path: &str,
) -> Result<Vec<u8>, Smb2Error> {
    let path = super::wire::utf16le(path);
    let len = u16::try_from(path.len()).map_err(|_| Smb2Error::TooLong("share path"))?;
    let mut m = Vec::with_capacity(HEADER_LEN + 8 + path.len());
    Header::request(Command::TreeConnect, message_id, session_id, 0).encode(&mut m);
    m.extend_from_slice(&9u16.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes()); // Flags
    m.extend_from_slice(&((HEADER_LEN + 8) as u16).to_le_bytes());
    m.extend_from_slice(&len.to_le_bytes());
    m.extend_from_slice(&path);
    Ok(m)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeConnectResponse {
    pub header: Header,
    pub share_type: u8,
    pub maximal_access: u32,
}

pub fn parse_tree_connect(msg: &[u8]) -> Result<TreeConnectResponse, Smb2Error> {
    let header = Header::parse_response(msg, Command::TreeConnect)?;
    if header.status != NtStatus::SUCCESS {
        return Ok(TreeConnectResponse {
            header,
            share_type: 0,
            maximal_access: 0,
        });
    }
    let b = body(msg, "TREE_CONNECT", 16)?;
    Ok(TreeConnectResponse {
        header,
        share_type: u8_at(b, 2, "ShareType")?,
        maximal_access: u32_at(b, 12, "MaximalAccess")?,
    })
}
