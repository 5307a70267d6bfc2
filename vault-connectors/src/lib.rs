//! Vault connectors: fetch target credentials live from a customer vault.
//!
//! The agent opens one [`VaultSession`] per job and vault record, asks it for credentials by
//! secret reference from as many targets as it likes, and calls [`VaultSession::finish`] when
//! the job ends. Thycotic / Delinea Secret Server is the connector provided ([`SecretServer`]),
//! over REST or the legacy SOAP web service. Every failure is a [`VaultError`] whose
//! [`VaultError::cause`] goes into the login result and the journal.

mod body;
pub mod credential;
pub mod error;
mod http;
mod lookup;
pub mod record;
pub mod rest;
mod session;
pub mod soap;

use std::future::Future;
use std::sync::Arc;

pub use credential::Credential;
pub use error::{FailureKind, VaultError};
pub use record::{Api, JobLabel, Limits, SecretRef, TlsSettings, VaultRecord};
pub use sealscan_protocols::secret::SecretBytes;
pub use session::{SecretServer, SecretServerSession};

/// A kind of vault the agent can fetch credentials from.
pub trait VaultConnector: Send + Sync {
    type Session: VaultSession;

    /// Prepares a session for one job. Checks the record (URL, CA bundle) but does not
    /// contact the vault until the first credential is asked for.
    fn open_session(
        &self,
        record: VaultRecord,
        job: &JobLabel,
    ) -> Result<Self::Session, VaultError>;
}

/// One job's use of one vault.
pub trait VaultSession: Send + Sync {
    /// The credential a secret holds. Each distinct secret is fetched once per session;
    /// concurrent callers share the fetch in flight, and its failure.
    fn credential(
        &self,
        secret: &SecretRef,
    ) -> impl Future<Output = Result<Arc<Credential>, VaultError>> + Send;

    /// Ends the job: checks in what was checked out, revokes the token, drops the cache.
    fn finish(&self) -> impl Future<Output = ()> + Send;
}
