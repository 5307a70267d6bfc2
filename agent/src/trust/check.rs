//! The appliance's check of a job against signed statements, before anything is opened or
//! connected to (docs/signed-records.md, "What the appliance checks"). Once a root is pinned,
//! a job record without a statement that passes here is never used.

use super::store::{self, PinnedRoot, Seen, StoreError};
use sealscan_protocols::appliance::{
    JobRecord, JobVault, LoginType, RecordKind, RecordLogin, SecretField, SecretFieldName,
    SecretValue, UnixOptions, WindowsAuthProtocol, WindowsOptions,
};
use sealscan_protocols::envelope::Envelope;
use sealscan_protocols::signing::fields::canonical_dns_name;
use sealscan_protocols::signing::{
    Anchor, JobSignatures, JobSigning, Policy, RecordStatement, Refusal, Signed, SignedUnix,
    SignedVault, SignedWindows, Trust, VaultApi, envelope_hash, fingerprint_text,
};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Size of `seen-records.log` above which opening the gate folds it into `seen.json`.
const COMPACT_LOG_AT: u64 = 1 << 20;

/// A job record that passed: which signed version, signed by whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub record_id: String,
    pub version: u64,
    pub signer_user_id: String,
}

/// The trust material of one job, checked once: who may sign, and the policy.
pub struct JobTrust {
    trust: Trust,
    policy: Policy,
}

/// The state-directory side of signing: present only on an appliance with a pinned root.
pub struct Gate {
    state_dir: PathBuf,
    state: Mutex<(PinnedRoot, Seen)>,
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Refused(#[from] Refusal),
}

fn parse(what: &'static str, text: &str) -> Result<Signed, Refusal> {
    Signed::from_text(text).map_err(|error| Refusal::Invalid { what, error })
}

fn store_refusal(_: StoreError) -> Refusal {
    // The appliance cannot record what it accepted: it must not use it (fail closed).
    Refusal::Unsigned {
        what: "the appliance could not record the accepted state on disk",
    }
}

impl Gate {
    /// The gate of an appliance with a pinned root; None when no root is pinned.
    pub fn open(state_dir: &Path) -> Result<Option<Gate>, StoreError> {
        let Some(root) = store::load_root(state_dir)? else {
            return Ok(None);
        };
        let seen = store::load_seen(state_dir)?;
        // Fold a long log into seen.json now and then (each job otherwise only appends).
        let log_len = std::fs::metadata(store::seen_log_path(state_dir)).map_or(0, |m| m.len());
        if log_len > COMPACT_LOG_AT {
            store::save_seen(state_dir, &seen)?;
        }
        Ok(Some(Gate {
            state_dir: state_dir.to_path_buf(),
            state: Mutex::new((root, seen)),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (PinnedRoot, Seen)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The pinned root's fingerprint, as people compare it.
    pub fn fingerprint(&self) -> String {
        self.lock().0.fingerprint.clone()
    }

    /// Checks a job's trust material: the root declaration against the pinned fingerprint
    /// (then the root changes, each signed by the root before it), the trust list (never
    /// below the highest number accepted, and for an equal number the same list), the
    /// standalone revocations, the policy. New highs are on disk before this returns.
    pub fn prepare(&self, signing: Option<&JobSigning>, now: u64) -> Result<JobTrust, Refusal> {
        let signing = signing.ok_or(Refusal::Unsigned {
            what: "the job carries no trust list or root declaration",
        })?;
        let mut state = self.lock();
        let (root, seen) = &mut *state;
        let declaration = parse("root declaration", &signing.root_declaration)?;
        let mut anchor = match root.anchor() {
            Some(a) => a,
            None => {
                let pinned = root.fingerprint_bytes().ok_or(Refusal::RootDeclaration {
                    why: "the pinned fingerprint does not parse",
                })?;
                match Anchor::from_declaration(&pinned, &declaration) {
                    Ok(a) => a,
                    // The root changed before this appliance saw its declaration: the first
                    // change must then be signed by the pinned key itself (its recovery key
                    // is not known here), and the new root's declaration completes it.
                    Err(refusal) if signing.root_changes.is_empty() => return Err(refusal),
                    Err(_) => Anchor {
                        root_key: root_key_of(&pinned, &signing.root_changes)?,
                        recovery_key: root_key_of(&pinned, &signing.root_changes)?,
                        subscription_id: String::new(),
                    },
                }
            }
        };
        // The control plane cannot know which changes an appliance has applied: changes made
        // under a root other than the current one are skipped (skipping grants nothing).
        for change in &signing.root_changes {
            let change = parse("root change", change)?;
            let under = change.verify().map(|v| v.root).ok();
            if under == Some(anchor.fingerprint()) {
                anchor = anchor.change(&change)?;
            }
        }
        // A changed root must declare itself too (its declaration names the subscription).
        if anchor.fingerprint() != root.fingerprint_bytes().unwrap_or_default() {
            let declared = Anchor::from_declaration(&anchor.fingerprint(), &declaration)?;
            let same_subscription = anchor.subscription_id.is_empty()
                || declared.subscription_id == anchor.subscription_id;
            if declared.recovery_key != anchor.recovery_key || !same_subscription {
                return Err(Refusal::RootDeclaration {
                    why: "the new root's declaration differs from the root change",
                });
            }
            anchor = declared;
        }
        let list = parse("trust list", &signing.trust_list)?;
        let mut trust = anchor.trust_list(&list, seen.trust_list)?;
        let list_hash = hex(&Sha256::digest(list.as_bytes()));
        if trust.number == seen.trust_list
            && seen
                .trust_list_hash
                .as_ref()
                .is_some_and(|h| *h != list_hash)
        {
            return Err(Refusal::TrustListRollback {
                seen: seen.trust_list,
                offered: trust.number,
            });
        }
        let mut revoked = seen.revoked.clone();
        for kept in &seen.revoked {
            if let Some(fp) = sealscan_protocols::signing::parse_fingerprint(kept) {
                trust.revoke(fp);
            }
        }
        for revocation in &signing.revocations {
            let fp = trust.add_revocation(&parse("revocation", revocation)?, now)?;
            revoked.insert(fingerprint_text(&fp));
        }
        let policy = match &signing.policy {
            Some(p) => anchor.policy(&parse("policy statement", p)?, seen.policy)?,
            None if seen.policy > 0 => {
                return Err(Refusal::PolicyRollback {
                    seen: seen.policy,
                    offered: 0,
                });
            }
            None => Policy::default(),
        };
        let new_root = PinnedRoot::from_anchor(&anchor);
        let mut new_seen = seen.clone();
        new_seen.trust_list = trust.number;
        new_seen.trust_list_hash = Some(list_hash);
        new_seen.policy = policy.number;
        new_seen.revoked = revoked;
        if new_root != *root {
            store::save_root(&self.state_dir, &new_root).map_err(store_refusal)?;
            *root = new_root;
        }
        if new_seen != *seen {
            store::save_seen(&self.state_dir, &new_seen).map_err(store_refusal)?;
            *seen = new_seen;
        }
        Ok(JobTrust { trust, policy })
    }

    /// Whether this appliance may add `public_key` (appliance `appliance_id`) as a recipient:
    /// only with an approval a certified Manager signed for exactly that id and key.
    pub fn approve_rewrap(
        &self,
        signing: Option<&JobSigning>,
        approval: Option<&str>,
        appliance_id: &str,
        public_key: &[u8; 32],
        now: u64,
    ) -> Result<(), Refusal> {
        let job = self.prepare(signing, now)?;
        let approval = approval.ok_or(Refusal::Unsigned {
            what: "the new appliance has no signed approval",
        })?;
        let approval = job
            .trust
            .approval(&parse("appliance approval", approval)?, now)?;
        same(approval.appliance_id == appliance_id, "appliance id")?;
        same(approval.public_key == *public_key, "appliance public key")
    }

    /// Checks one target's record, in the documented order; the record's version is on disk
    /// before this returns `Ok`.
    #[allow(clippy::too_many_arguments)]
    pub fn check(
        &self,
        job: &JobTrust,
        signatures: &JobSignatures,
        record: &JobRecord,
        vault: Option<&JobVault>,
        ip: IpAddr,
        port: u16,
        now: u64,
    ) -> Result<Verified, Refusal> {
        let text = signatures
            .statement_for(&record.record_id)
            .ok_or(Refusal::Unsigned {
                what: "the record carries no signed statement",
            })?;
        let signed = parse("record statement", text)?;
        let highest = self.lock().1.records.get(&record.record_id).copied();
        let accepted = job.trust.record(&signed, now, highest)?;
        let statement = &accepted.statement;
        if statement.record_id != record.record_id {
            return Err(Refusal::OtherRecord);
        }
        matches_record(statement, record, vault)?;
        allowed_by_policy(statement, &job.policy)?;
        let service_selected = statement
            .windows
            .as_ref()
            .is_some_and(|w| w.service_selected);
        if !statement.scope_holds(ip) && !service_selected {
            return Err(Refusal::TargetOutsideScope);
        }
        if !statement.port_allowed(port) {
            return Err(Refusal::PortOutsideScope);
        }
        envelopes_signed(statement, record, vault)?;
        let mut state = self.lock();
        let seen = &mut state.1;
        let highest = seen.records.get(&record.record_id).copied().unwrap_or(0);
        if statement.version < highest {
            // Another target of this job accepted a newer version in the meantime.
            return Err(Refusal::VersionRollback {
                seen: highest,
                offered: statement.version,
            });
        }
        if statement.version > highest {
            store::append_record(&self.state_dir, &record.record_id, statement.version)
                .map_err(store_refusal)?;
            seen.records
                .insert(record.record_id.clone(), statement.version);
        }
        Ok(Verified {
            record_id: statement.record_id.clone(),
            version: statement.version,
            signer_user_id: accepted.signer_user_id,
        })
    }
}

/// The public key of the pinned root, read from the first root change made under it (its
/// signer); the change itself is verified afterwards like any other.
fn root_key_of(pinned: &[u8; 32], changes: &[String]) -> Result<[u8; 32], Refusal> {
    let first = changes.first().ok_or(Refusal::RootDeclaration {
        why: "no declaration of the pinned root",
    })?;
    let signed = parse("root change", first)?;
    let verified = signed.verify().map_err(|error| Refusal::Invalid {
        what: "root change",
        error,
    })?;
    if verified.root != *pinned || verified.signer_fingerprint() != *pinned {
        return Err(Refusal::RootDeclaration {
            why: "neither the declaration nor the first root change is the pinned root's",
        });
    }
    Ok(verified.signer)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mismatch(field: &'static str) -> Refusal {
    Refusal::Mismatch { field }
}

fn same(ok: bool, field: &'static str) -> Result<(), Refusal> {
    if ok { Ok(()) } else { Err(mismatch(field)) }
}

/// Canonical form of a name the job carries, empty meaning absent.
fn name(value: Option<&str>) -> Option<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Some(None),
        Some(v) => canonical_dns_name(v).map(Some),
    }
}

fn sorted(values: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = values.into_iter().collect();
    v.sort();
    v.dedup();
    v
}

fn matches_record(
    s: &RecordStatement,
    record: &JobRecord,
    vault: Option<&JobVault>,
) -> Result<(), Refusal> {
    same(s.kind == record.kind, "kind")?;
    same(s.user == record.user, "login user")?;
    same(
        name(record.domain.as_deref()) == Some(s.domain.clone()),
        "domain",
    )?;
    match (&s.unix, &s.windows) {
        (Some(u), None) => unix_matches(u, record.unix.clone().unwrap_or_default())?,
        (None, Some(w)) => windows_matches(w, record.windows.as_ref())?,
        _ => return Err(mismatch("kind")),
    }
    match (&record.login, &s.vault) {
        (RecordLogin::Basic { .. }, None) => same(s.login_type == LoginType::Basic, "login type"),
        (
            RecordLogin::Vault {
                vault_id,
                secret_name,
                folder,
                secret_id,
                unix_auth,
            },
            Some(v),
        ) => {
            same(*vault_id == v.vault_id, "vault")?;
            let name = Some(secret_name.as_str()).filter(|n| !n.is_empty());
            same(name == v.secret_name.as_deref(), "secret name")?;
            same(folder.as_deref() == v.folder.as_deref(), "secret folder")?;
            same(
                secret_id.and_then(|i| u64::try_from(i).ok()) == v.secret_id
                    && secret_id.is_none_or(|i| i > 0),
                "secret id",
            )?;
            if s.kind == RecordKind::Unix {
                same(
                    *unix_auth == s.unix.as_ref().and_then(|u| u.auth),
                    "unix auth",
                )?;
            }
            vault_matches(v, vault)
        }
        _ => Err(mismatch("login type")),
    }
}

fn unix_matches(s: &SignedUnix, job: UnixOptions) -> Result<(), Refusal> {
    same(s.host_key_policy == job.host_key_policy, "host key policy")?;
    let keys = sorted(
        job.known_host_keys
            .iter()
            .map(|k| k.split_whitespace().take(2).collect::<Vec<_>>().join(" ")),
    );
    same(keys == s.known_host_keys, "known host keys")?;
    same(s.delegation == job.delegation, "delegation")?;
    same(
        s.delegation_password == job.delegation_password,
        "delegation password",
    )?;
    let cert = job
        .certificate
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    same(cert == s.certificate.as_deref(), "ssh certificate")
}

fn windows_matches(s: &SignedWindows, job: Option<&WindowsOptions>) -> Result<(), Refusal> {
    let job = job.ok_or(mismatch("windows settings"))?;
    same(s.domain_type == job.domain_type, "domain type")?;
    same(
        s.service_selected == job.service_selected,
        "service-selected domain",
    )?;
    same(s.ntlmv2 == job.ntlmv2, "ntlmv2")?;
    same(s.require_signing == job.require_signing, "require signing")?;
    same(
        s.min_smb_version == job.min_smb_version,
        "minimum SMB version",
    )?;
    same(s.auth_protocol == job.auth_protocol, "auth protocol")?;
    let realm = job
        .realm
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_ascii_uppercase);
    same(realm == s.realm, "realm")?;
    let kdcs = sorted(job.kdcs.iter().map(|k| k.trim().to_ascii_lowercase()));
    same(kdcs == s.kdcs, "kdcs")?;
    let hosts = sorted(
        job.host_names
            .iter()
            .map(|h| canonical_dns_name(h).unwrap_or_else(|| h.clone())),
    );
    same(hosts == s.host_names, "host names")
}

fn vault_matches(s: &SignedVault, job: Option<&JobVault>) -> Result<(), Refusal> {
    let job = job.ok_or(mismatch("vault"))?;
    same(job.vault_id == s.vault_id, "vault")?;
    same(canonical_url(&job.url) == s.url, "vault url")?;
    same(job.verify_tls == s.verify_tls, "vault verify TLS")?;
    let ca = job
        .ca_pem
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(|p| <[u8; 32]>::from(Sha256::digest(p.as_bytes())));
    same(ca == s.ca_sha256, "vault CA")?;
    same(VaultApi::from_name(&job.api) == Some(s.api), "vault API")?;
    same(job.user == s.user, "vault user")?;
    let opt = |v: &Option<String>| v.clone().filter(|x| !x.is_empty());
    same(opt(&job.domain) == s.domain, "vault domain")?;
    same(
        opt(&job.organization) == s.organization,
        "vault organization",
    )
}

/// The signed form of a vault URL: scheme and host in lower case.
pub fn canonical_url(url: &str) -> String {
    let url = url.trim();
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            format!(
                "{}://{}{path}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            )
        }
        None => url.to_string(),
    }
}

fn allowed_by_policy(s: &RecordStatement, policy: &Policy) -> Result<(), Refusal> {
    if let Some(w) = &s.windows
        && w.auth_protocol != WindowsAuthProtocol::Kerberos
        && !policy.allow_ntlm
    {
        return Err(Refusal::NotAllowedByPolicy {
            what: "NTLM without a root-signed policy allowing it",
        });
    }
    if let Some(u) = &s.unix
        && u.host_key_policy == sealscan_protocols::appliance::HostKeyPolicy::Off
        && !policy.allow_host_key_policy_off
    {
        return Err(Refusal::NotAllowedByPolicy {
            what: "host-key policy off without a root-signed policy allowing it",
        });
    }
    if let Some(v) = &s.vault
        && !v.verify_tls
        && !policy.allow_vault_without_tls_verification
    {
        return Err(Refusal::NotAllowedByPolicy {
            what: "vault TLS verification off without a root-signed policy allowing it",
        });
    }
    Ok(())
}

fn field_name(field: SecretFieldName) -> &'static str {
    field.as_str()
}

fn sealed_hash(value: &SecretValue, field: SecretFieldName) -> Result<[u8; 32], Refusal> {
    match value {
        SecretValue::Sealed { envelope } => Envelope::from_text(envelope)
            .map(|e| envelope_hash(&e))
            .map_err(|_| Refusal::EnvelopeNotSigned {
                field: field_name(field),
            }),
        // Plaintext in the job is exactly what signing exists to refuse.
        SecretValue::Legacy { .. } => Err(Refusal::EnvelopeNotSigned {
            field: field_name(field),
        }),
    }
}

fn envelopes_signed(
    s: &RecordStatement,
    record: &JobRecord,
    vault: Option<&JobVault>,
) -> Result<(), Refusal> {
    let check = |field: SecretFieldName, value: &SecretValue| {
        let hash = sealed_hash(value, field)?;
        if s.envelope_for(field) == Some(&hash) {
            Ok(())
        } else {
            Err(Refusal::EnvelopeNotSigned {
                field: field_name(field),
            })
        }
    };
    if let RecordLogin::Basic { secrets } = &record.login {
        for SecretField { field, value } in secrets {
            check(*field, value)?;
        }
    }
    if let (Some(_), Some(v)) = (&s.vault, vault) {
        check(SecretFieldName::VaultPassword, &v.password)?;
    }
    Ok(())
}

/// For `sealscan-agent root show`.
pub fn describe(root: &PinnedRoot) -> String {
    match root.anchor() {
        Some(a) => format!(
            "root {}\nrecovery key {}\nsubscription {}",
            root.fingerprint,
            fingerprint_text(&sealscan_protocols::signing::key_fingerprint(
                &a.recovery_key
            )),
            a.subscription_id
        ),
        None => format!(
            "root {}\n(its declaration has not been seen yet: the first job carries it)",
            root.fingerprint
        ),
    }
}
