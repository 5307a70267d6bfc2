//! The few SPNEGO (RFC 4178, MS-SPNG) tokens an NTLM or Kerberos client needs, with a minimal
//! DER reader and writer: NegTokenInit carrying NTLM NEGOTIATE or a Kerberos AP-REQ,
//! NegTokenResp carrying the CHALLENGE, AUTHENTICATE with its mechListMIC, or the AP-REP, the
//! server's NegTokenInit2 hint in the SMB2 NEGOTIATE response, and the RFC 1964 framing of
//! Kerberos messages inside GSS-API tokens.

use thiserror::Error;

/// 1.3.6.1.5.5.2, SPNEGO itself.
pub const SPNEGO_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// 1.3.6.1.4.1.311.2.2.10, NTLMSSP.
pub const NTLMSSP_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];

/// 1.2.840.113554.1.2.2, Kerberos 5 (RFC 1964).
pub const KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// 1.2.840.48018.1.2.2, the Kerberos OID Windows lists first (MS-KILE).
pub const MS_KRB5_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];

/// GSS-API krb5 token identifiers (RFC 4121 4.1).
pub mod krb5_token {
    pub const AP_REQ: [u8; 2] = [0x01, 0x00];
    pub const AP_REP: [u8; 2] = [0x02, 0x00];
    pub const KRB_ERROR: [u8; 2] = [0x03, 0x00];
}

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const ENUMERATED: u8 = 0x0a;
const APPLICATION_0: u8 = 0x60;

fn ctx(n: u8) -> u8 {
    0xa0 | n
}

#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SpnegoError {
    #[error("SPNEGO token ends inside a DER element")]
    Truncated,
    #[error("SPNEGO token has a DER length this reader does not accept")]
    BadLength,
    #[error("SPNEGO {what}: expected tag {expected:#04x}, found {found:#04x}")]
    UnexpectedTag {
        what: &'static str,
        expected: u8,
        found: u8,
    },
    #[error("SPNEGO token is not for SPNEGO (wrong mechanism OID)")]
    NotSpnego,
    #[error("the server rejected the SPNEGO negotiation (negState reject)")]
    Rejected,
    #[error("GSS-API token is not a Kerberos 5 token")]
    NotKerberos,
}

/// One DER element: its tag, its content, and what follows it.
fn read_tlv(buf: &[u8]) -> Result<(u8, &[u8], &[u8]), SpnegoError> {
    let (&tag, rest) = buf.split_first().ok_or(SpnegoError::Truncated)?;
    let (&first, mut rest) = rest.split_first().ok_or(SpnegoError::Truncated)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(SpnegoError::BadLength);
        }
        let (bytes, after) = rest.split_at_checked(n).ok_or(SpnegoError::Truncated)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| acc << 8 | usize::from(*b))
    };
    let (content, after) = rest.split_at_checked(len).ok_or(SpnegoError::Truncated)?;
    Ok((tag, content, after))
}

fn expect<'a>(
    buf: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), SpnegoError> {
    let (found, content, rest) = read_tlv(buf)?;
    if found != tag {
        return Err(SpnegoError::UnexpectedTag {
            what,
            expected: tag,
            found,
        });
    }
    Ok((content, rest))
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or(&[]);
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

/// The DER MechTypeList this client offers with NTLM (NTLMSSP only); the mechListMIC
/// covers it.
pub fn mech_type_list() -> Vec<u8> {
    mech_type_list_of(&[NTLMSSP_OID])
}

/// The DER MechTypeList of `mechs`, in order of preference.
pub fn mech_type_list_of(mechs: &[&[u8]]) -> Vec<u8> {
    let oids: Vec<u8> = mechs.iter().flat_map(|m| tlv(OID, m)).collect();
    tlv(SEQUENCE, &oids)
}

/// The first token: InitialContextToken with a NegTokenInit offering NTLMSSP and carrying
/// `mech_token` (the NTLM NEGOTIATE message).
pub fn neg_token_init(mech_token: &[u8]) -> Vec<u8> {
    neg_token_init_of(&[NTLMSSP_OID], mech_token)
}

/// The first token offering `mechs` (the first is the one `mech_token` is for).
pub fn neg_token_init_of(mechs: &[&[u8]], mech_token: &[u8]) -> Vec<u8> {
    let mut init = tlv(ctx(0), &mech_type_list_of(mechs));
    init.extend(tlv(ctx(2), &tlv(OCTET_STRING, mech_token)));
    let mut inner = tlv(OID, SPNEGO_OID);
    inner.extend(tlv(ctx(0), &tlv(SEQUENCE, &init)));
    tlv(APPLICATION_0, &inner)
}

/// A client NegTokenResp carrying `response_token` and, when given, the mechListMIC.
pub fn neg_token_resp(response_token: &[u8], mech_list_mic: Option<&[u8]>) -> Vec<u8> {
    let mut fields = tlv(ctx(2), &tlv(OCTET_STRING, response_token));
    if let Some(mic) = mech_list_mic {
        fields.extend(tlv(ctx(3), &tlv(OCTET_STRING, mic)));
    }
    tlv(ctx(1), &tlv(SEQUENCE, &fields))
}

/// A Kerberos message inside a GSS-API InitialContextToken: the krb5 OID, the two-byte token
/// identifier, then the DER message (RFC 1964 1.1).
pub fn krb5_gss_token(token_id: [u8; 2], message: &[u8]) -> Vec<u8> {
    let mut inner = tlv(OID, KRB5_OID);
    inner.extend_from_slice(&token_id);
    inner.extend_from_slice(message);
    tlv(APPLICATION_0, &inner)
}

/// The token identifier and Kerberos message of a krb5 GSS-API token.
pub fn parse_krb5_gss_token(token: &[u8]) -> Result<([u8; 2], &[u8]), SpnegoError> {
    let (app, _) = expect(token, APPLICATION_0, "InitialContextToken")?;
    let (oid, rest) = expect(app, OID, "thisMech")?;
    if oid != KRB5_OID && oid != MS_KRB5_OID {
        return Err(SpnegoError::NotKerberos);
    }
    let (id, message) = rest.split_at_checked(2).ok_or(SpnegoError::Truncated)?;
    Ok(([id[0], id[1]], message))
}

/// negState values.
pub mod neg_state {
    pub const ACCEPT_COMPLETED: u8 = 0;
    pub const ACCEPT_INCOMPLETE: u8 = 1;
    pub const REJECT: u8 = 2;
    pub const REQUEST_MIC: u8 = 3;
}

/// A server NegTokenResp.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NegTokenResp {
    pub neg_state: Option<u8>,
    pub supported_mech: Option<Vec<u8>>,
    pub response_token: Option<Vec<u8>>,
    pub mech_list_mic: Option<Vec<u8>>,
}

/// Parses a server NegTokenResp; a `reject` negState is an error.
pub fn parse_neg_token_resp(token: &[u8]) -> Result<NegTokenResp, SpnegoError> {
    let (outer, _) = expect(token, ctx(1), "NegTokenResp")?;
    let (mut fields, _) = expect(outer, SEQUENCE, "NegTokenResp SEQUENCE")?;
    let mut out = NegTokenResp::default();
    while !fields.is_empty() {
        let (tag, content, rest) = read_tlv(fields)?;
        fields = rest;
        match tag {
            0xa0 => {
                let (v, _) = expect(content, ENUMERATED, "negState")?;
                out.neg_state = Some(*v.first().ok_or(SpnegoError::Truncated)?);
            }
            0xa1 => out.supported_mech = Some(expect(content, OID, "supportedMech")?.0.to_vec()),
            0xa2 => {
                out.response_token =
                    Some(expect(content, OCTET_STRING, "responseToken")?.0.to_vec())
            }
            0xa3 => {
                out.mech_list_mic = Some(expect(content, OCTET_STRING, "mechListMIC")?.0.to_vec())
            }
            _ => {} // fields this client does not use
        }
    }
    if out.neg_state == Some(neg_state::REJECT) {
        return Err(SpnegoError::Rejected);
    }
    Ok(out)
}

/// The mechanisms a server lists in its NegTokenInit(2) hint (SMB2 NEGOTIATE response).
pub fn hinted_mechs(hint: &[u8]) -> Result<Vec<Vec<u8>>, SpnegoError> {
    let (app, _) = expect(hint, APPLICATION_0, "InitialContextToken")?;
    let (oid, rest) = expect(app, OID, "thisMech")?;
    if oid != SPNEGO_OID {
        return Err(SpnegoError::NotSpnego);
    }
    let (init, _) = expect(rest, ctx(0), "negTokenInit")?;
    let (mut fields, _) = expect(init, SEQUENCE, "NegTokenInit SEQUENCE")?;
    while !fields.is_empty() {
        let (tag, content, rest) = read_tlv(fields)?;
        fields = rest;
        if tag == ctx(0) {
            let (mut list, _) = expect(content, SEQUENCE, "mechTypes")?;
            let mut mechs = Vec::new();
            while !list.is_empty() {
                let (m, rest) = expect(list, OID, "MechType")?;
                mechs.push(m.to_vec());
                list = rest;
            }
            return Ok(mechs);
        }
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_round_trip() {
        let content = vec![7u8; 300];
        let t = tlv(OCTET_STRING, &content);
        assert_eq!(&t[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let (tag, c, rest) = read_tlv(&t).unwrap();
        assert_eq!((tag, c, rest), (OCTET_STRING, &content[..], &[][..]));
    }

    #[test]
    fn init_token_lists_ntlmssp_and_carries_the_token() {
        let t = neg_token_init(b"NTLMSSP\0abc");
        assert_eq!(hinted_mechs(&t).unwrap(), vec![NTLMSSP_OID.to_vec()]);
        assert!(t.ends_with(b"NTLMSSP\0abc"));
    }

    #[test]
    fn krb5_tokens_round_trip_and_are_offered() {
        let t = krb5_gss_token(krb5_token::AP_REQ, b"\x6e\x03abc");
        assert_eq!(
            parse_krb5_gss_token(&t).unwrap(),
            (krb5_token::AP_REQ, &b"\x6e\x03abc"[..])
        );
        let init = neg_token_init_of(&[MS_KRB5_OID, KRB5_OID], &t);
        assert_eq!(
            hinted_mechs(&init).unwrap(),
            vec![MS_KRB5_OID.to_vec(), KRB5_OID.to_vec()]
        );
        assert_eq!(
            parse_krb5_gss_token(&neg_token_init(b"x")),
            Err(SpnegoError::NotKerberos)
        );
        for n in 0..t.len().min(14) {
            assert!(parse_krb5_gss_token(&t[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn resp_round_trips() {
        let t = neg_token_resp(b"auth", Some(&[1; 16]));
        let r = parse_neg_token_resp(&t).unwrap();
        assert_eq!(r.response_token.as_deref(), Some(&b"auth"[..]));
        assert_eq!(r.mech_list_mic.as_deref(), Some(&[1u8; 16][..]));
    }

    #[test]
    fn malformed_tokens_are_errors() {
        assert_eq!(read_tlv(&[0x30]), Err(SpnegoError::Truncated));
        assert_eq!(read_tlv(&[0x30, 0x80]), Err(SpnegoError::BadLength));
        assert_eq!(
            read_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]),
            Err(SpnegoError::BadLength)
        );
        assert_eq!(read_tlv(&[0x30, 0x05, 1]), Err(SpnegoError::Truncated));
        let reject = tlv(0xa1, &tlv(SEQUENCE, &tlv(0xa0, &tlv(ENUMERATED, &[2]))));
        assert_eq!(parse_neg_token_resp(&reject), Err(SpnegoError::Rejected));
        let t = neg_token_init(b"x");
        for n in 0..t.len() {
            assert!(hinted_mechs(&t[..n]).is_err(), "prefix {n}");
        }
    }
}
