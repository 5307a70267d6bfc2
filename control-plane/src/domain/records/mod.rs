//! Authentication records (Unix, Windows): what a record may hold, checked field by field
//! and against the other records, and how a change applies to a stored record. The secrets
//! a record holds follow the NCSM acceptance rule in [`secrets`].
use sealscan_api::Code;
pub mod edit;
pub mod secrets;
pub mod unix;
pub mod windows;

use crate::domain::validate::{bad, new_id, record_text as text};
use crate::domain::{DomainError, DomainResult};
use crate::iprange::IpRange;
use crate::store::{RecordRow, Tx};
use sealscan_api::ErrorDetails;
use sealscan_api::records::{SecretLocator, UnixInput};
use sealscan_protocols::appliance::{
    LoginType, RecordKind, SecretField, SecretFieldName, UnixAuth, UnixOptions, WindowsDomainType,
};
use windows::{WindowsDraft, WindowsPatch};

/// How a vault login names its secret: by name (optionally in a folder), by Secret Server's
/// id, or by path (`\Folder\Name`).
#[derive(Clone, Debug, Default)]
pub struct SecretRef {
    pub name: Option<String>,
    pub folder: Option<String>,
    pub id: Option<i64>,
    pub path: Option<String>,
}

/// The request's reference (a login's, whose vault is the draft's `vault_id`, or a
/// delegation's, in the record's vault).
impl From<SecretLocator> for SecretRef {
    fn from(v: SecretLocator) -> Self {
        SecretRef {
            name: v.secret_name,
            folder: v.folder,
            id: v.secret_id,
            path: v.secret_path,
        }
    }
}

impl SecretRef {
    fn is_given(&self) -> bool {
        self.name.is_some() || self.folder.is_some() || self.id.is_some() || self.path.is_some()
    }
}

/// How a record request says the record logs in: the vault secret (vault logins), which of
/// its secrets a Unix login uses, and the secrets it sends. A create and an update give it
/// alike; in an update, what is absent keeps the stored value.
#[derive(Clone, Debug, Default)]
pub struct LoginInput {
    pub vault_id: Option<String>,
    pub secret: SecretRef,
    /// Unix basic logins: the password (default) or the private key. Unix vault logins:
    /// which of the secret's fields to use; None takes the private key when it holds one.
    pub unix_auth: Option<UnixAuth>,
    pub secrets: Vec<SecretField>,
}

/// A record as asked for (created, or stored with a change applied), before the checks.
#[derive(Clone, Debug)]
pub struct RecordDraft {
    pub id: Option<String>,
    pub kind: RecordKind,
    pub title: String,
    pub user: String,
    pub ips: Vec<String>,
    pub login_type: LoginType,
    pub login: LoginInput,
    pub comments: String,
    pub windows: Option<WindowsDraft>,
    /// Unix records' SSH options as asked for (absent: the defaults).
    pub unix: Option<UnixInput>,
}

/// A change of some fields of a stored record; None keeps the stored value.
#[derive(Clone, Debug, Default)]
pub struct RecordPatch {
    pub title: Option<String>,
    pub user: Option<String>,
    pub ips: Option<Vec<String>>,
    pub login_type: Option<LoginType>,
    pub login: LoginInput,
    pub comments: Option<String>,
    pub windows: Option<WindowsPatch>,
    pub unix: Option<UnixInput>,
}

impl RecordPatch {
    /// The record as a create request would describe it with this change applied, so one
    /// set of checks serves both.
    pub fn apply(self, old: &RecordRow) -> DomainResult<RecordDraft> {
        let login_type = self.login_type.unwrap_or(old.login_type);
        let to_vault = login_type == LoginType::Vault;
        let was_vault = old.login_type == LoginType::Vault;
        let windows = match (old.windows.as_ref(), self.windows) {
            (Some(w), p) => Some(p.unwrap_or_default().apply(WindowsDraft::from(w))),
            (None, Some(_)) => return Err(windows_only()),
            (None, None) => None,
        };
        let unix = match old.unix.as_ref() {
            Some(u) => Some(unix::patch(u, self.unix)),
            None => self.unix,
        };
        let login = self.login;
        let unix_auth = match login.unix_auth {
            Some(a) => Some(a),
            None if old.kind == RecordKind::Unix && !to_vault => Some(
                old.unix_auth
                    .filter(|_| !was_vault)
                    .unwrap_or(UnixAuth::Password),
            ),
            // A vault login keeps its choice; a basic login's does not carry over.
            None if to_vault && was_vault => old.unix_auth,
            None => None,
        };
        // Fields of the other login type fall away with a change of type, unless given again
        // (which the checks then refuse, naming them). A new secret reference replaces the
        // old one whole (name, folder, id).
        let new_reference =
            login.secret.name.is_some() || login.secret.id.is_some() || login.secret.path.is_some();
        let secret = if new_reference || !to_vault {
            login.secret
        } else {
            SecretRef {
                name: old.secret_name.clone(),
                folder: login.secret.folder.or_else(|| old.folder.clone()),
                id: old.secret_id,
                path: None,
            }
        };
        Ok(RecordDraft {
            id: Some(old.id.clone()),
            kind: old.kind,
            title: self.title.unwrap_or_else(|| old.title.clone()),
            user: self.user.unwrap_or_else(|| old.username.clone()),
            ips: self.ips.unwrap_or_else(|| old.ips.clone()),
            login: LoginInput {
                vault_id: login
                    .vault_id
                    .or_else(|| if to_vault { old.vault_id.clone() } else { None }),
                secret,
                unix_auth,
                secrets: login.secrets,
            },
            login_type,
            comments: self.comments.unwrap_or_else(|| old.comments.clone()),
            windows,
            unix,
        })
    }
}

fn windows_only() -> DomainError {
    bad(
        Code::RecordWindowsOptionsInvalid,
        "Windows options belong to Windows records only",
    )
}

/// A record checked field by field, before anything touches the store.
pub struct CheckedRecord {
    pub row: RecordRow,
    pub ranges: Vec<(String, IpRange)>,
    /// The secret fields this record takes; the first is required.
    pub fields: Vec<SecretFieldName>,
    pub secrets: Vec<SecretField>,
}

impl CheckedRecord {
    /// The required secret, unless it is given or `stored` already.
    pub fn missing_secret(&self, stored: &dyn Fn(&str) -> bool) -> Option<SecretFieldName> {
        let first = self.fields.first().copied();
        // A delegation that needs its own password cannot run without it either.
        // Vault records take it from a second vault secret instead (records/unix.rs).
        let delegation = (self.row.login_type == LoginType::Basic
            && self
                .row
                .unix
                .as_ref()
                .is_some_and(UnixOptions::needs_delegation_secret))
        .then_some(SecretFieldName::DelegationPassword);
        first.into_iter().chain(delegation).find(|&required| {
            let given = self.secrets.iter().any(|s| s.field == required);
            !given && !stored(required.as_str())
        })
    }
}

fn check_ips(ips: &[String]) -> DomainResult<Vec<(String, IpRange)>> {
    let mut ranges: Vec<(String, IpRange)> = Vec::with_capacity(ips.len());
    for entry in ips {
        let r = IpRange::parse(entry).map_err(|e| bad(Code::RecordIpInvalid, e))?;
        if ranges.iter().any(|(_, x)| x.overlaps(&r)) {
            return Err(bad(
                Code::RecordIpDuplicate,
                format!("{entry:?} overlaps another entry of the same list"),
            ));
        }
        ranges.push((entry.trim().to_string(), r));
    }
    Ok(ranges)
}

/// The Unix method and the secret fields a record of this kind and login type takes.
fn login_fields(
    kind: RecordKind,
    login_type: LoginType,
    unix_auth: Option<UnixAuth>,
) -> DomainResult<(Option<UnixAuth>, Vec<SecretFieldName>)> {
    let unix_only = || {
        bad(
            Code::RecordUnixAuthInvalid,
            "unix_auth applies to Unix records only",
        )
    };
    Ok(match (login_type, kind) {
        (LoginType::Vault, RecordKind::Unix) => (unix_auth, Vec::new()),
        (_, RecordKind::Windows) if unix_auth.is_some() => return Err(unix_only()),
        (LoginType::Vault, RecordKind::Windows) => (None, Vec::new()),
        (LoginType::Basic, RecordKind::Unix) => match unix_auth.unwrap_or(UnixAuth::Password) {
            UnixAuth::Password => (Some(UnixAuth::Password), vec![SecretFieldName::Password]),
            UnixAuth::PrivateKey => (
                Some(UnixAuth::PrivateKey),
                vec![SecretFieldName::PrivateKey, SecretFieldName::Passphrase],
            ),
        },
        (LoginType::Basic, RecordKind::Windows) => (None, vec![SecretFieldName::Password]),
    })
}

/// A vault login's reference to its secret, or None for a basic login (which takes none).
fn vault_reference(d: &RecordDraft) -> DomainResult<(Option<String>, SecretRef)> {
    if d.login_type != LoginType::Vault {
        if d.login.vault_id.is_some() || d.login.secret.is_given() {
            return Err(bad(
                Code::RecordVaultUnexpected,
                "vault_id, secret_name, secret_id, secret_path and folder belong to vault logins",
            ));
        }
        return Ok((None, SecretRef::default()));
    }
    let vault_id = d.login.vault_id.clone().ok_or_else(|| {
        bad(
            Code::RecordVaultRequired,
            "a vault login names the vault (vault_id)",
        )
    })?;
    let secret = secret_reference(d.login.secret.clone())?;
    if !d.login.secrets.is_empty() {
        return Err(bad(
            Code::RecordSecretsUnexpected,
            "a vault login holds no secret: the appliance fetches it from the vault at scan time",
        ));
    }
    Ok((Some(vault_id), secret))
}

/// Checks a record field by field; `actor` and `now` become its creation fields.
pub fn check(d: RecordDraft, actor: &str, now: i64) -> DomainResult<CheckedRecord> {
    text("title", &d.title, 128)?;
    text("user", &d.user, 255)?;
    if d.comments.chars().count() > 2000 {
        return Err(bad(
            Code::RecordFieldInvalid,
            "comments are at most 2000 characters",
        ));
    }
    let ranges = check_ips(&d.ips)?;
    let windows = match (d.kind, d.windows.clone()) {
        (RecordKind::Windows, w) => Some(windows::check(w.unwrap_or_default(), ranges.is_empty())?),
        (_, Some(_)) => return Err(windows_only()),
        _ => None,
    };
    let unix = match (d.kind, d.unix.clone()) {
        (RecordKind::Unix, u) => Some(unix::check(u.unwrap_or_default())?),
        (_, Some(_)) => {
            return Err(bad(
                Code::RecordUnixOptionsInvalid,
                "Unix options belong to Unix records only",
            ));
        }
        _ => None,
    };
    if d.kind == RecordKind::Unix && ranges.is_empty() {
        return Err(bad(Code::RecordIpsRequired, "a Unix record needs IPs"));
    }
    // NTLM carries the domain in its own field: a `DOM\user` name would be sent whole as the
    // account name and fail with a bare STATUS_LOGON_FAILURE, so it is refused here, where
    // the operator can still say which part is the domain.
    if d.kind == RecordKind::Windows && d.user.contains('\\') {
        let local = windows
            .as_ref()
            .is_none_or(|w| w.domain_type == WindowsDomainType::None);
        return Err(bad(
            Code::RecordUserHasDomain,
            if local {
                "user holds a domain part (DOMAIN\\user) but domain_type none means a local \
                 account of the target: for a domain account set domain_type netbios or \
                 active_directory, the domain in domain and the bare account name in user; for \
                 a local account give the bare account name"
            } else {
                "user holds a domain part (DOMAIN\\user): the record's domain is already sent \
                 as the domain, so give the bare account name in user"
            },
        ));
    }
    let id = new_id(d.id.clone(), "r")?;
    let (unix_auth, fields) = login_fields(d.kind, d.login_type, d.login.unix_auth)?;
    let (vault_id, secret) = vault_reference(&d)?;
    unix::check_certificate(unix.as_ref(), d.login_type, unix_auth)?;
    let delegation = unix::delegation_fields(unix.as_ref(), d.login_type, unix_auth)?;
    let fields: Vec<SecretFieldName> = fields.into_iter().chain(delegation).collect();
    // Secrets: each allowed field at most once; the password (or private key) is required.
    let mut seen = std::collections::HashSet::new();
    for s in &d.login.secrets {
        if !fields.contains(&s.field) {
            return Err(bad(
                Code::RecordSecretUnexpected,
                format!("this record takes no {}", s.field.as_str()),
            ));
        }
        if !seen.insert(s.field) {
            return Err(bad(
                Code::RecordSecretDuplicate,
                format!("the {} is given twice", s.field.as_str()),
            ));
        }
    }
    let row = RecordRow {
        id,
        kind: d.kind,
        title: d.title.trim().to_string(),
        username: d.user,
        ips: ranges.iter().map(|(e, _)| e.clone()).collect(),
        login_type: d.login_type,
        vault_id,
        secret_name: secret.name,
        folder: secret.folder,
        secret_id: secret.id,
        comments: d.comments,
        unix_auth,
        windows,
        unix,
        migration: None,
        migration_reason: None,
        created_by: actor.to_string(),
        created_at: now,
    };
    Ok(CheckedRecord {
        row,
        ranges,
        fields,
        secrets: d.login.secrets,
    })
}

/// A vault login's secret: exactly one of a name (optionally with its folder), an id, or a
/// path (`\Folder\Name`, stored as its folder and name).
fn secret_reference(r: SecretRef) -> DomainResult<SecretRef> {
    let given = [r.name.is_some(), r.id.is_some(), r.path.is_some()];
    match given.iter().filter(|g| **g).count() {
        0 => {
            return Err(bad(
                Code::RecordSecretNameRequired,
                "a vault login names the secret to fetch: secret_name, secret_id or secret_path",
            ));
        }
        1 => {}
        _ => {
            return Err(bad(
                Code::RecordSecretReferenceConflict,
                "give one of secret_name, secret_id and secret_path",
            ));
        }
    }
    if r.folder.is_some() && r.name.is_none() {
        return Err(bad(
            Code::RecordFolderUnexpected,
            "folder goes with secret_name; a secret_path holds its folder, a secret_id needs none",
        ));
    }
    if let Some(id) = r.id {
        if id <= 0 {
            return Err(bad(
                Code::RecordSecretIdInvalid,
                "secret_id is a positive number",
            ));
        }
        return Ok(SecretRef {
            id: Some(id),
            ..SecretRef::default()
        });
    }
    if let Some(path) = r.path {
        text("secret_path", &path, 1000)?;
        let parts: Vec<&str> = path.split(['\\', '/']).filter(|p| !p.is_empty()).collect();
        let Some((last, folders)) = parts.split_last() else {
            return Err(bad(
                Code::RecordSecretPathInvalid,
                "secret_path is \\Folder\\Name: a folder path and the secret's name",
            ));
        };
        if folders.is_empty() {
            return Err(bad(
                Code::RecordSecretPathInvalid,
                "secret_path names no folder; give the name alone as secret_name",
            ));
        }
        let folder: String = folders.iter().flat_map(|f| ["\\", f]).collect();
        text("secret_path", last, 255)?;
        text("folder", &folder, 255)?;
        return Ok(SecretRef {
            name: Some((*last).to_string()),
            folder: Some(folder),
            ..SecretRef::default()
        });
    }
    let name = r.name.unwrap_or_default();
    text("secret_name", &name, 255)?;
    if let Some(f) = &r.folder {
        text("folder", f, 255)?;
    }
    Ok(SecretRef {
        name: Some(name),
        folder: r.folder,
        ..SecretRef::default()
    })
}

/// How a record's secret is shown in listings: `name`, `\Folder\name` (or `name in
/// folder F` for a folder given by name or id), or `id 42`.
pub fn secret_shown(r: &RecordRow) -> Option<String> {
    if let Some(id) = r.secret_id {
        return Some(format!("id {id}"));
    }
    let name = r.secret_name.as_ref()?;
    Some(match &r.folder {
        Some(f) if f.starts_with('\\') => format!("{f}\\{name}"),
        Some(f) => format!("{name} in folder {f}"),
        None => name.clone(),
    })
}

pub fn no_record(id: &str) -> DomainError {
    DomainError::not_found(
        Code::RecordNotFound,
        format!("no authentication record {id:?}"),
    )
}

/// One record per IP per type: the first address another record of the kind already holds.
fn check_ip_claims(
    tx: &Tx<'_>,
    kind: RecordKind,
    ranges: &[(String, IpRange)],
    except: Option<&str>,
) -> DomainResult<()> {
    for other in tx
        .records()?
        .into_iter()
        .filter(|r| r.kind == kind && Some(r.id.as_str()) != except)
    {
        for entry in &other.ips {
            let Ok(theirs) = IpRange::parse(entry) else {
                continue;
            };
            for (_, mine) in ranges {
                if let Some(ip) = mine.first_common(&theirs) {
                    return Err(DomainError::conflict(
                        Code::RecordIpTaken,
                        format!(
                            "{ip} already belongs to the {} record {:?} ({}); one record per IP per type",
                            kind.as_str(),
                            other.title,
                            other.id
                        ),
                    )
                    .with_details(ErrorDetails {
                        ip: Some(ip.to_string()),
                        record_id: Some(other.id.clone()),
                        ..ErrorDetails::default()
                    }));
                }
            }
        }
    }
    Ok(())
}

/// The rules against other records: unique title, one record per IP per type, one
/// service-selected record per NetBIOS domain, an existing vault. `except`: the record being
/// updated, which may keep what it holds.
pub fn check_conflicts(tx: &Tx<'_>, c: &CheckedRecord, except: Option<&str>) -> DomainResult<()> {
    let row = &c.row;
    if let Some(other) = tx.record_by_title(&row.title)?
        && Some(other.id.as_str()) != except
    {
        return Err(DomainError::conflict(
            Code::RecordTitleTaken,
            format!("the title {:?} is taken by record {}", row.title, other.id),
        ));
    }
    if except.is_none() && tx.record(&row.id)?.is_some() {
        return Err(DomainError::conflict(
            Code::RecordIdTaken,
            format!("a record with id {} exists", row.id),
        ));
    }
    if let Some(v) = &row.vault_id
        && tx.vault(v)?.is_none()
    {
        return Err(crate::domain::vaults::no_vault(v));
    }
    check_ip_claims(tx, row.kind, &c.ranges, except)?;
    if let Some(w) = &row.windows
        && w.service_selected
        && let Some(other) = tx.records()?.into_iter().find(|o| {
            Some(o.id.as_str()) != except
                && o.windows.as_ref().is_some_and(|ow| {
                    ow.service_selected
                        && ow.domain.as_deref().map(str::to_ascii_lowercase)
                            == w.domain.as_deref().map(str::to_ascii_lowercase)
                })
        })
    {
        return Err(DomainError::conflict(
            Code::RecordDomainTaken,
            format!(
                "the NetBIOS domain {} already has the service-selected record {:?} ({})",
                w.domain.as_deref().unwrap_or(""),
                other.title,
                other.id
            ),
        ));
    }
    Ok(())
}
