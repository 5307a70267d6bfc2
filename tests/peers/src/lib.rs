//! Real authentication peers for tests: OpenSSH `sshd` and Samba `smbd`, started on loopback
//! high ports from temporary configuration, with test users created on this machine.
//!
//! - [`sshd`]: [`sshd::Sshd`] from [`sshd::SshdOptions`], and test keys in every format
//!   ([`sshd::generate_key`], [`sshd::KeyFormat`]);
//! - [`smbd`]: [`smbd::Smbd`] from [`smbd::SmbdOptions`];
//! - [`faulty`]: [`faulty::FaultyTarget`], a listener that misbehaves as its
//!   [`faulty::Behaviour`] says, and ports that never answer;
//! - [`system`]: what the peers need from the machine: packages, users, loopback ports.

pub mod faulty;
pub mod smbd;
pub mod sshd;
pub mod system;
