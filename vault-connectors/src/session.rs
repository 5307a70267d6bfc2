//! One job's session with one vault: one login, each distinct secret fetched once (concurrent
//! targets share the fetch in flight), everything checked in, revoked and wiped at the end.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use sealscan_protocols::results::Step;
use tokio::sync::{Mutex, OnceCell};

use crate::credential::Credential;
use crate::error::{FailureKind, VaultError};
use crate::http::Transport;
use crate::record::{Api, JobLabel, Limits, SecretRef, VaultRecord};
use crate::rest::RestClient;
use crate::soap::SoapClient;
use crate::{VaultConnector, VaultSession};

type Outcome = Result<Arc<Credential>, VaultError>;

enum Backend {
    Rest(RestClient),
    Soap(SoapClient),
}

/// A Secret Server session for one job. Share it (in an `Arc`) among the job's targets and
/// call [`VaultSession::finish`] when the job ends.
pub struct SecretServerSession {
    record: VaultRecord,
    comment: String,
    transport: Transport,
    backend: OnceCell<Result<Backend, VaultError>>,
    cache: StdMutex<HashMap<SecretRef, Arc<OnceCell<Outcome>>>>,
    /// Secrets checked out by this session, to check in at the end.
    checked_out: Mutex<Vec<i64>>,
    finished: AtomicBool,
}

impl SecretServerSession {
    pub fn open(record: VaultRecord, job: &JobLabel, limits: Limits) -> Result<Self, VaultError> {
        let transport = Transport::new(&record.url, &record.tls, limits)?;
        Ok(Self {
            comment: job.comment(),
            record,
            transport,
            backend: OnceCell::new(),
            cache: StdMutex::new(HashMap::new()),
            checked_out: Mutex::new(Vec::new()),
            finished: AtomicBool::new(false),
        })
    }

    /// Logs in once, choosing the API. A failed login is kept: the job's other targets get the
    /// same cause instead of hammering (and perhaps locking) the service account.
    async fn backend(&self) -> Result<&Backend, VaultError> {
        let chosen = self
            .backend
            .get_or_init(|| async {
                let rest = || RestClient::new(self.transport.clone(), &self.record, self.comment.clone());
                let soap = || SoapClient::new(self.transport.clone(), &self.record, self.comment.clone());
                match self.record.api {
                    Api::Rest => {
                        let c = rest();
                        c.ensure_token().await.map(|_| Backend::Rest(c))
                    }
                    Api::Soap => {
                        let c = soap();
                        c.ensure_token().await.map(|_| Backend::Soap(c))
                    }
                    Api::Auto => {
                        let c = rest();
                        match c.ensure_token().await {
                            Ok(()) => Ok(Backend::Rest(c)),
                            Err(VaultError { kind: FailureKind::ApiAbsent { reason, .. }, .. }) => {
                                log::info!(target: "sealscan_vault", "no REST API ({reason}); using the SOAP web service");
                                let s = soap();
                                s.ensure_token().await.map(|_| Backend::Soap(s))
                            }
                            Err(e) => Err(e),
                        }
                    }
                }
            })
            .await;
        chosen.as_ref().map_err(Clone::clone)
    }

    async fn resolve(&self, secret: &SecretRef) -> Outcome {
        let shown = secret.to_string();
        match self.backend().await? {
            Backend::Rest(c) => {
                let found = c.lookup(secret).await?;
                let id = found.summary.id;
                let (credential, owe_check_in) = c.fetch(&found, &shown).await?;
                if owe_check_in {
                    self.checked_out.lock().await.push(id);
                }
                Ok(Arc::new(credential))
            }
            Backend::Soap(c) => {
                let found = c.lookup(secret).await?;
                let (credential, owe_check_in) = c.fetch(&found, &shown).await?;
                if owe_check_in {
                    self.checked_out.lock().await.push(found.id);
                }
                Ok(Arc::new(credential))
            }
        }
    }

    /// Which API the session settled on, once it has logged in.
    pub fn api_in_use(&self) -> Option<Api> {
        match self.backend.get() {
            Some(Ok(Backend::Rest(_))) => Some(Api::Rest),
            Some(Ok(Backend::Soap(_))) => Some(Api::Soap),
            _ => None,
        }
    }
}

impl VaultSession for SecretServerSession {
    async fn credential(&self, secret: &SecretRef) -> Outcome {
        if self.finished.load(Ordering::SeqCst) {
            return Err(VaultError::new(
                Step::SecretLookup,
                FailureKind::Config("the job's vault session has already finished".into()),
            ));
        }
        if matches!(secret, SecretRef::Named { name, .. } if name.is_empty()) {
            return Err(VaultError::new(
                Step::SecretLookup,
                FailureKind::Config("the secret name is empty".into()),
            ));
        }
        if matches!(secret, SecretRef::Id(id) if *id <= 0) {
            return Err(VaultError::new(
                Step::SecretLookup,
                FailureKind::Config("a secret id is a positive number".into()),
            ));
        }
        let cell = {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            cache.entry(secret.clone()).or_default().clone()
        };
        cell.get_or_init(|| self.resolve(secret)).await.clone()
    }

    async fn finish(&self) {
        if self.finished.swap(true, Ordering::SeqCst) {
            return;
        }
        // Credentials held by the cache are wiped as the last reference goes.
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
        let ids = std::mem::take(&mut *self.checked_out.lock().await);
        match self.backend.get() {
            Some(Ok(Backend::Rest(c))) => {
                for id in ids {
                    c.check_in(id).await;
                }
                c.revoke().await;
            }
            Some(Ok(Backend::Soap(c))) => {
                for id in ids {
                    c.check_in(id).await;
                }
                c.forget_token().await;
            }
            _ => {}
        }
    }
}

/// The Secret Server connector.
#[derive(Clone, Debug, Default)]
pub struct SecretServer {
    pub limits: Limits,
}

impl VaultConnector for SecretServer {
    type Session = SecretServerSession;

    fn open_session(
        &self,
        record: VaultRecord,
        job: &JobLabel,
    ) -> Result<SecretServerSession, VaultError> {
        SecretServerSession::open(record, job, self.limits.clone())
    }
}
