//! sealscan-bench: sealscan's measured figures, each printed beside its baseline measured in
//! the same run and the target from the issue, with PASS/MISS. `scripts/bench` builds this in
//! release and runs it; docs/performance.md holds the figures and the machine.

mod agent_live;
mod control_plane;
mod p1_vault;
mod p2_unix;
mod p2w_windows;
mod p3_open;
mod p4_rewrap;
mod p6_claims;
mod p9_login_flood;
mod report;

use clap::{Parser, Subcommand};
use report::{Row, Verdict};

#[derive(Parser)]
#[command(about = "sealscan's benchmark suite (figures P1-P9 of docs/performance.md)")]
struct Cli {
    #[command(subcommand)]
    figure: Figure,
}

#[derive(Subcommand, Clone)]
enum Figure {
    /// Secret Server requests for one job of N targets sharing a secret.
    P1 {
        /// Job sizes (targets), comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [1usize, 10, 200])]
        targets: Vec<usize>,
    },
    /// Unix logins per second at concurrency 1, 8 and 32, beside sshpass+ssh.
    P2 {
        /// Scale the number of logins per level (64 at c=1, 256 at c=8 and c=32) by this.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
    },
    /// Windows logins per second at concurrency 1, 8 and 32, NTLMv2 against smbd and
    /// Kerberos against the AD DC, beside smbclient.
    P2w {
        /// Scale the number of logins per level (32 at c=1, 128 at c=8 and c=32) by this.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
    },
    /// Envelope opens per second beside a raw HPKE single-shot open.
    P3 {
        #[arg(long, default_value_t = 5_000)]
        iterations: usize,
    },
    /// Time to rewrap sealed records for a new appliance.
    P4 {
        #[arg(long, default_value_t = p4_rewrap::RECORDS)]
        records: usize,
    },
    /// Agent idle RSS, CPU and wake-ups while long-polling.
    P5 {
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Job claims per second and p99 latency beside raw SQLite writes.
    P6 {
        /// Single-INSERT transactions for the raw SQLite baseline.
        #[arg(long, default_value_t = p6_claims::RAW_WRITES)]
        writes: usize,
        /// Simulated appliances long-polling at once.
        #[arg(long, default_value_t = p6_claims::APPLIANCES)]
        appliances: usize,
        /// Jobs queued and claimed.
        #[arg(long, default_value_t = p6_claims::JOBS)]
        jobs: usize,
    },
    /// Time from job creation to the first login attempt.
    P7 {
        #[arg(long, default_value_t = 10)]
        jobs: usize,
    },
    /// An authenticated GET's p99 and the server's peak RSS while N sign-ins run in parallel.
    P9 {
        /// Parallel sign-ins.
        #[arg(long, default_value_t = p9_login_flood::FLOOD)]
        flood: usize,
        /// Seconds each phase (no flood, then the flood) measures.
        #[arg(long, default_value_t = p9_login_flood::SECONDS)]
        seconds: u64,
    },
    /// Every figure with its defaults.
    All {
        /// P5's observation window.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
}

fn main() {
    let cli = Cli::parse();
    use_sibling_agent();
    let figures = match cli.figure {
        Figure::All { seconds } => vec![
            Figure::P1 {
                targets: vec![1, 10, 200],
            },
            Figure::P2 { scale: 1.0 },
            Figure::P2w { scale: 1.0 },
            Figure::P3 { iterations: 5_000 },
            Figure::P4 {
                records: p4_rewrap::RECORDS,
            },
            Figure::P5 { seconds },
            Figure::P6 {
                writes: p6_claims::RAW_WRITES,
                appliances: p6_claims::APPLIANCES,
                jobs: p6_claims::JOBS,
            },
            Figure::P7 { jobs: 10 },
            Figure::P9 {
                flood: p9_login_flood::FLOOD,
                seconds: p9_login_flood::SECONDS,
            },
        ],
        one => vec![one],
    };
    let mut rows = Vec::new();
    let mut failed = false;
    for figure in figures {
        let (name, result) = run(figure);
        match result {
            Ok(mut r) => rows.append(&mut r),
            Err(e) => {
                eprintln!("{name}: could not be measured: {e}");
                rows.push(Row::new(name, "-", "-", "-", Verdict::NotMeasured(e)));
                failed = true;
            }
        }
    }
    report::print_table(&rows);
    if failed {
        std::process::exit(1);
    }
}

fn run(figure: Figure) -> (&'static str, Result<Vec<Row>, String>) {
    match figure {
        Figure::P1 { targets } => ("P1", p1_vault::run(&targets)),
        Figure::P2 { scale } => {
            let levels: Vec<(usize, usize)> = p2_unix::LEVELS
                .iter()
                .map(|&(c, n)| (c, ((n as f64 * scale).round() as usize).max(c)))
                .collect();
            ("P2", p2_unix::run(&levels))
        }
        Figure::P2w { scale } => {
            let levels: Vec<(usize, usize)> = p2w_windows::LEVELS
                .iter()
                .map(|&(c, n)| (c, ((n as f64 * scale).round() as usize).max(c)))
                .collect();
            ("P2w", p2w_windows::run(&levels))
        }
        Figure::P3 { iterations } => ("P3", p3_open::run(iterations.max(1))),
        Figure::P4 { records } => ("P4", p4_rewrap::run(records.max(1))),
        Figure::P5 { seconds } => ("P5", agent_live::p5(seconds)),
        Figure::P6 {
            writes,
            appliances,
            jobs,
        } => (
            "P6",
            p6_claims::run(writes.max(1), appliances.max(1), jobs.max(1)),
        ),
        Figure::P7 { jobs } => ("P7", agent_live::p7(jobs.max(1))),
        Figure::P9 { flood, seconds } => ("P9", p9_login_flood::run(flood.max(1), seconds.max(1))),
        Figure::All { .. } => ("all", Err("`all` cannot be nested".into())),
    }
}

/// P5 and P7 run the agent binary built next to this one (target/release with scripts/bench),
/// unless SEALSCAN_AGENT_BIN names another; the e2e harness reads that variable.
#[allow(unsafe_code)]
fn use_sibling_agent() {
    if std::env::var_os("SEALSCAN_AGENT_BIN").is_some() {
        return;
    }
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("sealscan-agent")));
    if let Some(path) = sibling.filter(|p| p.exists()) {
        // SAFETY: called first thing in main, before any thread exists.
        unsafe { std::env::set_var("SEALSCAN_AGENT_BIN", path) };
    }
}
