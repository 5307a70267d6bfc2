//! The `sealscan-agent` command line: what an operator runs by hand.
//!
//! Exit codes: 0 success, 1 the command failed (the message says why and what to do),
//! 2 the command line itself was wrong (clap's usage errors).

use crate::config::{Config, ConfigError, DEFAULT_CONFIG_PATH};
use crate::daemon::{DaemonError, secure_arena};
use crate::identity::{self, IdentityError, IdentityKey, Keygen};
use base64::Engine as _;
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod audit;
mod enroll;
mod known_hosts;
mod root;

/// sealscan-agent: the scanner-appliance daemon.
#[derive(Debug, Parser)]
#[command(name = "sealscan-agent", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, value_name = "PATH", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the appliance identity key if there is none, and print its fingerprint.
    /// An existing key is kept, never replaced.
    Keygen(StateDirArg),
    /// Print the identity key's fingerprint and public key.
    Fingerprint(StateDirArg),
    /// Validate the configuration file without starting the agent.
    CheckConfig,
    /// Enroll this appliance with a control plane: creates the identity key if needed, sends
    /// its public key with a one-time token, and prints the fingerprint to compare.
    Enroll(EnrollArgs),
    /// Run the daemon: wait for approval if needed, then claim and run jobs until SIGTERM.
    Run,
    /// SSH host keys pinned by scans (records with host_key_policy `pin`).
    KnownHosts {
        #[command(flatten)]
        state: StateDirArg,
        #[command(subcommand)]
        command: known_hosts::KnownHostsCommand,
    },
    /// The subscription root that signs records (docs/signed-records.md).
    Root {
        #[command(flatten)]
        state: StateDirArg,
        #[command(subcommand)]
        command: root::RootCommand,
    },
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The control plane's base URL (https://HOST:PORT).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The one-time enrollment token a Manager created. Token text ending in
    /// `.root=FINGERPRINT` also pins that subscription root (docs/signed-records.md).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SEALSCAN_ENROLL_TOKEN",
        hide_env_values = true
    )]
    pub token: String,
    /// The appliance's name in the control plane; the host name when absent.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// CA certificate(s) of the control plane; the configuration's `ca_file` when absent.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// State directory; the configuration's `state_dir` when absent.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Wait for a Manager's approval and collect the appliance credential before returning
    /// (otherwise `run` waits for it).
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct StateDirArg {
    /// Directory that holds identity.key; when given, the configuration file is not read.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}; or pass --state-dir DIR to name the key directory without a configuration")]
    NoStateDir(ConfigError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write to standard output: {0}")]
    Output(std::io::Error),
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Output(e)
    }
}

/// Writes one line to standard output. A write error is returned rather than panicking as
/// `println!` does, so `sealscan-agent fingerprint | head -1` ends cleanly.
macro_rules! out {
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(&mut std::io::stdout().lock(), format_args!("{}\n", format_args!($($arg)*)))
            .map_err($crate::cli::CliError::Output)
    };
}
pub(crate) use out;

/// Parses the command line, runs the command and reports its result.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): what it wanted was written, as with other Unix
        // tools; the command itself (a key created, a check done) has completed.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sealscan-agent: error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn run(cli: &Cli) -> Result<(), CliError> {
    match &cli.command {
        Command::Keygen(arg) => keygen(&state_dir(&cli.config, arg)?),
        Command::Fingerprint(arg) => fingerprint(&state_dir(&cli.config, arg)?),
        Command::CheckConfig => {
            let config = Config::load(&cli.config)?;
            // `run` refuses a key others can read; so does the check that promises it starts.
            let key = identity::key_path(&config.state_dir);
            let key_note = if identity::check_key_file(&key)? {
                format!("identity key {}", key.display())
            } else {
                "no identity key yet (`sealscan-agent enroll` creates it)".to_string()
            };
            out!(
                "OK: {}: {}, {key_note}",
                cli.config.display(),
                config.summary()
            )?;
            std::io::stdout().flush()?;
            Ok(())
        }
        Command::Enroll(args) => enroll::enroll(&cli.config, args),
        Command::KnownHosts { state, command } => {
            known_hosts::run(&state_dir(&cli.config, state)?, command)
        }
        Command::Root { state, command } => root::run(&state_dir(&cli.config, state)?, command),
        Command::Run => {
            let config = Config::load(&cli.config)?;
            Ok(crate::daemon::run(&config)?)
        }
    }
}

fn state_dir(config: &Path, arg: &StateDirArg) -> Result<PathBuf, CliError> {
    match &arg.state_dir {
        Some(dir) => Ok(dir.clone()),
        None => Config::load(config)
            .map(|c| c.state_dir)
            .map_err(CliError::NoStateDir),
    }
}

fn keygen(state_dir: &Path) -> Result<(), CliError> {
    let arena = secure_arena()?;
    let path = identity::key_path(state_dir);
    match identity::load_or_generate(&arena, state_dir)? {
        Keygen::Created(key) => {
            out!("created a new identity key in {}", path.display())?;
            print_key(&key)?;
            out!(
                "Compare this fingerprint with the one the control plane shows before you \
                 approve the appliance."
            )?;
        }
        Keygen::Existing(key) => {
            out!(
                "an identity key already exists in {}; keeping it (replacing it would make \
                 every credential sealed to this appliance unreadable)",
                path.display()
            )?;
            print_key(&key)?;
        }
    }
    std::io::stdout().flush()?;
    Ok(())
}

fn fingerprint(state_dir: &Path) -> Result<(), CliError> {
    let arena = secure_arena()?;
    let path = identity::key_path(state_dir);
    let key = IdentityKey::load(&arena, &path)?;
    print_key(&key)?;
    out!("key file:    {}", path.display())?;
    std::io::stdout().flush()?;
    Ok(())
}

pub(crate) fn print_key(key: &IdentityKey) -> Result<(), CliError> {
    out!("fingerprint: {}", key.fingerprint())?;
    out!(
        "public key:  {}",
        base64::engine::general_purpose::STANDARD.encode(key.public_key())
    )
}
