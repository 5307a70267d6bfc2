//! The control plane's rules, below the HTTP layer: no module here sees axum or imports
//! `api`. Each function takes plain values or domain types and answers a [`DomainError`]
//! whose [`Kind`] the API maps to a status code.
pub mod accounts;
pub mod appliances;
pub mod claims;
pub mod editor;
pub mod error;
pub mod jobs;
pub mod operator;
pub mod records;
pub mod rewrap;
pub mod scans;
pub mod security;
pub mod services;
pub mod signing;
pub mod units;
pub mod validate;
pub mod vaults;

pub use error::{DomainError, DomainResult, Kind};
pub use services::{AppState, Shared};
