//! What the simulator remembers between requests: tokens, refresh tokens, check-outs and
//! the comments given in a session.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::Rng;
use rand::distributions::Alphanumeric;

use crate::faults::Faults;
use crate::log::RequestLog;
use crate::seed::{Seed, User};

pub(crate) struct Settings {
    pub(crate) app_root: String,
    pub(crate) token_ttl: Duration,
    pub(crate) refresh_tokens: bool,
    pub(crate) health_pascal_key: bool,
    pub(crate) rest_api: bool,
}

pub(crate) struct Shared {
    pub(crate) seed: Seed,
    pub(crate) settings: Settings,
    pub(crate) faults: Faults,
    pub(crate) log: RequestLog,
    store: Mutex<Store>,
}

struct Token {
    user: usize,
    issued: Instant,
    calls: usize,
    revoked: bool,
}

struct Refresh {
    user: usize,
    issued: Instant,
}

#[derive(Default)]
pub(crate) struct Store {
    tokens: HashMap<String, Token>,
    refresh: HashMap<String, Refresh>,
    /// secret id -> index of the user holding the check-out
    pub(crate) checkouts: HashMap<i64, usize>,
    /// (token, secret id) pairs for which a view comment was given
    pub(crate) comments: HashSet<(String, i64)>,
}

/// Why a bearer token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenRefusal {
    /// Missing, malformed or never issued: 401.
    Unknown,
    /// Expired, revoked or used up: 403.
    Expired,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) user: usize,
    pub(crate) token: String,
}

pub(crate) fn new_token(prefix: &str) -> String {
    let body: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    format!("{prefix}{body}")
}

impl Shared {
    pub(crate) fn new(seed: Seed, settings: Settings, log: RequestLog) -> Self {
        Shared {
            seed,
            settings,
            faults: Faults::default(),
            log,
            store: Mutex::default(),
        }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn user(&self, index: usize) -> Option<&User> {
        self.seed.users.get(index)
    }

    /// Finds the user a login names. The domain must be given as its own field: a local
    /// account takes no domain (or "(local)"), a domain account needs its domain.
    pub(crate) fn find_login(
        &self,
        username: &str,
        password: &str,
        domain: Option<&str>,
    ) -> Option<usize> {
        let domain = domain
            .map(str::trim)
            .filter(|d| !d.is_empty() && !d.eq_ignore_ascii_case("(local)"));
        self.seed.users.iter().position(|u| {
            u.username.eq_ignore_ascii_case(username)
                && u.password == password
                && match (&u.domain, domain) {
                    (None, None) => true,
                    (Some(ud), Some(d)) => ud.eq_ignore_ascii_case(d),
                    _ => false,
                }
        })
    }

    /// Issues an access token (and a refresh token when enabled) for `user`.
    pub(crate) fn issue(&self, user: usize) -> (String, Option<String>) {
        let access = new_token("AgJ");
        let refresh = self.settings.refresh_tokens.then(|| new_token("AgK"));
        let mut store = self.store();
        store.tokens.insert(
            access.clone(),
            Token {
                user,
                issued: Instant::now(),
                calls: 0,
                revoked: false,
            },
        );
        if let Some(r) = &refresh {
            store.refresh.insert(
                r.clone(),
                Refresh {
                    user,
                    issued: Instant::now(),
                },
            );
        }
        (access, refresh)
    }

    /// Consumes a refresh token: each works once, and lives for the TTL plus 15 minutes.
    pub(crate) fn redeem_refresh(&self, refresh: &str) -> Option<usize> {
        let entry = self.store().refresh.remove(refresh)?;
        let lifetime = self.settings.token_ttl + Duration::from_secs(15 * 60);
        (entry.issued.elapsed() < lifetime).then_some(entry.user)
    }

    /// Checks a bearer token and counts the call against it.
    pub(crate) fn use_token(&self, token: &str) -> Result<Caller, TokenRefusal> {
        let limit = self.faults.expire_after_calls();
        let ttl = self.settings.token_ttl;
        let mut store = self.store();
        let entry = store.tokens.get_mut(token).ok_or(TokenRefusal::Unknown)?;
        let used_up = limit.is_some_and(|n| entry.calls >= n);
        if entry.revoked || entry.issued.elapsed() >= ttl || used_up {
            return Err(TokenRefusal::Expired);
        }
        entry.calls += 1;
        Ok(Caller {
            user: entry.user,
            token: token.to_string(),
        })
    }

    /// Revokes a token (oauth-expiration). Unknown tokens are refused like any other call.
    pub(crate) fn revoke(&self, token: &str) {
        if let Some(entry) = self.store().tokens.get_mut(token) {
            entry.revoked = true;
        }
    }
}
