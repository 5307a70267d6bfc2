//! The control plane's two command lines, defined in the libraries of sealscan-control
//! (`cli::server`) and sealscan-cli (`args`), so that the man pages show what they parse.

/// The `sealscan-control` server's command line.
pub fn server_command() -> clap::Command {
    sealscan_control::cli::server::command()
}

/// The `sealscan` operator CLI's command line.
pub fn operator_command() -> clap::Command {
    sealscan_cli::command()
}
