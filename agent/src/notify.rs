//! systemd notifications: READY with a STATUS line as soon as `run` is up (approved or still
//! waiting for approval, so `systemctl start` never blocks on a Manager), STATUS as the agent's
//! state changes, WATCHDOG at half the unit's `WatchdogSec`, STOPPING on the way out. Outside
//! systemd (no `NOTIFY_SOCKET`) each is a no-op.

use sd_notify::NotifyState;
use std::time::Duration;

/// READY=1 and its first STATUS in one datagram, so `systemctl status` never shows a ready
/// unit without saying what it waits for.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
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
