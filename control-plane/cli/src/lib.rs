//! `sealscan`, the operator CLI: its command line as clap definitions ([`args`]), kept in the
//! library so that packaging/ renders the man pages from exactly what the program parses.
pub mod args;
/// The person's signing key file (docs/signed-records.md).
pub mod keys;

pub use args::command;
