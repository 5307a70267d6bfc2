//! Authentication records (`/records`) and vault records (`/vaults`): what creates and changes
//! them, and how the API shows them (secrets by name and model only, never their value).
use schemars::JsonSchema;
use sealscan_protocols::appliance::{
    Delegation, DelegationPassword, HostKeyPolicy, LoginType, RecordKind, SecretField, SecretValue,
    UnixAuth, UnixOptions, WindowsAuthProtocol, WindowsDomainType,
};
use sealscan_protocols::smb2::Dialect;
use serde::{Deserialize, Serialize};

fn basic() -> String {
    "basic".into()
}
fn none_domain() -> String {
    "none".into()
}
fn yes() -> bool {
    true
}
fn smb_min() -> String {
    "2.0.2".into()
}
fn auto() -> String {
    "auto".into()
}

/// `POST /records`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// "unix" or "windows".
    // Text on the wire, parsed by the server so that a refusal names the field; the schema
    // lists the values.
    #[schemars(with = "RecordKind")]
    pub kind: String,
    pub title: String,
    pub user: String,
    #[serde(default)]
    pub ips: Vec<String>,
    /// "basic" or "vault".
    #[serde(default = "basic")]
    // Text on the wire, parsed by the server so that a refusal names the field; the schema
    // lists the values.
    #[schemars(with = "LoginType")]
    pub login_type: String,
    /// Vault logins: the vault record's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_id: Option<String>,
    /// Vault logins: the secret in that vault.
    // One level of flatten only: serde cannot tell a nested flatten's fields from unknown
    // ones under deny_unknown_fields.
    #[serde(flatten)]
    pub secret: SecretLocator,
    #[serde(default)]
    pub comments: String,
    /// Unix basic logins: "password" (default) or "private_key". Unix vault logins: which of
    /// the secret's fields to use; absent takes the private key when the secret holds one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Text on the wire, parsed by the server so that a refusal names the field; the schema
    // lists the values.
    #[schemars(with = "Option<UnixAuth>")]
    pub unix_auth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowsInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix: Option<UnixInput>,
    #[serde(default)]
    pub secrets: Vec<SecretField>,
    /// The record's signed statement (docs/signed-records.md), `sgn1:` text form, made and
    /// signed by the editor's CLI. The server checks that it names this record, kind, user and
    /// addresses and stores it for the appliances, which verify it; it cannot make one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
}

/// Which secret of a vault: by name (optionally in a folder), by Secret Server's id, or by
/// path. One type for a vault login's secret (in a create and an update) and a Unix
/// record's delegation secret, so that all take the same fields under the same rules.
// No deny_unknown_fields: flattened into its holders, it sees their other fields too.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
pub struct SecretLocator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// The secret by Secret Server's id, instead of its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_id: Option<i64>,
    /// The secret by its path, `\Folder\Sub\Name` (stored as folder and name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_path: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowsInput {
    /// "none", "netbios" or "active_directory".
    #[serde(default = "none_domain")]
    // Text on the wire, parsed by the server so that a refusal names the field; the schema
    // lists the values.
    #[schemars(with = "WindowsDomainType")]
    pub domain_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default)]
    pub service_selected: bool,
    #[serde(default = "yes")]
    pub ntlmv2: bool,
    #[serde(default)]
    pub ntlmv1: bool,
    #[serde(default)]
    pub require_signing: bool,
    #[serde(default = "smb_min")]
    // Text on the wire, parsed by the server so that a refusal names the field; the schema
    // lists the values.
    #[schemars(with = "Dialect")]
    pub min_smb_version: String,
    /// "kerberos", "ntlm" or "negotiate"; absent: kerberos for Active Directory records,
    /// ntlm otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<WindowsAuthProtocol>")]
    pub auth_protocol: Option<String>,
    /// The Kerberos realm; absent: the Active Directory domain in upper case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// KDC addresses (host or host:port); absent: the realm's DNS name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kdcs: Vec<String>,
    /// Host names for the service principals of targets given by address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_names: Vec<String>,
}

/// What a Windows record gets when it gives no options: the serde defaults.
impl Default for WindowsInput {
    fn default() -> Self {
        WindowsInput {
            domain_type: none_domain(),
            domain: None,
            service_selected: false,
            ntlmv2: true,
            ntlmv1: false,
            require_signing: false,
            min_smb_version: smb_min(),
            auth_protocol: None,
            realm: None,
            kdcs: Vec::new(),
            host_names: Vec::new(),
        }
    }
}

/// A create's options as an update of every field (over the defaults), so that the server
/// reads both requests one way.
impl From<WindowsInput> for WindowsPatch {
    fn from(w: WindowsInput) -> Self {
        WindowsPatch {
            domain_type: Some(w.domain_type),
            domain: w.domain,
            service_selected: Some(w.service_selected),
            ntlmv2: Some(w.ntlmv2),
            ntlmv1: Some(w.ntlmv1),
            require_signing: Some(w.require_signing),
            min_smb_version: Some(w.min_smb_version),
            auth_protocol: w.auth_protocol,
            realm: w.realm,
            kdcs: Some(w.kdcs),
            host_names: Some(w.host_names),
        }
    }
}

impl WindowsPatch {
    /// A create's options: what this change gives, the defaults for the rest.
    pub fn over_defaults(self) -> WindowsInput {
        let d = WindowsInput::default();
        WindowsInput {
            domain_type: self.domain_type.unwrap_or(d.domain_type),
            domain: self.domain,
            service_selected: self.service_selected.unwrap_or(d.service_selected),
            ntlmv2: self.ntlmv2.unwrap_or(d.ntlmv2),
            ntlmv1: self.ntlmv1.unwrap_or(d.ntlmv1),
            require_signing: self.require_signing.unwrap_or(d.require_signing),
            min_smb_version: self.min_smb_version.unwrap_or(d.min_smb_version),
            auth_protocol: self.auth_protocol,
            realm: self.realm,
            kdcs: self.kdcs.unwrap_or_default(),
            host_names: self.host_names.unwrap_or_default(),
        }
    }
}

/// Unix records' SSH options; in an update, what is absent keeps its value.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnixInput {
    /// "pin" (default), "known" or "off".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<HostKeyPolicy>")]
    pub host_key_policy: Option<String>,
    /// For "known": host public keys as OpenSSH writes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_host_keys: Option<Vec<String>>,
    /// For "known": OpenSSH host CA public keys; a host certificate one of them signed for
    /// the target is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ca_keys: Option<Vec<String>>,
    /// Key logins: an OpenSSH user certificate for the key; "" removes it in an update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// "none" (default), "sudo", "su" or "sudo_su".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Delegation>")]
    pub delegation: Option<String>,
    /// sudo's password: "login" (default), "separate" (the `delegation_password` secret) or
    /// "none" (NOPASSWD). su always takes `delegation_password` (root's password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DelegationPassword>")]
    pub delegation_password: Option<String>,
    /// Vault records with su, or sudo and delegation_password "separate": the second secret
    /// of the record's vault whose password the delegation takes (root's, for su).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation_secret: Option<DelegationSecretInput>,
}

/// A secret of the record's vault: one of secret_name (with its folder), secret_id or
/// secret_path, as for the login secret.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegationSecretInput {
    #[serde(flatten)]
    pub secret: SecretLocator,
}

/// `POST /vaults`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub title: String,
    pub url: String,
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default = "yes")]
    pub verify_tls: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// "auto", "rest" or "soap".
    #[serde(default = "auto")]
    pub api: String,
    #[serde(default)]
    pub comments: String,
    pub password: SecretValue,
}

/// `PATCH /records/{id}`: only the fields given change; the kind and id stay. Secrets are
/// replaced only when given (per field), under the same NCSM rules as create.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ips: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Text on the wire, parsed by the server so that a refusal names the field; the schema
    // lists the values.
    #[schemars(with = "Option<LoginType>")]
    pub login_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault_id: Option<String>,
    /// A new secret reference replaces the old one whole.
    #[serde(flatten)]
    pub secret: SecretLocator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Text on the wire, parsed by the server so that a refusal names the field; the schema
    // lists the values.
    #[schemars(with = "Option<UnixAuth>")]
    pub unix_auth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowsPatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unix: Option<UnixInput>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretField>,
    /// The record's signed statement (docs/signed-records.md), `sgn1:` text form, made and
    /// signed by the editor's CLI. The server checks that it names this record, kind, user and
    /// addresses and stores it for the appliances, which verify it; it cannot make one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Text on the wire, parsed by the server so that a refusal names the field; the schema
    // lists the values.
    #[schemars(with = "Option<WindowsDomainType>")]
    pub domain_type: Option<String>,
    /// An empty string clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_selected: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntlmv2: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ntlmv1: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_signing: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Text on the wire, parsed by the server so that a refusal names the field; the schema
    // lists the values.
    #[schemars(with = "Option<Dialect>")]
    pub min_smb_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<WindowsAuthProtocol>")]
    pub auth_protocol: Option<String>,
    /// An empty string clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Replaces the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdcs: Option<Vec<String>>,
    /// Replaces the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_names: Option<Vec<String>>,
}

/// `PATCH /vaults/{id}`: only the fields given change; the password only when given.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// An empty string clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// An empty string clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_tls: Option<bool>,
    /// An empty string clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretValue>,
}

/// A Windows record's SMB and domain settings as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowsSettings {
    pub domain_type: WindowsDomainType,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub service_selected: bool,
    pub ntlmv2: bool,
    pub ntlmv1: bool,
    pub require_signing: bool,
    pub min_smb_version: Dialect,
    /// Rows from before migration 240 read as NTLM, as they logged in then.
    #[serde(default)]
    pub auth_protocol: WindowsAuthProtocol,
    /// The Kerberos realm (kerberos and negotiate records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kdcs: Vec<String>,
    /// Host names for the service principals of targets given by address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_names: Vec<String>,
}

/// How a stored secret is kept: sealed to the appliances (NCSM) or legacy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretModel {
    Sealed,
    Legacy,
}

/// One stored secret of a record or vault: its field and model, never its value.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretInfo {
    pub field: String,
    pub model: SecretModel,
    /// Sealed secrets: the hex key ids of the appliances that can open it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients: Option<Vec<String>>,
}

/// An authentication record as the control plane stores it: what it logs in to and how,
/// never its secrets. The store's row and the first part of [`RecordView`].
// No deny_unknown_fields: flattened into the views, it sees their other fields too.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Record {
    pub id: String,
    pub kind: RecordKind,
    pub title: String,
    pub username: String,
    pub ips: Vec<String>,
    pub login_type: LoginType,
    pub vault_id: Option<String>,
    pub secret_name: Option<String>,
    pub folder: Option<String>,
    /// Vault logins by Secret Server's id of the secret (then `secret_name` is None).
    pub secret_id: Option<i64>,
    pub comments: String,
    /// Unix basic logins: the password or the private key. Unix vault logins: which of the
    /// secret's fields to log in with; None takes the key when the secret holds one.
    pub unix_auth: Option<UnixAuth>,
    pub windows: Option<WindowsSettings>,
    /// Unix records: host-key trust, certificate and root delegation; rows from before it
    /// existed read as the defaults.
    pub unix: Option<UnixOptions>,
    pub migration: Option<String>,
    pub migration_reason: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

/// A record as the API shows it: the stored record, its secrets by name and model, and its
/// business unit.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordView {
    #[serde(flatten)]
    pub record: Record,
    pub secrets: Vec<SecretInfo>,
    pub pending_migration: bool,
    pub unit: Option<String>,
    /// Vault logins: the secret the record fetches, as people name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The record's current signed statement (`sgn1:` text), absent for an unsigned record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordList {
    pub records: Vec<RecordView>,
}

/// A Secret Server vault record as the control plane stores it, without its password. The
/// store's row and the first part of [`VaultView`].
// No deny_unknown_fields: flattened into the view, it sees its other fields too.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Vault {
    pub id: String,
    pub title: String,
    pub url: String,
    pub username: String,
    pub domain: Option<String>,
    pub organization: Option<String>,
    pub verify_tls: bool,
    pub ca_pem: Option<String>,
    /// "rest", "soap" or "auto".
    pub api: String,
    pub comments: String,
    pub migration: Option<String>,
    pub migration_reason: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VaultView {
    #[serde(flatten)]
    pub vault: Vault,
    pub secrets: Vec<SecretInfo>,
    pub pending_migration: bool,
    pub unit: Option<String>,
    /// In `GET /vaults`: which records fetch which secret from this vault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_refs: Option<Vec<SecretRef>>,
    /// In `GET /vaults/{id}`: the titles of the records that log in through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by: Option<Vec<String>>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    pub record: String,
    pub title: String,
    pub secret: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VaultList {
    pub vaults: Vec<VaultView>,
}

/// `DELETE /records/{id}` and `/vaults/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deleted {
    pub deleted: String,
}

#[cfg(test)]
mod tests {
    use super::{CreateRecord, DelegationSecretInput, UpdateRecord};

    #[test]
    fn the_secret_locator_reads_flat_and_refuses_unknown_fields() {
        let create: CreateRecord = serde_json::from_str(
            r#"{"kind":"unix","title":"t","user":"u","login_type":"vault","vault_id":"v-1",
                "secret_name":"root","folder":"Unix"}"#,
        )
        .expect("a create with a secret by name");
        assert_eq!(create.vault_id.as_deref(), Some("v-1"));
        assert_eq!(create.secret.secret_name.as_deref(), Some("root"));
        assert_eq!(create.secret.folder.as_deref(), Some("Unix"));
        let update: UpdateRecord =
            serde_json::from_str(r#"{"secret_id":42}"#).expect("an update with a secret id");
        assert_eq!(update.secret.secret_id, Some(42));
        assert_eq!(
            serde_json::to_string(&update).expect("serialize"),
            r#"{"secret_id":42}"#
        );
        for bad in [
            r#"{"kind":"unix","title":"t","user":"u","secret_nam":"root"}"#,
            r#"{"kind":"unix","title":"t","user":"u","unix":{"delegation_secret":{"secret_id":1,"vault_id":"v"}}}"#,
        ] {
            let err = serde_json::from_str::<CreateRecord>(bad).expect_err(bad);
            assert!(err.to_string().contains("unknown field"), "{err}");
        }
        let d: DelegationSecretInput =
            serde_json::from_str(r#"{"secret_path":"\\Unix\\root"}"#).expect("a path");
        assert_eq!(d.secret.secret_path.as_deref(), Some("\\Unix\\root"));
    }
}

/// `GET`/`PUT /signing`: the subscription's signing material, opaque signed statements in the
/// `sgn1:` text form that a Manager uploads and every job carries for the appliances to check
/// (docs/signed-records.md). The server checks their structure and type, and keeps the trust
/// list with the highest number; it cannot sign any of them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SigningMaterial {
    /// The root declaration (type 1), signed by the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_declaration: Option<String>,
    /// The trust list (type 3), signed by the root. A list numbered below the stored one is
    /// refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_list: Option<String>,
    /// Standalone revocations (type 4), each signed by a certified Manager; an upload adds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revocations: Vec<String>,
}
