//! OpenSSH sshd on loopback.
