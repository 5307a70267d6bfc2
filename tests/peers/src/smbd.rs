//! Samba smbd on loopback.
