//! The sealscan control plane (`sealscan-control`): the HTTPS server the operators and the
//! appliances talk to, its store, and the identity layer with every subscription security
//! option. The API's request, response and error types live in `sealscan-api`.
//!
//! Read from the top down:
//! - [`server`]: the TLS listener and the router ([`server::start`], [`server::ServerOptions`],
//!   [`server::open_store`]); [`api`]: one module per resource, each handler parsing,
//!   authorizing, calling the domain and rendering;
//! - [`domain`]: the rules below HTTP (accounts, records, vaults, NCSM, jobs, security,
//!   appliances, scans), answering a [`domain::DomainError`] that names a `sealscan_api::Code`;
//! - [`store`]: everything SQL ([`store::Store`], its typed rows), and [`model`]: the identity
//!   data (roles, users, the subscription's [`model::SecuritySettings`]);
//! - [`secrets`], [`keyfile`], [`tls`] and [`credentials`]: passwords and tokens, the data key,
//!   the server's certificate, the records' secrets and what they are bound to; [`datadir`]:
//!   the data directory, its modes and which database it uses;
//! - [`init`], [`breakglass`], [`ncsm`], [`mail`], [`lifecycle`] and [`cli`]: the operator
//!   commands of the `sealscan-control` binary and the background work of `serve`;
//! - private: authorization by role, lockout, Argon2 off the request threads,
//!   IP ranges, scan targets and why a job waits.

pub mod api;
pub mod breakglass;
pub mod cli;
pub mod clock;
pub mod credentials;
pub mod datadir;
pub mod domain;
pub mod init;
pub mod jobs_material;
pub mod keyfile;
pub mod lifecycle;
pub mod mail;
pub mod model;
pub mod ncsm;
pub mod password_policy;
pub mod secrets;
pub mod server;
pub mod store;
pub mod tls;

mod authz;
mod hashing;
mod iprange;
mod lockout;
mod targets;
mod waiting;

/// The API's date helpers, under the name the tests and the binary have used.
pub use sealscan_api::dates;
