//! The record statement: everything that decides where a record's secret goes or how the peer
//! is proven, signed by the person who made the change. Field tags are fixed by
//! docs/signed-records.md; the appliance uses only what it parses from these bytes.

use super::error::{Result, SignError};
use super::fields::{
    Arity, FieldSpec, Fields, Schema, Writer, address_range, bool_value, bytes32, code, code_of,
    dns_name, encode_range, identifier, text, u16_value, u64_value,
};
use super::signed::StatementType;
use super::statement::Statement;
use crate::appliance::{
    AddressRange, Delegation, DelegationPassword, HostKeyPolicy, LoginType, RecordKind,
    SecretFieldName, UnixAuth, WindowsAuthProtocol, WindowsDomainType,
};
use crate::envelope::Envelope;
use Arity::{Optional, Required, Set};
use sha2::{Digest, Sha256};

/// Longest text value of a record field (a user name, a host key, a certificate line).
pub const MAX_TEXT: usize = 8192;

const KINDS: &[(u8, RecordKind)] = &[(1, RecordKind::Unix), (2, RecordKind::Windows)];
const LOGIN_TYPES: &[(u8, LoginType)] = &[(1, LoginType::Basic), (2, LoginType::Vault)];
const HOST_KEY_POLICIES: &[(u8, HostKeyPolicy)] = &[
    (1, HostKeyPolicy::Pin),
    (2, HostKeyPolicy::Known),
    (3, HostKeyPolicy::Off),
];
const DELEGATIONS: &[(u8, Delegation)] = &[
    (1, Delegation::None),
    (2, Delegation::Sudo),
    (3, Delegation::Su),
    (4, Delegation::SudoSu),
];
const DELEGATION_PASSWORDS: &[(u8, DelegationPassword)] = &[
    (1, DelegationPassword::Login),
    (2, DelegationPassword::Separate),
    (3, DelegationPassword::None),
];
const UNIX_AUTHS: &[(u8, UnixAuth)] = &[(1, UnixAuth::Password), (2, UnixAuth::PrivateKey)];
const DOMAIN_TYPES: &[(u8, WindowsDomainType)] = &[
    (1, WindowsDomainType::None),
    (2, WindowsDomainType::Netbios),
    (3, WindowsDomainType::ActiveDirectory),
];
const AUTH_PROTOCOLS: &[(u8, WindowsAuthProtocol)] = &[
    (1, WindowsAuthProtocol::Kerberos),
    (2, WindowsAuthProtocol::Ntlm),
    (3, WindowsAuthProtocol::Negotiate),
];
const SMB_VERSIONS: &[&str] = &["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"];
const SECRET_FIELDS: &[(u8, SecretFieldName)] = &[
    (1, SecretFieldName::Password),
    (2, SecretFieldName::PrivateKey),
    (3, SecretFieldName::Passphrase),
    (4, SecretFieldName::VaultPassword),
    (5, SecretFieldName::DelegationPassword),
];

/// The vault API a record's secret is fetched with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VaultApi {
    Rest,
    Soap,
    Auto,
}

const VAULT_APIS: &[(u8, VaultApi)] = &[
    (1, VaultApi::Rest),
    (2, VaultApi::Soap),
    (3, VaultApi::Auto),
];

impl VaultApi {
    pub fn as_str(self) -> &'static str {
        match self {
            VaultApi::Rest => "rest",
            VaultApi::Soap => "soap",
            VaultApi::Auto => "auto",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        VAULT_APIS
            .iter()
            .map(|(_, a)| *a)
            .find(|a| a.as_str() == name)
    }
}

/// The hash a record signs for each sealed envelope: SHA-256 over the envelope's Header and
/// Payload sections (docs/ncsm-envelope.md), which a rewrap leaves unchanged; recipient
/// entries are not covered, so adding an approved appliance needs no new signature.
pub fn envelope_hash(envelope: &Envelope) -> [u8; 32] {
    Sha256::new()
        .chain_update(envelope.header_bytes())
        .chain_update(envelope.payload_bytes())
        .finalize()
        .into()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedUnix {
    pub host_key_policy: HostKeyPolicy,
    /// OpenSSH public keys, `type base64` (no comment).
    pub known_host_keys: Vec<String>,
    pub delegation: Delegation,
    pub delegation_password: DelegationPassword,
    pub certificate: Option<String>,
    pub auth: Option<UnixAuth>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedWindows {
    pub domain_type: WindowsDomainType,
    pub service_selected: bool,
    pub ntlmv2: bool,
    pub require_signing: bool,
    pub min_smb_version: String,
    pub auth_protocol: WindowsAuthProtocol,
    /// Upper case, as Kerberos names AD realms.
    pub realm: Option<String>,
    /// `host` or `host:port`, host in canonical form.
    pub kdcs: Vec<String>,
    pub host_names: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedVault {
    pub vault_id: String,
    /// `https://` only; scheme and host in lower case.
    pub url: String,
    pub verify_tls: bool,
    /// SHA-256 of the vault's CA PEM text exactly as the vault object holds it.
    pub ca_sha256: Option<[u8; 32]>,
    pub api: VaultApi,
    pub user: String,
    pub domain: Option<String>,
    pub organization: Option<String>,
    pub secret_name: Option<String>,
    pub folder: Option<String>,
    pub secret_id: Option<u64>,
}

/// One sealed secret the record signs: which field, and [`envelope_hash`] of its envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvelopeHash {
    pub field: SecretFieldName,
    pub hash: [u8; 32],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordStatement {
    /// Random, made by the CLI; 1 to 64 of `[A-Za-z0-9_-]`.
    pub record_id: String,
    /// Starts at 1, only goes up.
    pub version: u64,
    pub kind: RecordKind,
    pub login_type: LoginType,
    pub user: String,
    /// Canonical lower-case DNS or NetBIOS name.
    pub domain: Option<String>,
    /// The target scope: the only addresses this record's secrets may be used at.
    pub scope: Vec<AddressRange>,
    /// The only ports; empty means the kind's standard port (22 or 445).
    pub ports: Vec<u16>,
    pub unix: Option<SignedUnix>,
    pub windows: Option<SignedWindows>,
    pub vault: Option<SignedVault>,
    pub envelopes: Vec<EnvelopeHash>,
    /// SHA-256 of the signer's signed [`super::UserCertificate`].
    pub signer_certificate: [u8; 32],
    pub signed_at: u64,
}

const fn f(tag: u8, name: &'static str, arity: Arity) -> FieldSpec {
    FieldSpec { tag, name, arity }
}

static RECORD: Schema = Schema {
    statement: "record statement",
    fields: &[
        f(1, "record id", Required),
        f(2, "version", Required),
        f(3, "kind", Required),
        f(4, "login type", Required),
        f(5, "user", Required),
        f(6, "domain", Optional),
        f(7, "address range", Set),
        f(8, "port", Set),
        f(10, "host key policy", Optional),
        f(11, "known host key", Set),
        f(12, "delegation", Optional),
        f(13, "delegation password", Optional),
        f(14, "ssh certificate", Optional),
        f(15, "unix auth", Optional),
        f(20, "domain type", Optional),
        f(21, "service selected", Optional),
        f(22, "ntlmv2", Optional),
        f(23, "require signing", Optional),
        f(24, "min smb version", Optional),
        f(25, "auth protocol", Optional),
        f(26, "realm", Optional),
        f(27, "kdc", Set),
        f(28, "host name", Set),
        f(30, "vault id", Optional),
        f(31, "vault url", Optional),
        f(32, "vault verify tls", Optional),
        f(33, "vault ca sha256", Optional),
        f(34, "vault api", Optional),
        f(35, "vault user", Optional),
        f(36, "vault domain", Optional),
        f(37, "vault organization", Optional),
        f(38, "secret name", Optional),
        f(39, "secret folder", Optional),
        f(40, "secret id", Optional),
        f(50, "envelope hash", Set),
        f(60, "signer certificate", Required),
        f(61, "signed at", Required),
    ],
};

fn any_text(v: &[u8]) -> std::result::Result<&str, &'static str> {
    text(v, MAX_TEXT)
}

fn host_key(v: &[u8]) -> std::result::Result<&str, &'static str> {
    let s = text(v, MAX_TEXT)?;
    let mut parts = s.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(kind), Some(key), None) if !kind.is_empty() && !key.is_empty() => Ok(s),
        _ => Err("not `type base64` with one space and no comment"),
    }
}

fn realm(v: &[u8]) -> std::result::Result<&str, &'static str> {
    let lower = v.to_ascii_lowercase();
    dns_name(&lower)?;
    if v.iter().any(u8::is_ascii_lowercase) {
        return Err("not in upper case");
    }
    std::str::from_utf8(v).map_err(|_| "not UTF-8")
}

/// `host` or `host:port` with the host a canonical name or an IP address.
fn kdc(v: &[u8]) -> std::result::Result<&str, &'static str> {
    let s = std::str::from_utf8(v).map_err(|_| "not UTF-8")?;
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (s, None),
    };
    if let Some(p) = port {
        let n: u16 = p.parse().map_err(|_| "port is not a number 1 to 65535")?;
        if n == 0 || p != n.to_string() {
            return Err("port is not a number 1 to 65535 without leading zeros");
        }
    }
    if host.parse::<std::net::IpAddr>().is_err() {
        dns_name(host.as_bytes())?;
    }
    Ok(s)
}

fn smb_version(v: &[u8]) -> std::result::Result<&str, &'static str> {
    let s = std::str::from_utf8(v).map_err(|_| "not UTF-8")?;
    SMB_VERSIONS
        .iter()
        .find(|x| **x == s)
        .copied()
        .ok_or("not 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1")
}

/// The canonical vault URL: `https://`, lower-case host, no user info or fragment.
pub fn vault_url(v: &[u8]) -> std::result::Result<&str, &'static str> {
    let s = text(v, 2048)?;
    let rest = s
        .strip_prefix("https://")
        .ok_or("not an https:// URL (plain http is refused)")?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err("has no host");
    }
    if authority.contains('@') || s.contains('#') || s.contains(' ') {
        return Err("carries user info, a fragment or a space");
    }
    if authority.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("host is not in lower case");
    }
    Ok(s)
}

fn port(v: &[u8]) -> std::result::Result<u16, &'static str> {
    match u16_value(v)? {
        0 => Err("port 0"),
        p => Ok(p),
    }
}

fn envelope_hash_value(v: &[u8]) -> std::result::Result<EnvelopeHash, &'static str> {
    match v {
        [field, hash @ ..] => Ok(EnvelopeHash {
            field: code(SECRET_FIELDS, &[*field])?,
            hash: bytes32(hash)?,
        }),
        [] => Err("empty"),
    }
}

fn owned(v: Option<&str>) -> Option<String> {
    v.map(str::to_string)
}

fn decode_unix(f: &Fields<'_>) -> Result<SignedUnix> {
    Ok(SignedUnix {
        host_key_policy: f.map_required(10, |v| code(HOST_KEY_POLICIES, v))?,
        known_host_keys: f
            .map_set(11, host_key)?
            .into_iter()
            .map(str::to_string)
            .collect(),
        delegation: f.map_required(12, |v| code(DELEGATIONS, v))?,
        delegation_password: f.map_required(13, |v| code(DELEGATION_PASSWORDS, v))?,
        certificate: owned(f.map_one(14, any_text)?),
        auth: f.map_one(15, |v| code(UNIX_AUTHS, v))?,
    })
}

fn decode_windows(f: &Fields<'_>) -> Result<SignedWindows> {
    Ok(SignedWindows {
        domain_type: f.map_required(20, |v| code(DOMAIN_TYPES, v))?,
        service_selected: f.map_required(21, bool_value)?,
        ntlmv2: f.map_required(22, bool_value)?,
        require_signing: f.map_required(23, bool_value)?,
        min_smb_version: f.map_required(24, smb_version)?.to_string(),
        auth_protocol: f.map_required(25, |v| code(AUTH_PROTOCOLS, v))?,
        realm: owned(f.map_one(26, realm)?),
        kdcs: f
            .map_set(27, kdc)?
            .into_iter()
            .map(str::to_string)
            .collect(),
        host_names: f
            .map_set(28, dns_name)?
            .into_iter()
            .map(str::to_string)
            .collect(),
    })
}

fn decode_vault(f: &Fields<'_>) -> Result<SignedVault> {
    let vault = SignedVault {
        vault_id: f.map_required(30, identifier)?.to_string(),
        url: f.map_required(31, vault_url)?.to_string(),
        verify_tls: f.map_required(32, bool_value)?,
        ca_sha256: f.map_one(33, bytes32)?,
        api: f.map_required(34, |v| code(VAULT_APIS, v))?,
        user: f.map_required(35, any_text)?.to_string(),
        domain: owned(f.map_one(36, any_text)?),
        organization: owned(f.map_one(37, any_text)?),
        secret_name: owned(f.map_one(38, any_text)?),
        folder: owned(f.map_one(39, any_text)?),
        secret_id: f.map_one(40, u64_value)?,
    };
    if vault.secret_name.is_none() && vault.secret_id.is_none() {
        f.require(38, "a vault record signs a secret name or a secret id")?;
    }
    Ok(vault)
}

impl Statement for RecordStatement {
    const KIND: StatementType = StatementType::Record;

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        w.field(1, self.record_id.as_bytes());
        w.field(2, &self.version.to_be_bytes());
        w.field(3, &[code_of(KINDS, self.kind)]);
        w.field(4, &[code_of(LOGIN_TYPES, self.login_type)]);
        w.field(5, self.user.as_bytes());
        w.opt(6, self.domain.as_deref().map(str::as_bytes));
        w.set(7, self.scope.iter().map(encode_range));
        w.set(8, self.ports.iter().map(|p| p.to_be_bytes().to_vec()));
        if let Some(u) = &self.unix {
            w.field(10, &[code_of(HOST_KEY_POLICIES, u.host_key_policy)]);
            w.set(11, u.known_host_keys.iter().map(|k| k.as_bytes().to_vec()));
            w.field(12, &[code_of(DELEGATIONS, u.delegation)]);
            w.field(13, &[code_of(DELEGATION_PASSWORDS, u.delegation_password)]);
            w.opt(14, u.certificate.as_deref().map(str::as_bytes));
            w.opt(15, u.auth.map(|a| vec![code_of(UNIX_AUTHS, a)]).as_deref());
        }
        if let Some(win) = &self.windows {
            w.field(20, &[code_of(DOMAIN_TYPES, win.domain_type)]);
            w.field(21, &[u8::from(win.service_selected)]);
            w.field(22, &[u8::from(win.ntlmv2)]);
            w.field(23, &[u8::from(win.require_signing)]);
            w.field(24, win.min_smb_version.as_bytes());
            w.field(25, &[code_of(AUTH_PROTOCOLS, win.auth_protocol)]);
            w.opt(26, win.realm.as_deref().map(str::as_bytes));
            w.set(27, win.kdcs.iter().map(|k| k.as_bytes().to_vec()));
            w.set(28, win.host_names.iter().map(|h| h.as_bytes().to_vec()));
        }
        if let Some(v) = &self.vault {
            w.field(30, v.vault_id.as_bytes());
            w.field(31, v.url.as_bytes());
            w.field(32, &[u8::from(v.verify_tls)]);
            w.opt(33, v.ca_sha256.as_ref().map(<[u8; 32]>::as_slice));
            w.field(34, &[code_of(VAULT_APIS, v.api)]);
            w.field(35, v.user.as_bytes());
            w.opt(36, v.domain.as_deref().map(str::as_bytes));
            w.opt(37, v.organization.as_deref().map(str::as_bytes));
            w.opt(38, v.secret_name.as_deref().map(str::as_bytes));
            w.opt(39, v.folder.as_deref().map(str::as_bytes));
            w.opt(
                40,
                v.secret_id
                    .map(u64::to_be_bytes)
                    .as_ref()
                    .map(<[u8; 8]>::as_slice),
            );
        }
        w.set(
            50,
            self.envelopes.iter().map(|e| {
                let mut v = vec![code_of(SECRET_FIELDS, e.field)];
                v.extend_from_slice(&e.hash);
                v
            }),
        );
        w.field(60, &self.signer_certificate);
        w.field(61, &self.signed_at.to_be_bytes());
        w.finish()
    }

    fn decode(body: &[u8]) -> Result<Self> {
        let f = RECORD.parse(body)?;
        let kind = f.map_required(3, |v| code(KINDS, v))?;
        let login_type = f.map_required(4, |v| code(LOGIN_TYPES, v))?;
        let (unix, windows) = match kind {
            RecordKind::Unix => {
                for tag in 20..=28 {
                    f.forbid(tag, "a Unix record carries no Windows settings")?;
                }
                (Some(decode_unix(&f)?), None)
            }
            RecordKind::Windows => {
                for tag in 10..=15 {
                    f.forbid(tag, "a Windows record carries no Unix settings")?;
                }
                (None, Some(decode_windows(&f)?))
            }
        };
        let vault = match login_type {
            LoginType::Vault => Some(decode_vault(&f)?),
            LoginType::Basic => {
                for tag in 30..=40 {
                    f.forbid(tag, "a basic record carries no vault settings")?;
                }
                None
            }
        };
        let version = f.map_required(2, u64_value)?;
        if version == 0 {
            f.map_required(2, |_| Err::<(), _>("version 0 (versions start at 1)"))?;
        }
        let envelopes = f.map_set(50, envelope_hash_value)?;
        for pair in envelopes.windows(2) {
            if pair[0].field == pair[1].field {
                return Err(SignError::InvalidField {
                    statement: "record statement",
                    field: "envelope hash",
                    reason: "two envelopes for one secret field",
                });
            }
        }
        Ok(RecordStatement {
            record_id: f.map_required(1, identifier)?.to_string(),
            version,
            kind,
            login_type,
            user: f.map_required(5, any_text)?.to_string(),
            domain: owned(f.map_one(6, dns_name)?),
            scope: f.map_set(7, address_range)?,
            ports: f.map_set(8, port)?,
            unix,
            windows,
            vault,
            envelopes,
            signer_certificate: f.map_required(60, bytes32)?,
            signed_at: f.map_required(61, u64_value)?,
        })
    }
}

impl RecordStatement {
    /// The signed hash of `field`'s envelope, if the record signs one.
    pub fn envelope_for(&self, field: SecretFieldName) -> Option<&[u8; 32]> {
        self.envelopes
            .iter()
            .find(|e| e.field == field)
            .map(|e| &e.hash)
    }

    /// Whether `ip` is inside the signed scope.
    pub fn scope_holds(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 @ std::net::IpAddr::V4(_) => v4,
        };
        self.scope.iter().any(|r| r.contains(ip))
    }

    /// Whether the record allows `port` (the kind's standard port when it signs none).
    pub fn port_allowed(&self, port: u16) -> bool {
        if self.ports.is_empty() {
            port == match self.kind {
                RecordKind::Unix => 22,
                RecordKind::Windows => 445,
            }
        } else {
            self.ports.contains(&port)
        }
    }
}
