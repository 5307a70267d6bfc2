//! The sealscan appliance daemon.

pub mod arena;
pub mod cli;
pub mod config;
pub mod hardening;
pub mod identity;
pub mod logging;
pub mod login;
pub mod secret;
