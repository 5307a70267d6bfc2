//! The control plane's store. Everything SQL lives under this module; the rest of the crate
//! sees `Store::read`/`Store::write` and the typed operations on `Tx`. SQLite now (WAL,
//! numbered migrations applied at open); another backend would implement the same `Tx`
//! operations.
mod appliances;
mod log;
mod migrations;
mod records;
mod scans;
mod sessions;
mod subscription;
mod users;

pub use appliances::{ApplianceRow, ApplianceState, EnrollmentToken, NewAppliance, SealedSecret};
pub use log::{AuditEntry, OutboxEmail};
pub use records::{
    NcsmRow, NcsmState, RecordRow, SecretOwner, VAULT_KIND, VaultRow, WindowsSettings,
};
pub use scans::{JobRow, JobTargetRow, ResultRow, ScanPorts, ScanRow, kind_str};
pub use sessions::{SessionRow, SessionScope};

use rusqlite::{Connection, Transaction};
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the database schema is version {found}, newer than this build knows ({known})")]
    TooNew { found: i64, known: i64 },
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub struct Store {
    conn: Mutex<Connection>,
}

/// One transaction; dropped without commit means nothing changed.
pub struct Tx<'a> {
    tx: Transaction<'a>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // The claim and appliance-authentication paths use cached statements (a prepare
        // parses and plans the SQL each time); the default cache of 16 would churn.
        conn.set_prepared_statement_cache_capacity(64);
        migrations::apply(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    pub fn schema_version(&self) -> Result<i64> {
        let conn = self.lock();
        migrations::current_version(&conn)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (the transaction rolls back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in a transaction that is committed only when `f` returns Ok.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let mut conn = self.lock();
        // IMMEDIATE: the write lock is taken up front, waiting (busy_timeout) for another
        // process's writer such as an operator command run beside the server. A deferred
        // transaction that read first would fail with SQLITE_BUSY on its first write instead.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| E::from(StoreError::from(e)))?;
        let tx = Tx { tx };
        let out = f(&tx)?;
        tx.tx.commit().map_err(|e| E::from(StoreError::from(e)))?;
        Ok(out)
    }

    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        // Reads use a transaction too, so they see one consistent snapshot.
        self.write(f)
    }
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}
