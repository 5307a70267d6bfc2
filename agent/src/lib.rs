//! The sealscan appliance daemon (`sealscan-agent`).
//!
//! Read from the top down:
//! - [`cli`]: the command line ([`cli::Cli`], [`cli::main`]); `run` starts the daemon loop;
//! - [`config`]: the TOML configuration ([`config::Config`]);
//! - [`hardening`], [`arena`] and [`identity`]: the process hardened before any secret is
//!   loaded, the locked memory [`arena::Arena`] and the appliance [`identity::IdentityKey`] in it;
//! - [`resolve`] and [`scan`]: one job's credentials ([`resolve::JobCredentials`]) and one
//!   target of it, logged in to by [`login`] (Unix over SSH, Windows over SMB2/3);
//! - private: the daemon loop, the control-plane client, enrollment state, the result spool,
//!   the durable private writes they share (`state_file`), logging and systemd notifications.
//!
//! Every plaintext secret is a `sealscan_protocols::secret::SecretBytes` (final-size, wiped on
//! drop, `[REDACTED]` in `Debug`); only the identity key lives elsewhere, in the arena.

pub mod arena;
pub mod cli;
mod client;
pub mod config;
mod daemon;
mod enrollment;
pub mod hardening;
mod hostname;
pub mod identity;
pub mod known_hosts;
mod logging;
pub mod login;
mod notify;
pub mod resolve;
pub mod scan;
mod sealed;
mod spool;
mod state_file;
pub mod trust;

// The agent's secret holders are the workspace family; imported here so modules name them
// `crate::secret::SecretBytes`.
use sealscan_protocols::secret;
