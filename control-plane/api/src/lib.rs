//! The sealscan control plane's API in one place, shared by the server and the `sealscan` CLI:
//! every operator endpoint's request and response types (one module per resource), the error
//! body [`ErrorBody`] and its closed list of rules [`Code`]. The server answers these types and
//! derives its OpenAPI document from their `JsonSchema`; with feature `client`,
//! [`client::Client`] sends them, one method per endpoint, and reads the answers back.
//!
//! Main types: [`Code`], [`ErrorBody`], [`Role`], [`users::UserView`],
//! [`session::LoginRequest`], [`records::RecordView`], [`security::SecurityView`].
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
