//! OpenSSH host certificates for the `known` policy: the record names host CAs (as an
//! `@cert-authority` line of known_hosts would), and a server that presents a certificate is
//! trusted when one of them signed it, now is within its validity window, it is a host (not a
//! user) certificate, and the name or address the agent connected to is among its principals.
//!
//! libssh2 negotiates the `*-cert-v01@openssh.com` host key algorithms and checks the key
//! exchange signature with the key inside the certificate, but it never looks at the
//! certificate itself; that is done here with RustCrypto's `ssh-key`.

use sealscan_protocols::host_key::HostKey;
use ssh_key::{Certificate, Fingerprint, HashAlg, PublicKey};
use std::time::{SystemTime, UNIX_EPOCH};

/// The suffix of every OpenSSH certificate key type.
const CERT_SUFFIX: &str = "-cert-v01@openssh.com";

/// Host key algorithms offered when the record trusts a host CA: certificates first (as
/// OpenSSH does when known_hosts has a matching `@cert-authority` line), then plain keys, which
/// only the record's listed keys can match.
pub(super) const WITH_CERTIFICATES: &str = "ssh-ed25519-cert-v01@openssh.com,\
     ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384-cert-v01@openssh.com,\
     ecdsa-sha2-nistp521-cert-v01@openssh.com,rsa-sha2-512-cert-v01@openssh.com,\
     rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,\
     ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa";

/// Plain host keys only: without a host CA, a certificate could only be compared blob for
/// blob, and a renewed certificate (same key) would then look like a changed host key.
pub(super) const PLAIN_KEYS: &str = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,\
     ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa";

pub(super) fn is_certificate(key: &HostKey) -> bool {
    key.key_type.ends_with(CERT_SUFFIX)
}

/// A certificate that passed: which CA signed it, and for which principal.
pub(super) struct Trusted {
    pub authority: String,
    pub principal: String,
}

/// What the certificate holds, for a refusal: its own key and, when readable, the CA that
/// signed it.
pub(super) struct Refused {
    pub reason: String,
    /// The key inside the certificate, when the certificate could be read.
    pub inner: Option<HostKey>,
}

/// Checks the certificate `presented` against `authorities` for a connection to one of
/// `names` (the target as the record gives it, and the address connected to).
pub(super) fn check(
    presented: &HostKey,
    authorities: &[HostKey],
    names: &[String],
) -> Result<Trusted, Refused> {
    let refuse = |reason: String, inner: Option<HostKey>| Refused { reason, inner };
    let cert = Certificate::from_bytes(&presented.blob)
        .map_err(|e| refuse(format!("the host certificate cannot be read ({e})"), None))?;
    let inner = PublicKey::from(cert.public_key().clone())
        .to_bytes()
        .ok()
        .and_then(|blob| HostKey::from_blob(&blob));
    if !cert.cert_type().is_host() {
        return Err(refuse(
            "it is a user certificate, not a host certificate".into(),
            inner,
        ));
    }
    let signer = cert.signature_key().fingerprint(HashAlg::Sha256);
    let trusted: Vec<Fingerprint> = authorities
        .iter()
        .filter_map(|ca| PublicKey::from_bytes(&ca.blob).ok())
        .map(|ca| ca.fingerprint(HashAlg::Sha256))
        .collect();
    if !trusted.contains(&signer) {
        return Err(refuse(
            format!("it is signed by the CA {signer}, which is not one of the record's host CAs"),
            inner,
        ));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if now < cert.valid_after() {
        return Err(refuse(
            format!(
                "it is not valid yet (valid from {} UTC)",
                utc(cert.valid_after())
            ),
            inner,
        ));
    }
    if now >= cert.valid_before() {
        return Err(refuse(
            format!("it expired at {} UTC", utc(cert.valid_before())),
            inner,
        ));
    }
    // Signature, CA and window again, in one call, as the crate means them to be checked.
    if cert.validate_at(now, &trusted).is_err() {
        return Err(refuse(
            format!("its signature by the CA {signer} does not verify"),
            inner,
        ));
    }
    // No critical option is defined for host certificates; one we do not know must refuse.
    if let Some(option) = cert.critical_options().keys().next() {
        return Err(refuse(
            format!(
                "it carries the critical option {:?}, which is not defined for host \
                 certificates",
                option.chars().take(40).collect::<String>()
            ),
            inner,
        ));
    }
    let principals = cert.valid_principals();
    let Some(principal) = names.iter().find(|name| {
        principals
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name.as_str()))
    }) else {
        let listed: Vec<String> = principals
            .iter()
            .take(8)
            .map(|p| format!("{:?}", p.chars().take(64).collect::<String>()))
            .collect();
        return Err(refuse(
            format!(
                "its principals [{}] name neither {}",
                listed.join(", "),
                names.join(" nor ")
            ),
            inner,
        ));
    };
    Ok(Trusted {
        authority: signer.to_string(),
        principal: principal.clone(),
    })
}

/// `YYYY-MM-DD HH:MM:SS` for a Unix time (civil-from-days, proleptic Gregorian).
fn utc(seconds: u64) -> String {
    let days = i64::try_from(seconds / 86_400).unwrap_or(i64::MAX / 2);
    let rest = seconds % 86_400;
    let (year, month, day) = sealscan_protocols::calendar::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_read_as_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_798_761_599), "2026-12-31 23:59:59");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
    }

    #[test]
    fn a_blob_that_is_no_certificate_is_refused_with_words() {
        let bogus = HostKey {
            key_type: "ssh-ed25519-cert-v01@openssh.com".into(),
            blob: b"\0\0\0\x20ssh-ed25519-cert-v01@openssh.com".to_vec(),
        };
        let Err(e) = check(&bogus, &[], &["host".into()]) else {
            panic!("a truncated certificate passed");
        };
        assert!(e.reason.contains("cannot be read"), "{}", e.reason);
    }
}
