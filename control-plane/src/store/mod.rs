//! The control plane's store. Everything SQL lives under this module; the rest of the crate
//! sees `Store::read`/`Store::write` and the typed operations on `Tx`. Two backends: SQLite in
//! the data directory (the default: WAL, IMMEDIATE transactions) and PostgreSQL named by a
//! `postgres://` URL (several replicas on one database); numbered migrations from one list
//! are applied at open on either.
mod appliances;
mod error;
mod log;
mod migrations;
mod pg_tls;
mod postgres;
mod records;
mod scans;
mod sessions;
mod signatures;
mod subscription;
mod tx;
mod units;
mod users;
mod value;

pub use appliances::{ApplianceRow, ApplianceState, EnrollmentToken, NewAppliance, SealedSecret};
pub use error::{Result, StoreError};
pub use log::{AuditEntry, OutboxEmail};
pub use postgres::PgTarget;
pub use records::{
    NcsmRow, NcsmState, RecordRow, SecretOwner, VAULT_KIND, VaultRow, WindowsSettings,
};
pub use scans::{JobRow, JobTargetRow, ResultRow, ScanPorts, ScanRow, kind_str};
pub use sessions::{SessionRow, SessionScope};
pub use signatures::{REVOCATION, ROOT_DECLARATION, TRUST_LIST};
pub use tx::{Dialect, Tx};
pub use units::UnitOwner;

use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::sync::Mutex;

pub struct Store {
    backend: Backend,
}

/// Work that runs on one replica at a time, whichever it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Singleton {
    /// The NCSM migration (every legacy secret into envelopes).
    NcsmMigration,
}

/// Held while singleton work runs; dropping it (or the process dying) lets another replica
/// take the work over.
pub struct SingletonGuard {
    _held: Option<postgres::PgConn>,
}

enum Backend {
    Sqlite(Mutex<Connection>),
    Postgres(Box<postgres::Pg>),
}

/// Where the rows live: a SQLite file, or a PostgreSQL database.
#[derive(Debug)]
pub enum Location {
    Sqlite(std::path::PathBuf),
    Postgres(PgTarget),
}

impl Location {
    /// A database URL: `postgres://...` (or `postgresql://`), or a SQLite file as
    /// `sqlite:PATH` or a plain path.
    pub fn parse(url: &str) -> Result<Location> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(PgTarget::parse(url)?));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(StoreError::Config(
                "the database URL must be postgres://USER@HOST:PORT/DATABASE or sqlite:PATH".into(),
            ));
        }
        Ok(Location::Sqlite(path.into()))
    }
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // Every statement is cached per connection (a prepare parses and plans the SQL each
        // time); the claim and appliance-authentication paths run many per second.
        conn.set_prepared_statement_cache_capacity(128);
        migrations::apply_sqlite(&mut conn)?;
        Ok(Store {
            backend: Backend::Sqlite(Mutex::new(conn)),
        })
    }

    /// Connects to PostgreSQL and applies the migrations this build knows.
    pub fn open_postgres(target: PgTarget) -> Result<Store> {
        let pg = postgres::Pg::connect(target)?;
        {
            let mut guard = pg.lock()?;
            if let Some(conn) = guard.as_mut() {
                migrations::apply_postgres(conn)?;
            }
        }
        Ok(Store {
            backend: Backend::Postgres(Box::new(pg)),
        })
    }

    pub fn open_location(location: Location) -> Result<Store> {
        match location {
            Location::Sqlite(path) => Store::open(&path),
            Location::Postgres(target) => Store::open_postgres(target),
        }
    }

    /// Calls `f` when another replica on the same database queues a job (the appliance it
    /// is for, or None for any), so long polls here wake without waiting for their next
    /// poll. SQLite has one process, which wakes its own: nothing to listen to.
    pub fn on_job_queued_elsewhere(&self, f: impl Fn(Option<&str>) + Send + Sync + 'static) {
        if let Backend::Postgres(pg) = &self.backend {
            pg.listen(Box::new(f));
        }
    }

    /// Claims `work` for this process unless another replica on the same database runs it
    /// (None then). On PostgreSQL a session advisory lock on a connection of its own, which
    /// PostgreSQL releases when the holder's connection ends, a SIGKILL included; SQLite has
    /// one process, whose callers keep their own in-process guard.
    pub fn try_singleton(&self, work: Singleton) -> Result<Option<SingletonGuard>> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(Some(SingletonGuard { _held: None })),
            Backend::Postgres(pg) => {
                let key = match work {
                    Singleton::NcsmMigration => postgres::NCSM_LOCK,
                };
                Ok(pg
                    .try_session_lock(key)?
                    .map(|conn| SingletonGuard { _held: Some(conn) }))
            }
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    pub fn schema_version(&self) -> Result<i64> {
        self.read(migrations::current_version)
    }

    /// Runs `f` in a transaction that is committed only when `f` returns Ok.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        match &self.backend {
            Backend::Sqlite(conn) => {
                // A panic while holding the lock leaves SQLite consistent (the transaction
                // rolls back).
                let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                // IMMEDIATE takes the write lock up front: a deferred transaction that reads
                // and then writes cannot wait for another process's write (WAL answers
                // SQLITE_BUSY at once, busy_timeout or not), and operator commands on the
                // data directory run beside `serve`.
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(|e| E::from(StoreError::from(e)))?;
                let tx = Tx::sqlite(tx);
                let out = f(&tx)?;
                tx.commit().map_err(E::from)?;
                Ok(out)
            }
            Backend::Postgres(pg) => {
                let mut guard = pg.begin().map_err(E::from)?;
                let Some(conn) = guard.as_mut() else {
                    return Err(E::from(StoreError::Config(
                        "no PostgreSQL connection".into(),
                    )));
                };
                let tx = Tx::postgres(conn);
                let out = f(&tx)?;
                tx.commit().map_err(E::from)?;
                Ok(out)
            }
        }
    }

    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        // Reads use a transaction too, so they see one consistent snapshot.
        self.write(f)
    }
}
