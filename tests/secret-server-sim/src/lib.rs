//! A Thycotic / Delinea Secret Server simulator: the REST API (token endpoint, secrets,
//! search, fields, check-out, state, health) and the legacy SOAP web service, served over
//! real HTTP or HTTPS on a loopback socket, from a JSON seed. See docs/secret-server-sim.md.
//!
//! The simulator runs on its own thread and Tokio runtime, so it keeps answering while the
//! calling test blocks (a blocking client, a child process) on any kind of runtime.
//!
//! Start one with [`start`] from a [`SimConfig`] holding a [`Seed`]; the running [`Sim`] gives
//! its URL, the [`LoggedRequest`]s it answered, and [`Faults`] to inject. Everything else
//! (the REST and SOAP handlers, the model, access rules, TLS) is private.

mod access;
mod faults;
mod log;
mod model;
// Handlers return early with the error Response, as axum handlers do; boxing it buys nothing.
#[allow(clippy::result_large_err)]
mod rest;
mod seed;
mod server;
mod soap;
mod state;
mod templates;
mod time_fmt;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use faults::Faults;
pub use log::LoggedRequest;
pub use seed::{Seed, SeedError};
pub use server::{Sim, start};

/// How to run a simulator. Build it with [`SimConfig::new`] and change the fields you need.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub seed: Seed,
    /// Where to listen, e.g. `127.0.0.1:0` for any free port.
    pub listen: SocketAddr,
    /// HTTPS with a CA and server certificate (SAN 127.0.0.1, localhost) generated at start.
    pub tls: bool,
    /// The IIS application path, e.g. `/SecretServer`; `""` serves at the site root.
    pub app_root: String,
    /// `expires_in` of issued tokens; a token is refused (403) once this has passed. Zero
    /// makes every token expired at once.
    pub token_ttl_secs: u64,
    /// Issue refresh tokens and accept `grant_type=refresh_token` (each usable once).
    pub refresh_tokens: bool,
    /// Write `"Healthy": true` next to the documented camelCase `healthy` in the
    /// `/api/v1/healthcheck` body (on by default). The vendor's own clients (python-tss-sdk 2.x,
    /// tss-sdk-go v3) accept a server only when they find `Healthy`, so a real server answers
    /// with it; off gives the OpenAPI document's camelCase-only body, which those clients refuse.
    pub health_pascal_key: bool,
    /// Also append every request as one JSON line to this file.
    pub request_log_file: Option<PathBuf>,
    /// Serve the REST API (`/oauth2/token`, `/api/...`). Off, the simulator is an old Secret
    /// Server that only has the SOAP web service: REST paths get IIS's 404 page.
    pub rest_api: bool,
}

impl SimConfig {
    pub fn new(seed: Seed) -> Self {
        SimConfig {
            seed,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            app_root: "/SecretServer".to_string(),
            token_ttl_secs: 1200,
            refresh_tokens: false,
            health_pascal_key: true,
            request_log_file: None,
            rest_api: true,
        }
    }
}

#[cfg(test)]
mod tests {
    fn shareable<T: Send + Sync + 'static>() {}

    #[test]
    fn handles_can_move_between_tasks_and_threads() {
        shareable::<crate::Sim>();
        shareable::<crate::SimConfig>();
        shareable::<crate::LoggedRequest>();
    }
}
