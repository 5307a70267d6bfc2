//! The sealscan control plane: the HTTPS server, its store, the identity layer with every
//! subscription security option. Its API types live in `sealscan-api`.
pub mod api;
pub mod authz;
pub mod breakglass;
pub mod cli;
pub mod clock;
pub mod credentials;
pub mod datadir;
pub use sealscan_api::dates;
pub mod domain;
pub mod hashing;
pub mod init;
pub mod iprange;
pub mod jobs_material;
pub mod keyfile;
pub mod lifecycle;
pub mod lockout;
pub mod mail;
pub mod model;
pub mod ncsm;
pub mod password_policy;
pub mod secrets;
pub mod server;
pub mod store;
pub mod targets;
pub mod tls;
pub mod waiting;
