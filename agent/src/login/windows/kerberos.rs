//! Kerberos for Windows logins, sans-I/O: the AS, TGS and AP messages of a login, built with
//! sspi's generators on picky-krb's types and ciphers, and the KDC's and server's answers
//! read. The KDC round trips are the caller's (`kdc.rs`); keys live in zeroizing buffers.

use picky_asn1::wrapper::Asn1SequenceOf;
use picky_krb::constants::key_usages::{AS_REP_ENC, TGS_REP_ENC_SESSION_KEY};
use picky_krb::crypto::CipherSuite;
use picky_krb::data_types::{EncryptionKey, EtypeInfo2, PaData};
use picky_krb::messages::{ApRep, AsRep, EncAsRepPart, EncTgsRepPart, KdcRep, KrbError, TgsRep};
use rand_core::{OsRng, RngCore};
use sealscan_protocols::spnego::{self, krb5_token};
use sspi::ClientRequestFlags;
use sspi::Secret;
use sspi::kerberos::EncryptionParams;
use sspi::kerberos::client::extractors::decrypt_ap_rep;
use sspi::kerberos::client::generators::{
    ChecksumOptions, ChecksumValues, EncKey, GenerateAsReqOptions, GenerateAuthenticatorOptions,
    GenerateKeytabPaDataOptions, GenerateTgsReqOptions, generate_ap_req, generate_as_req,
    generate_as_req_kdc_body, generate_authenticator, generate_pa_datas_for_as_req_with_key,
    generate_tgs_req,
};
use sspi::kerberos::flags::ApOptions;
use zeroize::{Zeroize, Zeroizing};

/// Names this client in the AS-REQ's addresses (a NetBIOS name, as Windows sends).
const CLIENT_NAME: &str = "SEALSCAN";
/// KRB-ERROR is [APPLICATION 30].
const KRB_ERROR_TAG: u8 = 0x7e;
const PA_PW_SALT: u8 = 3;
const PA_ETYPE_INFO2: u8 = 19;
const NT_PRINCIPAL: u8 = 1;
/// The GSS checksum flags of the AP-REQ (RFC 4121 4.1.1.1): mutual, replay, sequence,
/// confidentiality, integrity.
const GSS_FLAGS: u32 = 0x02 | 0x04 | 0x08 | 0x10 | 0x20;

pub mod code {
    pub const C_PRINCIPAL_UNKNOWN: u32 = 6;
    pub const S_PRINCIPAL_UNKNOWN: u32 = 7;
    pub const CLIENT_REVOKED: u32 = 18;
    pub const KEY_EXPIRED: u32 = 23;
    pub const PREAUTH_FAILED: u32 = 24;
    pub const PREAUTH_REQUIRED: u32 = 25;
    pub const SKEW: u32 = 37;
}

/// NTSTATUS values a Windows or Samba KDC puts in a KRB-ERROR's e-data.
mod ntstatus {
    pub const ACCOUNT_DISABLED: u32 = 0xC000_0072;
    pub const ACCOUNT_EXPIRED: u32 = 0xC000_0193;
    pub const PASSWORD_EXPIRED: u32 = 0xC000_0071;
    pub const PASSWORD_MUST_CHANGE: u32 = 0xC000_0224;
    pub const ACCOUNT_LOCKED_OUT: u32 = 0xC000_0234;
}

/// A KRB-ERROR from the KDC or the server: its code, the NTSTATUS a Windows-style KDC adds,
/// and (for PREAUTH_REQUIRED) the etype and salt to derive the user's key with.
#[derive(Clone, Debug)]
pub struct KdcError {
    pub code: u32,
    pub ntstatus: Option<u32>,
    pub preauth: Option<(CipherSuite, String)>,
}

impl KdcError {
    /// What the error means for the login of `principal`, in an operator's words.
    pub fn cause(&self, principal: &str, service: &str) -> String {
        let status = self
            .ntstatus
            .map(|s| format!(", NTSTATUS {s:#010X}"))
            .unwrap_or_default();
        let what = match (self.code, self.ntstatus) {
            (code::PREAUTH_FAILED, _) => format!("wrong password for {principal}"),
            (code::C_PRINCIPAL_UNKNOWN, _) => {
                format!("unknown principal: the KDC has no account {principal}")
            }
            (code::CLIENT_REVOKED, Some(ntstatus::ACCOUNT_DISABLED)) => {
                format!("the account {principal} is disabled")
            }
            (code::CLIENT_REVOKED, Some(ntstatus::ACCOUNT_EXPIRED)) => {
                format!("the account {principal} has expired")
            }
            (code::CLIENT_REVOKED, Some(ntstatus::ACCOUNT_LOCKED_OUT) | None) => {
                format!("the account {principal} is locked out")
            }
            (code::CLIENT_REVOKED, Some(_)) => {
                format!("the KDC revoked the credentials of {principal}")
            }
            (code::KEY_EXPIRED, Some(ntstatus::PASSWORD_EXPIRED)) => {
                format!("the password of {principal} has expired")
            }
            (code::KEY_EXPIRED, Some(ntstatus::PASSWORD_MUST_CHANGE) | None) => {
                format!("{principal} must change the password before logging in")
            }
            (code::KEY_EXPIRED, _) => {
                format!("{principal} must change the password before logging in")
            }
            (code::S_PRINCIPAL_UNKNOWN, _) => format!(
                "no service principal {service}: the KDC knows no such name (use the host's \
                 name as the domain knows it)"
            ),
            (code::SKEW, _) => "clock skew: this appliance's clock and the KDC's differ by \
                                more than the realm allows (5 minutes by default)"
                .to_string(),
            (other, _) => format!("the KDC refused the request (Kerberos error {other})"),
        };
        format!("{what} (Kerberos error {}{status})", self.code)
    }
}

/// A message from the KDC: the reply asked for, or a KRB-ERROR.
pub enum Reply<T> {
    Ok(T),
    Error(KdcError),
}

/// Decodes a KDC's answer as `T` or as the KRB-ERROR it is.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<Reply<T>, String> {
    if bytes.first() == Some(&KRB_ERROR_TAG) {
        let err: KrbError =
            picky_asn1_der::from_bytes(bytes).map_err(|e| format!("undecodable KRB-ERROR: {e}"))?;
        return Ok(Reply::Error(read_error(&err)));
    }
    picky_asn1_der::from_bytes(bytes)
        .map(Reply::Ok)
        .map_err(|e| format!("undecodable Kerberos reply: {e}"))
}

fn read_error(err: &KrbError) -> KdcError {
    let e_data = err.0.e_data.0.as_ref().map(|d| d.0.0.as_slice());
    let pa_datas: Vec<PaData> = e_data
        .and_then(|d| picky_asn1_der::from_bytes::<Asn1SequenceOf<PaData>>(d).ok())
        .map(|s| s.0)
        .unwrap_or_default();
    let pa = |t: u8| {
        pa_datas
            .iter()
            .find(|p| p.padata_type.0.0.as_slice() == [t])
            .map(|p| p.padata_data.0.0.as_slice())
    };
    // The Windows layout: a 12-byte PA-PW-SALT whose first four bytes are the NTSTATUS.
    let ntstatus = pa(PA_PW_SALT)
        .or(e_data.filter(|d| d.len() == 12))
        .filter(|v| v.len() == 12)
        .map(|v| u32::from_le_bytes([v[0], v[1], v[2], v[3]]));
    let preauth = pa(PA_ETYPE_INFO2)
        .and_then(|v| picky_asn1_der::from_bytes::<EtypeInfo2>(v).ok())
        .and_then(|info| {
            let entries = info.0;
            let pick = |want: CipherSuite| {
                entries.iter().find(|e| {
                    CipherSuite::try_from(e.etype.0.0.as_slice()).is_ok_and(|c| c == want)
                })
            };
            let entry = pick(CipherSuite::Aes256CtsHmacSha196)
                .or_else(|| pick(CipherSuite::Aes128CtsHmacSha196))?;
            let suite = CipherSuite::try_from(entry.etype.0.0.as_slice()).ok()?;
            let salt = entry.salt.0.as_ref().map(|s| s.0.to_string());
            Some((suite, salt.unwrap_or_default()))
        });
    KdcError {
        code: err.0.error_code.0,
        ntstatus,
        preauth,
    }
}

/// The user's long-term key, derived from the password with the KDC's salt.
pub struct UserKey {
    key: Zeroizing<Vec<u8>>,
    suite: CipherSuite,
}

impl UserKey {
    pub fn derive(password: &[u8], suite: CipherSuite, salt: &str) -> Result<Self, String> {
        let key = suite
            .cipher()
            .generate_key_from_password(password, salt.as_bytes())
            .map_err(|e| format!("cannot derive the Kerberos key: {e}"))?;
        Ok(Self {
            key: Zeroizing::new(key),
            suite,
        })
    }
}

fn realm_upper(realm: &str) -> String {
    realm.to_ascii_uppercase()
}

/// An AS-REQ for a TGT of `user@realm`, with encrypted-timestamp pre-authentication when the
/// key is known (the first request goes without, to learn the salt).
pub fn as_req(user: &str, realm: &str, key: Option<&UserKey>) -> Result<Vec<u8>, String> {
    let realm = realm_upper(realm);
    let mut nonce = [0u8; 4];
    OsRng.fill_bytes(&mut nonce);
    let body = generate_as_req_kdc_body(&GenerateAsReqOptions {
        realm: &realm,
        username: user,
        cname_type: NT_PRINCIPAL,
        snames: &["krbtgt", &realm],
        nonce: u32::from_be_bytes(nonce) & 0x7fff_ffff,
        hostname: CLIENT_NAME,
        context_requirements: ClientRequestFlags::empty(),
    })
    .map_err(|e| format!("cannot build the AS-REQ: {e}"))?;
    let pa_datas = generate_pa_datas_for_as_req_with_key(&GenerateKeytabPaDataOptions {
        key: Secret::new(key.map(|k| k.key.to_vec()).unwrap_or_default()),
        key_enctype: key
            .map(|k| k.suite.clone())
            .unwrap_or(CipherSuite::Aes256CtsHmacSha196),
        with_pre_auth: key.is_some(),
    })
    .map_err(|e| format!("cannot build the AS-REQ pre-authentication: {e}"))?;
    picky_asn1_der::to_vec(&generate_as_req(pa_datas, body))
        .map_err(|e| format!("cannot encode the AS-REQ: {e}"))
}

/// A ticket and its session key, as the KDC issued them (a TGT or a service ticket).
pub struct Ticketed {
    rep: KdcRep,
    session_key: Secret<Vec<u8>>,
    suite: CipherSuite,
}

impl Ticketed {
    fn params(&self) -> EncryptionParams {
        let mut p = EncryptionParams::default_for_client();
        p.encryption_type = Some(self.suite.clone());
        p
    }

    /// `AES256` or `AES128`: the session key's enctype, for the result's method.
    pub fn enctype_name(&self) -> &'static str {
        match self.suite {
            CipherSuite::Aes256CtsHmacSha196 => "AES256",
            CipherSuite::Aes128CtsHmacSha196 => "AES128",
            CipherSuite::Des3CbcSha1Kd => "3DES",
        }
    }
}

/// Moves the session key out of a decrypted reply part, leaving zeros behind (the part's
/// own buffers are not zeroizing).
fn session_key_of(key: &mut EncryptionKey) -> Result<(Secret<Vec<u8>>, CipherSuite), String> {
    let suite = CipherSuite::try_from(key.key_type.0.0.as_slice())
        .map_err(|e| format!("the KDC issued a session key of an unsupported type: {e}"))?;
    let value = Secret::new(key.key_value.0.0.clone());
    key.key_value.0.0.zeroize();
    Ok((value, suite))
}

/// Opens the AS-REP with the user's key: the TGT and its session key.
pub fn read_as_rep(rep: AsRep, key: &UserKey) -> Result<Ticketed, String> {
    let plain = Zeroizing::new(
        key.suite
            .cipher()
            .decrypt(&key.key, AS_REP_ENC, &rep.0.enc_part.0.cipher.0.0)
            .map_err(|_| "the AS-REP does not decrypt with the password's key".to_string())?,
    );
    // MIT and Samba tag the part as EncTGSRepPart; RFC 4120 5.4.2 allows accepting both.
    let key_of = match picky_asn1_der::from_bytes::<EncAsRepPart>(&plain) {
        Ok(mut part) => session_key_of(&mut part.0.key.0)?,
        Err(_) => {
            let mut part: EncTgsRepPart = picky_asn1_der::from_bytes(&plain)
                .map_err(|e| format!("undecodable AS-REP part: {e}"))?;
            session_key_of(&mut part.0.key.0)?
        }
    };
    Ok(Ticketed {
        rep: rep.0,
        session_key: key_of.0,
        suite: key_of.1,
    })
}

/// A TGS-REQ for `spn` (`cifs/host`) with the TGT.
pub fn tgs_req(tgt: &Ticketed, spn: &str) -> Result<Vec<u8>, String> {
    let mut authenticator = generate_authenticator(GenerateAuthenticatorOptions {
        kdc_rep: &tgt.rep,
        seq_num: None,
        sub_key: None,
        checksum: None,
        channel_bindings: None,
        extensions: Vec::new(),
    })
    .map_err(|e| format!("cannot build the TGS-REQ authenticator: {e}"))?;
    let realm = tgt.rep.crealm.0.0.to_string();
    let req = generate_tgs_req(GenerateTgsReqOptions {
        realm: &realm,
        service_principal: spn,
        session_key: &tgt.session_key,
        ticket: tgt.rep.ticket.0.clone(),
        authenticator: &mut authenticator,
        additional_tickets: None,
        enc_params: &tgt.params(),
        context_requirements: ClientRequestFlags::empty(),
    })
    .map_err(|e| format!("cannot build the TGS-REQ: {e}"))?;
    picky_asn1_der::to_vec(&req).map_err(|e| format!("cannot encode the TGS-REQ: {e}"))
}

/// Opens the TGS-REP with the TGT's session key: the service ticket and its session key.
pub fn read_tgs_rep(rep: TgsRep, tgt: &Ticketed) -> Result<Ticketed, String> {
    let plain = Zeroizing::new(
        tgt.suite
            .cipher()
            .decrypt(
                tgt.session_key.as_ref(),
                TGS_REP_ENC_SESSION_KEY,
                &rep.0.enc_part.0.cipher.0.0,
            )
            .map_err(|_| "the TGS-REP does not decrypt with the TGT's session key".to_string())?,
    );
    let mut part: EncTgsRepPart =
        picky_asn1_der::from_bytes(&plain).map_err(|e| format!("undecodable TGS-REP part: {e}"))?;
    let (session_key, suite) = session_key_of(&mut part.0.key.0)?;
    Ok(Ticketed {
        rep: rep.0,
        session_key,
        suite,
    })
}

/// The AP-REQ of one session, kept to check the server's AP-REP against.
pub struct ApExchange {
    /// The GSS-API token for the SPNEGO mechToken.
    pub token: Vec<u8>,
    subkey: Secret<Vec<u8>>,
    ctime: Vec<u8>,
}

/// An AP-REQ for the service ticket, asking for mutual authentication, with a fresh subkey.
pub fn ap_req(ticket: &Ticketed) -> Result<ApExchange, String> {
    let mut subkey = Zeroizing::new(vec![0u8; ticket.suite.cipher().key_size()]);
    OsRng.fill_bytes(&mut subkey);
    let mut seq = [0u8; 4];
    OsRng.fill_bytes(&mut seq);
    // RFC 4121 4.1.1: length of the (absent) channel bindings, the bindings, the flags.
    let mut checksum = [0u8; 24];
    checksum[..4].copy_from_slice(&16u32.to_le_bytes());
    checksum[20..].copy_from_slice(&GSS_FLAGS.to_le_bytes());
    let authenticator = generate_authenticator(GenerateAuthenticatorOptions {
        kdc_rep: &ticket.rep,
        seq_num: Some(u32::from_be_bytes(seq) & 0x3fff_ffff),
        sub_key: Some(EncKey {
            key_type: ticket.suite.clone(),
            key_value: subkey.to_vec(),
        }),
        checksum: Some(ChecksumOptions {
            checksum_type: vec![0x00, 0x80, 0x03],
            checksum_value: ChecksumValues::from(checksum),
        }),
        channel_bindings: None,
        extensions: Vec::new(),
    })
    .map_err(|e| format!("cannot build the AP-REQ authenticator: {e}"))?;
    let ctime = picky_asn1_der::to_vec(&authenticator.0.ctime.0)
        .map_err(|e| format!("cannot encode the authenticator time: {e}"))?;
    let req = generate_ap_req(
        ticket.rep.ticket.0.clone(),
        &ticket.session_key,
        &authenticator,
        &ticket.params(),
        ApOptions::MUTUAL_REQUIRED,
    )
    .map_err(|e| format!("cannot build the AP-REQ: {e}"))?;
    let der = picky_asn1_der::to_vec(&req).map_err(|e| format!("cannot encode the AP-REQ: {e}"))?;
    Ok(ApExchange {
        token: spnego::krb5_gss_token(krb5_token::AP_REQ, &der),
        subkey: Secret::new(subkey.to_vec()),
        ctime,
    })
}

/// What the server's answer to the AP-REQ was.
pub enum ApAnswer {
    /// Mutual authentication held: the SMB session key (the first 16 bytes of the GSS
    /// session key: the acceptor's subkey, else ours).
    Verified(Zeroizing<[u8; 16]>),
    /// The server sent a KRB-ERROR.
    Error(KdcError),
}

/// Checks the server's AP-REP (in its GSS-API framing): it must decrypt with the ticket's
/// session key and echo our authenticator's time, which only the service that holds the
/// ticket's key can do.
pub fn read_ap_rep(token: &[u8], ticket: &Ticketed, ap: &ApExchange) -> Result<ApAnswer, String> {
    let (id, message) = spnego::parse_krb5_gss_token(token).map_err(|e| e.to_string())?;
    if id == krb5_token::KRB_ERROR {
        return match decode::<ApRep>(message)? {
            Reply::Error(e) => Ok(ApAnswer::Error(e)),
            Reply::Ok(_) => Err("a KRB-ERROR token holds no KRB-ERROR".into()),
        };
    }
    if id != krb5_token::AP_REP {
        return Err(format!(
            "the server answered with krb5 token {id:02x?}, not an AP-REP"
        ));
    }
    let rep: ApRep =
        picky_asn1_der::from_bytes(message).map_err(|e| format!("undecodable AP-REP: {e}"))?;
    let mut part = decrypt_ap_rep(&rep, &ticket.session_key, &ticket.params())
        .map_err(|_| "the AP-REP does not decrypt with the ticket's session key".to_string())?;
    let echoed = picky_asn1_der::to_vec(&part.0.ctime.0)
        .map_err(|e| format!("cannot encode the AP-REP time: {e}"))?;
    if echoed != ap.ctime {
        return Err("the AP-REP does not echo the authenticator's time".into());
    }
    let acceptor = part.0.subkey.0.as_mut().map(|k| {
        let value = Zeroizing::new(k.0.key_value.0.0.clone());
        k.0.key_value.0.0.zeroize();
        value
    });
    let gss_key = acceptor.unwrap_or_else(|| Zeroizing::new(ap.subkey.as_ref().clone()));
    let mut smb = Zeroizing::new([0u8; 16]);
    let n = gss_key.len().min(16);
    smb[..n].copy_from_slice(&gss_key[..n]);
    Ok(ApAnswer::Verified(smb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_truncated_replies_are_errors_not_panics() {
        let req = as_req("scanuser", "seal.test", None).unwrap();
        for n in 0..req.len() {
            assert!(decode::<AsRep>(&req[..n]).is_err(), "prefix {n}");
        }
        let mut x: u32 = 0x1234_5678;
        for len in [0usize, 1, 7, 64, 300] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = decode::<AsRep>(&bytes);
            let mut krb_error = bytes.clone();
            krb_error.insert(0, KRB_ERROR_TAG);
            assert!(decode::<AsRep>(&krb_error).is_err());
        }
    }

    #[test]
    fn causes_name_the_account_state() {
        let err = |code, ntstatus| KdcError {
            code,
            ntstatus,
            preauth: None,
        };
        let p = "u@SEAL.TEST";
        let s = "cifs/h";
        assert!(
            err(24, None)
                .cause(p, s)
                .starts_with("wrong password for u@SEAL.TEST")
        );
        assert!(
            err(18, Some(0xC000_0072))
                .cause(p, s)
                .contains("is disabled")
        );
        assert!(
            err(18, Some(0xC000_0193))
                .cause(p, s)
                .contains("has expired")
        );
        assert!(err(18, None).cause(p, s).contains("is locked out"));
        assert!(
            err(23, Some(0xC000_0224))
                .cause(p, s)
                .contains("must change")
        );
        assert!(err(6, None).cause(p, s).contains("unknown principal"));
        assert!(
            err(7, None)
                .cause(p, s)
                .contains("no service principal cifs/h")
        );
        assert!(err(37, None).cause(p, s).starts_with("clock skew"));
        assert!(err(60, None).cause(p, s).contains("Kerberos error 60"));
    }

    #[test]
    fn a_gss_ap_req_token_wraps_the_ap_req() {
        let token = spnego::krb5_gss_token(krb5_token::AP_REQ, &[0x6e, 0x00]);
        assert_eq!(
            spnego::parse_krb5_gss_token(&token).unwrap(),
            (krb5_token::AP_REQ, &[0x6e, 0x00][..])
        );
    }
}
