//! The appliance API contract (`sealscan_protocols::appliance`) served over real HTTPS from
//! memory, for the daemon tests while the control plane's appliance endpoints are being
//! built. It keeps exactly what the tests look at: enrollments, a job queue, leases touched by
//! heartbeats, and results by idempotency key. It is no substitute for the control plane's
//! own tests; it lets the real agent binary be driven end to end over the real contract.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sealscan_protocols::appliance::{
    API_PREFIX, ClaimRequest, EnrollPollRequest, EnrollRequest, EnrollResponse, EnrollState,
    HeartbeatResponse, Job, MAX_CLAIM_WAIT_SECS, ResultAck, ResultPost, RewrapSubmit, RewrapWork,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, Clone)]
pub struct Appliance {
    pub name: String,
    pub public_key: String,
    pub poll_secret: String,
    pub approved: bool,
    pub credential: String,
    pub collected: bool,
}

/// What the tests can see and steer.
#[derive(Debug, Default)]
pub struct Inner {
    pub tokens: Vec<String>,
    pub appliances: BTreeMap<String, Appliance>,
    pub queue: VecDeque<Job>,
    pub claimed: Vec<String>,
    pub heartbeats: usize,
    /// Results recorded, by idempotency key.
    pub results: BTreeMap<String, ResultPost>,
    /// Every result post received, duplicates included.
    pub result_posts: usize,
    pub duplicates: usize,
    /// Record a posted result but answer 503, as when the acknowledgement is lost.
    pub lose_acks: bool,
    /// Rewrap work offered to appliances until one submits it.
    pub rewrap: Option<RewrapWork>,
    pub rewrapped: Vec<RewrapSubmit>,
    /// Heartbeats answer that the job was cancelled.
    pub cancel: bool,
}

#[derive(Clone, Default)]
pub struct Shared {
    pub inner: Arc<Mutex<Inner>>,
    pub work: Arc<Notify>,
}

impl Shared {
    pub fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn push_job(&self, job: Job) {
        self.with(|s| s.queue.push_back(job));
        self.work.notify_waiters();
    }

    /// Approves every pending appliance.
    pub fn approve_all(&self) {
        self.with(|s| {
            for a in s.appliances.values_mut() {
                a.approved = true;
            }
        });
    }
}

pub struct ContractServer {
    pub addr: SocketAddr,
    pub ca_pem: String,
    pub shared: Shared,
    config: Arc<rustls::ServerConfig>,
    /// The accept loop and every connection it serves, so `stop` cuts them all.
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl ContractServer {
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Goes away as a crashed control plane does: listener and open connections closed.
    pub fn stop(&self) {
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            t.abort();
        }
    }

    /// Comes back on the same address with the same certificate and state.
    pub async fn resume(&self) {
        let listener = TcpListener::bind(self.addr).await.expect("re-bind");
        serve(
            listener,
            self.config.clone(),
            self.shared.clone(),
            self.tasks.clone(),
        );
    }
}

impl Drop for ContractServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the server on a free loopback port with one enrollment token.
pub async fn start(token: &str) -> ContractServer {
    let (ca_pem, config) = tls();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let shared = Shared::default();
    shared.with(|s| s.tokens.push(token.to_string()));
    let tasks = Arc::new(Mutex::new(Vec::new()));
    serve(listener, config.clone(), shared.clone(), tasks.clone());
    ContractServer {
        addr,
        ca_pem,
        shared,
        config,
        tasks,
    }
}

type Tasks = Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>;

fn serve(listener: TcpListener, config: Arc<rustls::ServerConfig>, shared: Shared, tasks: Tasks) {
    let p = API_PREFIX;
    let app = Router::new()
        .route(&format!("{p}/enroll"), post(enroll))
        .route(&format!("{p}/enroll/poll"), post(enroll_poll))
        .route(&format!("{p}/jobs/claim"), post(claim))
        .route(&format!("{p}/jobs/{{job_id}}/heartbeat"), post(heartbeat))
        .route(&format!("{p}/jobs/{{job_id}}/results"), post(results))
        .route(&format!("{p}/rewrap"), get(rewrap_work).post(rewrap_submit))
        .with_state(shared);
    let acceptor = TlsAcceptor::from(config);
    let conns = tasks.clone();
    let accept = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            let conn = tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let svc = TowerToHyperService::new(app);
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
            conns.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
        }
    });
    tasks.lock().unwrap_or_else(|e| e.into_inner()).push(accept);
}

fn tls() -> (String, Arc<rustls::ServerConfig>) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let key = KeyPair::generate().expect("server key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("server params")
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("server certificate");
    let chain = vec![
        CertificateDer::from(cert.der().to_vec()),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("TLS config");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    (ca_cert.pem(), Arc::new(config))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn getrandom(buf: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .expect("/dev/urandom");
}

async fn enroll(State(s): State<Shared>, Json(req): Json<EnrollRequest>) -> Response {
    use base64::Engine as _;
    let Ok(key) = base64::engine::general_purpose::STANDARD.decode(&req.public_key) else {
        return refuse(StatusCode::BAD_REQUEST, "public_key is not base64");
    };
    let Ok(key) = <[u8; 32]>::try_from(key.as_slice()) else {
        return refuse(StatusCode::BAD_REQUEST, "public_key is not 32 bytes");
    };
    s.with(|inner| {
        let Some(pos) = inner.tokens.iter().position(|t| *t == req.token) else {
            return refuse(StatusCode::UNAUTHORIZED, "unknown or used enrollment token");
        };
        inner.tokens.remove(pos);
        let id = format!("app_{}", random_hex(4));
        let poll_secret = format!("ps_{}", random_hex(16));
        inner.appliances.insert(
            id.clone(),
            Appliance {
                name: req.name.clone(),
                public_key: req.public_key.clone(),
                poll_secret: poll_secret.clone(),
                approved: false,
                credential: format!("apc_{}", random_hex(16)),
                collected: false,
            },
        );
        Json(EnrollResponse {
            appliance_id: id,
            fingerprint: sealscan_protocols::identity::fingerprint(&key),
            poll_secret,
        })
        .into_response()
    })
}

async fn enroll_poll(State(s): State<Shared>, Json(req): Json<EnrollPollRequest>) -> Response {
    s.with(|inner| {
        let Some(a) = inner.appliances.get_mut(&req.appliance_id) else {
            return refuse(StatusCode::NOT_FOUND, "unknown appliance");
        };
        if a.poll_secret != req.poll_secret {
            return refuse(StatusCode::UNAUTHORIZED, "wrong poll secret");
        }
        let state = if !a.approved {
            EnrollState::Pending
        } else if a.collected {
            EnrollState::AlreadyCollected
        } else {
            a.collected = true;
            EnrollState::Approved {
                credential: a.credential.clone(),
            }
        };
        Json(state).into_response()
    })
}

fn authorized(s: &Shared, headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    s.with(|inner| {
        inner
            .appliances
            .values()
            .any(|a| a.approved && a.credential == token)
    })
}

async fn claim(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(req): Json<ClaimRequest>,
) -> Response {
    if !authorized(&s, &headers) {
        return refuse(StatusCode::UNAUTHORIZED, "appliance credential required");
    }
    let wait = Duration::from_secs(u64::from(req.wait_secs.min(MAX_CLAIM_WAIT_SECS)));
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let notified = s.work.notified();
        if let Some(job) = s.with(|inner| {
            let job = inner.queue.pop_front()?;
            inner.claimed.push(job.job_id.clone());
            Some(job)
        }) {
            return Json(job).into_response();
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return StatusCode::NO_CONTENT.into_response();
        }
    }
}

async fn heartbeat(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(_job_id): Path<String>,
) -> Response {
    if !authorized(&s, &headers) {
        return refuse(StatusCode::UNAUTHORIZED, "appliance credential required");
    }
    let cancel = s.with(|inner| {
        inner.heartbeats += 1;
        inner.cancel
    });
    Json(HeartbeatResponse {
        lease_secs: 60,
        cancel,
    })
    .into_response()
}

async fn results(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(_job_id): Path<String>,
    Json(post): Json<ResultPost>,
) -> Response {
    if !authorized(&s, &headers) {
        return refuse(StatusCode::UNAUTHORIZED, "appliance credential required");
    }
    s.with(|inner| {
        inner.result_posts += 1;
        let duplicate = inner.results.contains_key(&post.idempotency_key);
        if duplicate {
            inner.duplicates += 1;
        } else {
            inner.results.insert(post.idempotency_key.clone(), post);
        }
        if inner.lose_acks {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "acknowledgement lost");
        }
        Json(ResultAck { duplicate }).into_response()
    })
}

async fn rewrap_work(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return refuse(StatusCode::UNAUTHORIZED, "appliance credential required");
    }
    match s.with(|inner| inner.rewrap.clone()) {
        Some(work) => Json(work).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn rewrap_submit(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(submit): Json<RewrapSubmit>,
) -> Response {
    if !authorized(&s, &headers) {
        return refuse(StatusCode::UNAUTHORIZED, "appliance credential required");
    }
    s.with(|inner| {
        inner.rewrap = None;
        inner.rewrapped.push(submit);
    });
    Json(serde_json::json!({})).into_response()
}

/// Results recorded so far, by target id.
pub fn results_by_target(s: &Shared) -> HashMap<String, ResultPost> {
    s.with(|inner| {
        inner
            .results
            .values()
            .map(|p| (p.target_id.clone(), p.clone()))
            .collect()
    })
}

/// Enrolls the appliance at `home` with `token` and approves it, as a Manager would.
pub fn enroll_and_approve(home: &crate::agent::AgentHome, server: &ContractServer, token: &str) {
    let out = home.enroll(&server.url(), token, &[]);
    assert!(
        out.status.success(),
        "enroll failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.shared.approve_all();
}

/// The enrolled appliance's public key.
pub fn appliance_key(server: &ContractServer) -> [u8; 32] {
    use base64::Engine as _;
    let text = server
        .shared
        .with(|s| s.appliances.values().next().map(|a| a.public_key.clone()))
        .expect("an enrolled appliance");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64 key");
    <[u8; 32]>::try_from(bytes.as_slice()).expect("32-byte key")
}
