use clap::Parser;

/// sealscan-agent: the scanner-appliance daemon.
#[derive(Parser)]
#[command(name = "sealscan-agent", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
