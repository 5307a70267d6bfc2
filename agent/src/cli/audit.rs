//! The audit line an operator's change of the appliance's trust (a host key, the signing
//! root) leaves in the journal, written the same way by every command that makes one.

use crate::config::LogTarget;
use crate::logging;

/// Records "`action` by operator (uid N): `detail`" in the journal; where there is none (a
/// container without journald), on standard error, saying so.
pub fn operator_change(action: &str, detail: &str) {
    let level = log::LevelFilter::Info;
    if logging::init(LogTarget::Journal, level).is_err() {
        let _ = logging::init(LogTarget::Stderr, level);
        log::warn!("the journal is not reachable; this change is recorded only here");
    }
    let uid = nix::unistd::getuid().as_raw();
    log::warn!(target: "audit", "{action} by operator (uid {uid}): {detail}");
    log::logger().flush();
}
