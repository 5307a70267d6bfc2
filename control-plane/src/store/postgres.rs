//! The PostgreSQL backend: one connection per `serve` process, driven by a small runtime on a
//! thread of its own, so a store call blocks its caller exactly as a SQLite call does (from
//! any thread, inside a tokio runtime or not) without starting a runtime inside a runtime.
//!
//! Write transactions take a transaction-scoped advisory lock first: every replica on the
//! database then runs its transactions one at a time, as SQLite's IMMEDIATE transactions do,
//! so the typed operations keep SQLite's semantics unchanged on either backend.
use super::error::{Result, StoreError};
use super::pg_tls::{self, Rustls};
use super::value::{Row, Value};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Mutex;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Config, Statement};

/// The advisory lock every transaction holds (an arbitrary constant: "sealscan" in ASCII).
pub(super) const TX_LOCK: i64 = 0x7365_616c_7363_616e;
/// The advisory lock held while migrations run, so replicas that start together apply each
/// migration once.
pub(super) const MIGRATION_LOCK: i64 = TX_LOCK + 1;
/// The advisory lock held by the one replica running the NCSM migration.
pub(super) const NCSM_LOCK: i64 = TX_LOCK + 2;

/// A parsed `postgres://` URL; its Debug never shows the password.
pub struct PgTarget {
    config: Box<Config>,
    /// TLS as the URL's `sslmode` and `sslrootcert` asked (see `pg_tls`).
    tls: Rustls,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("host", &self.config.get_hosts())
            .field("port", &self.config.get_ports())
            .field("dbname", &self.config.get_dbname())
            .field("user", &self.config.get_user())
            .field("password", &"[REDACTED]")
            .field("sslmode", &self.config.get_ssl_mode())
            .finish()
    }
}

impl PgTarget {
    /// Parses a `postgres://` or `postgresql://` URL (or a key=value connection string).
    /// The error names what was wrong without repeating the URL, which may hold a password.
    pub fn parse(url: &str) -> Result<PgTarget> {
        let split = pg_tls::split(url);
        let (mode, verify) = pg_tls::mode(split.mode.as_deref(), split.root_cert.is_some())?;
        let mut config: Config = split.rest.parse().map_err(|e: tokio_postgres::Error| {
            StoreError::Config(format!("the PostgreSQL database URL is not valid: {e}"))
        })?;
        if config.get_hosts().is_empty() {
            return Err(StoreError::Config(
                "the PostgreSQL database URL names no host".into(),
            ));
        }
        config.ssl_mode(mode);
        let tls = pg_tls::client_config(verify, split.root_cert.as_deref())?;
        Ok(PgTarget {
            config: Box::new(config),
            tls: Rustls(std::sync::Arc::new(tls)),
        })
    }
}

/// One connection and the statements prepared on it.
pub(super) struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
    /// The store's replica name, for the notifications sent on this connection.
    pub(super) replica: String,
}

pub(super) struct Pg {
    target: PgTarget,
    conn: Mutex<Option<PgConn>>,
    /// This process's name in the job notifications it sends, so its own are not echoed.
    replica: String,
    /// Dropped with the store: ends the LISTEN thread.
    listener: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

/// The channel a queued job is announced on, to the long polls of every replica.
pub(super) const JOBS_CHANNEL: &str = "sealscan_jobs";

/// What a replica does when another queues a job: the appliance it is for, or None.
pub type JobQueued = Box<dyn Fn(Option<&str>) + Send + Sync>;

impl Pg {
    pub(super) fn connect(target: PgTarget) -> Result<Pg> {
        let replica = random_name();
        let conn = PgConn::open(&target, &replica)?;
        Ok(Pg {
            target,
            conn: Mutex::new(Some(conn)),
            replica,
            listener: Mutex::new(None),
        })
    }

    /// Listens for the jobs other replicas queue (`LISTEN`, on a connection of its own that
    /// is reopened when it drops) and calls `f` for each, until the store is dropped.
    pub(super) fn listen(&self, f: JobQueued) {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        *self.listener.lock().unwrap_or_else(|p| p.into_inner()) = Some(stop);
        let config = (*self.target.config).clone();
        let tls = self.target.tls.clone();
        let me = self.replica.clone();
        let spawned = std::thread::Builder::new()
            .name("sealscan-pg-listen".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    log::error!("cannot start the PostgreSQL listener's runtime");
                    return;
                };
                rt.block_on(async move {
                    loop {
                        tokio::select! {
                            _ = &mut stopped => return,
                            () = listen_once(&config, &tls, &me, &f) => {}
                        }
                        // The connection dropped (a database restart): try again shortly.
                        tokio::select! {
                            _ = &mut stopped => return,
                            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                        }
                    }
                });
            });
        if let Err(e) = spawned {
            log::error!("cannot start the PostgreSQL listener: {e}");
        }
    }

    /// The connection, reopened when the server closed it (a database restart): the caller's
    /// transaction then runs on the new one.
    pub(super) fn lock(&self) -> Result<std::sync::MutexGuard<'_, Option<PgConn>>> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_none_or(|c| c.client.is_closed()) {
            *guard = None;
            *guard = Some(PgConn::open(&self.target, &self.replica)?);
        }
        Ok(guard)
    }
}

impl Pg {
    /// Takes the session-level advisory lock `key` on a connection of its own, unless another
    /// session (another replica) holds it: the connection is the holder, and closing it
    /// (dropping it, or the process dying, SIGKILL included) releases the lock, so the work
    /// it guards can be taken over by any other replica.
    pub(super) fn try_session_lock(&self, key: i64) -> Result<Option<PgConn>> {
        let mut conn = PgConn::open(&self.target, &self.replica)?;
        let got = conn.query("SELECT pg_try_advisory_lock(?1)", &[Value::Int(key)])?;
        let held = got
            .first()
            .map(|r| r.get::<i64>(0))
            .transpose()?
            .is_some_and(|v| v != 0);
        Ok(held.then_some(conn))
    }

    /// A connection with a transaction begun on it. The transaction-scoped advisory lock is
    /// PostgreSQL's IMMEDIATE: the replicas' transactions run one at a time, so each typed
    /// operation sees what SQLite would have shown it. A connection the server dropped (a
    /// database restart) is noticed here, before the caller's work ran, and replaced once.
    pub(super) fn begin(&self) -> Result<std::sync::MutexGuard<'_, Option<PgConn>>> {
        let begin = format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({TX_LOCK})"
        );
        let mut guard = self.lock()?;
        let first = match guard.as_ref() {
            Some(conn) => conn.batch(&begin),
            None => Err(StoreError::Config("no PostgreSQL connection".into())),
        };
        match first {
            Ok(()) => Ok(guard),
            Err(e) => {
                let lost = guard.as_ref().is_none_or(|c| c.client.is_closed())
                    || matches!(&e, StoreError::Postgres(pe) if pe.is_closed());
                if !lost {
                    // BEGIN ran but the lock failed (a cancelled statement): end it.
                    if let Some(conn) = guard.as_ref() {
                        let _ = conn.batch("ROLLBACK");
                    }
                    return Err(e);
                }
                *guard = None;
                let conn = PgConn::open(&self.target, &self.replica)?;
                conn.batch(&begin)?;
                *guard = Some(conn);
                Ok(guard)
            }
        }
    }
}

/// Runs one future of the client to completion on the calling thread. The connection's I/O
/// runs on its own thread, so this only waits on a channel; on a multi-threaded tokio worker
/// the wait is announced with `block_in_place` so the runtime moves its other tasks away.
fn wait<F: std::future::Future>(f: F) -> F::Output {
    let on_worker = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if on_worker {
        tokio::task::block_in_place(|| futures_executor::block_on(f))
    } else {
        futures_executor::block_on(f)
    }
}

impl PgConn {
    fn open(target: &PgTarget, replica: &str) -> Result<PgConn> {
        let mut config = (*target.config).clone();
        let tls = target.tls.clone();
        // SQLite's busy_timeout: a transaction waits up to 10 s for another replica's (or an
        // operator command's) to end, then fails instead of hanging a request for ever.
        // Options from the URL stay; this one is added to them.
        let options = match config.get_options() {
            Some(o) if !o.is_empty() => format!("{o} -c lock_timeout=10s"),
            _ => "-c lock_timeout=10s".to_string(),
        };
        config.options(&options);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("sealscan-pg".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(StoreError::Config(format!(
                            "cannot start the PostgreSQL connection's runtime: {e}"
                        ))));
                        return;
                    }
                };
                rt.block_on(async move {
                    match config.connect(tls).await {
                        Ok((client, connection)) => {
                            let _ = tx.send(Ok(client));
                            // Ends when the client is dropped or the server goes away; the
                            // next transaction then reconnects.
                            if let Err(e) = connection.await {
                                log::warn!(
                                    "PostgreSQL connection ended: {}",
                                    StoreError::Postgres(e)
                                );
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(StoreError::Postgres(e)));
                        }
                    }
                });
            })
            .map_err(|e| StoreError::Config(format!("cannot start a thread: {e}")))?;
        let client = rx.recv().map_err(|_| {
            StoreError::Config("the PostgreSQL connection thread ended early".into())
        })??;
        Ok(PgConn {
            client,
            statements: HashMap::new(),
            replica: replica.to_string(),
        })
    }

    pub(super) fn batch(&self, sql: &str) -> Result<()> {
        Ok(wait(self.client.batch_execute(sql))?)
    }

    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let translated = placeholders(sql);
        let stmt = wait(self.client.prepare(&translated))?;
        self.statements.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    pub(super) fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let n = wait(self.client.execute(&stmt, &refs))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(super) fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = wait(self.client.query(&stmt, &refs))?;
        rows.iter().map(read_row).collect()
    }
}

/// One LISTEN connection's life: returns when it ends.
async fn listen_once(config: &Config, tls: &Rustls, me: &str, f: &JobQueued) {
    use tokio_postgres::AsyncMessage;
    let (client, mut connection) = match config.connect(tls.clone()).await {
        Ok(c) => c,
        Err(e) => {
            log::warn!(
                "PostgreSQL listener cannot connect: {}",
                StoreError::Postgres(e)
            );
            return;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        while let Some(msg) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            match msg {
                Ok(AsyncMessage::Notification(n)) => {
                    let _ = tx.send(n.payload().to_string());
                }
                Ok(_) => {}
                Err(e) => {
                    log::warn!("PostgreSQL listener ended: {}", StoreError::Postgres(e));
                    return;
                }
            }
        }
    });
    if let Err(e) = client
        .batch_execute(&format!("LISTEN {JOBS_CHANNEL}"))
        .await
    {
        log::warn!("PostgreSQL LISTEN failed: {}", StoreError::Postgres(e));
        driver.abort();
        return;
    }
    while let Some(payload) = rx.recv().await {
        // "<replica> <appliance>" (appliance empty for any): the sender woke its own.
        let (from, appliance) = payload.split_once(' ').unwrap_or((payload.as_str(), ""));
        if from != me {
            f((!appliance.is_empty()).then_some(appliance));
        }
    }
    drop(client);
}

fn random_name() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// SQLite's numbered `?N` parameters as PostgreSQL's `$N`, outside string literals.
pub(super) fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_literal = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_literal = !in_literal;
                out.push(c);
            }
            '?' if !in_literal && chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

fn read_row(r: &tokio_postgres::Row) -> Result<Row> {
    let mut values = Vec::with_capacity(r.len());
    for (i, col) in r.columns().iter().enumerate() {
        let ty = col.type_();
        let v = if *ty == Type::INT8 {
            r.try_get::<_, Option<i64>>(i)?.map(Value::Int)
        } else if *ty == Type::INT4 {
            r.try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(i64::from(v)))
        } else if *ty == Type::INT2 {
            r.try_get::<_, Option<i16>>(i)?
                .map(|v| Value::Int(i64::from(v)))
        } else if *ty == Type::BOOL {
            r.try_get::<_, Option<bool>>(i)?
                .map(|v| Value::Int(i64::from(v)))
        } else if *ty == Type::BYTEA {
            r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
        } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
            r.try_get::<_, Option<String>>(i)?.map(Value::Text)
        } else {
            return Err(StoreError::Corrupt(format!(
                "column {} has the PostgreSQL type {ty}, which the store does not read",
                col.name()
            )));
        };
        values.push(v.unwrap_or(Value::Null));
    }
    Ok(Row { values })
}

/// A value binds to whichever type PostgreSQL inferred for its parameter, as SQLite's
/// dynamic typing lets one query take it.
impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => {
                if *ty == Type::INT8 {
                    i.to_sql(ty, out)
                } else if *ty == Type::INT4 {
                    i32::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::BOOL {
                    (*i != 0).to_sql(ty, out)
                } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR].contains(ty) {
                    i.to_string().as_str().to_sql(ty, out)
                } else {
                    Err(format!("an integer cannot bind to a parameter of type {ty}").into())
                }
            }
            Value::Text(s) => {
                if *ty == Type::BYTEA {
                    s.as_bytes().to_sql(ty, out)
                } else if [
                    Type::TEXT,
                    Type::VARCHAR,
                    Type::BPCHAR,
                    Type::NAME,
                    Type::UNKNOWN,
                ]
                .contains(ty)
                {
                    s.as_str().to_sql(ty, out)
                } else {
                    Err(format!("text cannot bind to a parameter of type {ty}").into())
                }
            }
            Value::Blob(b) => {
                if *ty == Type::BYTEA {
                    b.as_slice().to_sql(ty, out)
                } else {
                    Err(format!("a blob cannot bind to a parameter of type {ty}").into())
                }
            }
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store call blocks its caller wherever it runs: on a worker of a multi-threaded
    /// runtime, in its blocking pool (claims and the NCSM migration run there), on a
    /// current-thread runtime (the tests') and outside any runtime.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_works_on_workers_and_in_the_blocking_pool() {
        assert_eq!(wait(async { 1 }), 1);
        let in_pool = tokio::task::spawn_blocking(|| wait(async { 2 }))
            .await
            .expect("blocking pool");
        assert_eq!(in_pool, 2);
        let outside = std::thread::spawn(|| wait(async { 3 }))
            .join()
            .expect("thread");
        assert_eq!(outside, 3);
    }

    #[tokio::test]
    async fn waiting_works_on_a_current_thread_runtime() {
        assert_eq!(wait(async { 4 }), 4);
    }

    #[test]
    fn numbered_parameters_become_dollar_parameters_outside_literals() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d = $12"
        );
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let err = PgTarget::parse("postgres://u:hunter2@/db?port=notaport").unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        let ok = PgTarget::parse("postgres://u:hunter2@127.0.0.1:5432/db").expect("parses");
        assert!(!format!("{ok:?}").contains("hunter2"));
    }
}
