//! The agent configuration file (TOML).
