//! Credentials at scan time: from a job's record to a credential a login can use.
//!
//! Sealed secrets are opened with the identity key, against the binding rebuilt from the
//! job's own record fields, so a control plane that re-points an envelope gets a refusal at
//! the envelope step and no login is attempted. Legacy secrets arrive in the job and are
//! copied once into a final-size zeroizing buffer. Vault records go through one
//! `sealscan-vault` session per job and vault, whose web-service password is itself a sealed
//! or legacy secret. Every plaintext ends up in `SecretBytes`, dropped (wiped) with the
//! credential right after the login.

use crate::identity::IdentityKey;
use crate::known_hosts::KnownHosts;
use crate::login::unix::{Elevation, HostKeyTrust, SudoPassword, UnixCredential, UnixSecret};
use crate::login::windows::{
    KerberosLogin, KerberosRealm, SmbDialect, TicketCache, WindowsAuth, WindowsCredential,
};
use crate::sealed;
use crate::trust::SignatureGate;
use sealscan_protocols::appliance::{
    Delegation, DelegationPassword, HostKeyPolicy, Job, JobRecord, JobVault, RecordKind,
    RecordLogin, SecretField, SecretFieldName, SecretValue, VaultUnixAuth, WindowsAuthProtocol,
    WindowsDomainType,
};
use sealscan_protocols::envelope::Binding;
use sealscan_protocols::host_key::HostKey;
use sealscan_protocols::results::{LoginKind, LoginOutcome, Status, Step};
use sealscan_protocols::secret::SecretBytes;
use sealscan_vault::{
    Api, JobLabel, Limits, SecretRef, SecretServer, SecretServerSession, TlsSettings,
    VaultConnector, VaultRecord, VaultSession,
};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// A credential ready for a login.
#[derive(Debug)]
pub enum Resolved {
    Unix(UnixCredential),
    Windows(WindowsCredential),
}

/// Why no login was attempted: becomes a result with the target's login kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: Status,
    pub step: Step,
    pub detail: String,
    pub login_id: String,
    /// Facts for the result beside the cause (e.g. an ambiguous vault name's matching ids).
    pub facts: BTreeMap<String, String>,
}

impl Refusal {
    fn failed(step: Step, detail: impl Into<String>, login_id: &str) -> Self {
        Self {
            status: Status::Failed,
            step,
            detail: detail.into(),
            login_id: login_id.to_string(),
            facts: BTreeMap::new(),
        }
    }

    pub fn not_attempted(step: Step, detail: impl Into<String>) -> Self {
        Self {
            status: Status::NotAttempted,
            step,
            detail: detail.into(),
            login_id: String::new(),
            facts: BTreeMap::new(),
        }
    }

    pub fn into_outcome(self, kind: LoginKind) -> LoginOutcome {
        let mut outcome =
            LoginOutcome::not_passed(kind, self.status, self.step, self.detail, self.login_id);
        outcome.facts = self.facts;
        outcome
    }

    /// A vault failure, with the facts it carries.
    fn vault(e: &sealscan_vault::VaultError, login_id: &str) -> Self {
        let cause = e.cause();
        let mut refusal = Self::failed(cause.step, cause.detail, login_id);
        refusal.facts.extend(e.facts());
        refusal
    }
}

/// A job's credential source: its records, its vaults and the key to open what is sealed.
pub struct JobCredentials {
    job_id: String,
    records: HashMap<String, JobRecord>,
    vaults: HashMap<String, JobVault>,
    identity: Arc<IdentityKey>,
    connector: SecretServer,
    /// One session per vault for the whole job; an error is kept so each target reports it
    /// without asking the vault again.
    sessions: Mutex<HashMap<String, Result<Arc<SecretServerSession>, Refusal>>>,
    /// Kerberos tickets per record, for the job only: one AS exchange per record's account
    /// and one TGS per host, never shared between records (another record's password must
    /// not pass on this one's ticket).
    tickets: Mutex<HashMap<String, Arc<TicketCache>>>,
    /// Where `pin` records keep their host keys: the state directory's store in the daemon.
    known_hosts: Arc<KnownHosts>,
    /// Signed records (docs/signed-records.md): checked before a record is used.
    signature_gate: SignatureGate,
}

impl JobCredentials {
    pub fn new(job: &Job, identity: Arc<IdentityKey>) -> Self {
        Self::with_vault_timeout(job, identity, Limits::default().request_timeout)
    }

    /// [`JobCredentials::new`] with the configuration's bound on each vault request.
    pub fn with_vault_timeout(
        job: &Job,
        identity: Arc<IdentityKey>,
        vault_timeout: std::time::Duration,
    ) -> Self {
        Self {
            job_id: job.job_id.clone(),
            records: job
                .records
                .iter()
                .map(|r| (r.record_id.clone(), r.clone()))
                .collect(),
            vaults: job
                .vaults
                .iter()
                .map(|v| (v.vault_id.clone(), v.clone()))
                .collect(),
            identity,
            connector: SecretServer {
                limits: Limits {
                    request_timeout: vault_timeout,
                    connect_timeout: vault_timeout.min(Limits::default().connect_timeout),
                    ..Limits::default()
                },
            },
            sessions: Mutex::new(HashMap::new()),
            tickets: Mutex::new(HashMap::new()),
            known_hosts: Arc::new(KnownHosts::in_memory()),
            signature_gate: SignatureGate::Unpinned,
        }
    }

    /// Checks records against signed statements (the daemon's gate for the job).
    pub fn with_signature_gate(mut self, gate: SignatureGate) -> Self {
        self.signature_gate = gate;
        self
    }

    /// For a target given by address without a record: whether any record of `kind` in the
    /// job is signed for `host`:`port` (a service-selected one for any address), before the
    /// Windows domain probe connects there.
    pub fn check_any_signature(
        &self,
        kind: RecordKind,
        host: &str,
        port: u16,
    ) -> Result<(), Refusal> {
        if matches!(self.signature_gate, SignatureGate::Unpinned) {
            return Ok(());
        }
        let mut records: Vec<&JobRecord> =
            self.records.values().filter(|r| r.kind == kind).collect();
        records.sort_by(|a, b| a.record_id.cmp(&b.record_id));
        let mut last = Refusal::not_attempted(
            Step::RecordSignature,
            format!("no signed {} record in the job", kind.as_str()),
        );
        for record in records {
            match self.check_signature(record, host, port) {
                Ok(()) => return Ok(()),
                Err(refusal) => last = refusal,
            }
        }
        Err(last)
    }

    /// Whether `record` may be used for a login at `host`:`port` (an address): always on an
    /// appliance without a pinned root; otherwise only when its signed statement passes.
    pub fn check_signature(
        &self,
        record: &JobRecord,
        host: &str,
        port: u16,
    ) -> Result<(), Refusal> {
        let refuse = |r: sealscan_protocols::signing::Refusal| {
            Refusal::not_attempted(
                Step::RecordSignature,
                format!("record {}: {r}", record.record_id),
            )
        };
        let ip = match host.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) if matches!(self.signature_gate, SignatureGate::Unpinned) => return Ok(()),
            Err(_) => {
                return Err(refuse(
                    sealscan_protocols::signing::Refusal::TargetOutsideScope,
                ));
            }
        };
        let vaults: Vec<&JobVault> = self.vaults.values().collect();
        match self.signature_gate.check(record, &vaults, ip, port) {
            Ok(Some(verified)) => {
                log::info!(
                    "job {}: record {} version {} signed by {} accepted for {host}:{port}",
                    self.job_id,
                    verified.record_id,
                    verified.version,
                    verified.signer_user_id
                );
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(r) => {
                log::warn!(
                    "job {}: record {} refused for {host}:{port}: record signature: {r}",
                    self.job_id,
                    record.record_id
                );
                Err(refuse(r))
            }
        }
    }

    fn tickets_for(&self, record: &JobRecord) -> Arc<TicketCache> {
        let mut all = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(all.entry(record.record_id.clone()).or_default())
    }

    /// Uses `store` for `pin` records; without it, pins last only as long as this job.
    pub fn with_known_hosts(mut self, store: Arc<KnownHosts>) -> Self {
        self.known_hosts = store;
        self
    }

    /// How a login with `record` trusts the target's host key.
    pub fn host_key_trust(&self, record: &JobRecord) -> Result<HostKeyTrust, Refusal> {
        let options = record.unix.clone().unwrap_or_default();
        Ok(match options.host_key_policy {
            HostKeyPolicy::Off => HostKeyTrust::Off,
            HostKeyPolicy::Pin => HostKeyTrust::Pin(self.known_hosts.clone()),
            HostKeyPolicy::Known => {
                let parse = |lines: &[String]| {
                    lines
                        .iter()
                        .map(|line| HostKey::parse(line))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| {
                            Refusal::failed(
                                Step::Record,
                                format!("record {}: {e}", record.record_id),
                                &record.user,
                            )
                        })
                };
                let keys = parse(&options.known_host_keys)?;
                let authorities = parse(&options.host_ca_keys)?;
                if keys.is_empty() && authorities.is_empty() {
                    return Err(Refusal::failed(
                        Step::Record,
                        format!(
                            "record {} trusts only known host keys but lists no key and no \
                             host CA",
                            record.record_id
                        ),
                        &record.user,
                    ));
                }
                HostKeyTrust::Known { keys, authorities }
            }
        })
    }

    pub fn record(&self, record_id: &str) -> Option<&JobRecord> {
        self.records.get(record_id)
    }

    /// The record of `kind` whose IP list holds `address`, for a host-name target the control
    /// plane could not match (it does not resolve names). Records' lists do not overlap within
    /// a kind, so at most one matches; the id order keeps the answer stable if they ever did.
    pub fn record_for_address(&self, address: IpAddr, kind: RecordKind) -> Option<&JobRecord> {
        let mut matches: Vec<&JobRecord> = self
            .records
            .values()
            .filter(|r| r.kind == kind)
            .filter(|r| r.address_ranges.iter().any(|a| a.contains(address)))
            .collect();
        matches.sort_by(|a, b| a.record_id.cmp(&b.record_id));
        matches.into_iter().next()
    }

    /// The service-selected NetBIOS-domain record for a domain a server reported, if the job
    /// holds one (compared as Windows compares NetBIOS names: without case).
    pub fn netbios_record_for(&self, domain: &str) -> Option<&JobRecord> {
        let mut matches: Vec<&JobRecord> = self
            .records
            .values()
            .filter(|r| r.kind == RecordKind::Windows)
            .filter(|r| {
                r.windows.as_ref().is_some_and(|w| {
                    w.service_selected && w.domain_type == WindowsDomainType::Netbios
                })
            })
            .filter(|r| {
                r.domain
                    .as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case(domain))
            })
            .collect();
        // Deterministic when (against the control plane's rules) two records claim a domain.
        matches.sort_by(|a, b| a.record_id.cmp(&b.record_id));
        matches.into_iter().next()
    }

    /// Resolves `record` into a credential for a login of `kind`.
    pub async fn resolve(&self, record: &JobRecord, kind: LoginKind) -> Result<Resolved, Refusal> {
        let expected = match kind {
            LoginKind::Unix => RecordKind::Unix,
            LoginKind::Windows => RecordKind::Windows,
        };
        if record.kind != expected {
            return Err(Refusal::not_attempted(
                Step::Record,
                format!(
                    "record {} is a {} record, not usable for a {} login",
                    record.record_id,
                    record.kind.as_str(),
                    expected.as_str()
                ),
            ));
        }
        match &record.login {
            RecordLogin::Basic { secrets } => self.resolve_basic(record, secrets),
            RecordLogin::Vault {
                vault_id,
                secret_name,
                folder,
                secret_id,
                unix_auth,
            } => {
                let reference = match (secret_id, folder) {
                    (Some(id), _) => SecretRef::by_id(*id),
                    (None, Some(f)) => SecretRef::in_folder(secret_name.as_str(), f.as_str()),
                    (None, None) => SecretRef::named(secret_name.as_str()),
                };
                self.resolve_vault(record, vault_id, &reference, *unix_auth)
                    .await
            }
        }
    }

    fn resolve_basic(
        &self,
        record: &JobRecord,
        secrets: &[SecretField],
    ) -> Result<Resolved, Refusal> {
        let find = |name: SecretFieldName| secrets.iter().find(|s| s.field == name);
        let open = |field: &SecretField| {
            let binding = record_binding(record, field.field);
            self.open_value(&field.value, &binding, &login_id(record))
        };
        match record.kind {
            RecordKind::Unix => {
                let secret = if let Some(key) = find(SecretFieldName::PrivateKey) {
                    let key = open(key)?;
                    let passphrase = find(SecretFieldName::Passphrase).map(open).transpose()?;
                    UnixSecret::PrivateKey {
                        key,
                        passphrase,
                        certificate: certificate(record),
                    }
                } else if let Some(password) = find(SecretFieldName::Password) {
                    UnixSecret::Password(open(password)?)
                } else {
                    return Err(Refusal::failed(
                        Step::Record,
                        format!(
                            "record {} holds neither a password nor a private key",
                            record.record_id
                        ),
                        &record.user,
                    ));
                };
                let own = find(SecretFieldName::DelegationPassword)
                    .map(open)
                    .transpose()?;
                Ok(Resolved::Unix(UnixCredential {
                    user: record.user.clone(),
                    secret,
                    elevation: elevation(record, own)?,
                }))
            }
            RecordKind::Windows => {
                let Some(password) = find(SecretFieldName::Password) else {
                    return Err(Refusal::failed(
                        Step::Record,
                        format!("record {} holds no password", record.record_id),
                        &login_id(record),
                    ));
                };
                let password = open(password)?;
                windows_credential(
                    record,
                    record.user.clone(),
                    record.domain.clone(),
                    password,
                    self.tickets_for(record),
                )
            }
        }
    }

    /// A vault record's credential. The record's user must be the secret's: a vault record
    /// logs in only as the account it names (docs/vault-connector.md, "Whose account").
    async fn resolve_vault(
        &self,
        record: &JobRecord,
        vault_id: &str,
        reference: &SecretRef,
        unix_auth: Option<VaultUnixAuth>,
    ) -> Result<Resolved, Refusal> {
        let login = login_id(record);
        let session = self.vault_session(vault_id, &login)?;
        let credential = session
            .credential(reference)
            .await
            .map_err(|e| Refusal::vault(&e, &login))?;
        let shown = format!("vault secret {reference}");
        let fail = |detail: String| Refusal::failed(Step::SecretFetch, detail, &login);
        let secret_user = credential
            .username
            .expose_str()
            .ok_or_else(|| fail(format!("the user name of {shown} is not UTF-8")))?;
        let secret_domain = credential
            .domain
            .as_ref()
            .and_then(|d| d.expose_str())
            .filter(|d| !d.is_empty());
        check_account(record, secret_user, secret_domain)
            .map_err(|why| fail(format!("{shown} {why}")))?;
        match record.kind {
            RecordKind::Unix => {
                let key = || {
                    credential
                        .private_key
                        .as_ref()
                        .map(|key| UnixSecret::PrivateKey {
                            key: key.clone(),
                            passphrase: credential.passphrase.clone(),
                            certificate: certificate(record),
                        })
                };
                let password = || {
                    credential
                        .password
                        .as_ref()
                        .map(|p| UnixSecret::Password(p.clone()))
                };
                let secret = match unix_auth {
                    Some(VaultUnixAuth::Password) => password().ok_or_else(|| {
                        fail(format!(
                            "{shown} has no password, and the record logs in with the password"
                        ))
                    })?,
                    Some(VaultUnixAuth::PrivateKey) => key().ok_or_else(|| {
                        fail(format!(
                            "{shown} has no private key, and the record logs in with the private key"
                        ))
                    })?,
                    None => key().or_else(password).ok_or_else(|| {
                        fail(format!("{shown} has neither password nor private key"))
                    })?,
                };
                let own = self.delegation_secret(record, &session, &login).await?;
                Ok(Resolved::Unix(UnixCredential {
                    user: record.user.clone(),
                    secret,
                    elevation: elevation(record, own)?,
                }))
            }
            RecordKind::Windows => {
                let Some(password) = &credential.password else {
                    return Err(fail(format!("{shown} has no password")));
                };
                let domain = record
                    .domain
                    .clone()
                    .filter(|d| !d.is_empty())
                    .or_else(|| secret_domain.map(str::to_string))
                    .or_else(|| split_domain(secret_user).0.map(str::to_string));
                windows_credential(
                    record,
                    record.user.clone(),
                    domain,
                    password.clone(),
                    self.tickets_for(record),
                )
            }
        }
    }

    /// A vault record's delegation password (su's root password, or sudo's own), from the
    /// second secret the record names in the same vault session. None when the delegation
    /// takes none (sudo with the login password, NOPASSWD).
    async fn delegation_secret(
        &self,
        record: &JobRecord,
        session: &SecretServerSession,
        login: &str,
    ) -> Result<Option<SecretBytes>, Refusal> {
        let Some(options) = record.unix.as_ref().filter(|u| u.needs_delegation_secret()) else {
            return Ok(None);
        };
        let fail = |detail: String| Refusal::failed(Step::SecretFetch, detail, login);
        let Some(named) = &options.delegation_secret else {
            return Err(fail(format!(
                "record {} delegates with {} but names no delegation_secret in its vault",
                record.record_id,
                options.delegation.as_str()
            )));
        };
        let reference = match (named.secret_id, &named.folder) {
            (Some(id), _) => SecretRef::by_id(id),
            (None, Some(f)) => {
                SecretRef::in_folder(named.secret_name.clone().unwrap_or_default(), f.as_str())
            }
            (None, None) => SecretRef::named(named.secret_name.clone().unwrap_or_default()),
        };
        let second = session
            .credential(&reference)
            .await
            .map_err(|e| Refusal::vault(&e, login))?;
        let shown = format!("the delegation secret {reference}");
        // su becomes root: a secret of another account would be the wrong password, sent.
        if options.delegation == Delegation::Su {
            let account = second.username.expose_str().unwrap_or_default();
            let bare = account.rsplit(['\\', '/']).next().unwrap_or_default();
            if !account.is_empty() && bare != "root" {
                return Err(fail(format!(
                    "{shown} is the account {:?}, but su needs root's password",
                    account.chars().take(64).collect::<String>()
                )));
            }
        }
        second
            .password
            .clone()
            .map(Some)
            .ok_or_else(|| fail(format!("{shown} has no password")))
    }

    fn vault_session(
        &self,
        vault_id: &str,
        login_id: &str,
    ) -> Result<Arc<SecretServerSession>, Refusal> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = sessions.get(vault_id) {
            return existing.clone().map_err(|mut r| {
                r.login_id = login_id.to_string();
                r
            });
        }
        let opened = self.open_vault(vault_id).map(Arc::new);
        sessions.insert(vault_id.to_string(), opened.clone());
        opened.map_err(|mut r| {
            r.login_id = login_id.to_string();
            r
        })
    }

    fn open_vault(&self, vault_id: &str) -> Result<SecretServerSession, Refusal> {
        let Some(vault) = self.vaults.get(vault_id) else {
            return Err(Refusal::failed(
                Step::Record,
                format!("the job names vault {vault_id} but does not carry it"),
                "",
            ));
        };
        let api: Api = vault
            .api
            .parse()
            .map_err(|e: String| Refusal::failed(Step::VaultLogin, e, ""))?;
        let binding = vault_binding(vault);
        let password = self.open_value(&vault.password, &binding, "")?;
        let record = VaultRecord {
            url: vault.url.clone(),
            username: vault.user.clone(),
            password,
            domain: vault.domain.clone(),
            organization: vault.organization.clone(),
            tls: TlsSettings {
                verify: vault.verify_tls,
                ca_bundle_pem: vault.ca_pem.clone(),
            },
            api,
        };
        self.connector
            .open_session(record, &JobLabel::new(self.job_id.clone()))
            .map_err(|e| {
                let cause = e.cause();
                Refusal::failed(cause.step, cause.detail, "")
            })
    }

    fn open_value(
        &self,
        value: &SecretValue,
        binding: &Binding,
        login_id: &str,
    ) -> Result<SecretBytes, Refusal> {
        match value {
            SecretValue::Legacy { value } => Ok(SecretBytes::copy_from(value.expose())),
            SecretValue::Sealed { envelope } => {
                sealed::open(envelope, binding, &self.identity.recipient()).map_err(|detail| {
                    Refusal::failed(
                        Step::Envelope,
                        format!(
                            "{} of {} {}: {detail}",
                            binding.field.as_str(),
                            binding.record_kind,
                            binding.record_id
                        ),
                        login_id,
                    )
                })
            }
        }
    }

    /// Ends every vault session of the job: checks in, revokes the token, drops cached
    /// credentials.
    pub async fn finish(&self) {
        let sessions: Vec<Arc<SecretServerSession>> = {
            let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            map.drain().filter_map(|(_, s)| s.ok()).collect()
        };
        for session in sessions {
            session.finish().await;
        }
    }
}

/// The record's OpenSSH user certificate, for key logins.
fn certificate(record: &JobRecord) -> Option<String> {
    record.unix.as_ref().and_then(|u| u.certificate.clone())
}

/// The record's root delegation, with its own secret when it has one.
fn elevation(record: &JobRecord, own: Option<SecretBytes>) -> Result<Option<Elevation>, Refusal> {
    let options = record.unix.clone().unwrap_or_default();
    let missing = || {
        Refusal::failed(
            Step::Record,
            format!(
                "record {} delegates to root with {} but holds no delegation_password",
                record.record_id,
                options.delegation.as_str()
            ),
            &record.user,
        )
    };
    let sudo = |own: Option<SecretBytes>| -> Result<SudoPassword, Refusal> {
        Ok(match options.delegation_password {
            DelegationPassword::Login => SudoPassword::Login,
            DelegationPassword::None => SudoPassword::None,
            DelegationPassword::Separate => SudoPassword::Own(own.ok_or_else(missing)?),
        })
    };
    Ok(match options.delegation {
        Delegation::None => None,
        Delegation::Sudo => Some(Elevation::Sudo(sudo(own)?)),
        Delegation::SudoSu => Some(Elevation::SudoSu(sudo(own)?)),
        Delegation::Su => Some(Elevation::Su(own.ok_or_else(missing)?)),
    })
}

fn windows_credential(
    record: &JobRecord,
    user: String,
    domain: Option<String>,
    password: SecretBytes,
    tickets: Arc<TicketCache>,
) -> Result<Resolved, Refusal> {
    let (require_signing, min_dialect) = match &record.windows {
        Some(w) => {
            let dialect: SmbDialect = w.min_smb_version.parse().map_err(
                |e: sealscan_protocols::smb2::DialectError| {
                    Refusal::failed(Step::Record, e.to_string(), &user)
                },
            )?;
            (w.require_signing, dialect)
        }
        None => (false, SmbDialect::Smb202),
    };
    let domain = match record.windows.as_ref().map(|w| w.domain_type) {
        Some(WindowsDomainType::None) => None,
        _ => domain.filter(|d| !d.is_empty()),
    };
    let auth = windows_auth(record, domain.as_deref(), tickets)
        .map_err(|e| Refusal::failed(Step::Record, e, &user))?;
    Ok(Resolved::Windows(WindowsCredential {
        user,
        domain,
        password,
        require_signing,
        min_dialect,
        auth,
    }))
}

/// The record's authentication protocol with what Kerberos needs: the realm (the record's
/// own, else its domain in upper case) and the KDCs. The service host is the target's, set
/// per target (`scan.rs`).
fn windows_auth(
    record: &JobRecord,
    domain: Option<&str>,
    tickets: Arc<TicketCache>,
) -> Result<WindowsAuth, String> {
    let Some(w) = &record.windows else {
        return Ok(WindowsAuth::Ntlm);
    };
    if w.auth_protocol == WindowsAuthProtocol::Ntlm {
        return Ok(WindowsAuth::Ntlm);
    }
    let realm = w
        .realm
        .clone()
        .or_else(|| domain.filter(|d| d.contains('.')).map(str::to_owned))
        .ok_or_else(|| {
            format!(
                "record {} uses {} but names no Kerberos realm (the DNS domain, e.g. \
                 CORP.EXAMPLE.COM); a NetBIOS domain is not a realm",
                record.record_id,
                w.auth_protocol.as_str()
            )
        })?;
    let login = KerberosLogin {
        realm: KerberosRealm {
            realm: realm.to_ascii_uppercase(),
            kdcs: w.kdcs.clone(),
        },
        service_host: None,
        tickets,
    };
    Ok(match w.auth_protocol {
        WindowsAuthProtocol::Negotiate => WindowsAuth::Negotiate(login),
        _ => WindowsAuth::Kerberos(login),
    })
}

/// `DOMAIN\user` into its parts; a name without `\` has no domain part.
fn split_domain(name: &str) -> (Option<&str>, &str) {
    match name.split_once('\\') {
        Some((d, u)) if !d.is_empty() => (Some(d), u),
        _ => (None, name),
    }
}

/// Whether the secret holds the record's account. Unix user names are compared exactly;
/// Windows names and domains without case, as Windows compares them, and a secret's
/// `DOMAIN\user` counts as that domain and user. A domain is compared only where both the
/// record and the secret name one. The error says what differs, never the secret's value.
fn check_account(
    record: &JobRecord,
    secret_user: &str,
    secret_domain: Option<&str>,
) -> Result<(), String> {
    let same = |a: &str, b: &str| a.to_lowercase() == b.to_lowercase();
    let user_matches = match record.kind {
        RecordKind::Unix => secret_user == record.user,
        RecordKind::Windows => same(split_domain(secret_user).1, &record.user),
    };
    if !user_matches {
        return Err(format!(
            "holds the account of another user than the record's user {:?}; a vault record logs in only as the account it names (set the record's user to the secret's, or name that user's secret)",
            record.user
        ));
    }
    if record.kind == RecordKind::Windows {
        let local = record
            .windows
            .as_ref()
            .is_some_and(|w| w.domain_type == WindowsDomainType::None);
        let record_domain = record.domain.as_deref().filter(|d| !d.is_empty());
        let theirs = secret_domain.or(split_domain(secret_user).0);
        if let (false, Some(ours), Some(theirs)) = (local, record_domain, theirs)
            && !same(ours, theirs)
        {
            return Err(format!(
                "holds an account of another domain than the record's domain {ours:?}; a vault record logs in only as the account it names"
            ));
        }
    }
    Ok(())
}

fn login_id(record: &JobRecord) -> String {
    match (&record.kind, record.domain.as_deref()) {
        (RecordKind::Windows, Some(d)) if !d.is_empty() => format!("{d}\\{}", record.user),
        _ => record.user.clone(),
    }
}

/// The binding a record's secret must carry, rebuilt from the job's own fields.
pub fn record_binding(record: &JobRecord, field: SecretFieldName) -> Binding {
    Binding::for_record(
        record.kind.as_str(),
        &record.record_id,
        field,
        &record.user,
        record.domain.as_deref(),
        record
            .windows
            .as_ref()
            .is_some_and(|w| w.domain_type == WindowsDomainType::None),
    )
}

/// The binding a vault's web-service password must carry.
pub fn vault_binding(vault: &JobVault) -> Binding {
    Binding::for_vault(
        &vault.vault_id,
        &vault.user,
        vault.domain.as_deref(),
        &vault.url,
    )
}

#[cfg(test)]
mod account_tests {
    use super::*;
    use sealscan_protocols::appliance::WindowsOptions;

    fn record(kind: RecordKind, user: &str, domain: Option<&str>, local: bool) -> JobRecord {
        JobRecord {
            record_id: "r".into(),
            title: "r".into(),
            kind,
            user: user.into(),
            domain: domain.map(Into::into),
            windows: (kind == RecordKind::Windows).then(|| WindowsOptions {
                domain_type: if local {
                    WindowsDomainType::None
                } else {
                    WindowsDomainType::ActiveDirectory
                },
                service_selected: false,
                ntlmv2: true,
                require_signing: false,
                min_smb_version: "2.0.2".into(),
                ..WindowsOptions::default()
            }),
            unix: None,
            login: RecordLogin::Basic { secrets: vec![] },
            address_ranges: vec![],
        }
    }

    #[test]
    fn the_secret_must_hold_the_records_account() {
        let unix = record(RecordKind::Unix, "scan", None, false);
        assert!(check_account(&unix, "scan", None).is_ok());
        // Unix names are case-sensitive: "Scan" is another account.
        let e = check_account(&unix, "Scan", None).unwrap_err();
        assert!(e.starts_with("holds the account of another user than the record's user \"scan\""));
        assert!(!e.contains("Scan"), "the secret's value is not quoted: {e}");

        let win = record(RecordKind::Windows, "Administrator", Some("CORP"), false);
        assert!(check_account(&win, "administrator", Some("corp")).is_ok());
        assert!(check_account(&win, "CORP\\Administrator", None).is_ok());
        assert!(check_account(&win, "Administrator", None).is_ok());
        let e = check_account(&win, "Administrator", Some("OTHER")).unwrap_err();
        assert!(
            e.contains("another domain than the record's domain \"CORP\""),
            "{e}"
        );
        assert!(check_account(&win, "OTHER\\Administrator", None).is_err());
        assert!(check_account(&win, "Guest", Some("CORP")).is_err());
        // A local-account record ignores the secret's domain.
        let local = record(RecordKind::Windows, "admin", Some("HOST"), true);
        assert!(check_account(&local, "admin", Some("CORP")).is_ok());
    }
}
