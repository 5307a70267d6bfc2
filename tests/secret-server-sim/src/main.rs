//! `secret-server-sim`: runs the simulator by hand. Prints the base URL once it listens.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use secret_server_sim::{Seed, SimConfig, start};

/// A Thycotic / Delinea Secret Server simulator (REST API and SOAP web service) for tests.
#[derive(Debug, Parser)]
#[command(name = "secret-server-sim", version)]
struct Args {
    /// Seed file: users, folders and secrets (JSON; see docs/secret-server-sim.md).
    #[arg(long)]
    seed: PathBuf,
    /// Address to listen on; only loopback addresses are accepted.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve HTTPS with a CA and server certificate generated at start.
    #[arg(long)]
    tls: bool,
    /// Write the generated CA certificate (PEM) to this file (needs --tls).
    #[arg(long, requires = "tls")]
    write_ca: Option<PathBuf>,
    /// Application root, e.g. /SecretServer; "" or / for the site root.
    #[arg(long, default_value = "/SecretServer")]
    app_root: String,
    /// Lifetime of issued tokens (expires_in), in seconds.
    #[arg(long, default_value_t = 1200)]
    token_ttl: u64,
    /// Issue refresh tokens and accept grant_type=refresh_token.
    #[arg(long)]
    refresh_tokens: bool,
    /// Accepted for old scripts: "Healthy": true is in the health body by default now.
    #[arg(long, hide = true, conflicts_with = "health_camel_case_only")]
    health_pascal_key: bool,
    /// Answer the health check with the OpenAPI document's camelCase body only (no
    /// "Healthy" key), which python-tss-sdk 2.x refuses.
    #[arg(long)]
    health_camel_case_only: bool,
    /// Append every request as a JSON line to this file.
    #[arg(long)]
    request_log: Option<PathBuf>,
    /// Behave like an old Secret Server without the REST API: only the SOAP web service
    /// answers; /oauth2/token and /api/... get IIS's 404 page.
    #[arg(long)]
    no_rest_api: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("secret-server-sim: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    if !args.listen.ip().is_loopback() {
        return Err(format!(
            "--listen {} is not a loopback address; the simulator only serves 127.0.0.0/8 or ::1",
            args.listen
        ));
    }
    let text = std::fs::read_to_string(&args.seed)
        .map_err(|e| format!("cannot read seed {}: {e}", args.seed.display()))?;
    let seed = Seed::from_json(&text).map_err(|e| format!("seed {}: {e}", args.seed.display()))?;
    let mut config = SimConfig::new(seed);
    config.listen = args.listen;
    config.tls = args.tls;
    config.app_root = args.app_root;
    config.token_ttl_secs = args.token_ttl;
    config.refresh_tokens = args.refresh_tokens;
    config.health_pascal_key = !args.health_camel_case_only;
    config.request_log_file = args.request_log;
    config.rest_api = !args.no_rest_api;
    let sim = start(config)
        .await
        .map_err(|e| format!("cannot start: {e}"))?;
    if let (Some(path), Some(pem)) = (&args.write_ca, sim.ca_pem()) {
        std::fs::write(path, pem)
            .map_err(|e| format!("cannot write CA file {}: {e}", path.display()))?;
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", sim.base_url()).map_err(|e| format!("stdout: {e}"))?;
    stdout.flush().map_err(|e| format!("stdout: {e}"))?;
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("cannot wait for Ctrl-C: {e}"))?;
    sim.shutdown().await;
    Ok(())
}
