//! Refusals sent before the request body is read (401, 403, 413...) must reach HTTP/2 clients.
//!
//! When a handler answers without reading the whole body, hyper's HTTP/2 server ends the
//! stream with RST_STREAM as soon as the response is written. The RFC lets the client keep
//! the response, but curl (nghttp2) still sending its body drops it and fails with
//! `(92) Stream error`. So the rest of the body is read and discarded before the response
//! leaves — bounded in bytes and time, past which the reset is the lesser evil.
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// At most this much unread body is drained after the response is ready (beyond the 2 MiB a
/// handler reads at most, so an over-long body still gets its 413).
pub const DRAIN_MAX_BYTES: u64 = 16 * 1024 * 1024;
pub const DRAIN_MAX_TIME: Duration = Duration::from_secs(10);

/// The request body, shared between the handler and this layer.
#[derive(Clone)]
struct Shared(Arc<Mutex<Body>>);

impl HttpBody for Shared {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let mut body = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Pin::new(&mut *body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.lock().map(|b| b.is_end_stream()).unwrap_or(true)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.lock().map(|b| b.size_hint()).unwrap_or_default()
    }
}

pub async fn drain_unread_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let shared = Shared(Arc::new(Mutex::new(body)));
    let response = next
        .run(Request::from_parts(parts, Body::new(shared.clone())))
        .await;
    let _ = tokio::time::timeout(DRAIN_MAX_TIME, discard(shared)).await;
    response
}

async fn discard(mut body: Shared) {
    let mut seen: u64 = 0;
    while seen <= DRAIN_MAX_BYTES {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(frame)) => {
                seen += frame.data_ref().map_or(0, |d| d.len() as u64);
            }
            Some(Err(_)) | None => return,
        }
    }
}
