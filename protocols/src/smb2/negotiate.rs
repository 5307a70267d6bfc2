//! NEGOTIATE (MS-SMB2 2.2.3, 2.2.4), with the 3.1.1 preauth-integrity context.

use super::dialect::Dialect;
use super::header::{Command, HEADER_LEN, Header, body, security_buffer};
use super::status::NtStatus;
use super::wire::{array, slice, u16_at, u32_at};
use super::{Smb2Error, security_mode};

const PREAUTH_INTEGRITY_CAPABILITIES: u16 = 0x0001;
const ENCRYPTION_CAPABILITIES: u16 = 0x0002;
const CAP_ENCRYPTION: u32 = 0x0000_0040;
const SHA512: u16 = 0x0001;

/// What the client offers.
#[derive(Clone, Debug)]
pub struct NegotiateRequest {
    pub dialects: Vec<Dialect>,
    pub signing_required: bool,
    pub client_guid: [u8; 16],
    /// Salt for the 3.1.1 preauth-integrity context (sent only when 3.1.1 is offered).
    pub salt: [u8; 32],
}

/// The NEGOTIATE request, message id 0.
pub fn negotiate_request(req: &NegotiateRequest) -> Vec<u8> {
    let mut m = Vec::with_capacity(HEADER_LEN + 36 + 10 + 8 + 48);
    let mut h = Header::request(Command::Negotiate, 0, 0, 0);
    h.credit_charge = 0;
    h.encode(&mut m);
    let with_311 = req.dialects.contains(&Dialect::Smb311);
    let mode = if req.signing_required {
        security_mode::SIGNING_REQUIRED | security_mode::SIGNING_ENABLED
    } else {
        security_mode::SIGNING_ENABLED
    };
    m.extend_from_slice(&36u16.to_le_bytes());
    m.extend_from_slice(&(req.dialects.len() as u16).to_le_bytes());
    m.extend_from_slice(&mode.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    // Capabilities: only ENCRYPTION, without which Samba picks no cipher even on 3.1.1.
    m.extend_from_slice(&CAP_ENCRYPTION.to_le_bytes());
    m.extend_from_slice(&req.client_guid);
    let dialects_end = HEADER_LEN + 36 + 2 * req.dialects.len();
    let contexts_at = dialects_end.next_multiple_of(8);
    if with_311 {
        m.extend_from_slice(&(contexts_at as u32).to_le_bytes());
        m.extend_from_slice(&2u16.to_le_bytes());
        m.extend_from_slice(&0u16.to_le_bytes());
    } else {
        m.extend_from_slice(&0u64.to_le_bytes()); // ClientStartTime
    }
    for d in &req.dialects {
        m.extend_from_slice(&d.code().to_le_bytes());
    }
    if with_311 {
        m.resize(contexts_at, 0);
        let data_len = 4 + 2 + req.salt.len();
        m.extend_from_slice(&PREAUTH_INTEGRITY_CAPABILITIES.to_le_bytes());
        m.extend_from_slice(&(data_len as u16).to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&1u16.to_le_bytes()); // HashAlgorithmCount
        m.extend_from_slice(&(req.salt.len() as u16).to_le_bytes());
        m.extend_from_slice(&SHA512.to_le_bytes());
        m.extend_from_slice(&req.salt);
        // Offered so a server that requires encryption can have it (AES-128-GCM only).
        m.resize(m.len().next_multiple_of(8), 0);
        m.extend_from_slice(&ENCRYPTION_CAPABILITIES.to_le_bytes());
        m.extend_from_slice(&4u16.to_le_bytes());
        m.extend_from_slice(&0u32.to_le_bytes());
        m.extend_from_slice(&1u16.to_le_bytes()); // CipherCount
        m.extend_from_slice(&super::AES128_GCM.to_le_bytes());
    }
    m
}

/// The cipher a 3.1.1 server chose in its ENCRYPTION_CAPABILITIES context (0: none).
fn chosen_cipher(msg: &[u8], b: &[u8]) -> Result<u16, Smb2Error> {
    let count = u16_at(b, 6, "NegotiateContextCount")?;
    let mut at = u32_at(b, 60, "NegotiateContextOffset")? as usize;
    for _ in 0..count {
        let kind = u16_at(msg, at, "ContextType")?;
        let len = usize::from(u16_at(msg, at + 2, "DataLength")?);
        if kind == ENCRYPTION_CAPABILITIES && len >= 4 {
            return Ok(u16_at(msg, at + 10, "Cipher")?);
        }
        at = (at + 8 + len).next_multiple_of(8);
    }
    Ok(0)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiateResponse {
    pub header: Header,
    pub security_mode: u16,
    /// `None` when the server refused (non-success status) before choosing.
    pub dialect: Option<Dialect>,
    pub server_guid: [u8; 16],
    pub capabilities: u32,
    /// The server's SPNEGO hint, usually a NegTokenInit listing its mechanisms.
    pub security_buffer: Vec<u8>,
    /// The 3.1.1 cipher the server chose (0: none, or not 3.1.1).
    pub cipher: u16,
}

impl NegotiateResponse {
    pub fn signing_required(&self) -> bool {
        self.security_mode & security_mode::SIGNING_REQUIRED != 0
    }
}

/// Parses a NEGOTIATE response; a non-success status is returned in `header.status` with
/// no dialect, so the caller can name it.
pub fn parse_negotiate(msg: &[u8], offered: &[Dialect]) -> Result<NegotiateResponse, Smb2Error> {
    let header = Header::parse_response(msg, Command::Negotiate)?;
    if header.status != NtStatus::SUCCESS {
        return Ok(NegotiateResponse {
            header,
            security_mode: 0,
            dialect: None,
            server_guid: [0; 16],
            capabilities: 0,
            security_buffer: Vec::new(),
            cipher: 0,
        });
    }
    let b = body(msg, "NEGOTIATE", 65)?;
    let security_mode = u16_at(b, 2, "SecurityMode")?;
    let code = u16_at(b, 4, "DialectRevision")?;
    let dialect = Dialect::from_code(code)
        .filter(|d| offered.contains(d))
        .ok_or(Smb2Error::UnofferedDialect(code))?;
    let server_guid = array(b, 8, "ServerGuid")?;
    let capabilities = u32_at(b, 24, "Capabilities")?;
    let sb_offset = u16_at(b, 56, "SecurityBufferOffset")?;
    let sb_len = u16_at(b, 58, "SecurityBufferLength")?;
    slice(b, 0, 64, "NEGOTIATE response body")?;
    let security_buffer = security_buffer(msg, sb_offset, sb_len)?;
    let cipher = if dialect == Dialect::Smb311 {
        chosen_cipher(msg, b)?
    } else {
        0
    };
    Ok(NegotiateResponse {
        cipher,
        header,
        security_mode,
        dialect: Some(dialect),
        server_guid,
        capabilities,
        security_buffer,
    })
}
