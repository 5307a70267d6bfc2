//! The KDC's messages on the wire, sans-I/O: Kerberos-over-TCP length framing (RFC 4120
//! 7.2.2), reading a KRB-ERROR (its code, the NTSTATUS a Windows or Samba KDC adds, the
//! etype and salt it asks pre-authentication with) and the cause it means for an operator.
//!
//! Only picky-krb types, no sockets and no sspi: `fuzz/fuzz_targets/kdc_messages.rs`
//! compiles this file as it is, so keep it free of `super::`/`crate::` paths.

use picky_asn1::wrapper::Asn1SequenceOf;
use picky_krb::crypto::CipherSuite;
use picky_krb::data_types::{EtypeInfo2, PaData};
use picky_krb::messages::KrbError;

/// A KDC's reply never comes near this; more means the peer is not a KDC.
pub const MAX_REPLY: usize = 1 << 20;
/// KRB-ERROR is [APPLICATION 30].
pub const KRB_ERROR_TAG: u8 = 0x7e;
const PA_PW_SALT: u8 = 3;
const PA_ETYPE_INFO2: u8 = 19;

/// `msg` behind its 4-byte big-endian length, as a KDC over TCP expects it.
pub fn frame(msg: &[u8]) -> Result<Vec<u8>, String> {
    let len = u32::try_from(msg.len())
        .ok()
        .filter(|l| l & 0x8000_0000 == 0)
        .ok_or_else(|| format!("a Kerberos request of {} bytes is too long", msg.len()))?;
    let mut framed = Vec::with_capacity(msg.len() + 4);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(msg);
    Ok(framed)
}

/// The length a KDC's reply announces in its 4-byte head. The high bit is reserved (RFC 4120
/// 7.2.2: a KDC that sets it is not speaking this protocol); a length over [`MAX_REPLY`]
/// means the peer is not a KDC.
pub fn reply_len(head: [u8; 4]) -> Result<usize, String> {
    let len = u32::from_be_bytes(head);
    if len & 0x8000_0000 != 0 {
        return Err(format!(
            "not a KDC: the reply's length {len:#010x} has the reserved high bit set"
        ));
    }
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len > MAX_REPLY {
        return Err(format!(
            "not a KDC: reply announces {len} bytes (more than {MAX_REPLY})"
        ));
    }
    Ok(len)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// Replies Samba 4.17's KDC sent the agent (the `kdc_messages` fuzz seeds).
    macro_rules! samba_reply {
        ($name:literal) => {
            include_bytes!(concat!("../../../../fuzz/corpus/kdc_messages/", $name)).as_slice()
        };
    }

    fn error_of(bytes: &[u8]) -> KdcError {
        match decode::<picky_krb::messages::AsRep>(bytes).unwrap() {
            Reply::Error(e) => e,
            Reply::Ok(_) => panic!("not a KRB-ERROR"),
        }
    }

    #[test]
    fn a_real_kdcs_errors_read_as_their_account_states() {
        let pre = error_of(samba_reply!("preauth-required-scanuser"));
        assert_eq!(pre.code, code::PREAUTH_REQUIRED);
        let (suite, salt) = pre.preauth.unwrap();
        assert_eq!(suite, CipherSuite::Aes256CtsHmacSha196);
        assert_eq!(salt, "SEAL.TESTscanuser");
        let p = "u@SEAL.TEST";
        for (bytes, code, ntstatus, words) in [
            (
                samba_reply!("error-24-wrong-password"),
                24,
                None,
                "wrong password",
            ),
            (
                samba_reply!("error-18-disabled"),
                18,
                Some(0xC000_0072),
                "is disabled",
            ),
            (
                samba_reply!("error-18-expired"),
                18,
                Some(0xC000_0193),
                "has expired",
            ),
            (
                samba_reply!("error-18-locked-out"),
                18,
                None,
                "is locked out",
            ),
            (
                samba_reply!("error-23-must-change"),
                23,
                Some(0xC000_0224),
                "must change",
            ),
            (
                samba_reply!("error-6-unknown-principal"),
                6,
                None,
                "unknown principal",
            ),
            (
                samba_reply!("error-7-no-service-principal"),
                7,
                None,
                "no service principal cifs/h",
            ),
        ] {
            let e = error_of(bytes);
            assert_eq!((e.code, e.ntstatus), (code, ntstatus), "{words}");
            assert!(e.cause(p, "cifs/h").contains(words), "{words}");
        }
        assert!(matches!(
            decode::<picky_krb::messages::AsRep>(samba_reply!("as-rep-scanuser")),
            Ok(Reply::Ok(_))
        ));
        assert!(matches!(
            decode::<picky_krb::messages::TgsRep>(samba_reply!("tgs-rep-cifs-dc1")),
            Ok(Reply::Ok(_))
        ));
    }

    #[test]
    fn framing_round_trips_and_refuses_what_no_kdc_sends() {
        let framed = frame(b"\x6a\x01\x00").unwrap();
        assert_eq!(framed, [0, 0, 0, 3, 0x6a, 1, 0]);
        assert_eq!(reply_len([0, 0, 0, 3]).unwrap(), 3);
        assert!(
            reply_len([0x80, 0, 0, 1])
                .unwrap_err()
                .contains("reserved high bit")
        );
        assert!(
            reply_len([0, 0x20, 0, 0])
                .unwrap_err()
                .contains("more than")
        );
        assert_eq!(reply_len([0, 0x10, 0, 0]).unwrap(), MAX_REPLY);
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
}
