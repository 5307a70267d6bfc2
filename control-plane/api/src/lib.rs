//! The sealscan control plane's API in one place: every operator endpoint's request and
//! response types, the error body and its [`Code`] enum, shared by the server (which
//! serializes them and derives its OpenAPI document from their `JsonSchema`) and by the
//! `sealscan` CLI (which deserializes them through [`client::Client`], feature `client`).
//!
//! Main types: [`Code`], [`ErrorBody`], [`Role`], [`users::UserView`],
//! [`session::LoginRequest`], [`security::SecurityView`].
mod code;
mod error;
mod role;

pub mod admin;
pub mod appliances;
pub mod dates;
pub mod ncsm;
pub mod password;
pub mod records;
pub mod scans;
pub mod security;
pub mod session;
pub mod users;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "client")]
mod endpoints;
#[cfg(feature = "client")]
pub use endpoints::segment;

pub use code::Code;
pub use error::{ErrorBody, ErrorDetails, ErrorInfo, Violation};
pub use role::{Edition, Role};
