//! Real authentication peers for tests: OpenSSH `sshd` and Samba `smbd`, started on loopback
//! high ports from temporary configuration, with test users created on this machine.

pub mod faulty;
pub mod root_target;
pub mod smbd;
pub mod sshd;
pub mod system;
