//! The command line of `sealscan-control`, as clap definitions only.
//!
//! It lives in the library rather than in the binary so that packaging/ can render the man
//! pages from exactly what the program parses, without compiling the program's behaviour (and
//! its dependencies) into the man-page generator. The operator CLI `sealscan` has its own
//! crate (control-plane/cli).
pub mod server;
