//! Unix logins over SSH (ssh2).
