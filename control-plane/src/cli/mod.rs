//! The command lines of `sealscan-control` and `sealscan`, as clap definitions only.
//!
//! They live in the library rather than in the binaries so that packaging/ can render the man
//! pages from exactly what the programs parse, without compiling the programs' behaviour (and
//! its dependencies) into the man-page generator.
pub mod operator;
pub mod server;
