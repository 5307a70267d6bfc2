//! `sealscan-control`'s command line: init, serve, and the operator-only commands.
use crate::model::{Edition, Person};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

pub const DEFAULT_DATA_DIR: &str = "/var/lib/sealscan-control";

#[derive(Parser)]
#[command(
    name = "sealscan-control",
    version,
    about = "The sealscan control plane"
)]
pub struct Cli {
    /// Where the database and the TLS files live.
    #[arg(long, global = true, env = "SEALSCAN_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Keep the rows in this database instead of the data directory's SQLite file:
    /// postgres://USER:PASSWORD@HOST:PORT/DATABASE. Remembered in the data directory
    /// (database.url, 0600), so later commands need not repeat it.
    #[arg(long, global = true, env = "SEALSCAN_DATABASE", hide_env_values = true)]
    pub database: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

fn parse_lease_secs(text: &str) -> Result<u32, String> {
    let secs: u32 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of seconds"))?;
    if crate::domain::jobs::LEASE_SECS_RANGE.contains(&secs) {
        Ok(secs)
    } else {
        Err(crate::domain::jobs::lease_secs_error(secs))
    }
}

/// The command line as clap sees it, for the man pages (packaging/ renders them).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[derive(Subcommand)]
pub enum Command {
    /// Create the subscription and its Manager Primary Contact (password from a prompt or stdin).
    Init {
        #[arg(long, default_value = "sealscan")]
        subscription: String,
        /// standard or express-lite.
        #[arg(long, default_value = "standard")]
        edition: Edition,
        #[command(flatten)]
        person: Person,
        /// Read the password from the first line of stdin instead of a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Serve the HTTPS API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// PEM certificate chain; without it a self-signed certificate is made in the data dir.
        #[arg(long, requires = "key")]
        cert: Option<PathBuf>,
        /// PEM private key for --cert.
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
        /// Deliver the outbox through this SMTP relay (host:port; plain SMTP, a trusted local MTA).
        #[arg(long, requires = "smtp_from")]
        smtp_relay: Option<String>,
        /// The sender address of delivered emails.
        #[arg(long, requires = "smtp_relay")]
        smtp_from: Option<String>,
        /// How long a job claim or heartbeat holds a job (3 to 3600 seconds); a job whose
        /// appliance stops heartbeating goes back to the queue after this. Appliances
        /// heartbeat every third of it.
        #[arg(long, default_value_t = crate::domain::jobs::LEASE_SECS, value_parser = parse_lease_secs)]
        lease_seconds: u32,
    },
    /// Print the queued emails (pre-expiry notices, reset tokens) for delivery.
    Outbox {
        #[arg(long)]
        json: bool,
    },
    /// Operator-only subscription features.
    Feature {
        #[command(subcommand)]
        feature: Feature,
    },
    /// The New Credential Security Model (operator side).
    Ncsm {
        #[command(subcommand)]
        cmd: NcsmOp,
    },
    /// Emergency access on the data directory, with the server stopped or running (audited).
    BreakGlass {
        #[command(subcommand)]
        cmd: BreakGlassOp,
    },
}

#[derive(Subcommand)]
pub enum BreakGlassOp {
    /// Re-activate the Manager Primary Contact locked out by failed logins.
    UnlockPrimaryContact,
    /// Turn the IP allowlist off (its entries are kept) when it shuts everyone out.
    DisableAllowlist,
}

#[derive(Subcommand)]
pub enum NcsmOp {
    /// Enable NCSM for the subscription; then only the Manager Primary Contact may activate it.
    Enable,
}

#[derive(Subcommand)]
pub enum Feature {
    /// Allow never-expiring passwords for API-only users (then the Primary Contact must accept the risk agreement).
    ApiNeverExpire {
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_seconds_outside_the_range_is_refused_by_name() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(
                ["sealscan-control", "serve"]
                    .iter()
                    .chain(args)
                    .copied()
                    .collect::<Vec<_>>(),
            )
        };
        let lease = |cli: Cli| match cli.command {
            Command::Serve { lease_seconds, .. } => lease_seconds,
            _ => unreachable!("parsed serve"),
        };
        assert_eq!(lease(parse(&[]).expect("default")), 120);
        assert_eq!(lease(parse(&["--lease-seconds", "6"]).expect("6")), 6);
        for bad in ["2", "3601", "0"] {
            let err = parse(&["--lease-seconds", bad])
                .err()
                .expect(bad)
                .to_string();
            assert!(
                err.contains("between 3 and 3600 seconds") && err.contains(bad),
                "{err}"
            );
        }
        let err = parse(&["--lease-seconds", "soon"])
            .err()
            .expect("soon")
            .to_string();
        assert!(err.contains("not a whole number of seconds"), "{err}");
    }
}
