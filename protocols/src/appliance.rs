//! The control-plane ↔ appliance API: JSON bodies under `/api/v1/appliance`, shared by the
//! control plane (which serves them) and the agent (which calls them).
//!
//! Secret material crosses this API in two shapes only: NCSM envelopes in their text form,
//! which the control plane cannot open, and — before NCSM is activated — legacy secrets, which
//! travel inside the job over TLS as base64 and are decoded straight into a zeroizing buffer.

use crate::envelope::Binding;
use crate::results::{LoginKind, LoginOutcome};
use crate::secret::{SecretBytes, SecretText};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;

/// Where these endpoints live.
pub const API_PREFIX: &str = "/api/v1/appliance";
/// The longest a claim may wait for work; the server clamps larger requests to this.
pub const MAX_CLAIM_WAIT_SECS: u32 = 60;

// ---------------------------------------------------------------------------------------------
// Enrollment

/// `POST /api/v1/appliance/enroll`: a one-time token from a Manager and the appliance's key.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub token: String,
    pub name: String,
    /// The X25519 public key, 32 bytes, standard base64.
    pub public_key: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct EnrollResponse {
    pub appliance_id: String,
    /// `protocols::identity::fingerprint` of the key, for comparison with the control plane.
    pub fingerprint: String,
    /// Lets this appliance, and only it, collect its credential once approved.
    pub poll_secret: String,
}

/// `POST /api/v1/appliance/enroll/poll`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollPollRequest {
    pub appliance_id: String,
    pub poll_secret: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EnrollState {
    Pending,
    Rejected {
        reason: String,
    },
    /// The appliance's API credential, handed out once; later polls answer `AlreadyCollected`.
    Approved {
        credential: String,
    },
    AlreadyCollected,
    Revoked,
}

// ---------------------------------------------------------------------------------------------
// Jobs

/// A claim request header (value `1`) an agent sends until its first claim since it started
/// gets an answer: a job this appliance still holds a lease on was then left by a process that
/// is gone, so the control plane hands it back at once instead of after the lease. A header
/// rather than a [`ClaimRequest`] field, so a control plane that predates it ignores it.
pub const CLAIM_AFTER_START_HEADER: &str = "sealscan-claim-after-start";

/// `POST /api/v1/appliance/jobs/claim`: returns a `Job` at once when work exists, else waits up
/// to `wait_secs` and answers 204 No Content.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    pub wait_secs: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Job {
    pub job_id: String,
    pub scan_id: String,
    /// The lease runs this long from the claim or the last heartbeat; an expired lease puts the
    /// job's unfinished targets back in the queue.
    pub lease_secs: u32,
    pub targets: Vec<JobTarget>,
    pub records: Vec<JobRecord>,
    pub vaults: Vec<JobVault>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct JobTarget {
    /// Unique within the job; part of every result's idempotency key.
    pub target_id: String,
    /// IP address or host name.
    pub host: String,
    pub kind: LoginKind,
    /// Port override (tests and non-standard services); 22 / 445 when absent.
    #[serde(default)]
    pub port: Option<u16>,
    /// The record matched by IP. Absent for a host name: the agent resolves the name (its own
    /// view of DNS is what it connects to) and matches the address against the job's records'
    /// `address_ranges`. For Windows targets still without one, the agent learns the server's
    /// NetBIOS domain in the session setup and picks the job's service-selected NetBIOS-domain
    /// record for that domain.
    #[serde(default)]
    pub record_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Unix,
    Windows,
}

impl RecordKind {
    /// The name records, jobs and envelope bindings use for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Unix => "unix",
            RecordKind::Windows => "windows",
        }
    }
}

/// How a record logs in: with secrets it holds itself, or with a secret fetched from a vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LoginType {
    Basic,
    Vault,
}

impl LoginType {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginType::Basic => "basic",
            LoginType::Vault => "vault",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum WindowsDomainType {
    /// No domain: a local account on the target.
    #[default]
    None,
    Netbios,
    ActiveDirectory,
}

impl WindowsDomainType {
    /// The name records and jobs use on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            WindowsDomainType::None => "none",
            WindowsDomainType::Netbios => "netbios",
            WindowsDomainType::ActiveDirectory => "active_directory",
        }
    }
}

/// How a Windows record authenticates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum WindowsAuthProtocol {
    /// Kerberos only, never an NTLM message: the default for Active Directory records.
    Kerberos,
    /// NTLMv2 only: the default for local accounts and NetBIOS domains.
    #[default]
    Ntlm,
    /// Kerberos first, NTLMv2 where Kerberos is not possible; only by explicit choice, since
    /// a rogue server can force the fallback.
    Negotiate,
}

impl WindowsAuthProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            WindowsAuthProtocol::Kerberos => "kerberos",
            WindowsAuthProtocol::Ntlm => "ntlm",
            WindowsAuthProtocol::Negotiate => "negotiate",
        }
    }

    /// The protocol a record of `domain_type` uses when none is chosen.
    pub fn default_for(domain_type: WindowsDomainType) -> Self {
        match domain_type {
            WindowsDomainType::ActiveDirectory => WindowsAuthProtocol::Kerberos,
            WindowsDomainType::None | WindowsDomainType::Netbios => WindowsAuthProtocol::Ntlm,
        }
    }
}

impl std::str::FromStr for WindowsAuthProtocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "kerberos" => Ok(WindowsAuthProtocol::Kerberos),
            "ntlm" => Ok(WindowsAuthProtocol::Ntlm),
            "negotiate" => Ok(WindowsAuthProtocol::Negotiate),
            other => Err(format!(
                "unknown Windows authentication protocol {other:?}: use kerberos, ntlm or negotiate"
            )),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct WindowsOptions {
    pub domain_type: WindowsDomainType,
    /// NetBIOS records with service-selected IPs apply to every target reporting the domain.
    pub service_selected: bool,
    pub ntlmv2: bool,
    pub require_signing: bool,
    /// "2.0.2", "2.1", "3.0", "3.0.2" or "3.1.1".
    pub min_smb_version: String,
    /// Absent from control planes older than the field: NTLM, as before it existed.
    #[serde(default)]
    pub auth_protocol: WindowsAuthProtocol,
    /// The Kerberos realm of an Active Directory record (its DNS domain); absent: the record's
    /// domain in upper case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// KDC addresses (`host` or `host:port`); empty: the realm's DNS domain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kdcs: Vec<String>,
    /// Host names of the record's targets, for the Kerberos service principal `cifs/<name>`
    /// of a target given by address: the name whose forward DNS gives that address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_names: Vec<String>,
}

/// How a Unix record trusts the target's SSH host key (docs/unix-logins.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum HostKeyPolicy {
    /// The appliance learns the key on first contact and refuses any other afterwards.
    #[default]
    Pin,
    /// Only the keys in `known_host_keys` are accepted.
    Known,
    /// No check: any key is accepted (shown in the record and in every result).
    Off,
}

impl HostKeyPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            HostKeyPolicy::Pin => "pin",
            HostKeyPolicy::Known => "known",
            HostKeyPolicy::Off => "off",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "pin" => Some(HostKeyPolicy::Pin),
            "known" => Some(HostKeyPolicy::Known),
            "off" => Some(HostKeyPolicy::Off),
            _ => None,
        }
    }
}

/// A Unix record's SSH options.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct UnixOptions {
    #[serde(default)]
    pub host_key_policy: HostKeyPolicy,
    /// For `known`: public host keys as OpenSSH writes them (`ssh-ed25519 AAAA... [comment]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_host_keys: Vec<String>,
    /// For `known`: OpenSSH host CA public keys (as after `@cert-authority` in known_hosts);
    /// a host certificate one of them signed, valid now, naming the target, is accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_ca_keys: Vec<String>,
    /// How to become root after the login.
    #[serde(default)]
    pub delegation: Delegation,
    /// Which password sudo gets (sudo and sudo_su); su always takes `delegation_password`.
    #[serde(default)]
    pub delegation_password: DelegationPassword,
    /// Key logins: an OpenSSH user certificate for the record's key, as `ssh-keygen -s`
    /// writes it (`ssh-ed25519-cert-v01@openssh.com AAAA...`). Public, so not a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Vault records whose delegation takes its own password (su, or sudo `separate`): the
    /// second secret of the same vault whose password field holds it (root's account secret
    /// for su).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation_secret: Option<DelegationSecret>,
}

/// A secret of the record's vault, by name (optionally in a folder) or by id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct DelegationSecret {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// The folder holding the named secret: an id, a name, or a `\`-path (exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<i64>,
}

/// Root delegation after a Unix login.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Delegation {
    #[default]
    None,
    Sudo,
    /// `su -` with root's password (the record's `delegation_password` secret).
    Su,
    /// `sudo su -`: sudo's password, then su as root (no second password).
    SudoSu,
}

/// Which password answers sudo's prompt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DelegationPassword {
    /// The login password (password records only).
    #[default]
    Login,
    /// The record's own sealed `delegation_password` secret.
    Separate,
    /// None: the account has NOPASSWD; a prompt is a failure.
    None,
}

impl Delegation {
    pub fn as_str(self) -> &'static str {
        match self {
            Delegation::None => "none",
            Delegation::Sudo => "sudo",
            Delegation::Su => "su",
            Delegation::SudoSu => "sudo_su",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            Delegation::None,
            Delegation::Sudo,
            Delegation::Su,
            Delegation::SudoSu,
        ]
        .into_iter()
        .find(|d| d.as_str() == name)
    }
}

impl DelegationPassword {
    pub fn as_str(self) -> &'static str {
        match self {
            DelegationPassword::Login => "login",
            DelegationPassword::Separate => "separate",
            DelegationPassword::None => "none",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            DelegationPassword::Login,
            DelegationPassword::Separate,
            DelegationPassword::None,
        ]
        .into_iter()
        .find(|d| d.as_str() == name)
    }
}

impl UnixOptions {
    /// Whether the record carries its own `delegation_password` secret.
    pub fn needs_delegation_secret(&self) -> bool {
        match self.delegation {
            Delegation::None => false,
            Delegation::Su => true,
            Delegation::Sudo | Delegation::SudoSu => {
                self.delegation_password == DelegationPassword::Separate
            }
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct JobRecord {
    pub record_id: String,
    pub title: String,
    pub kind: RecordKind,
    pub user: String,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub windows: Option<WindowsOptions>,
    /// Unix records: host-key trust (and, later, root delegation). Absent means the
    /// defaults: host keys pinned on first contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix: Option<UnixOptions>,
    pub login: RecordLogin,
    /// The record's IP list as inclusive address ranges, for matching a host-name target by
    /// the address the agent resolves it to. Empty for records without IPs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address_ranges: Vec<AddressRange>,
}

/// An inclusive range of addresses of one family: a single address, a CIDR network or a
/// `first-last` range of a record's IP list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct AddressRange {
    pub first: IpAddr,
    pub last: IpAddr,
}

impl AddressRange {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.first.is_ipv4() == ip.is_ipv4() && self.first <= ip && ip <= self.last
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RecordLogin {
    Basic {
        secrets: Vec<SecretField>,
    },
    Vault {
        vault_id: String,
        /// The secret's exact name; empty when `secret_id` names it.
        #[serde(default)]
        secret_name: String,
        /// The folder holding the named secret: an id, a name, or a `\`-path (exact).
        #[serde(default)]
        folder: Option<String>,
        /// The secret by Secret Server's id, instead of by name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret_id: Option<i64>,
        /// Unix records: which of the secret's fields to log in with. None takes the private
        /// key when the secret holds one, else the password.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unix_auth: Option<VaultUnixAuth>,
    },
}

/// A Unix login's choice between the password and the private key (of the record, or of the
/// vault's secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum VaultUnixAuth {
    Password,
    PrivateKey,
}

/// The same choice for basic and vault logins alike.
pub type UnixAuth = VaultUnixAuth;

/// Which secret of a record a value is; also the envelope binding's field name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SecretFieldName {
    Password,
    PrivateKey,
    Passphrase,
    VaultPassword,
    /// Unix root delegation: sudo's own password, or root's password for su.
    DelegationPassword,
}

impl SecretFieldName {
    /// The field named `name`, or None for a name that is not a secret field.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "password" => SecretFieldName::Password,
            "private_key" => SecretFieldName::PrivateKey,
            "passphrase" => SecretFieldName::Passphrase,
            "vault_password" => SecretFieldName::VaultPassword,
            "delegation_password" => SecretFieldName::DelegationPassword,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SecretFieldName::Password => "password",
            SecretFieldName::PrivateKey => "private_key",
            SecretFieldName::Passphrase => "passphrase",
            SecretFieldName::VaultPassword => "vault_password",
            SecretFieldName::DelegationPassword => "delegation_password",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct SecretField {
    pub field: SecretFieldName,
    pub value: SecretValue,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum SecretValue {
    /// NCSM: the envelope's text form, opened only by the appliance.
    Sealed { envelope: String },
    /// Legacy model: the plaintext, inside the job over TLS.
    Legacy { value: WireSecret },
}

/// A Secret Server vault as the appliance needs it to log in there.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct JobVault {
    pub vault_id: String,
    pub title: String,
    pub url: String,
    pub user: String,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub organization: Option<String>,
    pub verify_tls: bool,
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// "rest", "soap" or "auto".
    pub api: String,
    pub password: SecretValue,
}

/// `POST /api/v1/appliance/jobs/{job_id}/heartbeat` answers this.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct HeartbeatResponse {
    pub lease_secs: u32,
    /// The job was cancelled or re-assigned: stop working on it.
    pub cancel: bool,
}

/// `POST /api/v1/appliance/jobs/{job_id}/results`: one per target and login kind. Posting the
/// same `idempotency_key` again is acknowledged without recording a second result.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ResultPost {
    pub idempotency_key: String,
    pub target_id: String,
    pub host: String,
    #[serde(default)]
    pub record_id: Option<String>,
    pub outcome: LoginOutcome,
}

impl ResultPost {
    /// The idempotency key for a target's result within a job.
    pub fn key_for(job_id: &str, target_id: &str, kind: LoginKind) -> String {
        let kind = match kind {
            LoginKind::Unix => "unix",
            LoginKind::Windows => "windows",
        };
        format!("{job_id}/{target_id}/{kind}")
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ResultAck {
    /// True when this post was a repeat of one already recorded.
    pub duplicate: bool,
}

// ---------------------------------------------------------------------------------------------
// Rewrap: an approved appliance adds a recipient entry for a newly approved one.

/// `GET /api/v1/appliance/rewrap` answers this (an empty `items` when there is nothing to do).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct RewrapWork {
    pub new_appliance_id: String,
    /// The new appliance's X25519 public key, standard base64.
    pub new_public_key: String,
    pub items: Vec<RewrapItem>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct RewrapItem {
    pub item_id: String,
    /// What the envelope is bound to, as the control plane states it; the appliance adds a
    /// recipient only to an envelope that carries exactly this binding.
    pub binding: Binding,
    pub envelope: String,
}

/// `POST /api/v1/appliance/rewrap`: the same envelopes with one more recipient each. The control
/// plane checks that each still parses and carries the original payload unchanged.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct RewrapSubmit {
    pub new_appliance_id: String,
    pub items: Vec<RewrappedItem>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct RewrappedItem {
    pub item_id: String,
    pub envelope: String,
}

// ---------------------------------------------------------------------------------------------
// Legacy secrets on the wire

/// A legacy-model secret: base64 on the wire, a [`SecretBytes`] of its exact size in memory.
#[derive(Clone)]
pub struct WireSecret(SecretBytes);

impl fmt::Debug for WireSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl WireSecret {
    pub fn new(bytes: &[u8]) -> Self {
        Self(SecretBytes::copy_from(bytes))
    }

    pub fn expose(&self) -> &[u8] {
        self.0.expose()
    }

    pub fn into_secret(self) -> SecretBytes {
        self.0
    }
}

/// On the wire: the secret's bytes in standard base64.
#[cfg(feature = "schemars")]
impl schemars::JsonSchema for WireSecret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "WireSecret".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "contentEncoding": "base64"})
    }
}

impl Serialize for WireSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let encoded = SecretText::new(STANDARD.encode(self.expose()));
        serializer.serialize_str(encoded.expose())
    }
}

impl<'de> Deserialize<'de> for WireSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = WireSecret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<WireSecret, E> {
                // Decoded into a scratch buffer sized from the input (never reallocated), then
                // copied to the exact length; the scratch is wiped when it drops.
                let mut scratch = SecretBytes::zeroed(base64::decoded_len_estimate(text.len()));
                let len = STANDARD
                    .decode_slice(text.as_bytes(), scratch.expose_mut())
                    .map_err(|_| E::custom("legacy secret is not valid base64"))?;
                Ok(WireSecret(SecretBytes::copy_from(&scratch.expose()[..len])))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_secret_round_trips_and_hides_itself() {
        let value = SecretValue::Legacy {
            value: WireSecret::new(b"p@ss w0rd"),
        };
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(json, r#"{"model":"legacy","value":"cEBzcyB3MHJk"}"#);
        let back: SecretValue = serde_json::from_str(&json).unwrap();
        match back {
            SecretValue::Legacy { value } => {
                assert_eq!(value.expose(), b"p@ss w0rd");
                assert_eq!(format!("{value:?}"), "[REDACTED]");
            }
            SecretValue::Sealed { .. } => panic!("wrong variant"),
        }
    }

    #[test]
    fn bad_base64_is_refused_by_name() {
        let err = serde_json::from_str::<SecretValue>(r#"{"model":"legacy","value":"***"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid base64"), "{err}");
    }

    #[test]
    fn idempotency_key_names_job_target_and_kind() {
        assert_eq!(
            ResultPost::key_for("j1", "t7", LoginKind::Windows),
            "j1/t7/windows"
        );
    }
}
