//! The AUTHENTICATE message (MS-NLMP 2.2.1.3) with an NTLMv2 response.

use super::challenge::{AvPairs, Challenge, av};
use super::keys::{
    lmv2_response, mic, nt_hash, ntlmv2_blob, ntlmv2_proof, ntowf_v2, session_base_key,
};
use super::negotiate::{CLIENT_FLAGS, CLIENT_VERSION};
use super::{NtlmError, SIGNATURE, flags};
use crate::smb2::wire::utf16le;
use zeroize::Zeroizing;

/// MsvAvFlags bit: the AUTHENTICATE message carries a MIC.
const AV_FLAG_MIC: u32 = 0x2;
const HEADER_LEN: usize = 88;
const MIC_OFFSET: usize = 72;

/// Everything AUTHENTICATE needs. `negotiate` and `challenge_bytes` are the exact messages
/// exchanged, covered by the MIC.
pub struct AuthenticateInput<'a> {
    pub user: &'a str,
    pub domain: &'a str,
    pub password: &'a [u8],
    pub workstation: &'a str,
    pub negotiate: &'a [u8],
    pub challenge_bytes: &'a [u8],
    pub challenge: &'a Challenge,
    pub client_challenge: [u8; 8],
    /// FILETIME used when the server sent no MsvAvTimestamp.
    pub now: u64,
    /// The service principal name the client means to reach (e.g. `cifs/host`), sent as
    /// MsvAvTargetName for servers that check it (SPN target name validation).
    pub target_spn: Option<&'a str>,
}

/// The AUTHENTICATE message and the exported session key it establishes.
pub struct Authenticate {
    pub message: Vec<u8>,
    pub session_key: Zeroizing<[u8; 16]>,
}

impl std::fmt::Debug for Authenticate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticate")
            .field("message_len", &self.message.len())
            .field("session_key", &"[REDACTED]")
            .finish()
    }
}

/// Builds AUTHENTICATE. A MIC is included (and announced in MsvAvFlags) when the server sent
/// a timestamp, as MS-NLMP 3.1.5.1.2 requires; the LM response is then all zeros.
pub fn authenticate(input: &AuthenticateInput<'_>) -> Result<Authenticate, NtlmError> {
    let ch = input.challenge;
    if ch.flags & flags::TARGET_INFO == 0 {
        return Err(NtlmError::NoTargetInfo);
    }
    if ch.flags & flags::EXTENDED_SESSIONSECURITY == 0 {
        return Err(NtlmError::NoExtendedSessionSecurity);
    }
    let server_time = ch.target_info.timestamp();
    let with_mic = server_time.is_some();
    let timestamp = server_time.unwrap_or(input.now);

    let mut info = AvPairs(
        ch.target_info
            .0
            .iter()
            .filter(|(id, _)| *id != av::FLAGS)
            .cloned()
            .collect(),
    );
    if with_mic {
        let f = ch.target_info.flags().unwrap_or(0) | AV_FLAG_MIC;
        info.0.push((av::FLAGS, f.to_le_bytes().to_vec()));
    }
    if let Some(spn) = input.target_spn {
        info.0.retain(|(id, _)| *id != av::TARGET_NAME);
        info.0.push((av::TARGET_NAME, utf16le(spn)));
    }
    let info = info.encode()?;

    let nt = nt_hash(input.password)?;
    let key = ntowf_v2(&nt, input.user, input.domain);
    let blob = ntlmv2_blob(timestamp, &input.client_challenge, &info);
    let proof = ntlmv2_proof(&key, &ch.server_challenge, &blob);
    let session_key = session_base_key(&key, &proof);
    let lm = if with_mic {
        [0u8; 24]
    } else {
        lmv2_response(&key, &ch.server_challenge, &input.client_challenge)
    };
    let mut nt_response = Vec::with_capacity(16 + blob.len());
    nt_response.extend_from_slice(&proof);
    nt_response.extend_from_slice(&blob);

    let negotiated = CLIENT_FLAGS & ch.flags | flags::UNICODE;
    let domain = utf16le(input.domain);
    let user = utf16le(input.user);
    let workstation = utf16le(input.workstation);
    let payloads: [&[u8]; 6] = [&lm, &nt_response, &domain, &user, &workstation, &[]];

    let mut msg = Vec::with_capacity(HEADER_LEN + payloads.iter().map(|p| p.len()).sum::<usize>());
    msg.extend_from_slice(SIGNATURE);
    msg.extend_from_slice(&3u32.to_le_bytes());
    let mut offset = HEADER_LEN;
    let names = [
        "LmChallengeResponse",
        "NtChallengeResponse",
        "DomainName",
        "UserName",
        "Workstation",
        "EncryptedRandomSessionKey",
    ];
    for (p, name) in payloads.iter().zip(names) {
        let len = u16::try_from(p.len()).map_err(|_| NtlmError::FieldTooLong(name))?;
        let off = u32::try_from(offset).map_err(|_| NtlmError::FieldTooLong(name))?;
        msg.extend_from_slice(&len.to_le_bytes());
        msg.extend_from_slice(&len.to_le_bytes());
        msg.extend_from_slice(&off.to_le_bytes());
        offset += p.len();
    }
    msg.extend_from_slice(&negotiated.to_le_bytes());
    msg.extend_from_slice(&CLIENT_VERSION);
    msg.extend_from_slice(&[0u8; 16]);
    for p in payloads {
        msg.extend_from_slice(p);
    }
    if with_mic {
        let m = mic(&session_key, input.negotiate, input.challenge_bytes, &msg);
        if let Some(slot) = msg.get_mut(MIC_OFFSET..MIC_OFFSET + 16) {
            slot.copy_from_slice(&m);
        }
    }
    Ok(Authenticate {
        message: msg,
        session_key,
    })
}
