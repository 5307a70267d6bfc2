//! Windows logins over SMB2/3 with NTLMv2 or Kerberos.
//!
//! One TCP connection per attempt: NEGOTIATE (dialects from the record's minimum up to
//! 3.1.1), SESSION_SETUP with NTLMSSP NEGOTIATE/CHALLENGE/AUTHENTICATE or with a Kerberos
//! AP-REQ (tickets from the job's cache, `kdc.rs`), then a TREE_CONNECT to IPC$ as the proof
//! of session, signed when the record or the server requires it and always with Kerberos.
//! The messages come from the sans-I/O codecs in `sealscan_protocols::{smb2, ntlm, spnego}`
//! and `kerberos.rs`; this module only moves bytes and turns what the server and the KDC
//! said into a `LoginOutcome`.

mod exchange;
mod kdc;
mod kdc_dns;
mod kdc_wire;
mod kerberos;
mod srv_order;
mod transport;

pub use kdc::{KerberosRealm, TicketCache};
pub use kdc_dns::use_dns_servers;

use super::Target;
pub use exchange::Failure;
use exchange::Session;
use sealscan_protocols::results::{LoginKind, LoginOutcome, Status, Step};
use sealscan_protocols::secret::SecretBytes;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

pub use sealscan_protocols::smb2::Dialect as SmbDialect;

/// A resolved Windows credential. The password is UTF-8 inside a zeroizing buffer.
#[derive(Debug)]
pub struct WindowsCredential {
    pub user: String,
    /// NetBIOS domain for a domain account; `None` for a local account of the target.
    pub domain: Option<String>,
    pub password: SecretBytes,
    /// The record demands SMB signing even when the server does not.
    pub require_signing: bool,
    /// The lowest dialect the record allows.
    pub min_dialect: SmbDialect,
    /// NTLMv2, Kerberos, or Kerberos falling back to NTLMv2.
    pub auth: WindowsAuth,
}

/// The authentication protocol of a Windows record.
#[derive(Clone, Debug, Default)]
pub enum WindowsAuth {
    /// NTLMv2 only: local accounts and NetBIOS domains, where Kerberos cannot work.
    #[default]
    Ntlm,
    /// Kerberos only: never an NTLM message, whatever the server asks.
    Kerberos(KerberosLogin),
    /// Kerberos first; NTLMv2 where Kerberos is not possible (no KDC reachable, no service
    /// principal for the host). A rogue server can force that fallback, which is why it is
    /// an explicit choice.
    Negotiate(KerberosLogin),
}

/// What a Kerberos login needs beyond the user and password.
#[derive(Clone, Debug)]
pub struct KerberosLogin {
    pub realm: KerberosRealm,
    /// The host name for the service principal `cifs/<name>`, from the record; `None`: the
    /// target's own name as the job gives it. Never what the server says about itself.
    pub service_host: Option<String>,
    /// The job's tickets, shared by every login of the job with this credential.
    pub tickets: std::sync::Arc<TicketCache>,
}

impl WindowsCredential {
    /// `DOMAIN\user`, or `user` for a local account.
    pub fn login_id(&self) -> String {
        match &self.domain {
            Some(d) if !d.is_empty() => format!("{d}\\{}", self.user),
            _ => self.user.clone(),
        }
    }
}

/// Sets the Kerberos service host of `cred`: the job's host name for a target given by name
/// (its forward DNS gave the address connected to); for a target given by address, the
/// first of the record's `host_names` whose forward DNS gives that address. Never reverse
/// DNS, never what the server says about itself: a rogue host naming a real server would get
/// a ticket for that server to relay.
pub async fn choose_service_host(
    cred: &mut WindowsCredential,
    job_host: &str,
    host_names: &[String],
) {
    let login = match &mut cred.auth {
        WindowsAuth::Kerberos(k) | WindowsAuth::Negotiate(k) => k,
        WindowsAuth::Ntlm => return,
    };
    let Ok(address) = job_host.parse::<std::net::IpAddr>() else {
        login.service_host = Some(job_host.to_string());
        return;
    };
    for name in host_names {
        if let Ok(found) = tokio::net::lookup_host((name.as_str(), 0)).await
            && found.into_iter().any(|a| a.ip() == address)
        {
            login.service_host = Some(name.clone());
            return;
        }
    }
}

/// What the server says about itself before anyone authenticates: the chosen dialect and
/// the names and OS version from its NTLM CHALLENGE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerInfo {
    pub dialect: Option<SmbDialect>,
    pub signing_required: bool,
    pub netbios_name: Option<String>,
    pub netbios_domain: Option<String>,
    pub dns_name: Option<String>,
    pub dns_domain: Option<String>,
    pub dns_tree: Option<String>,
    /// e.g. `6.1 build 0`, from the CHALLENGE version field.
    pub os_version: Option<String>,
}

impl ServerInfo {
    /// The facts reported with a result.
    pub fn facts(&self) -> BTreeMap<String, String> {
        let mut f = BTreeMap::new();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                f.insert(k.to_string(), v.clone());
            }
        };
        put("server_netbios_name", &self.netbios_name);
        put("server_netbios_domain", &self.netbios_domain);
        put("server_dns_name", &self.dns_name);
        put("server_dns_domain", &self.dns_domain);
        put("server_dns_tree", &self.dns_tree);
        put("os_version", &self.os_version);
        put("smb_dialect", &self.dialect.map(|d| d.to_string()));
        f
    }
}

/// Negotiates and stops after the server's CHALLENGE, without authenticating: learns the
/// server's NetBIOS domain so the agent can pick a domain record for a target no record
/// names by IP.
pub async fn probe_domain(target: &Target) -> Result<ServerInfo, Failure> {
    let progress = Mutex::new(Step::Connect);
    bounded(target, &progress, async {
        let mut s = Session::connect(target, &progress).await?;
        s.negotiate(SmbDialect::Smb202, false, NtlmWrapping::Auto)
            .await?;
        s.challenge().await?;
        Ok(s.info.clone())
    })
    .await
}

/// How the NTLM messages travel in SESSION_SETUP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NtlmWrapping {
    /// SPNEGO when the server's NEGOTIATE hint offers NTLMSSP (as Windows clients do),
    /// raw NTLMSSP otherwise.
    #[default]
    Auto,
    /// Raw NTLMSSP always, for servers whose SPNEGO handling gets in the way.
    Raw,
}

/// Logs in to `target` with `cred` and reports the outcome with its QID: 70053 when the
/// session is proven, 105015 otherwise, with the step and the server's NT STATUS.
pub async fn login(target: &Target, cred: &WindowsCredential) -> LoginOutcome {
    login_with(target, cred, NtlmWrapping::Auto).await
}

/// [`login`] with the NTLM wrapping chosen by the caller.
pub async fn login_with(
    target: &Target,
    cred: &WindowsCredential,
    wrapping: NtlmWrapping,
) -> LoginOutcome {
    let (kerberos, fallback) = match &cred.auth {
        WindowsAuth::Ntlm => (None, false),
        WindowsAuth::Kerberos(k) => (Some(k), false),
        WindowsAuth::Negotiate(k) => (Some(k), true),
    };
    if let Some(k) = kerberos {
        match kerberos_login(target, cred, k).await {
            Err(f) if fallback && f.kerberos_impossible => {
                let mut out = ntlm_login(target, cred, wrapping).await;
                out.facts
                    .insert("kerberos_not_possible".into(), f.failure.detail);
                return out;
            }
            other => return other.unwrap_or_else(|f| f.outcome),
        }
    }
    ntlm_login(target, cred, wrapping).await
}

/// A passed login with what the session showed.
fn passed(s: &Session<'_>, login_id: String) -> LoginOutcome {
    let mut out = LoginOutcome::passed(LoginKind::Windows, login_id, s.method());
    out.facts = s.info.facts();
    out.facts
        .insert("smb_signing".into(), s.signing_fact().into());
    out.facts
        .insert("security_token".into(), s.token_fact().into());
    out
}

/// A Kerberos attempt that did not pass, and whether Kerberos was impossible (so that a
/// `negotiate` record may try NTLMv2) rather than refused.
struct KerberosFailure {
    failure: Failure,
    kerberos_impossible: bool,
    outcome: LoginOutcome,
}

async fn kerberos_login(
    target: &Target,
    cred: &WindowsCredential,
    k: &KerberosLogin,
) -> Result<LoginOutcome, KerberosFailure> {
    let principal = format!("{}@{}", cred.user, k.realm.realm.to_ascii_uppercase());
    let host = k.service_host.as_deref().unwrap_or(&target.host);
    let spn = format!("cifs/{host}");
    let progress = Mutex::new(Step::Authentication);
    let impossible = AtomicBool::new(false);
    let result = bounded(target, &progress, async {
        let ticket = k
            .tickets
            .service_ticket(&k.realm, &cred.user, &cred.password, &spn)
            .await
            .map_err(|f| {
                impossible.store(f.makes_kerberos_impossible(), Ordering::Relaxed);
                kdc_failure(f, &principal, &spn)
            })?;
        *progress.lock().unwrap_or_else(|e| e.into_inner()) = Step::Connect;
        let mut s = Session::connect(target, &progress).await?;
        s.negotiate(cred.min_dialect, true, NtlmWrapping::Auto)
            .await?;
        s.kerberos_setup(&ticket).await?;
        s.tree_connect(&target.host).await?;
        Ok(s)
    })
    .await;
    match result {
        Ok(s) => {
            let mut out = passed(&s, principal);
            out.facts.insert("service_principal".into(), spn);
            out.facts.insert(
                "kdc_round_trips".into(),
                k.tickets.round_trips().to_string(),
            );
            if let Some(kdc) = k.tickets.last_kdc() {
                let from = if k.realm.kdcs.is_empty() {
                    "DNS SRV"
                } else {
                    "record"
                };
                out.facts
                    .insert("kdc".into(), format!("{kdc} (from the {from})"));
            }
            Ok(out)
        }
        Err(f) => {
            let mut out = LoginOutcome::not_passed(
                LoginKind::Windows,
                f.status,
                f.step,
                f.detail.clone(),
                principal,
            );
            out.facts = f.info.as_ref().map(|i| i.facts()).unwrap_or_default();
            out.facts.insert("service_principal".into(), spn);
            Err(KerberosFailure {
                failure: f,
                kerberos_impossible: impossible.load(Ordering::Relaxed),
                outcome: out,
            })
        }
    }
}

fn kdc_failure(f: kdc::KdcFailure, principal: &str, spn: &str) -> Failure {
    let detail = match f {
        kdc::KdcFailure::Refused(e) => e.cause(principal, spn),
        kdc::KdcFailure::Unreachable(d) => d,
        kdc::KdcFailure::Protocol(d) => format!("Kerberos failed: {d}"),
    };
    Failure::failed(Step::Authentication, detail)
}

async fn ntlm_login(
    target: &Target,
    cred: &WindowsCredential,
    wrapping: NtlmWrapping,
) -> LoginOutcome {
    let login_id = cred.login_id();
    let progress = Mutex::new(Step::Connect);
    let result = bounded(target, &progress, async {
        let mut s = Session::connect(target, &progress).await?;
        s.negotiate(cred.min_dialect, cred.require_signing, wrapping)
            .await?;
        s.challenge().await?;
        s.authenticate(cred).await?;
        s.tree_connect(&target.host).await?;
        Ok(s)
    })
    .await;
    match result {
        Ok(s) => {
            let mut out = passed(&s, login_id);
            if let Some(note) = domain_mismatch(cred, &s.info) {
                out.facts.insert("domain_mismatch".into(), note);
            }
            out
        }
        Err(f) => {
            let mut out =
                LoginOutcome::not_passed(LoginKind::Windows, f.status, f.step, f.detail, login_id);
            out.facts = f.info.map(|i| i.facts()).unwrap_or_default();
            out
        }
    }
}

/// A note when the record names a domain the server did not name as its own (NetBIOS or
/// DNS domain, or its computer name, i.e. its local accounts). Standalone servers accept any
/// domain name for their local accounts, and trusted domains are legitimately different, so
/// this is reported, not refused.
fn domain_mismatch(cred: &WindowsCredential, info: &ServerInfo) -> Option<String> {
    let wanted = cred
        .domain
        .as_deref()
        .filter(|d| !d.is_empty() && *d != ".")?;
    let known = [
        &info.netbios_domain,
        &info.netbios_name,
        &info.dns_domain,
        &info.dns_tree,
    ];
    if known
        .iter()
        .filter_map(|k| k.as_deref())
        .any(|k| k.eq_ignore_ascii_case(wanted))
    {
        return None;
    }
    Some(format!(
        "the record's domain {wanted} is not the server's ({}); the server may have \
         authenticated a local or trusted-domain account of that name",
        info.netbios_domain.as_deref().unwrap_or("unknown")
    ))
}

/// Runs `attempt` within the target's timeout; on expiry, reports the step it was at.
async fn bounded<T>(
    target: &Target,
    progress: &Mutex<Step>,
    attempt: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(target.timeout, attempt).await {
        Ok(r) => r,
        Err(_) => {
            let step = *progress.lock().unwrap_or_else(|e| e.into_inner());
            Err(Failure {
                status: Status::TimedOut,
                step,
                detail: format!(
                    "timeout: no answer from {}:{} within {:?} during {step}",
                    target.host, target.port, target.timeout
                ),
                info: None,
            })
        }
    }
}
