//! A Unix record's SSH options: host-key trust, a user certificate, and how the login
//! becomes root (delegation), with the secret fields that delegation takes.
use crate::domain::DomainResult;
use crate::domain::validate::bad;
use sealscan_api::Code;
use sealscan_api::records::{DelegationSecretInput, SecretLocator, UnixInput};
use sealscan_protocols::appliance::{
    Delegation, DelegationPassword, DelegationSecret, HostKeyPolicy, LoginType, SecretFieldName,
    UnixAuth, UnixOptions,
};
use sealscan_protocols::host_key::HostKey;

/// The options as asked for, checked; absent ones take their defaults (pin, no delegation).
pub fn check(u: UnixInput) -> DomainResult<UnixOptions> {
    let policy = u.host_key_policy.as_deref().unwrap_or("pin");
    let host_key_policy = HostKeyPolicy::from_name(policy).ok_or_else(|| {
        bad(
            Code::RecordHostKeyPolicyInvalid,
            "host_key_policy is pin, known or off",
        )
    })?;
    let keys = u.known_host_keys.unwrap_or_default();
    let cas = u.host_ca_keys.unwrap_or_default();
    match (host_key_policy, keys.is_empty() && cas.is_empty()) {
        (HostKeyPolicy::Known, true) => {
            return Err(bad(
                Code::RecordHostKeysRequired,
                "host_key_policy known needs at least one known_host_keys or host_ca_keys entry",
            ));
        }
        (HostKeyPolicy::Pin | HostKeyPolicy::Off, false) => {
            return Err(bad(
                Code::RecordHostKeysUnused,
                "known_host_keys and host_ca_keys apply to host_key_policy known only",
            ));
        }
        _ => {}
    }
    let lines = |list: &[String], field: &str| {
        list.iter()
            .enumerate()
            .map(|(i, line)| {
                HostKey::parse(line)
                    .map(|k| k.to_line())
                    .map_err(|e| bad(Code::RecordHostKeyInvalid, format!("{field}[{i}]: {e}")))
            })
            .collect::<DomainResult<Vec<_>>>()
    };
    let known_host_keys = lines(&keys, "known_host_keys")?;
    let host_ca_keys = lines(&cas, "host_ca_keys")?;
    let delegation =
        Delegation::from_name(u.delegation.as_deref().unwrap_or("none")).ok_or_else(|| {
            bad(
                Code::RecordDelegationInvalid,
                "delegation is none, sudo, su or sudo_su",
            )
        })?;
    let given = u.delegation_password.as_deref();
    let delegation_password = match (delegation, given) {
        (Delegation::Su, None | Some("separate")) => DelegationPassword::Separate,
        (Delegation::Su, Some(_)) => {
            return Err(bad(
                Code::RecordDelegationPasswordInvalid,
                "su takes root's password as the record's delegation_password secret \
                 (delegation_password separate)",
            ));
        }
        (Delegation::None, Some(_)) => {
            return Err(bad(
                Code::RecordDelegationPasswordInvalid,
                "delegation_password applies to sudo, su and sudo_su only",
            ));
        }
        (_, given) => DelegationPassword::from_name(given.unwrap_or("login")).ok_or_else(|| {
            bad(
                Code::RecordDelegationPasswordInvalid,
                "delegation_password is login, separate or none",
            )
        })?,
    };
    let certificate = u
        .certificate
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if let Some(cert) = &certificate {
        use base64::Engine as _;
        let mut words = cert.split_whitespace();
        let kind = words.next().unwrap_or_default();
        let body = words.next().unwrap_or_default();
        if !kind.ends_with("-cert-v01@openssh.com")
            || base64::engine::general_purpose::STANDARD
                .decode(body)
                .is_err()
            || cert.chars().any(char::is_control)
        {
            return Err(bad(
                Code::RecordCertificateInvalid,
                "certificate is an OpenSSH certificate line as ssh-keygen -s writes it \
                 (TYPE-cert-v01@openssh.com BASE64 [comment])",
            ));
        }
    }
    let delegation_secret = u
        .delegation_secret
        .map(|d| -> DomainResult<DelegationSecret> {
            let r = super::secret_reference(super::SecretRef::from(d.secret)).map_err(|e| {
                bad(
                    Code::RecordDelegationSecretInvalid,
                    format!("delegation_secret: {}", e.message),
                )
            })?;
            Ok(DelegationSecret {
                secret_name: r.name,
                folder: r.folder,
                secret_id: r.id,
            })
        })
        .transpose()?;
    Ok(UnixOptions {
        host_key_policy,
        known_host_keys,
        host_ca_keys,
        delegation,
        delegation_password,
        certificate,
        delegation_secret,
    })
}

/// The stored options with `p` applied: what is absent keeps its value.
pub fn patch(u: &UnixOptions, p: Option<UnixInput>) -> UnixInput {
    let p = p.unwrap_or_default();
    let policy = p
        .host_key_policy
        .unwrap_or_else(|| u.host_key_policy.as_str().to_string());
    // Keys and CAs mean something only to `known`; leaving it drops them.
    let known = policy == HostKeyPolicy::Known.as_str();
    let keys = p
        .known_host_keys
        .or_else(|| known.then(|| u.known_host_keys.clone()));
    let cas = p
        .host_ca_keys
        .or_else(|| known.then(|| u.host_ca_keys.clone()));
    let delegation = p
        .delegation
        .unwrap_or_else(|| u.delegation.as_str().to_string());
    // sudo's password choice carries over only while the method stays.
    let delegation_password = p.delegation_password.or_else(|| {
        (delegation == u.delegation.as_str() && delegation != "none")
            .then(|| u.delegation_password.as_str().to_string())
    });
    // The second vault secret stays while the delegation keeps needing one.
    let delegation_secret = p.delegation_secret.or_else(|| {
        (delegation == u.delegation.as_str() && delegation != "none")
            .then(|| {
                u.delegation_secret.as_ref().map(|d| DelegationSecretInput {
                    secret: SecretLocator {
                        secret_name: d.secret_name.clone(),
                        folder: d.folder.clone(),
                        secret_id: d.secret_id,
                        secret_path: None,
                    },
                })
            })
            .flatten()
    });
    UnixInput {
        host_key_policy: Some(policy),
        known_host_keys: keys,
        host_ca_keys: cas,
        certificate: p.certificate.or_else(|| u.certificate.clone()),
        delegation: Some(delegation),
        delegation_password,
        delegation_secret,
    }
}

/// The secret fields a Unix record's delegation adds, after checking that its login can
/// supply what the delegation needs.
pub fn delegation_fields(
    unix: Option<&UnixOptions>,
    login_type: LoginType,
    unix_auth: Option<UnixAuth>,
) -> DomainResult<Vec<SecretFieldName>> {
    let Some(u) = unix.filter(|u| u.delegation != Delegation::None) else {
        return Ok(Vec::new());
    };
    let login_password =
        u.delegation != Delegation::Su && u.delegation_password == DelegationPassword::Login;
    // A vault record's delegation password comes from a second secret of its vault, never
    // from a sealed field: the vault stays the one place that account's password lives.
    match (
        login_type,
        u.needs_delegation_secret(),
        &u.delegation_secret,
    ) {
        (LoginType::Vault, true, None) => {
            return Err(bad(
                Code::RecordDelegationSecretRequired,
                "a vault record's su (or sudo with delegation_password separate) takes the \
                 password from a second secret of its vault: give delegation_secret",
            ));
        }
        (LoginType::Vault, false, Some(_)) | (LoginType::Basic, _, Some(_)) => {
            return Err(bad(
                Code::RecordDelegationSecretUnused,
                "delegation_secret applies to vault records whose delegation is su, or sudo \
                 with delegation_password separate",
            ));
        }
        (LoginType::Vault, _, _) => return Ok(Vec::new()),
        (LoginType::Basic, _, _) => {}
    }
    if login_password && unix_auth == Some(UnixAuth::PrivateKey) {
        return Err(bad(
            Code::RecordDelegationPasswordInvalid,
            "a key login has no login password for sudo: use delegation_password separate or none",
        ));
    }
    Ok(if u.needs_delegation_secret() {
        vec![SecretFieldName::DelegationPassword]
    } else {
        Vec::new()
    })
}

/// A certificate belongs to key logins only.
pub fn check_certificate(
    unix: Option<&UnixOptions>,
    login_type: LoginType,
    unix_auth: Option<UnixAuth>,
) -> DomainResult<()> {
    if unix.is_some_and(|u| u.certificate.is_some())
        && login_type == LoginType::Basic
        && unix_auth != Some(UnixAuth::PrivateKey)
    {
        return Err(bad(
            Code::RecordCertificateUnused,
            "a certificate applies to key logins only (unix_auth private_key)",
        ));
    }
    Ok(())
}
