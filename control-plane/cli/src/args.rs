//! `sealscan`'s command line: the operator CLI for the control plane's API.
use clap::{Args, Parser, Subcommand};
use sealscan_api::users::Person;
use std::path::PathBuf;

pub mod keys;
pub mod records;
pub mod scanning;

#[derive(Parser)]
#[command(name = "sealscan", version, about = "Operate a sealscan control plane")]
pub struct Cli {
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Read passwords (and other secrets) from stdin, one per line, instead of prompting.
    #[arg(long, global = true)]
    pub password_stdin: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The command line as clap sees it, for the man pages (packaging/ renders them).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[derive(Subcommand)]
pub enum Command {
    /// Sign in and save the profile (URL, CA file) and the session token.
    Login {
        /// e.g. https://127.0.0.1:8443 (defaults to the saved profile)
        #[arg(long)]
        url: Option<String>,
        /// The control plane's certificate (or its CA), e.g. /var/lib/sealscan-control/tls/cert.pem
        #[arg(long)]
        ca_file: Option<PathBuf>,
        #[arg(long)]
        user: Option<String>,
        /// A TOTP code when two-factor login is on (prompted for when needed otherwise).
        #[arg(long)]
        totp: Option<String>,
    },
    /// Sign out and forget the session token.
    Logout,
    /// Show who you are signed in as.
    Whoami,
    /// Manage users.
    Users {
        #[command(subcommand)]
        cmd: UsersCmd,
    },
    /// Show or change the security options (Managers).
    Security {
        #[command(subcommand)]
        cmd: SecurityCmd,
    },
    /// Two-factor login.
    #[command(name = "2fa")]
    TwoFa {
        #[command(subcommand)]
        cmd: TwoFaCmd,
    },
    /// Passwords: check, change, forgot, reset.
    Password {
        #[command(subcommand)]
        cmd: PasswordCmd,
    },
    /// Queued emails (Managers; reset tokens are withheld).
    Outbox,
    /// The audit log (Managers).
    Audit,
    /// Appliances: enrollment tokens, approvals with key fingerprints, revocation.
    Appliances {
        #[command(subcommand)]
        cmd: scanning::AppliancesCmd,
    },
    /// Scans: create, list, show, results.
    Scans {
        #[command(subcommand)]
        cmd: scanning::ScansCmd,
    },
    /// Authentication records (Unix, Windows): sealed on this machine once NCSM is active.
    Records {
        #[command(subcommand)]
        cmd: records::RecordsCmd,
    },
    /// Secret Server vault records.
    Vaults {
        #[command(subcommand)]
        cmd: records::VaultsCmd,
    },
    /// The New Credential Security Model: status, start (with progress), resume.
    Ncsm {
        #[command(subcommand)]
        cmd: records::NcsmCmd,
    },
    /// Your signing key for signed records: create, show.
    Keys {
        #[command(subcommand)]
        cmd: keys::KeysCmd,
    },
    /// The subscription's root: declare it, certify people's keys in a new trust list.
    Signing {
        #[command(subcommand)]
        cmd: keys::SigningCmd,
    },
}

#[derive(Subcommand)]
pub enum UsersCmd {
    List,
    Show {
        user: String,
    },
    Create {
        #[command(flatten)]
        person: Person,
        /// manager, unit-manager, scanner, reader or user-administrator
        #[arg(long)]
        role: String,
        #[arg(long)]
        api_only: bool,
        #[arg(long)]
        external_id: Option<String>,
        /// Set the password (prompted, or from stdin); without it the control plane
        /// generates one when user-defined passwords are off.
        #[arg(long)]
        set_password: bool,
    },
    /// Edit a user's profile and options.
    Update {
        user: String,
        #[command(flatten)]
        fields: UserFields,
    },
    Lock {
        user: String,
    },
    Unlock {
        user: String,
    },
    ResetPassword {
        user: String,
        /// Set the password (prompted, or from stdin) instead of having one generated.
        #[arg(long)]
        set_password: bool,
    },
    SetRole {
        user: String,
        role: String,
    },
    /// Primary Contact: grant or withdraw a user's permission to edit external IDs.
    ExternalIdPermission {
        user: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Manager: grant or withdraw a Unit Manager's permission to create, update and delete
    /// records and vaults (Managers always have it).
    RecordsPermission {
        user: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Show a user's business unit, or (Manager) set it: `unit NAME east`, `unit NAME --none`.
    /// A Unit Manager manages only the users, records and vaults of their unit.
    Unit {
        user: String,
        unit: Option<String>,
        /// Take the user out of every unit.
        #[arg(long, conflicts_with = "unit")]
        none: bool,
    },
}

#[derive(Args)]
pub struct UserFields {
    #[arg(long)]
    pub first_name: Option<String>,
    #[arg(long)]
    pub last_name: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long)]
    pub api_only: Option<bool>,
    /// An ID, or "none" to clear it.
    #[arg(long)]
    pub external_id: Option<String>,
    /// Minutes (10-240), or "none" to use the role's or the global value.
    #[arg(long)]
    pub session_timeout: Option<String>,
    #[arg(long)]
    pub never_expire: Option<bool>,
}

#[derive(Subcommand)]
pub enum SecurityCmd {
    Show,
    /// Change options; only the flags given change.
    Set(SecuritySet),
    /// The IP allowlist.
    Allowlist {
        #[command(subcommand)]
        cmd: AllowlistCmd,
    },
    /// Primary Contact: let granted users edit external IDs.
    ExternalIds {
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Primary Contact: the risk agreement for never-expiring API-only passwords.
    NeverExpireAgreement {
        #[arg(value_parser = ["accept", "decline"])]
        answer: String,
    },
    /// Accept the New Data Security Model (cannot be undone).
    Ndsm {
        #[arg(value_parser = ["accept"])]
        answer: String,
    },
}

#[derive(Args)]
pub struct SecuritySet {
    #[arg(long)]
    pub password_expiry_months: Option<u32>,
    #[arg(long)]
    pub expiry_notice_days: Option<u32>,
    #[arg(long)]
    pub expiry_notice_repeat_days: Option<u32>,
    #[arg(long)]
    pub change_expired_at_login: Option<bool>,
    #[arg(long)]
    pub user_defined_passwords: Option<bool>,
    #[arg(long)]
    pub min_password_length: Option<u32>,
    /// One complexity rule on or off, RULE=on|off: lowercase, uppercase, digit, special,
    /// no_three_identical, no_three_sequential, no_names; repeatable.
    #[arg(long = "password-rule")]
    pub password_rule: Vec<String>,
    /// Show the pre-expiry notice at sign-in (and in `whoami`).
    #[arg(long)]
    pub expiry_notice_ui: Option<bool>,
    /// Email the pre-expiry notice.
    #[arg(long)]
    pub expiry_notice_email: Option<bool>,
    #[arg(long)]
    pub force_change_first_login: Option<bool>,
    #[arg(long)]
    pub lockout_failed_logins: Option<u32>,
    #[arg(long)]
    pub two_factor_required: Option<bool>,
    #[arg(long)]
    pub session_timeout: Option<u32>,
    /// ROLE=MINUTES or ROLE=none; repeatable.
    #[arg(long = "role-session-timeout")]
    pub role_session_timeout: Vec<String>,
}

#[derive(Subcommand)]
pub enum AllowlistCmd {
    Show,
    /// Replace the list: `set --enable 10.0.0.0/8 192.0.2.7`; `set --disable` turns it off and
    /// keeps the list, which `set --enable` (no addresses) turns on again.
    Set {
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
        entries: Vec<String>,
    },
}

#[derive(Subcommand)]
pub enum TwoFaCmd {
    /// Enrol: shows the provisioning URI to scan, then asks for a code.
    Enroll,
}

#[derive(Subcommand)]
pub enum PasswordCmd {
    /// Check a password against the complexity rules.
    Check {
        #[arg(long)]
        first_name: Option<String>,
        #[arg(long)]
        last_name: Option<String>,
    },
    /// Change your own password: asks for the current and the new one. When user-defined
    /// passwords are off the control plane generates it, and says so before it does.
    Change {
        /// Have the control plane generate the new password (required when user-defined
        /// passwords are off; the password is shown once).
        #[arg(long)]
        generate: bool,
    },
    /// Ask for a reset token by email.
    Forgot {
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        ca_file: Option<PathBuf>,
        #[arg(long)]
        user: String,
    },
    /// Set a new password with the emailed token (token and password prompted or from stdin).
    Reset {
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// Have the control plane generate the new password (required when user-defined
        /// passwords are off; shown once); only the token is asked for.
        #[arg(long)]
        generate: bool,
    },
}
