//! A hard end to an attempt. libssh2's timeout bounds one library call, and reading a
//! command's output takes many calls, so a peer that drips output could stretch an attempt
//! past `target.timeout`; shutting the socket down at the deadline makes whatever libssh2 is
//! waiting on fail at once.

use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub(super) struct Watchdog {
    disarm: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    fired: Arc<AtomicBool>,
}

impl Watchdog {
    /// Shuts `stream` down after `after` unless dropped first. Without a second handle on
    /// the socket there is nothing to arm, and libssh2's own timeouts remain the bound.
    pub(super) fn arm(stream: &TcpStream, after: Duration) -> Self {
        let fired = Arc::new(AtomicBool::new(false));
        let (disarm, armed) = mpsc::channel::<()>();
        let thread = stream.try_clone().ok().and_then(|socket| {
            let flag = Arc::clone(&fired);
            thread::Builder::new()
                .name("ssh-deadline".into())
                .spawn(move || {
                    if let Err(RecvTimeoutError::Timeout) = armed.recv_timeout(after) {
                        flag.store(true, Ordering::SeqCst);
                        let _ = socket.shutdown(Shutdown::Both);
                    }
                })
                .ok()
        });
        Self {
            disarm: Some(disarm),
            thread,
            fired,
        }
    }

    pub(super) fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread with `Disconnected`.
        drop(self.disarm.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
