//! Fault switches a test flips while the simulator runs.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Changeable at any time from any thread; each switch takes effect on the next request or
/// connection.
#[derive(Debug, Default)]
pub struct Faults {
    delay: Mutex<Duration>,
    fail_500: AtomicUsize,
    html_on_unknown: AtomicBool,
    expire_after_calls: Mutex<Option<usize>>,
    reset_connections: AtomicUsize,
    rate_limit: Mutex<Option<RateLimit>>,
    no_restricted_endpoints: AtomicBool,
    ignore_auto_comment: AtomicBool,
}

/// A throttling answer: status (429 or 503) and the `Retry-After` header's text, if any.
#[derive(Debug, Clone)]
pub(crate) struct RateLimit {
    remaining: usize,
    pub(crate) status: u16,
    pub(crate) retry_after: Option<String>,
}

impl Faults {
    /// Every response is held back by `d` (zero turns the delay off).
    pub fn set_delay(&self, d: Duration) {
        *self.delay.lock().unwrap_or_else(|e| e.into_inner()) = d;
    }

    /// The next `n` requests, whatever they are, get HTTP 500 with Secret Server's error JSON.
    pub fn fail_next_with_500(&self, n: usize) {
        self.fail_500.store(n, Ordering::SeqCst);
    }

    /// Unknown paths answer 200 with an HTML login page, as IIS in front of Secret Server does
    /// when the application root is wrong.
    pub fn set_html_on_unknown_paths(&self, on: bool) {
        self.html_on_unknown.store(on, Ordering::SeqCst);
    }

    /// A token dies (403, expired) once it has served `n` authenticated calls. `None` turns
    /// this off; tokens then live for the configured TTL.
    pub fn expire_tokens_after_calls(&self, n: Option<usize>) {
        *self
            .expire_after_calls
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = n;
    }

    /// The next `n` connections are reset (TCP RST) once the client has sent its first bytes,
    /// before any response.
    pub fn reset_next_connections(&self, n: usize) {
        self.reset_connections.store(n, Ordering::SeqCst);
    }

    /// The next `n` requests are throttled: HTTP `status` (429 or 503) with `Retry-After:
    /// retry_after` when given, as IIS dynamic IP restrictions or a load balancer in front of
    /// Secret Server answer. `n = 0` turns it off.
    pub fn rate_limit_next(&self, n: usize, status: u16, retry_after: Option<&str>) {
        *self.rate_limit.lock().unwrap_or_else(|e| e.into_inner()) = (n > 0).then(|| RateLimit {
            remaining: n,
            status,
            retry_after: retry_after.map(str::to_string),
        });
    }

    /// An older server without `POST /api/v1/secrets/{id}/restricted` (and its field variant):
    /// those paths get IIS's 404 page.
    pub fn set_restricted_endpoints_absent(&self, on: bool) {
        self.no_restricted_endpoints.store(on, Ordering::SeqCst);
    }

    /// A server that does not know the `autoComment` query parameter: it is ignored, so a
    /// comment-required secret is refused on a plain GET.
    pub fn set_auto_comment_ignored(&self, on: bool) {
        self.ignore_auto_comment.store(on, Ordering::SeqCst);
    }

    pub(crate) fn restricted_endpoints_absent(&self) -> bool {
        self.no_restricted_endpoints.load(Ordering::SeqCst)
    }

    pub(crate) fn auto_comment_ignored(&self) -> bool {
        self.ignore_auto_comment.load(Ordering::SeqCst)
    }

    /// Takes one throttled request, if a rate limit is on.
    pub(crate) fn take_rate_limit(&self) -> Option<RateLimit> {
        let mut slot = self.rate_limit.lock().unwrap_or_else(|e| e.into_inner());
        let limit = slot.as_mut()?;
        limit.remaining -= 1;
        let taken = limit.clone();
        if limit.remaining == 0 {
            *slot = None;
        }
        Some(taken)
    }

    pub(crate) fn delay(&self) -> Duration {
        *self.delay.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn html_on_unknown(&self) -> bool {
        self.html_on_unknown.load(Ordering::SeqCst)
    }

    pub(crate) fn expire_after_calls(&self) -> Option<usize> {
        *self
            .expire_after_calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one unit from a countdown; true when the fault applies to this request.
    fn take(counter: &AtomicUsize) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    pub(crate) fn take_500(&self) -> bool {
        Self::take(&self.fail_500)
    }

    pub(crate) fn take_reset(&self) -> bool {
        Self::take(&self.reset_connections)
    }
}
