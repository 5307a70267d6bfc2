//! Real authentication peers for tests: OpenSSH `sshd` and Samba `smbd`, started on loopback
//! high ports from temporary configuration, with test users created on this machine; and
//! Samba's Active Directory DC in a systemd container on 127.0.0.70.
//!
//! - [`sshd`]: [`sshd::Sshd`] from [`sshd::SshdOptions`], and test keys in every format
//!   ([`sshd::generate_key`], [`sshd::KeyFormat`]);
//! - [`smbd`]: [`smbd::Smbd`] from [`smbd::SmbdOptions`];
//! - [`addc`]: the Active Directory DC, one account per state, switchable NTLM, signing and
//!   encryption; [`container`]: the systemd container it runs in;
//! - [`faulty`]: [`faulty::FaultyTarget`], a listener that misbehaves as its
//!   [`faulty::Behaviour`] says, and ports that never answer;
//! - [`postgres`]: [`postgres::Postgres`], a PostgreSQL cluster in a temporary directory on
//!   loopback, one database per test ([`postgres::shared`] for a whole test process);
//! - [`system`]: what the peers need from the machine: packages, users, loopback ports.

pub mod addc;
pub mod container;
pub mod faulty;
pub mod postgres;
pub mod root_target;
pub mod smbd;
pub mod sshd;
pub mod system;
