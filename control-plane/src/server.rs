//! The HTTPS listener: rustls in front of the axum router, the TCP peer address attached to
//! every request for the allowlist.
use crate::api::{self, AppState, Shared};
use crate::clock::Clock;
use crate::secrets::HashCost;
use crate::store::{Store, StoreError};
use crate::tls::{self, TlsError, TlsIdentity};
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

pub const DB_FILE: &str = "control.db";

pub struct ServerOptions {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub hash_cost: HashCost,
    pub clock: Arc<dyn Clock>,
    /// How long a job claim or heartbeat holds a job (see [`crate::domain::jobs::LEASE_SECS_RANGE`]);
    /// appliances heartbeat every third of it.
    pub lease_secs: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] crate::keyfile::KeyError),
    #[error(transparent)]
    DataDir(#[from] crate::datadir::DataDirError),
    #[error("{0}")]
    NotInitialised(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot prepare the server: {0}")]
    Setup(String),
}

pub struct RunningServer {
    pub addr: SocketAddr,
    pub tls: TlsIdentity,
    pub state: Shared,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }

    /// Waits until the accept loop ends (it runs until `stop`).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Opens the data directory's database, 0600 with its -wal and -shm whatever the umask.
pub fn open_store(data_dir: &std::path::Path) -> Result<Store, ServerError> {
    if let Some(location) = crate::datadir::database(data_dir)? {
        return Ok(Store::open_location(location)?);
    }
    let db = data_dir.join(DB_FILE);
    if !db.exists() {
        return Err(ServerError::NotInitialised(format!(
            "{} holds no control-plane database; run `sealscan-control init --data-dir {}` first",
            data_dir.display(),
            data_dir.display()
        )));
    }
    crate::datadir::prepare_db_file(&db)?;
    Ok(Store::open(&db)?)
}

pub async fn start(opts: ServerOptions) -> Result<RunningServer, ServerError> {
    if !crate::domain::jobs::LEASE_SECS_RANGE.contains(&opts.lease_secs) {
        return Err(ServerError::Setup(crate::domain::jobs::lease_secs_error(
            opts.lease_secs,
        )));
    }
    crate::datadir::check(&opts.data_dir)?;
    let store = open_store(&opts.data_dir)?;
    if store.read(|tx| tx.subscription())?.is_none() {
        return Err(ServerError::NotInitialised(
            "no subscription yet; run `sealscan-control init` first".into(),
        ));
    }
    let data_key = crate::keyfile::DataKey::load_or_create(&opts.data_dir)?;
    let identity = tls::load_or_create(&opts.data_dir, opts.cert.as_deref(), opts.key.as_deref())?;
    let state: Shared = Arc::new(
        AppState::new(store, opts.clock, opts.hash_cost, data_key)
            .map_err(|e| ServerError::Setup(e.to_string()))?,
    );
    state.work.set_lease_secs(opts.lease_secs);
    // Replicas on one PostgreSQL: a job queued on another wakes a long poll here.
    let weak = Arc::downgrade(&state);
    state.store.on_job_queued_elsewhere(move |appliance| {
        if let Some(state) = weak.upgrade() {
            state.work.job_queued(appliance);
        }
    });
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServerError::Listen {
            addr: opts.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServerError::Listen {
            addr: opts.listen,
            source,
        })?;
    let acceptor = TlsAcceptor::from(identity.config.clone());
    let app = api::router(state.clone());
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, acceptor, app, rx));
    Ok(RunningServer {
        addr,
        tls: identity,
        state,
        shutdown: tx,
        task,
    })
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: axum::Router,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(15), acceptor.accept(stream))
                .await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    log::debug!("TLS handshake with {peer} failed: {e}");
                    return;
                }
                Err(_) => return,
            };
            let svc = app.map_request(move |mut req: axum::extract::Request<_>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
            let svc = TowerToHyperService::new(svc);
            if let Err(e) = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), svc)
                .await
            {
                log::debug!("connection from {peer} ended: {e}");
            }
        });
    }
}
