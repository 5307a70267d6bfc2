//! Wire formats spoken by sealscan, kept free of network I/O so that each can be read,
//! tested and fuzzed on its own.
//!
//! - [`calendar`]: the calendar date of a day number (Unix time / 86 400);
//! - [`appliance`]: the control plane ↔ appliance API bodies ([`appliance::Job`],
//!   [`appliance::SecretValue`], [`appliance::ResultPost`]);
//! - [`envelope`]: the NCSM envelope, sealed to appliance keys and bound to its record
//!   ([`envelope::Envelope`], [`envelope::Binding`], [`envelope::seal`], [`envelope::open`]);
//! - [`identity`]: key ids and fingerprints of appliance public keys;
//! - [`results`]: what a login reports ([`results::LoginOutcome`], its QIDs and causes);
//! - [`secret`]: the secret holders every crate uses ([`SecretBytes`], [`SecretText`],
//!   [`Password`]);
//! - [`smb2`], [`ntlm`], [`spnego`]: the SMB2/3, NTLMv2 and SPNEGO codecs of Windows logins.

pub mod appliance;
pub mod calendar;
pub mod envelope;
pub mod host_key;
pub mod identity;
pub mod ntlm;
pub mod results;
pub mod secret;
pub mod signing;
pub mod smb2;
pub mod spnego;

pub use secret::{Password, SecretBytes, SecretText};
