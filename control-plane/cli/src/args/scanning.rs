//! `sealscan appliances|scans`.
use clap::Subcommand;

#[derive(Subcommand)]
pub enum AppliancesCmd {
    /// One-time enrollment tokens (Managers).
    Tokens {
        #[command(subcommand)]
        cmd: TokensCmd,
    },
    /// Appliances with their state and key fingerprint.
    List,
    /// Approve a pending appliance: shows its key fingerprint and asks for confirmation;
    /// compare it with `sealscan-agent fingerprint` on the appliance first.
    Approve {
        id: String,
        /// Do not ask (scripts): approve without the confirmation question.
        #[arg(long)]
        yes: bool,
    },
    /// Reject a pending appliance.
    Reject {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Revoke an appliance: it loses its credential and its jobs go back to the queue.
    Revoke {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TokensCmd {
    /// Create a token to give to one appliance (`sealscan-agent enroll --token ...`).
    Create {
        #[arg(long)]
        label: Option<String>,
        /// Hours until the token expires (default 24).
        #[arg(long)]
        expires_hours: Option<u32>,
    },
    List,
}

#[derive(Subcommand)]
pub enum ScansCmd {
    /// Create a scan: targets are IPs, CIDR ranges, first-last ranges or host names.
    Create {
        #[arg(required = true)]
        targets: Vec<String>,
        /// unix, windows or both.
        #[arg(long, default_value = "both")]
        kinds: String,
        /// An approved appliance's id (any approved appliance when absent).
        #[arg(long)]
        appliance: Option<String>,
        #[arg(long)]
        title: Option<String>,
        /// Log in to Unix targets at this port instead of 22.
        #[arg(long)]
        unix_port: Option<u16>,
        /// Log in to Windows targets at this port instead of 445.
        #[arg(long)]
        windows_port: Option<u16>,
    },
    List,
    /// One scan with its jobs and leases.
    Show {
        id: String,
    },
    /// Results per target and login kind.
    Results {
        id: String,
    },
}
