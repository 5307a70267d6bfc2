//! The KDC round trips of Kerberos logins and the job's ticket cache: one AS exchange per
//! (user, realm) and one TGS exchange per service principal, for as long as the credential
//! (the job) lives. Tickets and keys are dropped, zeroized, with it.

use super::kdc_dns;
use super::kdc_wire;
use super::kerberos::{self, KdcError, Reply, Ticketed, UserKey};
use crate::secret::SecretBytes;
use picky_krb::messages::{AsRep, TgsRep};
use std::collections::HashMap;
use std::io::ErrorKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// The Kerberos port (RFC 4120 7.2.3).
const KDC_PORT: u16 = 88;
const KDC_TIMEOUT: Duration = Duration::from_secs(5);

/// Why Kerberos could not give a ticket.
#[derive(Debug)]
pub enum KdcFailure {
    /// The KDC's answer (wrong password, disabled, ...).
    Refused(KdcError),
    /// No KDC answered; the detail names what was tried.
    Unreachable(String),
    /// A KDC answered something this client could not use.
    Protocol(String),
}

impl KdcFailure {
    /// Kerberos cannot work here at all (no KDC answers, the domain has no principal for the
    /// host), as opposed to the KDC refusing the account: only then may `negotiate` try NTLM.
    pub fn makes_kerberos_impossible(&self) -> bool {
        match self {
            KdcFailure::Unreachable(_) => true,
            KdcFailure::Refused(e) => e.code == kerberos::code::S_PRINCIPAL_UNKNOWN,
            KdcFailure::Protocol(_) => false,
        }
    }
}

/// Where the realm's KDCs are.
#[derive(Clone, Debug)]
pub struct KerberosRealm {
    /// The realm (the upper-case DNS domain).
    pub realm: String,
    /// KDC addresses (`host` or `host:port`); empty: found through DNS SRV records
    /// (`kdc_dns.rs`), as Windows finds them.
    pub kdcs: Vec<String>,
}

impl KerberosRealm {
    /// The listed KDCs with the Kerberos port where none is given.
    fn listed_kdcs(&self) -> Vec<String> {
        self.kdcs
            .iter()
            .cloned()
            .map(|k| {
                if k.parse::<std::net::SocketAddr>().is_ok()
                    || k.rsplit_once(':')
                        .is_some_and(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok())
                {
                    k
                } else {
                    format!("{k}:{KDC_PORT}")
                }
            })
            .collect()
    }
}

/// One cached ticket, or the KDC's refusal to issue it: filled once, by the first login that
/// needs it, while the others that need the same one wait. A refusal is kept so that a wrong
/// password costs one AS exchange per job, not one per target (each would count towards the
/// account's lockout); a KDC that did not answer is not kept.
type Slot = Arc<Mutex<Option<Result<Arc<Ticketed>, KdcError>>>>;

/// The job's tickets, and how many KDC round trips they cost.
#[derive(Default)]
pub struct TicketCache {
    tgts: std::sync::Mutex<HashMap<(String, String), Slot>>,
    services: std::sync::Mutex<HashMap<(String, String, String), Slot>>,
    /// KDCs found through DNS per realm, or why none were: one discovery per realm per job.
    discovered: Mutex<HashMap<String, Result<Vec<String>, String>>>,
    round_trips: AtomicUsize,
    /// The KDC that last answered, for the result.
    last_kdc: std::sync::Mutex<Option<String>>,
}

impl std::fmt::Debug for TicketCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketCache")
            .field("round_trips", &self.round_trips())
            .finish_non_exhaustive()
    }
}

impl TicketCache {
    /// KDC round trips made so far.
    pub fn round_trips(&self) -> usize {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// The KDC that last answered (`address:port`), if one did.
    pub fn last_kdc(&self) -> Option<String> {
        self.last_kdc
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The service ticket for `spn`, from the cache or through AS and TGS exchanges.
    pub async fn service_ticket(
        &self,
        realm: &KerberosRealm,
        user: &str,
        password: &SecretBytes,
        spn: &str,
    ) -> Result<Arc<Ticketed>, KdcFailure> {
        let key = (
            user.to_ascii_lowercase(),
            realm.realm.to_ascii_uppercase(),
            spn.to_ascii_lowercase(),
        );
        let slot = slot(&self.services, key);
        let mut slot = slot.lock().await;
        if let Some(kept) = slot.as_ref() {
            return kept.clone().map_err(KdcFailure::Refused);
        }
        let tgt = self.tgt(realm, user, password).await?;
        let req = kerberos::tgs_req(&tgt, spn).map_err(KdcFailure::Protocol)?;
        let answer = self.exchange(realm, &req).await?;
        let ticket = match kerberos::decode::<TgsRep>(&answer).map_err(KdcFailure::Protocol)? {
            Reply::Ok(rep) => {
                Arc::new(kerberos::read_tgs_rep(rep, &tgt).map_err(KdcFailure::Protocol)?)
            }
            Reply::Error(e) => {
                *slot = Some(Err(e.clone()));
                return Err(KdcFailure::Refused(e));
            }
        };
        *slot = Some(Ok(Arc::clone(&ticket)));
        Ok(ticket)
    }

    async fn tgt(
        &self,
        realm: &KerberosRealm,
        user: &str,
        password: &SecretBytes,
    ) -> Result<Arc<Ticketed>, KdcFailure> {
        let key = (user.to_ascii_lowercase(), realm.realm.to_ascii_uppercase());
        let slot = slot(&self.tgts, key);
        let mut slot = slot.lock().await;
        if let Some(kept) = slot.as_ref() {
            return kept.clone().map_err(KdcFailure::Refused);
        }
        // The first request goes without pre-authentication: the KDC answers with the etype
        // and salt to derive the key from the password (or with the account's state).
        let first = kerberos::as_req(user, &realm.realm, None).map_err(KdcFailure::Protocol)?;
        let answer = self.exchange(realm, &first).await?;
        let (suite, salt) = match kerberos::decode::<AsRep>(&answer).map_err(KdcFailure::Protocol)? {
            Reply::Error(e) if e.code == kerberos::code::PREAUTH_REQUIRED => {
                e.preauth.clone().ok_or_else(|| {
                    KdcFailure::Protocol("the KDC asked for pre-authentication without saying how (no AES etype in ETYPE-INFO2)".into())
                })?
            }
            Reply::Error(e) => {
                *slot = Some(Err(e.clone()));
                return Err(KdcFailure::Refused(e));
            }
            Reply::Ok(_) => {
                return Err(KdcFailure::Protocol(
                    "the KDC issued a TGT without pre-authentication; this client requires it".into(),
                ));
            }
        };
        let user_key =
            UserKey::derive(password.expose(), suite, &salt).map_err(KdcFailure::Protocol)?;
        let second =
            kerberos::as_req(user, &realm.realm, Some(&user_key)).map_err(KdcFailure::Protocol)?;
        let answer = self.exchange(realm, &second).await?;
        let tgt = match kerberos::decode::<AsRep>(&answer).map_err(KdcFailure::Protocol)? {
            Reply::Ok(rep) => {
                Arc::new(kerberos::read_as_rep(rep, &user_key).map_err(KdcFailure::Protocol)?)
            }
            Reply::Error(e) => {
                *slot = Some(Err(e.clone()));
                return Err(KdcFailure::Refused(e));
            }
        };
        *slot = Some(Ok(Arc::clone(&tgt)));
        Ok(tgt)
    }

    /// The realm's KDCs: the record's, else those its DNS SRV records name.
    async fn kdcs(&self, realm: &KerberosRealm) -> Result<Vec<String>, KdcFailure> {
        if !realm.kdcs.is_empty() {
            return Ok(realm.listed_kdcs());
        }
        let key = realm.realm.to_ascii_uppercase();
        let mut discovered = self.discovered.lock().await;
        if let Some(found) = discovered.get(&key) {
            return found.clone().map_err(KdcFailure::Unreachable);
        }
        let found = kdc_dns::discover(&key)
            .await
            .map(|a| a.iter().map(ToString::to_string).collect::<Vec<_>>());
        discovered.insert(key, found.clone());
        found.map_err(KdcFailure::Unreachable)
    }

    /// One request to the first KDC that answers.
    async fn exchange(&self, realm: &KerberosRealm, req: &[u8]) -> Result<Vec<u8>, KdcFailure> {
        let mut tried = Vec::new();
        for kdc in self.kdcs(realm).await? {
            match tokio::time::timeout(KDC_TIMEOUT, round_trip(&kdc, req)).await {
                Ok(Ok(answer)) => {
                    self.round_trips.fetch_add(1, Ordering::Relaxed);
                    *self.last_kdc.lock().unwrap_or_else(|e| e.into_inner()) = Some(kdc);
                    return Ok(answer);
                }
                Ok(Err(e)) => tried.push(format!("{kdc}: {e}")),
                Err(_) => tried.push(format!("{kdc}: no answer within {KDC_TIMEOUT:?}")),
            }
        }
        Err(KdcFailure::Unreachable(format!(
            "no KDC reachable for realm {} ({})",
            realm.realm,
            tried.join("; ")
        )))
    }
}

/// The slot for `key`, made empty the first time: the map is locked only for this lookup, so
/// logins needing different tickets never wait for each other's KDC round trips.
fn slot<K: std::hash::Hash + Eq>(map: &std::sync::Mutex<HashMap<K, Slot>>, key: K) -> Slot {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    Arc::clone(map.entry(key).or_default())
}

/// Kerberos over TCP: each message behind its 4-byte big-endian length.
async fn round_trip(kdc: &str, req: &[u8]) -> std::io::Result<Vec<u8>> {
    let framed =
        kdc_wire::frame(req).map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, e))?;
    let mut stream = TcpStream::connect(kdc).await?;
    stream.write_all(&framed).await?;
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).await?;
    let len =
        kdc_wire::reply_len(head).map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))?;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    Ok(body)
}
