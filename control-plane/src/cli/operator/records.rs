//! `sealscan records|vaults|ncsm`.
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum RecordsCmd {
    /// List records (secret fields by name only; pending-migration marks).
    List,
    /// Show one record.
    Show { id: String },
    /// Create a Unix or Windows record; secrets are prompted for (or read from stdin).
    Create(Box<CreateRecordArgs>),
    /// Delete a record and its secrets.
    Delete { id: String },
}

#[derive(Args)]
pub struct CreateRecordArgs {
    #[arg(long, value_parser = ["unix", "windows"])]
    pub kind: String,
    #[arg(long)]
    pub title: String,
    /// The login user name.
    #[arg(long)]
    pub user: String,
    /// An IP, CIDR network or first-last range; repeat for more.
    #[arg(long = "ip")]
    pub ips: Vec<String>,
    #[arg(long, default_value = "basic", value_parser = ["basic", "vault"])]
    pub login_type: String,
    /// Vault logins: the vault record's id.
    #[arg(long)]
    pub vault: Option<String>,
    /// Vault logins: the secret's name in the vault.
    #[arg(long)]
    pub secret_name: Option<String>,
    #[arg(long)]
    pub folder: Option<String>,
    #[arg(long, default_value = "")]
    pub comments: String,
    /// Unix: log in with this private key (PEM file) instead of a password.
    #[arg(long)]
    pub private_key_file: Option<PathBuf>,
    /// Unix private keys: also ask for the key's passphrase.
    #[arg(long)]
    pub passphrase: bool,
    /// Windows: none (local account), netbios or active_directory.
    #[arg(long, default_value = "none")]
    pub domain_type: String,
    #[arg(long)]
    pub domain: Option<String>,
    /// Windows NetBIOS records: apply to every target reporting the domain (no IP list).
    #[arg(long)]
    pub service_selected: bool,
    #[arg(long)]
    pub require_signing: bool,
    #[arg(long, default_value = "2.0.2")]
    pub min_smb_version: String,
}

#[derive(Subcommand)]
pub enum VaultsCmd {
    List,
    Show {
        id: String,
    },
    /// Create a Secret Server vault record; the web-service password is prompted for.
    Create(Box<CreateVaultArgs>),
    Delete {
        id: String,
    },
}

#[derive(Args)]
pub struct CreateVaultArgs {
    #[arg(long)]
    pub title: String,
    /// http:// or https:// URL of Secret Server.
    #[arg(long)]
    pub url: String,
    /// The web-service user name.
    #[arg(long)]
    pub user: String,
    #[arg(long)]
    pub domain: Option<String>,
    #[arg(long)]
    pub organization: Option<String>,
    /// Turn TLS verification off (it is on by default).
    #[arg(long)]
    pub no_verify_tls: bool,
    /// A PEM CA bundle to verify the vault's certificate with.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    #[arg(long, default_value = "auto", value_parser = ["rest", "soap", "auto"])]
    pub api: String,
    #[arg(long, default_value = "")]
    pub comments: String,
}

#[derive(Subcommand)]
pub enum NcsmCmd {
    /// State, records to migrate, progress and pending records.
    Status,
    /// Activate NCSM (Manager Primary Contact) and migrate, with a progress bar.
    Start,
    /// Continue an interrupted or pending migration.
    Resume,
}
