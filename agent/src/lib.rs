//! The sealscan appliance daemon.

pub mod arena;
pub mod cli;
pub mod client;
pub mod config;
pub mod daemon;
pub mod enrollment;
pub mod hardening;
pub mod hostname;
pub mod identity;
pub mod known_hosts;
pub mod logging;
pub mod login;
pub mod notify;
pub mod resolve;
pub mod scan;
pub mod sealed;
pub mod secret;
pub mod spool;
