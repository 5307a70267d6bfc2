//! A Windows record's login options: what they may be, and how a change applies to them.
use crate::domain::DomainResult;
use crate::domain::validate::{bad, record_text as text};
use crate::store::WindowsSettings;
use sealscan_api::Code;
use sealscan_protocols::appliance::{WindowsAuthProtocol, WindowsDomainType};
use sealscan_protocols::smb2::Dialect;

/// Windows options as asked for, before the checks.
#[derive(Clone, Debug)]
pub struct WindowsDraft {
    pub domain_type: WindowsDomainType,
    pub domain: Option<String>,
    pub service_selected: bool,
    pub ntlmv2: bool,
    pub ntlmv1: bool,
    pub require_signing: bool,
    pub min_smb_version: Dialect,
    /// None: the domain type's default.
    pub auth_protocol: Option<WindowsAuthProtocol>,
    pub realm: Option<String>,
    pub kdcs: Vec<String>,
    pub host_names: Vec<String>,
}

impl Default for WindowsDraft {
    /// A local account, NTLMv2, any SMB2 dialect.
    fn default() -> Self {
        WindowsDraft {
            domain_type: WindowsDomainType::None,
            domain: None,
            service_selected: false,
            ntlmv2: true,
            ntlmv1: false,
            require_signing: false,
            min_smb_version: Dialect::Smb202,
            auth_protocol: None,
            realm: None,
            kdcs: Vec::new(),
            host_names: Vec::new(),
        }
    }
}

/// A change of some Windows options; None keeps the stored value.
#[derive(Clone, Debug, Default)]
pub struct WindowsPatch {
    pub domain_type: Option<WindowsDomainType>,
    /// An empty string clears it.
    pub domain: Option<String>,
    pub service_selected: Option<bool>,
    pub ntlmv2: Option<bool>,
    pub ntlmv1: Option<bool>,
    pub require_signing: Option<bool>,
    pub min_smb_version: Option<Dialect>,
    pub auth_protocol: Option<WindowsAuthProtocol>,
    /// An empty string clears it.
    pub realm: Option<String>,
    pub kdcs: Option<Vec<String>>,
    pub host_names: Option<Vec<String>>,
}

/// A stored record's options, as the base an update applies to.
impl From<&WindowsSettings> for WindowsDraft {
    fn from(w: &WindowsSettings) -> Self {
        WindowsDraft {
            domain_type: w.domain_type,
            domain: w.domain.clone(),
            service_selected: w.service_selected,
            ntlmv2: w.ntlmv2,
            ntlmv1: w.ntlmv1,
            require_signing: w.require_signing,
            min_smb_version: w.min_smb_version,
            auth_protocol: Some(w.auth_protocol),
            realm: w.realm.clone(),
            kdcs: w.kdcs.clone(),
            host_names: w.host_names.clone(),
        }
    }
}

impl WindowsPatch {
    /// `w` with this change applied: a stored record's options for an update, the defaults
    /// for a create (whose request gives every field).
    pub fn apply(self, w: WindowsDraft) -> WindowsDraft {
        let domain_type = self.domain_type.unwrap_or(w.domain_type);
        // A new domain type without a protocol takes that type's default again.
        let auth_protocol = self.auth_protocol.or(if self.domain_type.is_none() {
            w.auth_protocol
        } else {
            None
        });
        WindowsDraft {
            auth_protocol,
            realm: self.realm.or(w.realm),
            kdcs: self.kdcs.unwrap_or(w.kdcs),
            host_names: self.host_names.unwrap_or(w.host_names),
            domain: match self.domain {
                Some(d) => Some(d),
                // Local accounts carry no domain: switching to none drops the old one.
                None if domain_type == WindowsDomainType::None => None,
                None => w.domain,
            },
            domain_type,
            service_selected: self.service_selected.unwrap_or(w.service_selected),
            ntlmv2: self.ntlmv2.unwrap_or(w.ntlmv2),
            ntlmv1: self.ntlmv1.unwrap_or(w.ntlmv1),
            require_signing: self.require_signing.unwrap_or(w.require_signing),
            min_smb_version: self.min_smb_version.unwrap_or(w.min_smb_version),
        }
    }
}

fn name(t: WindowsDomainType) -> &'static str {
    match t {
        WindowsDomainType::None => "none",
        WindowsDomainType::Netbios => "netbios",
        WindowsDomainType::ActiveDirectory => "active_directory",
    }
}

pub fn check(w: WindowsDraft, ips_empty: bool) -> DomainResult<WindowsSettings> {
    let domain = w.domain.clone().filter(|d| !d.trim().is_empty());
    match (w.domain_type, &domain) {
        (WindowsDomainType::None, Some(_)) => {
            return Err(bad(
                Code::RecordDomainInvalid,
                "a record for local accounts (domain_type none) takes no domain",
            ));
        }
        (WindowsDomainType::Netbios | WindowsDomainType::ActiveDirectory, None) => {
            return Err(bad(
                Code::RecordDomainInvalid,
                format!("domain_type {} needs a domain", name(w.domain_type)),
            ));
        }
        (_, Some(d)) => text("domain", d, 255)?,
        _ => {}
    }
    if w.service_selected && w.domain_type != WindowsDomainType::Netbios {
        return Err(bad(
            Code::RecordServiceSelectedInvalid,
            "service-selected IPs apply to NetBIOS-domain records only",
        ));
    }
    if w.service_selected && !ips_empty {
        return Err(bad(
            Code::RecordServiceSelectedIps,
            "a service-selected NetBIOS record carries no IP list: it applies to every Windows target reporting its domain",
        ));
    }
    if !w.service_selected && ips_empty {
        return Err(bad(
            Code::RecordIpsRequired,
            "a Windows record needs IPs, unless it is a NetBIOS-domain record with service-selected IPs",
        ));
    }
    if !w.ntlmv2 {
        return Err(bad(
            Code::RecordNtlmv2Required,
            "NTLMv2 must stay on: it is the only NTLM version sealscan logs in with",
        ));
    }
    if w.ntlmv1 {
        return Err(bad(
            Code::RecordNtlmv1Refused,
            "NTLMv1 stays off: it is broken and sealscan never sends it",
        ));
    }
    let (auth_protocol, realm) = kerberos(&w, domain.as_deref())?;
    Ok(WindowsSettings {
        domain_type: w.domain_type,
        domain,
        service_selected: w.service_selected,
        ntlmv2: true,
        ntlmv1: false,
        require_signing: w.require_signing,
        min_smb_version: w.min_smb_version,
        auth_protocol,
        realm,
        kdcs: w.kdcs,
        host_names: w.host_names,
    })
}

/// The record's authentication protocol and, for Kerberos, its realm: the one given, else
/// the Active Directory domain (a DNS name) in upper case.
fn kerberos(
    w: &WindowsDraft,
    domain: Option<&str>,
) -> DomainResult<(WindowsAuthProtocol, Option<String>)> {
    let protocol = w
        .auth_protocol
        .unwrap_or_else(|| WindowsAuthProtocol::default_for(w.domain_type));
    for (what, list) in [("kdcs", &w.kdcs), ("host_names", &w.host_names)] {
        if list
            .iter()
            .any(|v| v.is_empty() || v.chars().any(|c| c.is_whitespace() || c == '/'))
        {
            return Err(bad(
                Code::RecordKerberosInvalid,
                format!("{what} holds an empty entry or one with a space or '/'"),
            ));
        }
    }
    if protocol == WindowsAuthProtocol::Ntlm {
        return Ok((protocol, None));
    }
    let realm = w
        .realm
        .clone()
        .filter(|r| !r.trim().is_empty())
        .or_else(|| domain.filter(|d| d.contains('.')).map(str::to_owned))
        .map(|r| r.trim().to_ascii_uppercase());
    match realm {
        Some(r) => Ok((protocol, Some(r))),
        None => Err(bad(
            Code::RecordRealmRequired,
            format!(
                "auth_protocol {} needs a Kerberos realm: give realm, or an Active Directory \
                 domain (its DNS name, e.g. corp.example.com); a NetBIOS domain is not a realm",
                protocol.as_str()
            ),
        )),
    }
}
