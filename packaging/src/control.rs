//! The control plane's two command lines.
//!
//! `sealscan-control` and `sealscan` define their clap structs inside their binaries' sources,
//! not in the library, so those sources are compiled here as modules; each exports
//! `pub fn command()`. Only `command()` is used: the rest of each binary is dead code here.

#[allow(dead_code)]
#[path = "../../control-plane/src/bin/sealscan-control.rs"]
mod server;

#[allow(dead_code)]
#[path = "../../control-plane/src/bin/sealscan.rs"]
mod operator;

/// The `sealscan-control` server's command line.
pub fn server_command() -> clap::Command {
    server::command()
}

/// The `sealscan` operator CLI's command line.
pub fn operator_command() -> clap::Command {
    operator::command()
}
