//! Kerberos for Windows logins, sans-I/O: the AS, TGS and AP messages of a login, built with
//! sspi's generators on picky-krb's types and ciphers, and the KDC's and server's answers
//! read. The KDC round trips are the caller's (`kdc.rs`); keys live in zeroizing buffers.

pub use super::kdc_wire::{KdcError, Reply, code, decode};
use picky_krb::constants::key_usages::{AS_REP_ENC, TGS_REP_ENC_SESSION_KEY};
use picky_krb::crypto::CipherSuite;
use picky_krb::data_types::EncryptionKey;
use picky_krb::messages::{ApRep, AsRep, EncAsRepPart, EncTgsRepPart, KdcRep, TgsRep};
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
const NT_PRINCIPAL: u8 = 1;
/// The GSS checksum flags of the AP-REQ (RFC 4121 4.1.1.1): mutual, replay, sequence,
/// confidentiality, integrity.
const GSS_FLAGS: u32 = 0x02 | 0x04 | 0x08 | 0x10 | 0x20;

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
            krb_error.insert(0, super::super::kdc_wire::KRB_ERROR_TAG);
            assert!(decode::<AsRep>(&krb_error).is_err());
        }
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
