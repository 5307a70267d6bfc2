//! The control plane's store. Everything SQL lives under this module; the rest of the crate
//! sees `Store::read`/`Store::write` and the typed operations on `Tx`. SQLite now (WAL,
//! numbered migrations applied at open); another backend would implement the same `Tx`
//! operations.
mod appliances;
mod error;
mod log;
mod migrations;
mod records;
mod scans;
mod sessions;
mod subscription;
mod tx;
mod units;
mod users;

pub use appliances::{ApplianceRow, ApplianceState, EnrollmentToken, NewAppliance, SealedSecret};
pub use error::{Result, StoreError};
pub use log::{AuditEntry, OutboxEmail};
pub use records::{
    NcsmRow, NcsmState, RecordRow, SecretOwner, VAULT_KIND, VaultRow, WindowsSettings,
};
pub use scans::{JobRow, JobTargetRow, ResultRow, ScanPorts, ScanRow, kind_str};
pub use sessions::{SessionRow, SessionScope};
pub use tx::Tx;
pub use units::UnitOwner;

use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::sync::Mutex;

pub struct Store {
    conn: Mutex<Connection>,
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
        // IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
        // writes cannot wait for another process's write (WAL answers SQLITE_BUSY at once,
        // busy_timeout or not), and operator commands on the data directory run beside `serve`.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| E::from(StoreError::from(e)))?;
        let tx = Tx::new(tx);
        let out = f(&tx)?;
        tx.commit().map_err(|e| E::from(StoreError::from(e)))?;
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
