//! The listener: accepts loopback connections (TLS when configured), applies the
//! connection-level faults, and hands each request to the router with its source address.

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use crate::SimConfig;
use crate::faults::Faults;
use crate::log::{LoggedRequest, RequestLog, redact_query};
use crate::rest;
use crate::state::{Settings, Shared};
use crate::tls;

/// The caller's address, handed to handlers as a request extension.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source(pub(crate) IpAddr);

/// A running simulator. Dropping it stops it too; [`Sim::shutdown`] also waits for that.
pub struct Sim {
    base_url: String,
    ca_pem: Option<String>,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    stopped: Option<oneshot::Receiver<()>>,
}

/// Starts a simulator on its own thread and runtime and returns once it accepts connections.
pub async fn start(config: SimConfig) -> io::Result<Sim> {
    let app_root = normalise_root(&config.app_root)?;
    let tls = if config.tls {
        Some(tls::generate()?)
    } else {
        None
    };
    let log_file = match &config.request_log_file {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    io::Error::new(e.kind(), format!("request log {}: {e}", path.display()))
                })?,
        ),
        None => None,
    };
    let listener = std::net::TcpListener::bind(config.listen)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base_url = format!("{scheme}://{addr}{app_root}");
    let shared = Arc::new(Shared::new(
        config.seed,
        Settings {
            app_root,
            token_ttl: Duration::from_secs(config.token_ttl_secs),
            refresh_tokens: config.refresh_tokens,
            health_pascal_key: config.health_pascal_key,
            rest_api: config.rest_api,
        },
        RequestLog::new(log_file),
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("secret-server-sim")
        .enable_all()
        .build()?;
    let (stop_tx, stop_rx) = oneshot::channel();
    let (stopped_tx, stopped_rx) = oneshot::channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
    let acceptor = tls.map(|t| TlsAcceptor::from(t.config));
    let loop_shared = shared.clone();
    std::thread::Builder::new()
        .name("secret-server-sim".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                accept_loop(listener, acceptor, loop_shared, stop_rx).await;
            });
            // Connection tasks still running are dropped with the runtime here.
            drop(runtime);
            let _ = stopped_tx.send(());
        })?;
    ready_rx
        .await
        .map_err(|_| io::Error::other("simulator thread ended before it was ready"))??;
    Ok(Sim {
        base_url,
        ca_pem,
        shared,
        stop: Some(stop_tx),
        stopped: Some(stopped_rx),
    })
}

fn normalise_root(root: &str) -> io::Result<String> {
    let trimmed = root.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let valid = trimmed.starts_with('/')
        && trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c));
    if !valid {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "app root {root:?} must be empty or a path like /SecretServer (letters, digits, / - _ .)"
            ),
        ));
    }
    Ok(trimmed.to_string())
}

impl Sim {
    /// The application root URL, e.g. `https://127.0.0.1:43210/SecretServer`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The generated CA certificate (PEM) when serving HTTPS.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// Every request so far, in the order their responses were made.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.snapshot()
    }

    pub fn clear_requests(&self) {
        self.shared.log.clear()
    }

    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Stops accepting, drops open connections and waits for the simulator's thread.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(stopped) = self.stopped.take() {
            let _ = stopped.await;
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let router = rest::router(shared.clone());
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                // Accept errors (e.g. too many open files) concern one connection only.
                let Ok((stream, peer)) = accepted else { continue };
                connections.spawn(connection(
                    stream,
                    peer,
                    acceptor.clone(),
                    shared.clone(),
                    router.clone(),
                ));
            }
        }
    }
    connections.abort_all();
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    router: Router,
) {
    let reset = shared.faults.take_reset();
    let _ = stream.set_nodelay(true);
    match acceptor {
        Some(acceptor) => {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                return;
            };
            if reset {
                let _ = tls.read(&mut [0u8; 1024]).await;
                abort(tls.get_ref().0);
                return;
            }
            serve(TokioIo::new(tls), peer, shared, router).await
        }
        None => {
            let mut stream = stream;
            if reset {
                let _ = stream.read(&mut [0u8; 1024]).await;
                abort(&stream);
                return;
            }
            serve(TokioIo::new(stream), peer, shared, router).await
        }
    }
}

/// Closes with RST rather than FIN: linger zero, then the caller drops the socket.
fn abort(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

async fn serve<I>(io: I, peer: SocketAddr, shared: Arc<Shared>, router: Router)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let source = match peer.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let shared = shared.clone();
        let router = router.clone();
        async move { Ok::<_, Infallible>(dispatch(shared, router, source, req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

/// Applies the request-level faults, strips the application root, routes, and logs.
async fn dispatch(
    shared: Arc<Shared>,
    mut router: Router,
    source: IpAddr,
    req: Request<Incoming>,
) -> Response<Body> {
    let method = req.method().to_string();
    let full_path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let delay = shared.faults.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let relative = strip_root(&shared.settings.app_root, &full_path);
    let restricted = relative
        .as_deref()
        .is_some_and(|r| r.contains("/restricted"));
    let response = if let Some(limit) = shared.faults.take_rate_limit() {
        rest::errors::throttled(limit.status, limit.retry_after.as_deref())
    } else if shared.faults.take_500() {
        rest::errors::internal_error()
    } else if restricted && shared.faults.restricted_endpoints_absent() {
        rest::errors::unknown_path(&shared)
    } else {
        match &relative {
            None => rest::errors::unknown_path(&shared),
            Some(rel) if !shared.settings.rest_api && is_rest_path(rel) => {
                rest::errors::unknown_path(&shared)
            }
            Some(rel) => {
                let uri = if query.is_empty() {
                    rel.clone()
                } else {
                    format!("{rel}?{query}")
                };
                match uri.parse::<Uri>() {
                    Ok(uri) => {
                        let mut req = req.map(Body::new);
                        *req.uri_mut() = uri;
                        req.extensions_mut().insert(Source(source));
                        match router.call(req).await {
                            Ok(r) => r,
                            Err(never) => match never {},
                        }
                    }
                    Err(_) => rest::errors::unknown_path(&shared),
                }
            }
        }
    };
    shared.log.push(LoggedRequest {
        method,
        path: relative.unwrap_or(full_path),
        query: redact_query(&query),
        source_ip: source,
        status: response.status().as_u16(),
    });
    response
}

/// Paths that exist only since Secret Server gained its REST API; an older server has no
/// handler there, so IIS answers them like any unknown path.
fn is_rest_path(relative: &str) -> bool {
    let lower = relative.to_ascii_lowercase();
    lower.starts_with("/api/")
        || lower == "/api"
        || lower.starts_with("/oauth2/")
        || lower == "/oauth2"
}

/// The path below the application root, or `None` when the request is outside it. Like IIS,
/// the application path matches case-insensitively.
fn strip_root(root: &str, path: &str) -> Option<String> {
    if root.is_empty() {
        return Some(path.to_string());
    }
    let head = path.get(..root.len())?;
    if !head.eq_ignore_ascii_case(root) {
        return None;
    }
    let rest = path.get(root.len()..)?;
    if rest.is_empty() {
        Some("/".to_string())
    } else if rest.starts_with('/') {
        Some(rest.to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_the_application_root() {
        assert_eq!(
            strip_root("/SecretServer", "/SecretServer/api/v1/x").as_deref(),
            Some("/api/v1/x")
        );
        assert_eq!(
            strip_root("/SecretServer", "/secretserver/oauth2/token").as_deref(),
            Some("/oauth2/token")
        );
        assert_eq!(strip_root("/SecretServer", "/SecretServerX/a"), None);
        assert_eq!(strip_root("/SecretServer", "/api/v1/x"), None);
        assert_eq!(strip_root("", "/api").as_deref(), Some("/api"));
        assert_eq!(
            normalise_root("/SecretServer/").ok().as_deref(),
            Some("/SecretServer")
        );
        assert_eq!(normalise_root("/").ok().as_deref(), Some(""));
        assert!(normalise_root("SecretServer").is_err());
    }

    #[test]
    fn rest_paths_are_told_apart_from_soap_and_health() {
        assert!(is_rest_path("/oauth2/token"));
        assert!(is_rest_path("/API/v1/secrets/10"));
        assert!(is_rest_path("/api"));
        assert!(!is_rest_path("/webservices/SSWebService.asmx"));
        assert!(!is_rest_path("/healthcheck.aspx"));
        assert!(!is_rest_path("/apiary"));
    }
}
