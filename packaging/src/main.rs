//! `sealscan-mangen DIR`: writes the man pages of `sealscan-agent`, `sealscan-control` and
//! `sealscan` into DIR, one page per command and subcommand, generated from the same clap
//! definitions the binaries parse with, so the pages cannot drift from the programs.

mod control;
mod pages;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: sealscan-mangen OUTPUT_DIR");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    let commands = [
        (
            <sealscan_agent::cli::Cli as clap::CommandFactory>::command(),
            "8",
        ),
        (control::server_command(), "8"),
        (control::operator_command(), "1"),
    ];
    for (command, section) in commands {
        match pages::write_pages(command, section, &dir) {
            Ok(written) => {
                for path in written {
                    println!("{}", path.display());
                }
            }
            Err(e) => {
                eprintln!("sealscan-mangen: error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
