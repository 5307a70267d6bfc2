//! `sealscan records|vaults|ncsm`.
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum RecordsCmd {
    #[command(flatten)]
    Common(CollectionCmd),
    /// Create a Unix or Windows record; secrets are prompted for (or read from stdin).
    Create(Box<CreateRecordArgs>),
    /// Change a record: only the options given change; secrets only when asked for
    /// (--password, --private-key-file, --passphrase), read like create's and sealed here under NCSM.
    Update(Box<UpdateRecordArgs>),
}

/// What `records` and `vaults` both do: list them, and show, delete or place one by id.
#[derive(Subcommand)]
pub enum CollectionCmd {
    /// List them (secrets by field name only; pending-migration marks).
    List,
    /// Show one.
    Show { id: String },
    /// Delete it: a record with its secrets; a vault record only when no record uses it.
    Delete { id: String },
    /// Manager: put it in a business unit (its Unit Managers then manage it).
    Unit {
        id: String,
        /// The business unit's name (Managers); without it, use --none.
        #[arg(required_unless_present = "none")]
        unit: Option<String>,
        /// Take it out of every unit.
        #[arg(long, conflicts_with = "unit")]
        none: bool,
    },
}

/// Where a vault login's secret is: the vault, and the secret by name (and folder), id or path.
/// On update a new reference replaces the old one whole.
#[derive(Args)]
pub struct VaultSecretArgs {
    /// Vault logins: the vault record's id.
    #[arg(long)]
    pub vault: Option<String>,
    /// Vault logins: the secret's exact name in the vault (with --folder when not unique).
    #[arg(long, conflicts_with_all = ["secret_id", "secret_path"])]
    pub secret_name: Option<String>,
    /// Vault logins: the folder holding --secret-name: an id, a name, or a \-path (the
    /// control plane refuses a folder without a name).
    #[arg(long)]
    pub folder: Option<String>,
    /// Vault logins: the secret by Secret Server's id.
    #[arg(long, conflicts_with = "secret_path")]
    pub secret_id: Option<i64>,
    /// Vault logins: the secret by its path, e.g. '\Unix\Prod\root-key'.
    #[arg(long)]
    pub secret_path: Option<String>,
    /// Unix vault logins: log in with the secret's password or its private key (default:
    /// the private key when the secret holds one, else the password).
    #[arg(long, value_parser = ["password", "private_key"])]
    pub secret_auth: Option<String>,
}

impl VaultSecretArgs {
    /// The secret as the API takes it (`--vault` is the request's vault_id; `--secret-auth`
    /// goes with the login options).
    pub fn locator(&self) -> sealscan_api::records::SecretLocator {
        sealscan_api::records::SecretLocator {
            secret_name: self.secret_name.clone(),
            folder: self.folder.clone(),
            secret_id: self.secret_id,
            secret_path: self.secret_path.clone(),
        }
    }
}

/// Windows records' options, alike in a create and an update: what is absent takes the
/// default in a create and keeps the stored value in an update.
#[derive(Args)]
pub struct WindowsArgs {
    /// Windows: none (local account; the default), netbios or active_directory.
    #[arg(long)]
    pub domain_type: Option<String>,
    /// Windows: the NetBIOS or Active Directory domain.
    #[arg(long)]
    pub domain: Option<String>,
    /// Windows NetBIOS records: apply to every target reporting the domain (no IP list).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub service_selected: Option<bool>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub require_signing: Option<bool>,
    /// Windows: the lowest SMB dialect, 2.0.2 (the default), 2.1, 3.0, 3.0.2 or 3.1.1.
    #[arg(long)]
    pub min_smb_version: Option<String>,
    /// Windows: kerberos (never NTLM), ntlm, or negotiate (Kerberos, else NTLMv2). Default:
    /// kerberos for active_directory, ntlm otherwise.
    #[arg(long, value_parser = ["kerberos", "ntlm", "negotiate"])]
    pub auth_protocol: Option<String>,
    /// Windows Kerberos: the realm (default: the Active Directory domain in upper case); an
    /// empty value clears it.
    #[arg(long)]
    pub realm: Option<String>,
    /// Windows Kerberos: a KDC address (host or host:port); repeat for more. Default: the
    /// realm's DNS domain; in an update the list replaces the record's.
    #[arg(long = "kdc")]
    pub kdcs: Option<Vec<String>>,
    /// Windows Kerberos: a target's host name, for the service principal of a target given
    /// by address (the name whose DNS gives the address); repeat for more. In an update the
    /// list replaces the record's.
    #[arg(long = "host-name")]
    pub host_names: Option<Vec<String>>,
}

impl WindowsArgs {
    /// The options given, as the API's change of Windows options (NTLM versions are fixed).
    pub fn patch(&self) -> sealscan_api::records::WindowsPatch {
        sealscan_api::records::WindowsPatch {
            domain_type: self.domain_type.clone(),
            domain: self.domain.clone(),
            service_selected: self.service_selected,
            require_signing: self.require_signing,
            min_smb_version: self.min_smb_version.clone(),
            auth_protocol: self.auth_protocol.clone(),
            realm: self.realm.clone(),
            kdcs: self.kdcs.clone(),
            host_names: self.host_names.clone(),
            ..sealscan_api::records::WindowsPatch::default()
        }
    }
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
    #[command(flatten)]
    pub secret: VaultSecretArgs,
    #[arg(long, default_value = "")]
    pub comments: String,
    /// Unix: log in with this private key (PEM file) instead of a password.
    #[arg(long)]
    pub private_key_file: Option<PathBuf>,
    /// Unix private keys: also ask for the key's passphrase.
    #[arg(long)]
    pub passphrase: bool,
    #[command(flatten)]
    pub windows: WindowsArgs,
    #[command(flatten)]
    pub unix: UnixArgs,
}

#[derive(Subcommand)]
pub enum VaultsCmd {
    #[command(flatten)]
    Common(CollectionCmd),
    /// Create a Secret Server vault record; the web-service password is prompted for.
    Create(Box<CreateVaultArgs>),
    /// Change a vault record: only the options given change; the password only with --password.
    Update(Box<UpdateVaultArgs>),
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

#[derive(Args)]
pub struct UpdateRecordArgs {
    pub id: String,
    #[arg(long)]
    pub title: Option<String>,
    /// The login user name. Under NCSM the secrets are bound to it: give them again with it.
    #[arg(long)]
    pub user: Option<String>,
    /// Replaces the IP list: an IP, CIDR network or first-last range; repeat for more.
    #[arg(long = "ip")]
    pub ips: Vec<String>,
    /// Empty the IP list (Windows NetBIOS records with service-selected IPs).
    #[arg(long, conflicts_with = "ips")]
    pub no_ips: bool,
    #[arg(long, value_parser = ["basic", "vault"])]
    pub login_type: Option<String>,
    #[command(flatten)]
    pub secret: VaultSecretArgs,
    #[arg(long)]
    pub comments: Option<String>,
    /// Give the password again (prompted, or read from stdin).
    #[arg(long)]
    pub password: bool,
    /// Unix: log in with this private key (PEM file) from now on.
    #[arg(long, conflicts_with = "password")]
    pub private_key_file: Option<PathBuf>,
    /// Unix private keys: give the key's passphrase again.
    #[arg(long, conflicts_with = "password")]
    pub passphrase: bool,
    #[command(flatten)]
    pub windows: WindowsArgs,
    #[command(flatten)]
    pub unix: UnixArgs,
    /// Unix: give the delegation password (sudo's own, or root's for su) again.
    #[arg(long)]
    pub delegation_secret: bool,
}

#[derive(Args)]
pub struct UpdateVaultArgs {
    pub id: String,
    #[arg(long)]
    pub title: Option<String>,
    /// http:// or https:// URL of Secret Server. Under NCSM the password is bound to it.
    #[arg(long)]
    pub url: Option<String>,
    /// The web-service user name. Under NCSM the password is bound to it.
    #[arg(long)]
    pub user: Option<String>,
    /// A domain, or "" to clear it.
    #[arg(long)]
    pub domain: Option<String>,
    /// An organization, or "" to clear it.
    #[arg(long)]
    pub organization: Option<String>,
    #[arg(long)]
    pub verify_tls: Option<bool>,
    /// A PEM CA bundle to verify the vault's certificate with.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    #[arg(long, value_parser = ["rest", "soap", "auto"])]
    pub api: Option<String>,
    #[arg(long)]
    pub comments: Option<String>,
    /// Give the web-service password again (prompted, or read from stdin).
    #[arg(long)]
    pub password: bool,
}

#[derive(Subcommand)]
pub enum NcsmCmd {
    /// State, records to migrate, progress and pending records.
    Status,
    /// Activate NCSM (Manager Primary Contact) and migrate, with a progress bar. One way: asks
    /// for confirmation first.
    Start {
        /// Do not ask (scripts): start without the confirmation question.
        #[arg(long)]
        yes: bool,
    },
    /// Continue an interrupted or pending migration.
    Resume,
}

/// Unix records' SSH options, for create and update alike (absent: unchanged on update).
#[derive(Args)]
pub struct UnixArgs {
    /// Unix: how the target's SSH host key is trusted: pin (the default for a new record:
    /// learned on first contact, refused when it changes), known (only the --host-key-file
    /// keys and certificates by the --host-ca-file CAs) or off.
    #[arg(long, value_parser = ["pin", "known", "off"])]
    pub host_key_policy: Option<String>,
    /// Unix, with --host-key-policy known: a file of accepted host public keys (a
    /// /etc/ssh/ssh_host_*_key.pub file or ssh-keyscan output); repeatable; on update the
    /// files replace the record's list.
    #[arg(long = "host-key-file", value_name = "PATH")]
    pub host_key_files: Vec<PathBuf>,
    /// Unix, with --host-key-policy known: a file of OpenSSH host CA public keys (a CA's
    /// `.pub` file or `@cert-authority` lines); a host certificate one of them signed for the
    /// target is accepted; repeatable; on update the files replace the record's CAs.
    #[arg(long = "host-ca-file", value_name = "PATH")]
    pub host_ca_files: Vec<PathBuf>,
    /// Unix key logins: an OpenSSH user certificate for the key (the `-cert.pub` file
    /// `ssh-keygen -s` writes), for targets that trust its CA (TrustedUserCAKeys).
    #[arg(long, value_name = "PATH")]
    pub certificate_file: Option<PathBuf>,
    /// Unix: become root after the login with none, sudo, su or sudo_su (`sudo su -`).
    #[arg(long, value_parser = ["none", "sudo", "su", "sudo_su"])]
    pub delegation: Option<String>,
    /// Unix sudo: answer sudo with the login password (login), a password of its own asked
    /// for now (separate) or nothing (none: NOPASSWD). su always asks for root's password.
    #[arg(long, value_parser = ["login", "separate", "none"])]
    pub delegation_password: Option<String>,
    /// Unix vault records with su (or sudo --delegation-password separate): the second secret
    /// of the record's vault whose password the delegation takes (root's account secret for
    /// su), by id (digits), by path (\Folder\Name) or by name.
    #[arg(long, value_name = "SECRET")]
    pub delegation_vault_secret: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::RecordsCmd;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn records(args: &[&str]) -> RecordsCmd {
        let all = [&["sealscan", "records"], args].concat();
        match Cli::try_parse_from(all).expect("parses").command {
            Command::Records { cmd } => cmd,
            _ => unreachable!("a records command"),
        }
    }

    #[test]
    fn windows_flags_read_alike_in_create_and_update() {
        // A bare flag still means true in a create, followed by another flag or not.
        let RecordsCmd::Create(c) = records(&[
            "create",
            "--kind",
            "windows",
            "--title",
            "t",
            "--user",
            "u",
            "--domain-type",
            "netbios",
            "--domain",
            "LAB",
            "--service-selected",
            "--require-signing",
        ]) else {
            unreachable!("create")
        };
        let input = c.windows.patch().over_defaults();
        assert!(input.service_selected && input.require_signing);
        assert_eq!(input.min_smb_version, "2.0.2");
        assert!(input.kdcs.is_empty());
        // An update takes an explicit value, and absent flags stay absent.
        let RecordsCmd::Update(u) = records(&["update", "r-1", "--require-signing", "false"])
        else {
            unreachable!("update")
        };
        let patch = u.windows.patch();
        assert_eq!(patch.require_signing, Some(false));
        assert_eq!(patch.service_selected, None);
        assert_eq!(patch.kdcs, None);
        // Not a boolean: refused, naming the flag.
        let err = Cli::try_parse_from([
            "sealscan",
            "records",
            "update",
            "r-1",
            "--service-selected",
            "maybe",
        ])
        .err()
        .expect("refused")
        .to_string();
        assert!(err.contains("--service-selected"), "{err}");
    }
}
