//! Process hardening applied before any secret is loaded.
