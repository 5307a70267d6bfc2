//! Shared pieces of the end-to-end tests:
//! - `jobs`: jobs as the control plane hands them to the agent, built from records
//!   ([`unix_record`], [`windows_record`]), secrets ([`legacy`], [`sealed`]), vaults and targets;
//! - `appliance`: an [`Appliance`] identity, envelopes sealed to it, and [`run_job`] through
//!   the agent's own job code;
//! - `outcome`: reading results ([`result`], [`assert_outcome`]);
//! - `harness`: bounded waits ([`wait_until`], [`BOUND`]), canaries and file scans;
//! - the real control plane for tests ([`control_plane`]) and the real agent binary run against
//!   it ([`agent`]); many loopback targets for the fault tests ([`loopback_fleet`]); vault
//!   records and the Secret Server simulator ([`mod@vault`]).

pub mod agent;
mod appliance;
pub mod control_plane;
mod harness;
mod jobs;
pub mod loopback_fleet;
mod outcome;
pub mod vault;

pub use appliance::{Appliance, run_job, run_job_as, seal_to, tamper};
pub use harness::{BOUND, contains, random_hex, wait_until, walk};
pub use jobs::{
    job, legacy, record_fields, sealed, target, timeouts, unix_record, vault, vault_fields,
    vault_login, windows_options, windows_record,
};
pub use outcome::{assert_outcome, cause_text, result};
