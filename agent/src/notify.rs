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

/// Half the watchdog interval systemd asked for, if it asked. Read as sd_watchdog_enabled(3)
/// says: `WATCHDOG_USEC`, unless `WATCHDOG_PID` names another process (the sd-notify crate
/// also insists on `WATCHDOG_PID` being present, which systemd does not require).
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.trim().parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
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
