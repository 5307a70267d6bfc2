//! Process hardening applied before any secret is loaded.
//!
//! `PR_SET_DUMPABLE 0` stops other processes of the same user from attaching with ptrace or
//! reading `/proc/PID/mem`, and keeps the kernel from writing a core file. `RLIMIT_CORE 0`
//! is set as well because `LimitCORE=` in a unit can be overridden by whoever starts the agent
//! by hand; neither alone covers a `core_pattern` pipe to systemd-coredump, which is why the
//! arena pages are also `MADV_DONTDUMP`. The kernel resets the dumpable flag on a uid or gid
//! change, so this runs in the agent itself, after any such change.

use nix::errno::Errno;
use nix::sys::prctl;
use nix::sys::resource::{Resource, getrlimit, setrlimit};

#[derive(Debug, thiserror::Error)]
pub enum HardeningError {
    #[error(
        "cannot make the agent process non-dumpable: prctl(PR_SET_DUMPABLE, 0) failed with {0}"
    )]
    Dumpable(Errno),
    #[error("cannot disable core dumps: setrlimit(RLIMIT_CORE, 0, 0) failed with {0}")]
    CoreLimit(Errno),
}

/// Makes the current process non-dumpable and forbids core files. Call it first thing in
/// `main`, before the identity key or any credential is read.
pub fn harden_process() -> Result<(), HardeningError> {
    prctl::set_dumpable(false).map_err(HardeningError::Dumpable)?;
    setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(HardeningError::CoreLimit)?;
    Ok(())
}

/// What the kernel currently says about this process, for diagnostics and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HardeningState {
    pub dumpable: bool,
    pub core_soft: u64,
    pub core_hard: u64,
}

pub fn current_state() -> Result<HardeningState, Errno> {
    let dumpable = prctl::get_dumpable()?;
    let (core_soft, core_hard) = getrlimit(Resource::RLIMIT_CORE)?;
    Ok(HardeningState {
        dumpable,
        core_soft,
        core_hard,
    })
}
