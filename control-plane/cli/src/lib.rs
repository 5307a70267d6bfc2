//! `sealscan`, the operator CLI: its command line as clap definitions ([`args`]), kept in the
//! library so that packaging/ renders the man pages from exactly what the program parses.
pub mod args;

pub use args::command;
