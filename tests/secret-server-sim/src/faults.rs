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
