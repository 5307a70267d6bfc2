//! Real authentication peers for tests: OpenSSH `sshd` and Samba `smbd`, started on loopback
//! high ports from temporary configuration, with test users created on this machine; and
//! Samba's Active Directory DC in a systemd container on 127.0.0.70.

pub mod addc;
pub mod container;
pub mod faulty;
pub mod smbd;
pub mod sshd;
pub mod system;
