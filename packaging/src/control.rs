//! The control plane's two command lines, defined in its library (sealscan_control::cli) so
//! that only the definitions, not the programs, are compiled into the man-page generator.

/// The `sealscan-control` server's command line.
pub fn server_command() -> clap::Command {
    sealscan_control::cli::server::command()
}

/// The `sealscan` operator CLI's command line.
pub fn operator_command() -> clap::Command {
    sealscan_control::cli::operator::command()
}
