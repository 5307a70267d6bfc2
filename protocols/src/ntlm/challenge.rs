//! The server's CHALLENGE message (MS-NLMP 2.2.1.2) and its target-info AV pairs (2.2.2.1).

use super::{NtlmError, SIGNATURE, flags};
use crate::smb2::wire::{array, from_utf16le, slice, u8_at, u16_at, u32_at};
use std::fmt;

/// AV pair ids (MS-NLMP 2.2.2.1).
pub mod av {
    pub const EOL: u16 = 0;
    pub const NB_COMPUTER_NAME: u16 = 1;
    pub const NB_DOMAIN_NAME: u16 = 2;
    pub const DNS_COMPUTER_NAME: u16 = 3;
    pub const DNS_DOMAIN_NAME: u16 = 4;
    pub const DNS_TREE_NAME: u16 = 5;
    pub const FLAGS: u16 = 6;
    pub const TIMESTAMP: u16 = 7;
    pub const TARGET_NAME: u16 = 9;
}

/// The target-info list, kept in the server's order (the NTLMv2 response echoes it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AvPairs(pub Vec<(u16, Vec<u8>)>);

impl AvPairs {
    /// Parses a list that must end with MsvAvEOL; bytes after the terminator are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, NtlmError> {
        let mut pairs = Vec::new();
        let mut at = 0usize;
        loop {
            if at >= bytes.len() {
                return Err(NtlmError::AvPairsUnterminated);
            }
            let id = u16_at(bytes, at, "AvId")?;
            let len = usize::from(u16_at(bytes, at + 2, "AvLen")?);
            if id == av::EOL {
                return Ok(Self(pairs));
            }
            let value = slice(bytes, at + 4, len, "AV pair value")
                .map_err(|_| NtlmError::AvPairOverrun { id, len })?;
            pairs.push((id, value.to_vec()));
            at += 4 + len;
        }
    }

    pub fn get(&self, id: u16) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, v)| v.as_slice())
    }

    fn text(&self, id: u16) -> Option<String> {
        self.get(id).map(from_utf16le)
    }

    pub fn nb_computer_name(&self) -> Option<String> {
        self.text(av::NB_COMPUTER_NAME)
    }
    pub fn nb_domain_name(&self) -> Option<String> {
        self.text(av::NB_DOMAIN_NAME)
    }
    pub fn dns_computer_name(&self) -> Option<String> {
        self.text(av::DNS_COMPUTER_NAME)
    }
    pub fn dns_domain_name(&self) -> Option<String> {
        self.text(av::DNS_DOMAIN_NAME)
    }
    pub fn dns_tree_name(&self) -> Option<String> {
        self.text(av::DNS_TREE_NAME)
    }

    /// MsvAvTimestamp, a FILETIME, when the server sent one (it then expects a MIC).
    pub fn timestamp(&self) -> Option<u64> {
        let v = self.get(av::TIMESTAMP)?;
        let a: [u8; 8] = v.try_into().ok()?;
        Some(u64::from_le_bytes(a))
    }

    pub fn flags(&self) -> Option<u32> {
        let v = self.get(av::FLAGS)?;
        let a: [u8; 4] = v.try_into().ok()?;
        Some(u32::from_le_bytes(a))
    }

    /// Wire form, terminated by MsvAvEOL.
    pub fn encode(&self) -> Result<Vec<u8>, NtlmError> {
        let mut out = Vec::new();
        for (id, value) in &self.0 {
            let len = u16::try_from(value.len()).map_err(|_| NtlmError::FieldTooLong("AV pair"))?;
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(value);
        }
        out.extend_from_slice(&[0, 0, 0, 0]);
        Ok(out)
    }
}

/// The server's OS version field (MS-NLMP 2.2.2.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OsVersion {
    pub major: u8,
    pub minor: u8,
    pub build: u16,
    pub ntlm_revision: u8,
}

impl fmt::Display for OsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{} build {}", self.major, self.minor, self.build)
    }
}

/// A parsed CHALLENGE message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub flags: u32,
    pub server_challenge: [u8; 8],
    /// The TargetName field: the server's domain or computer name.
    pub target_name: String,
    pub target_info: AvPairs,
    pub version: Option<OsVersion>,
}

fn field<'a>(msg: &'a [u8], at: usize, name: &'static str) -> Result<&'a [u8], NtlmError> {
    let len = usize::from(u16_at(msg, at, name)?);
    let offset = usize::try_from(u32_at(msg, at + 4, name)?).unwrap_or(usize::MAX);
    Ok(slice(msg, offset, len, name)?)
}

/// Parses a CHALLENGE message.
pub fn parse_challenge(msg: &[u8]) -> Result<Challenge, NtlmError> {
    if slice(msg, 0, 8, "Signature")? != SIGNATURE {
        return Err(NtlmError::BadSignature);
    }
    let kind = u32_at(msg, 8, "MessageType")?;
    if kind != 2 {
        return Err(NtlmError::WrongType {
            expected: 2,
            found: kind,
        });
    }
    let target_name = from_utf16le(field(msg, 12, "TargetNameFields")?);
    let flags = u32_at(msg, 20, "NegotiateFlags")?;
    let server_challenge = array::<8>(msg, 24, "ServerChallenge")?;
    let target_info = if flags & flags::TARGET_INFO != 0 {
        AvPairs::parse(field(msg, 40, "TargetInfoFields")?)?
    } else {
        AvPairs::default()
    };
    // The version field sits at 48 only when the payload starts after it.
    let payload_start = [12usize, 40]
        .iter()
        .filter_map(|&at| {
            let len = u16_at(msg, at, "field length").ok()?;
            let off = u32_at(msg, at + 4, "field offset").ok()?;
            (len > 0).then_some(off as usize)
        })
        .min()
        .unwrap_or(msg.len());
    let version = if flags & flags::VERSION != 0 && payload_start >= 56 {
        Some(OsVersion {
            major: u8_at(msg, 48, "Version.ProductMajorVersion")?,
            minor: u8_at(msg, 49, "Version.ProductMinorVersion")?,
            build: u16_at(msg, 50, "Version.ProductBuild")?,
            ntlm_revision: u8_at(msg, 55, "Version.NTLMRevisionCurrent")?,
        })
    } else {
        None
    };
    Ok(Challenge {
        flags,
        server_challenge,
        target_name,
        target_info,
        version,
    })
}
