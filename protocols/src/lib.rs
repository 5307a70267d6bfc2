//! Wire formats spoken by sealscan, kept free of network I/O so that each can be read,
//! tested and fuzzed on its own.

pub mod appliance;
pub mod envelope;
pub mod host_key;
pub mod identity;
pub mod ntlm;
pub mod results;
pub mod secret;
pub mod smb2;
pub mod spnego;
