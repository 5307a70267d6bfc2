//! The PostgreSQL store against a real PostgreSQL (tests/peers): migrations from the same
//! list as SQLite's, replicas (several `Store`s on one database) starting and claiming at
//! once, a database restart, and bad database URLs. The rest of the control plane's tests run
//! on PostgreSQL too with SEALSCAN_TEST_STORE=postgres (scripts/test).
use sealscan_control::store::{Dialect, Location, NewAppliance, Store, StoreError};
use sealscan_test_peers::postgres::{Postgres, shared};
use std::collections::BTreeSet;
use std::sync::Arc;

fn open(url: &str) -> Store {
    Store::open_location(Location::parse(url).expect("url")).expect("open PostgreSQL store")
}

#[test]
fn replicas_starting_together_apply_each_migration_once_and_match_sqlite() {
    let url = shared().create_database();
    let stores: Vec<Store> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(|| open(&url))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("replica"))
            .collect()
    });
    let dir = tempfile::tempdir().expect("tmp");
    let sqlite = Store::open(&dir.path().join("control.db")).expect("sqlite");
    let want = sqlite.schema_version().expect("sqlite version");
    for s in &stores {
        assert_eq!(s.dialect(), Dialect::Postgres);
        assert_eq!(s.schema_version().expect("version"), want);
    }
    let pg = shared();
    let name = url.rsplit('/').next().expect("db name");
    let rows = pg.psql(&format!(
        "SELECT count(*) FROM pg_stat_database WHERE datname = '{name}'"
    ));
    assert_eq!(rows.trim(), "1");
}

fn appliance_row(tx: &sealscan_control::store::Tx<'_>, id: &str) -> Result<(), StoreError> {
    tx.insert_appliance(&NewAppliance {
        id,
        name: id,
        public_key: id.as_bytes(),
        key_id: id,
        fingerprint: id,
        poll_secret_hash: id,
        enrolled_at: 1,
        enrolled_ip: None,
    })
}

/// Three replicas claim 60 queued jobs as fast as they can: each job is leased exactly once.
#[test]
fn a_job_is_claimed_by_exactly_one_replica() {
    let url = shared().create_database();
    let replicas: Vec<Arc<Store>> = (0..3).map(|_| Arc::new(open(&url))).collect();
    replicas[0]
        .write(|tx| {
            for a in ["a0", "a1", "a2"] {
                appliance_row(tx, a)?;
            }
            let scan = tx.insert_scan(
                "burst",
                "alice",
                1,
                &["10.0.0.1".into()],
                "unix",
                None,
                &Default::default(),
            )?;
            for _ in 0..60 {
                tx.insert_job(scan, None, 1)?;
            }
            Ok::<_, StoreError>(())
        })
        .expect("seed");
    let claimed: Vec<Vec<i64>> = std::thread::scope(|s| {
        let handles: Vec<_> = replicas
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let me = format!("a{i}");
                s.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let got = store
                            .write(|tx| {
                                let Some(id) = tx.claimable_job_ids(&me, 1)?.first().copied()
                                else {
                                    return Ok::<_, StoreError>(None);
                                };
                                tx.lease_job(id, &me, 100)?;
                                Ok(Some(id))
                            })
                            .expect("claim");
                        match got {
                            Some(id) => mine.push(id),
                            None => return mine,
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("replica"))
            .collect()
    });
    let all: Vec<i64> = claimed.iter().flatten().copied().collect();
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 60, "claims per replica: {claimed:?}");
    assert_eq!(distinct.len(), 60, "a job was claimed twice: {claimed:?}");
    let claims: Vec<i64> = replicas[1]
        .read(|tx| {
            let scan = tx.list_scans()?[0].id;
            Ok::<_, StoreError>(tx.jobs_for_scan(scan)?.iter().map(|j| j.claims).collect())
        })
        .expect("jobs");
    assert!(claims.iter().all(|c| *c == 1), "{claims:?}");
}

/// The server restarts under a running store: the next transaction reconnects, and what was
/// committed before is there.
#[test]
fn the_store_reconnects_after_the_database_restarts() {
    let mut pg = Postgres::start();
    pg.psql("CREATE DATABASE restart");
    let store = open(&pg.url("restart"));
    store
        .write(|tx| tx.audit(1, "alice", "before", "x", &serde_json::json!({}), None))
        .expect("write before");
    pg.restart();
    store
        .write(|tx| tx.audit(2, "alice", "after", "x", &serde_json::json!({}), None))
        .expect("the first transaction after a restart reconnects");
    let actions: Vec<String> = store
        .read(|tx| tx.list_audit(10))
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["after", "before"]);
}

#[test]
fn bad_database_urls_are_refused_with_what_was_wrong_and_never_the_password() {
    for (url, says) in [
        ("mysql://u:pw-secret@127.0.0.1/db", "postgres://"),
        ("postgres://u:pw-secret@127.0.0.1:notaport/db", "not valid"),
        (
            "postgres://u:pw-secret@127.0.0.1/db?sslmode=verify-everything",
            "verify-everything",
        ),
        (
            "postgres://u:pw-secret@127.0.0.1/db?sslmode=verify-full",
            "sslrootcert",
        ),
        (
            "postgres://u:pw-secret@127.0.0.1/db?sslmode=verify-full&sslrootcert=/nonexistent.pem",
            "/nonexistent.pem",
        ),
    ] {
        let err = Location::parse(url).expect_err(url).to_string();
        assert!(err.contains(says), "{url}: {err}");
        assert!(!err.contains("pw-secret"), "{url}: {err}");
    }
    // A server that refuses the password: PostgreSQL's reason, not the URL.
    let pg = shared();
    let url = pg.url("postgres").replace("@127", "x-wrong@127");
    let wrong = url.replacen("sealscan:", "sealscan:pw-secret", 1);
    let err = Store::open_location(Location::parse(&wrong).expect("parses"))
        .err()
        .expect("a wrong password is refused")
        .to_string();
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains("pw-secret"), "{err}");
    // Nobody listening.
    let (_fd, port) = sealscan_test_peers::system::closed_loopback_port();
    let err = Store::open_location(
        Location::parse(&format!("postgres://u:pw-secret@127.0.0.1:{port}/db")).expect("parses"),
    )
    .err()
    .expect("nobody listens")
    .to_string();
    assert!(!err.contains("pw-secret"), "{err}");
}

/// The operator's path: `--database` at `init` is remembered (0600, it holds the password),
/// later commands find it, and a bad URL is refused before anything is written.
#[test]
fn init_remembers_the_database_and_later_commands_use_it() {
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    const CONTROL: &str = env!("CARGO_BIN_EXE_sealscan-control");
    let run = |data: &std::path::Path, args: &[&str], stdin: &str| {
        let mut child = Command::new(CONTROL)
            .arg("--data-dir")
            .arg(data)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run sealscan-control");
        std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), stdin.as_bytes())
            .expect("stdin");
        child.wait_with_output().expect("wait")
    };
    let init_args = [
        "init",
        "--username",
        "alice",
        "--first-name",
        "Alice",
        "--last-name",
        "Smith",
        "--email",
        "alice@example.com",
        "--password-stdin",
    ];
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");

    let bad = run(
        &data,
        &[
            &["--database", "mysql://u:pw-secret@127.0.0.1/db"][..],
            &init_args,
        ]
        .concat(),
        "Vq7!mZp4#Lw\n",
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(err.contains("postgres://"), "{err}");
    assert!(!err.contains("pw-secret"), "{err}");
    assert!(!data.join("database.url").exists());

    let url = shared().create_database();
    let ok = run(
        &data,
        &[&["--database", url.as_str()][..], &init_args].concat(),
        "Vq7!mZp4#Lw\n",
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let mode = std::fs::metadata(data.join("database.url"))
        .expect("database.url")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        !data.join("control.db").exists(),
        "no SQLite file beside PostgreSQL"
    );
    let outbox = run(&data, &["outbox", "--json"], "");
    assert!(
        outbox.status.success(),
        "{}",
        String::from_utf8_lossy(&outbox.stderr)
    );
    let users = open(&url).read(|tx| tx.list_users()).expect("users");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].username, "alice");
}

/// A job queued on one replica reaches the long polls of another (LISTEN/NOTIFY); a
/// replica is not told of its own jobs (it woke its own long polls already).
#[test]
fn a_job_queued_on_one_replica_is_announced_to_the_others() {
    let url = shared().create_database();
    let (a, b) = (open(&url), open(&url));
    let (tx, rx) = std::sync::mpsc::channel::<Option<String>>();
    let tx = std::sync::Mutex::new(tx);
    a.on_job_queued_elsewhere(move |appliance| {
        let _ = tx
            .lock()
            .expect("sender")
            .send(appliance.map(str::to_string));
    });
    let scan = |store: &Store, appliance: Option<&str>| {
        store
            .write(|t| {
                if let Some(id) = appliance
                    && t.appliance(id)?.is_none()
                {
                    appliance_row(t, id)?;
                }
                let scan = t.insert_scan(
                    "s",
                    "alice",
                    1,
                    &["10.0.0.1".into()],
                    "unix",
                    appliance,
                    &Default::default(),
                )?;
                t.insert_job(scan, appliance, 1)?;
                Ok::<_, StoreError>(())
            })
            .expect("queue a job");
    };
    scan(&a, Some("mine"));
    // LISTEN starts in the background: queue on B until A hears (a bound, not a timing claim).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let heard = loop {
        scan(&b, Some("theirs"));
        if let Ok(got) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            break got;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "replica A never heard of B's job"
        );
    };
    assert_eq!(heard.as_deref(), Some("theirs"));
    scan(&b, None);
    let mut rest: Vec<Option<String>> = Vec::new();
    while let Ok(got) = rx.recv_timeout(std::time::Duration::from_secs(5)) {
        let any = got.is_none();
        rest.push(got);
        if any {
            break;
        }
    }
    assert_eq!(rest.last(), Some(&None), "{rest:?}");
    assert!(
        rest.iter().all(|r| r.as_deref() != Some("mine")),
        "A was told of its own job: {rest:?}"
    );
}
