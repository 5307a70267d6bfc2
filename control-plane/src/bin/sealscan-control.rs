//! The control-plane server and its operator commands.
use clap::Parser;
use sealscan_api::users::Person;
use sealscan_control::cli::server::{BreakGlassOp, Cli, Command, Feature, NcsmOp};
use sealscan_control::clock::{Clock, SystemClock};
use sealscan_control::domain::operator;
use sealscan_control::init::{InitOptions, init};
use sealscan_control::secrets::{HashCost, Password};
use sealscan_control::server::{ServerOptions, open_store, start};
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `println!` panics when stdout is closed (`sealscan-control outbox | head`); what this
/// program prints is for a reader who may have gone, so a failed write is dropped.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Info
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            tell!("{} {}", r.level(), r.args());
        }
    }
    fn flush(&self) {}
}

fn read_password() -> Result<Password, String> {
    use std::io::IsTerminal;
    // rpassword opens /dev/tty: without one (a pipe, a service) it fails with "No such
    // device or address", which says nothing about what to do.
    if !std::io::stdin().is_terminal() {
        return Err(
            "no terminal to prompt for the password: pipe it in with --password-stdin".into(),
        );
    }
    let first = rpassword::prompt_password("Password for the Manager Primary Contact: ")
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let first = Password::new(first);
    let again = Password::new(
        rpassword::prompt_password("Repeat the password: ")
            .map_err(|e| format!("cannot read the password: {e}"))?,
    );
    if first.expose() != again.expose() {
        return Err("the two passwords differ".into());
    }
    Ok(first)
}

fn read_password_stdin() -> Result<Password, String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let pw = Password::new(line);
    let trimmed = pw.expose().trim_end_matches(['\r', '\n']);
    if trimmed.is_empty() {
        return Err("stdin held no password".into());
    }
    Ok(Password::new(trimmed.to_string()))
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = log::set_logger(&StderrLogger).map(|()| log::set_max_level(log::LevelFilter::Info));
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tell!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let data_dir = cli.data_dir;
    if let Some(url) = cli.database.as_deref() {
        sealscan_control::datadir::create(&data_dir).map_err(|e| e.to_string())?;
        sealscan_control::datadir::set_database(&data_dir, url).map_err(|e| e.to_string())?;
    }
    match cli.command {
        Command::Init {
            subscription,
            edition,
            person:
                Person {
                    username,
                    first_name,
                    last_name,
                    email,
                },
            password_stdin,
        } => {
            let password = if password_stdin {
                read_password_stdin()?
            } else {
                read_password()?
            };
            init(
                &data_dir,
                InitOptions {
                    subscription: subscription.clone(),
                    edition,
                    username: username.clone(),
                    first_name,
                    last_name,
                    email,
                    password,
                    hash_cost: HashCost::default(),
                    now: SystemClock.now(),
                },
            )
            .map_err(|e| e.to_string())?;
            say!(
                "created subscription {subscription:?} ({}) in {}; Manager Primary Contact: {username}",
                edition.as_str(),
                data_dir.display()
            );
            say!(
                "next: sealscan-control serve --data-dir {}",
                data_dir.display()
            );
            Ok(())
        }
        Command::Serve {
            listen,
            cert,
            key,
            smtp_relay,
            smtp_from,
            lease_seconds,
        } => {
            let smtp = match (smtp_relay, smtp_from) {
                (Some(relay), Some(from)) => Some(sealscan_control::mail::SmtpConfig {
                    relay,
                    from,
                    helo: "sealscan-control".into(),
                }),
                _ => None,
            };
            serve(data_dir, listen, cert, key, smtp, lease_seconds).await
        }
        Command::Outbox { json } => {
            let store = open_store(&data_dir).map_err(|e| e.to_string())?;
            let mails = store
                .read(|tx| tx.list_outbox())
                .map_err(|e| e.to_string())?;
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&mails).map_err(|e| e.to_string())?
                );
            } else if mails.is_empty() {
                say!("the outbox is empty");
            } else {
                for m in mails {
                    say!(
                        "#{} {} to {} [{}]\nSubject: {}\n\n{}\n",
                        m.id,
                        sealscan_control::dates::rfc3339(m.at),
                        m.to,
                        m.kind,
                        m.subject,
                        m.body
                    );
                }
            }
            Ok(())
        }
        Command::Ncsm {
            cmd: NcsmOp::Enable,
        } => {
            let store = open_store(&data_dir).map_err(|e| e.to_string())?;
            let now = SystemClock.now();
            let already = operator::enable_ncsm(&store, now).map_err(|e| e.to_string())?;
            if already {
                say!("NCSM was already enabled for this subscription");
            } else {
                say!("NCSM is enabled for this subscription");
            }
            say!(
                "the Manager Primary Contact activates it and migrates the records: sealscan ncsm start"
            );
            Ok(())
        }
        Command::BreakGlass { cmd } => break_glass(&data_dir, cmd),
        Command::Feature {
            feature: Feature::ApiNeverExpire { state },
        } => {
            let on = state == "on";
            let store = open_store(&data_dir).map_err(|e| e.to_string())?;
            let now = SystemClock.now();
            let cleared =
                operator::set_api_never_expire(&store, now, on).map_err(|e| e.to_string())?;
            say!("never-expiring passwords for API-only users: {state}");
            if on {
                say!(
                    "the Manager Primary Contact must now accept the risk agreement (sealscan security never-expire-agreement accept)"
                );
            } else if cleared > 0 {
                say!("cleared the never-expire flag on {cleared} user(s)");
            }
            Ok(())
        }
    }
}

fn break_glass(data_dir: &std::path::Path, cmd: BreakGlassOp) -> Result<(), String> {
    use sealscan_control::breakglass::{self, Unlocked};
    let store = open_store(data_dir).map_err(|e| e.to_string())?;
    let now = SystemClock.now();
    match cmd {
        BreakGlassOp::UnlockPrimaryContact => {
            match breakglass::unlock_primary_contact(&store, now).map_err(|e| e.to_string())? {
                Unlocked::Unlocked(name) => {
                    log::warn!(
                        "break-glass: the operator unlocked the Manager Primary Contact {name}"
                    );
                    say!("unlocked the Manager Primary Contact {name}; the audit log records it");
                }
                Unlocked::WasOpen(name) => {
                    say!(
                        "the Manager Primary Contact {name} was not locked; the failed-login count is reset"
                    );
                }
            }
        }
        BreakGlassOp::DisableAllowlist => {
            let was_on = breakglass::disable_allowlist(&store, now).map_err(|e| e.to_string())?;
            if was_on {
                log::warn!("break-glass: the operator turned the IP allowlist off");
                say!(
                    "the IP allowlist is off (its entries are kept); a Manager can fix it and turn it on: sealscan allowlist set"
                );
            } else {
                say!("the IP allowlist was already off");
            }
        }
    }
    Ok(())
}

async fn serve(
    data_dir: PathBuf,
    listen: SocketAddr,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    smtp: Option<sealscan_control::mail::SmtpConfig>,
    lease_secs: u32,
) -> Result<(), String> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let server = start(ServerOptions {
        data_dir,
        listen,
        cert,
        key,
        hash_cost: HashCost::default(),
        clock: clock.clone(),
        lease_secs,
    })
    .await
    .map_err(|e| e.to_string())?;
    if server.tls.generated {
        say!(
            "created a self-signed certificate: {}",
            server.tls.cert_path.display()
        );
    }
    say!(
        "TLS certificate {} SHA-256 fingerprint {}",
        server.tls.cert_path.display(),
        server.tls.fingerprint
    );
    match &smtp {
        Some(cfg) => say!("delivering the outbox through SMTP relay {}", cfg.relay),
        None => say!("no SMTP relay: read queued emails with `sealscan-control outbox`"),
    }
    say!("listening on https://{}/api/v1", server.addr);
    let state = server.state.clone();
    tokio::spawn(async move {
        loop {
            let now = state.now();
            match state
                .store
                .write(|tx| sealscan_control::lifecycle::sweep_expiry_notices(tx, now))
            {
                Ok(n) if n > 0 => log::info!("queued {n} password-expiry notice(s)"),
                Ok(_) => {}
                Err(e) => log::warn!("expiry-notice sweep failed: {e}"),
            }
            if let Some(cfg) = &smtp {
                match sealscan_control::mail::deliver_outbox(&state.store, cfg, state.now()).await {
                    Ok((sent, _)) if sent > 0 => log::info!("delivered {sent} email(s)"),
                    Ok(_) => {}
                    Err(e) => log::warn!("outbox delivery failed: {e}"),
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
    });
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {
            say!("stopping");
            server.stop().await;
        }
        _ = terminate() => {
            server.stop().await;
        }
    }
    Ok(())
}

async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}
