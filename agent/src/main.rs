use std::process::ExitCode;

fn main() -> ExitCode {
    sealscan_agent::cli::main()
}
