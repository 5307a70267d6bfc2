//! P2w: Windows logins per second on loopback, the agent's login (SMB2/3 session setup and
//! the IPC$ tree connect) beside smbclient doing the same (`-c exit` after connecting to
//! IPC$), at the same concurrency and number of logins: NTLMv2 against a plain smbd, and
//! Kerberos against the AD DC (`smbclient --use-kerberos=required` as the baseline). The
//! agent's Kerberos logins share one job's ticket cache, as a job's targets do; the KDC round
//! trips it cost are reported beside the number of logins.

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

fn measure(
    rt: &tokio::runtime::Runtime,
    name: &str,
    levels: &[(usize, usize)],
    side: &Side,
    baseline: impl Fn(&()) -> Result<(), String> + Sync,
    tickets: Option<&Arc<TicketCache>>,
) -> Result<Vec<Row>, String> {
    let ours_one = || {
        let outcome = rt.block_on(login(&side.target, &side.cred));
        if outcome.status == Status::Passed {
            Ok(())
        } else {
            Err(format!(
                "agent login did not pass: {:?} {:?}",
                outcome.status, outcome.cause
            ))
        }
    };
    // One login each way first, so a broken setup fails here with its reason.
    ours_one()?;
    baseline(&())?;
    let mut rows = Vec::new();
    let mut total = 1;
    for &(concurrency, logins) in levels {
        let mut ours = Vec::new();
        let mut base = Vec::new();
        for _ in 0..2 {
            ours.push(pool(concurrency, logins, ours_one)?);
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
            format!("{ours:.1} logins/s ({ratio:.2}x), {logins} logins{kdc}"),
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
