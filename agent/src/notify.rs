//! systemd notifications: READY once the agent can take jobs, WATCHDOG at half the unit's
//! `WatchdogSec`, STOPPING on the way out. Outside systemd (no `NOTIFY_SOCKET`) each is a
//! no-op.

use sd_notify::NotifyState;
use std::time::Duration;

pub fn ready() {
    send(&[NotifyState::Ready]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

pub fn status(text: &str) {
    send(&[NotifyState::Status(text)]);
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        log::warn!("cannot notify systemd: {e}");
    }
}

/// Half the watchdog interval systemd asked for, if it asked.
pub fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0u64;
    if sd_notify::watchdog_enabled(false, &mut usec) && usec > 0 {
        Some(Duration::from_micros(usec / 2))
    } else {
        None
    }
}

/// Pings the watchdog from the runtime that runs the daemon's loop: if that runtime stalls,
/// the pings stop and systemd restarts the agent.
pub fn spawn_watchdog() -> Option<tokio::task::JoinHandle<()>> {
    let every = watchdog_interval()?;
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            send(&[NotifyState::Watchdog]);
        }
    }))
}
