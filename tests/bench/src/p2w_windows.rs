//! P2w: Windows logins per second on loopback, the agent's login (SMB2/3 session setup and
//! the IPC$ tree connect) beside smbclient doing the same (`-c exit` after connecting to
//! IPC$), at the same concurrency and number of logins: NTLMv2 against a plain smbd, and
//! Kerberos against the AD DC (`smbclient --use-kerberos=required` as the baseline). The
//! agent's Kerberos logins share one job's ticket cache, as a job's targets do; the KDC round
//! trips it cost are reported beside the number of logins.
//!
//! Where the time goes: each row gives the agent's own CPU per login (this process's, from
//! /proc, while only our logins run), and one more row runs the agent's NTLMv2 against the
//! same DC: the DC's smbd costs the same per connection whatever the authentication, so that
//! row is the ceiling the DC sets for the Kerberos rows.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use sealscan_agent::login::Target;
use sealscan_agent::login::windows::{
    KerberosLogin, KerberosRealm, SmbDialect, TicketCache, WindowsAuth, WindowsCredential, login,
};
use sealscan_protocols::results::Status;
use sealscan_protocols::secret::SecretBytes;
use sealscan_test_peers::addc::{self, Account, AdDc, DcSettings};
use sealscan_test_peers::smbd::{Smbd, SmbdOptions};

use crate::p2_unix::{pool, run_quiet};
use crate::report::{Row, Verdict, median};

const USER: &str = "sealbenchwin";
// The password of an smbd account this benchmark creates for itself.
const PASSWORD: &str = "Bench-win-pw-7!";

/// (concurrency, logins) per level.
pub const LEVELS: [(usize, usize); 3] = [(1, 32), (8, 128), (32, 128)];

pub fn run(levels: &[(usize, usize)]) -> Result<Vec<Row>, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let mut rows = Vec::new();

    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(USER, PASSWORD);
    let port = smbd.port();
    let ntlm = Side {
        target: target("127.0.0.1", port),
        cred: credential(USER, None, PASSWORD, WindowsAuth::Ntlm),
    };
    let ntlm_base = |_: &()| smbclient_ntlm(port);
    rows.extend(measure(&rt, "P2w NTLMv2", levels, &ntlm, ntlm_base, None)?);
    drop(smbd);

    let dc = AdDc::start(DcSettings::default());
    let krb5_conf = dc.krb5_conf();
    let tickets = Arc::new(TicketCache::default());
    let kerberos = Side {
        target: target(addc::ADDRESS, 445),
        cred: credential(
            Account::Valid.user(),
            Some(addc::NETBIOS_DOMAIN),
            addc::PASSWORD,
            WindowsAuth::Kerberos(KerberosLogin {
                realm: KerberosRealm {
                    realm: addc::REALM.into(),
                    kdcs: vec![addc::ADDRESS.into()],
                },
                service_host: Some(addc::HOST_NAME.into()),
                tickets: Arc::clone(&tickets),
            }),
        ),
    };
    let krb_base = |_: &()| smbclient_kerberos(&krb5_conf);
    rows.extend(measure(
        &rt,
        "P2w Kerberos",
        levels,
        &kerberos,
        krb_base,
        Some(&tickets),
    )?);
    rows.push(dc_ceiling(&rt, levels)?);
    Ok(rows)
}

struct Side {
    target: Target,
    cred: WindowsCredential,
}

fn target(host: &str, port: u16) -> Target {
    Target {
        host: host.into(),
        port,
        timeout: Duration::from_secs(60),
    }
}

fn credential(
    user: &str,
    domain: Option<&str>,
    password: &str,
    auth: WindowsAuth,
) -> WindowsCredential {
    WindowsCredential {
        user: user.into(),
        domain: domain.map(Into::into),
        password: SecretBytes::copy_from(password.as_bytes()),
        require_signing: false,
        min_dialect: SmbDialect::Smb202,
        auth,
    }
}

/// The agent's NTLMv2 logins to the DC at c=8 (or the highest level asked), beside its
/// Kerberos logins there: what the DC's smbd allows per connection, without any KDC.
fn dc_ceiling(rt: &tokio::runtime::Runtime, levels: &[(usize, usize)]) -> Result<Row, String> {
    let (concurrency, logins) = levels
        .iter()
        .copied()
        .find(|&(c, _)| c == 8)
        .or_else(|| levels.last().copied())
        .ok_or("no level to measure")?;
    let side = |auth| Side {
        target: target(addc::ADDRESS, 445),
        cred: credential(
            Account::Valid.user(),
            Some(addc::NETBIOS_DOMAIN),
            addc::PASSWORD,
            auth,
        ),
    };
    let ntlm = side(WindowsAuth::Ntlm);
    let kerberos = side(WindowsAuth::Kerberos(KerberosLogin {
        realm: KerberosRealm {
            realm: addc::REALM.into(),
            kdcs: vec![addc::ADDRESS.into()],
        },
        service_host: Some(addc::HOST_NAME.into()),
        tickets: Arc::new(TicketCache::default()),
    }));
    let one = |s: &Side| agent_login(rt, s);
    one(&kerberos)?;
    let mut n = Vec::new();
    let mut k = Vec::new();
    for _ in 0..2 {
        n.push(pool(concurrency, logins, || one(&ntlm))?);
        k.push(pool(concurrency, logins, || one(&kerberos))?);
    }
    let (n, k) = (median(n), median(k));
    let row = Row::new(
        format!("P2w DC ceiling c={concurrency}"),
        format!(
            "{k:.1} logins/s Kerberos ({:.2}x of NTLMv2 to the same DC)",
            k / n
        ),
        format!("{n:.1} logins/s agent NTLMv2 to the DC"),
        "(context)",
        Verdict::Info,
    );
    row.print();
    Ok(row)
}

fn agent_login(rt: &tokio::runtime::Runtime, side: &Side) -> Result<(), String> {
    let outcome = rt.block_on(login(&side.target, &side.cred));
    if outcome.status == Status::Passed {
        Ok(())
    } else {
        Err(format!(
            "agent login did not pass: {:?} {:?}",
            outcome.status, outcome.cause
        ))
    }
}

/// This process's CPU time so far (user and system, every thread), in seconds.
fn own_cpu_secs() -> f64 {
    // utime and stime are fields 14 and 15: the 12th and 13th after the command name. In
    // clock ticks of USER_HZ, which is 100 on every Linux ABI.
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let rest = stat.rsplit_once(") ")?.1.to_owned();
            let fields: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|v| v.parse().ok())
                .collect();
            Some(fields.iter().sum::<u64>() as f64 / 100.0)
        })
        .unwrap_or(0.0)
}

fn measure(
    rt: &tokio::runtime::Runtime,
    name: &str,
    levels: &[(usize, usize)],
    side: &Side,
    baseline: impl Fn(&()) -> Result<(), String> + Sync,
    tickets: Option<&Arc<TicketCache>>,
) -> Result<Vec<Row>, String> {
    let ours_one = || agent_login(rt, side);
    // One login each way first, so a broken setup fails here with its reason.
    ours_one()?;
    baseline(&())?;
    let mut rows = Vec::new();
    let mut total = 1;
    for &(concurrency, logins) in levels {
        let mut ours = Vec::new();
        let mut base = Vec::new();
        let mut cpu = 0.0;
        for _ in 0..2 {
            let before = own_cpu_secs();
            ours.push(pool(concurrency, logins, ours_one)?);
            cpu += own_cpu_secs() - before;
            base.push(pool(concurrency, logins, || baseline(&()))?);
            total += logins;
        }
        let (ours, base) = (median(ours), median(base));
        let ratio = ours / base;
        let (target, verdict) = if concurrency >= 8 {
            ("≥ 3x smbclient", Row::verdict_for(ratio >= 3.0))
        } else {
            ("(none at c=1)", Verdict::Info)
        };
        let kdc = tickets
            .map(|t| {
                format!(
                    ", {} KDC round trips for {total} logins so far",
                    t.round_trips()
                )
            })
            .unwrap_or_default();
        let row = Row::new(
            format!("{name} c={concurrency}"),
            format!(
                "{ours:.1} logins/s ({ratio:.2}x), {logins} logins, {:.1} ms agent CPU a \
                 login{kdc}",
                cpu * 1000.0 / (2 * logins) as f64
            ),
            format!("{base:.1} logins/s (smbclient)"),
            target,
            verdict,
        );
        row.print();
        rows.push(row);
    }
    Ok(rows)
}

fn smbclient(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let mut command = Command::new("smbclient");
    command
        .args(args)
        .envs(env.iter().copied())
        .args(["-c", "exit"]);
    run_quiet(&mut command, "smbclient")
}

fn smbclient_ntlm(port: u16) -> Result<(), String> {
    smbclient(
        &[
            "//127.0.0.1/IPC$",
            "-p",
            &port.to_string(),
            "-U",
            USER,
            "--use-kerberos=off",
        ],
        &[("PASSWD", PASSWORD)],
    )
}

fn smbclient_kerberos(krb5_conf: &std::path::Path) -> Result<(), String> {
    let service = format!("//{}/IPC$", addc::HOST_NAME);
    let principal = format!("{}@{}", Account::Valid.user(), addc::REALM);
    smbclient(
        &[
            &service,
            "-I",
            addc::ADDRESS,
            "--use-kerberos=required",
            "-U",
            &principal,
        ],
        &[
            ("PASSWD", addc::PASSWORD),
            ("KRB5_CONFIG", &krb5_conf.to_string_lossy()),
        ],
    )
}
