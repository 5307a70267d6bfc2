//! NTLMv2 key and response computations (MS-NLMP 3.3.2). Key material is returned in
//! zeroizing buffers; the password's UTF-16LE form only ever lives in one, sized up front.

use super::NtlmError;
use hmac::{Hmac, Mac};
use md4::{Digest, Md4};
use md5::Md5;
use zeroize::Zeroizing;

type HmacMd5 = Hmac<Md5>;

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = <HmacMd5 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// NT hash: MD4 of the UTF-16LE password.
pub fn nt_hash(password: &[u8]) -> Result<Zeroizing<[u8; 16]>, NtlmError> {
    let mut hasher = Md4::new();
    let out = nt_hash_with(&mut hasher, password)?;
    Ok(out)
}

fn nt_hash_with(hasher: &mut Md4, password: &[u8]) -> Result<Zeroizing<[u8; 16]>, NtlmError> {
    let text = std::str::from_utf8(password).map_err(|_| NtlmError::PasswordNotUtf8)?;
    let units = text.encode_utf16().count();
    let mut wide = Zeroizing::new(vec![0u8; units * 2].into_boxed_slice());
    for (dst, unit) in wide.chunks_exact_mut(2).zip(text.encode_utf16()) {
        dst.copy_from_slice(&unit.to_le_bytes());
    }
    let mut out = Zeroizing::new([0u8; 16]);
    hasher.update(&wide[..]);
    hasher.finalize_into_reset(md4::digest::generic_array::GenericArray::from_mut_slice(
        &mut out[..],
    ));
    // The digest 0.10 hashers cannot zeroize themselves, and their block buffer still holds
    // the last block of the UTF-16 password. Every finalized block ends with the 8-byte
    // length, so 63 zero bytes overwrite whatever of the password is left in it.
    hasher.update([0u8; 63]);
    std::hint::black_box(&*hasher);
    Ok(out)
}

/// NTOWFv2 (= ResponseKeyNT): HMAC-MD5 keyed by the NT hash over UPPER(user) || domain, both
/// UTF-16LE.
pub fn ntowf_v2(nt_hash: &[u8; 16], user: &str, domain: &str) -> Zeroizing<[u8; 16]> {
    let mut ident = crate::smb2::wire::utf16le(&user.to_uppercase());
    ident.extend_from_slice(&crate::smb2::wire::utf16le(domain));
    Zeroizing::new(hmac_md5(nt_hash, &[&ident]))
}

/// The NTLMv2 client blob ("temp" in MS-NLMP 3.3.2): header, timestamp, client challenge
/// and the target info (already EOL-terminated), followed by four zero bytes.
pub fn ntlmv2_blob(timestamp: u64, client_challenge: &[u8; 8], target_info: &[u8]) -> Vec<u8> {
    let mut blob = Vec::with_capacity(28 + target_info.len() + 4);
    blob.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    blob.extend_from_slice(&timestamp.to_le_bytes());
    blob.extend_from_slice(client_challenge);
    blob.extend_from_slice(&[0, 0, 0, 0]);
    blob.extend_from_slice(target_info);
    blob.extend_from_slice(&[0, 0, 0, 0]);
    blob
}

/// NTProofStr: HMAC-MD5(ResponseKeyNT, ServerChallenge || blob).
pub fn ntlmv2_proof(response_key: &[u8; 16], server_challenge: &[u8; 8], blob: &[u8]) -> [u8; 16] {
    hmac_md5(response_key, &[server_challenge, blob])
}

/// SessionBaseKey: HMAC-MD5(ResponseKeyNT, NTProofStr). For NTLMv2 it is also the key
/// exchange key, and without NEGOTIATE_KEY_EXCH the exported session key.
pub fn session_base_key(response_key: &[u8; 16], proof: &[u8; 16]) -> Zeroizing<[u8; 16]> {
    Zeroizing::new(hmac_md5(response_key, &[proof]))
}

/// LMv2 response: HMAC-MD5(ResponseKeyLM, ServerChallenge || ClientChallenge) || ClientChallenge.
pub fn lmv2_response(
    response_key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
) -> [u8; 24] {
    let mut out = [0u8; 24];
    let (mac, chal) = out.split_at_mut(16);
    mac.copy_from_slice(&hmac_md5(
        response_key,
        &[server_challenge, client_challenge],
    ));
    chal.copy_from_slice(client_challenge);
    out
}

/// MIC: HMAC-MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE with a zero MIC).
pub(crate) fn mic(
    session_key: &[u8; 16],
    negotiate: &[u8],
    challenge: &[u8],
    auth: &[u8],
) -> [u8; 16] {
    hmac_md5(session_key, &[negotiate, challenge, auth])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn the_hasher_keeps_no_trace_of_the_password() {
        for password in [
            "Pw-canary-1",
            "a-much-longer-canary-password-of-over-28-chars",
        ] {
            let mut hasher = Md4::new();
            nt_hash_with(&mut hasher, password.as_bytes()).unwrap();
            // SAFETY: reads the hasher's own bytes (plain integers and arrays) for the check.
            let raw = unsafe {
                std::slice::from_raw_parts(
                    (&hasher as *const Md4).cast::<u8>(),
                    std::mem::size_of::<Md4>(),
                )
            };
            let wide = crate::smb2::wire::utf16le(&password[..4]);
            assert!(!raw.windows(wide.len()).any(|w| w == wide.as_slice()));
        }
    }
}
