//! PostgreSQL on loopback: Debian's `postgresql` package, a cluster made by `initdb` in a
//! temporary directory, the server listening on 127.0.0.1 at a port of its own and running as
//! an unprivileged account (`sealscan-pg`, created when the tests run as root). Password
//! authentication (SCRAM) over TCP, as an operator's server would have; one database per test
//! from [`Postgres::create_database`].
//!
//! The cluster is a copy of one `initdb` made per machine (/var/tmp/sealscan-pg-template-*).
//! A server outlives nothing: when it is dropped it stops; one started with [`shared`] lives
//! as long as the test process, and a watcher beside it stops it and removes its directory
//! when that process ends (a static is never dropped).
use crate::system::{ensure_packages, free_loopback_port, is_root};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The account the server runs as when the tests run as root (PostgreSQL refuses root).
pub const SERVER_ACCOUNT: &str = "sealscan-pg";
/// The database superuser the tests connect as.
pub const SUPERUSER: &str = "sealscan";

/// A running PostgreSQL server.
pub struct Postgres {
    child: Option<Child>,
    dir: PathBuf,
    port: u16,
    password: String,
    bin: PathBuf,
    account: Option<(u32, u32)>,
    next_db: AtomicU32,
    /// TLS on: the server's certificate chain and key files.
    tls: Option<(PathBuf, PathBuf)>,
}

/// One server per test process, started on first use.
pub fn shared() -> &'static Postgres {
    static SHARED: OnceLock<Postgres> = OnceLock::new();
    SHARED.get_or_init(|| Postgres::start_inner(true, None))
}

impl Postgres {
    /// Installs the package if needed, makes a cluster and starts the server; returns once
    /// it accepts connections. Panics with the server's log when it does not come up.
    pub fn start() -> Postgres {
        Self::start_inner(false, None)
    }

    /// A server with TLS on (`ssl=on`), presenting `cert_pem` (its chain) with `key_pem`.
    /// Plain connections are still accepted; a client asks for TLS with its sslmode.
    pub fn start_with_tls(cert_pem: &str, key_pem: &str) -> Postgres {
        Self::start_inner(false, Some((cert_pem, key_pem)))
    }

    fn start_inner(watched: bool, tls: Option<(&str, &str)>) -> Postgres {
        ensure_packages(&["postgresql"]);
        let bin = bin_dir();
        let account = is_root().then(ensure_server_account);
        let dir = tempfile::Builder::new()
            .prefix("sealscan-pg-")
            .tempdir()
            .expect("temp dir for PostgreSQL")
            .keep();
        if let Some((uid, gid)) = account {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the cluster dir");
        }
        let password = cluster_from_template(&bin, account, &dir, &dir.join("data"));
        let tls = tls.map(|(cert, key)| {
            use std::os::unix::fs::OpenOptionsExt;
            let files = (dir.join("server.crt"), dir.join("server.key"));
            for (path, text) in [(&files.0, cert), (&files.1, key)] {
                // PostgreSQL refuses a key others can read: 0600, owned by its account.
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
                    .expect("write the server's TLS files");
                if let Some((uid, gid)) = account {
                    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown TLS file");
                }
            }
            files
        });
        let mut pg = Postgres {
            child: None,
            dir,
            port: free_loopback_port(),
            password,
            bin,
            account,
            next_db: AtomicU32::new(0),
            tls,
        };
        pg.launch(watched);
        pg
    }

    /// Starts the server on the existing cluster (again, after [`Postgres::stop`]).
    fn launch(&mut self, watched: bool) {
        let postgres = self.bin.join("postgres");
        // Durability settings off: a test cluster is thrown away, and fsync on a 2-core CI
        // machine would make every commit wait on the disk.
        let mut args = format!(
            "{} -D {} -p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            postgres.display(),
            self.dir.join("data").display(),
            self.port,
            self.dir.display()
        );
        if let Some((cert, key)) = &self.tls {
            args.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cert.display(),
                key.display()
            ));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("server log");
        if let Some((uid, gid)) = self.account {
            let _ = std::os::unix::fs::chown(self.dir.join("server.log"), Some(uid), Some(gid));
        }
        let cmd = if watched {
            // The watcher stops the server and removes its directory once the test process
            // is gone: /proc/PID disappears whoever owns it.
            let script = format!(
                "{args} & p=$!; trap 'kill -INT $p; wait $p; exit' INT TERM; \
                 while [ -d /proc/{me} ] && kill -0 $p 2>/dev/null; do sleep 0.5; done; \
                 kill -INT $p 2>/dev/null; wait $p; rm -rf {dir}",
                me = std::process::id(),
                dir = self.dir.display()
            );
            let mut c = Command::new("sh");
            c.args(["-c", &script]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("exec {args}")]);
            c
        };
        let child = as_account(cmd, self.account)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start postgres (package postgresql): {e}"));
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        // A bound on waiting for the server to come up, not an assertion about its speed.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "postgres exited ({status}) before accepting connections on 127.0.0.1:{}:\n{}",
                    self.port,
                    self.log()
                );
            }
            assert!(
                Instant::now() <= deadline,
                "postgres did not accept connections on 127.0.0.1:{} in 60 s:\n{}",
                self.port,
                self.log()
            );
            sleep(Duration::from_millis(100));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// A new, empty database; its `postgres://` URL (with the superuser's password).
    pub fn create_database(&self) -> String {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        let name = format!("t{}_{n}", std::process::id());
        self.psql(&format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// Runs one SQL command as the superuser on the `postgres` database.
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                SUPERUSER,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ])
            .env("PGPASSWORD", &self.password)
            .output()
            .unwrap_or_else(|e| panic!("cannot run psql (package postgresql-client): {e}"));
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops the server (fast shutdown); [`Postgres::restart`] brings it back on the same
    /// port and data.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The server's whole process group: the watcher shell and postgres.
            let _ = Command::new("kill")
                .args(["-s", "INT", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.launch(false);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Makes `data` a fresh cluster; the superuser's password. `initdb` is most of a server's
/// start-up (seconds on a busy two-core machine, once per test binary), so one cluster is made
/// per machine, PostgreSQL version and owner, kept in /var/tmp, and copied for each server.
fn cluster_from_template(
    bin: &Path,
    account: Option<(u32, u32)>,
    dir: &Path,
    data: &Path,
) -> String {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    let version = bin
        .parent()
        .and_then(Path::file_name)
        .map_or_else(String::new, |v| v.to_string_lossy().into_owned());
    let owner = account.map_or_else(
        || std::fs::metadata(dir).map_or(0, |m| m.uid()),
        |(uid, _)| uid,
    );
    let template = PathBuf::from(format!("/var/tmp/sealscan-pg-template-{version}-{owner}"));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(format!("{}.lock", template.display()))
        .expect("template lock file");
    lock.lock().expect("lock the template");
    if !template.join("ready").exists() {
        let _ = std::fs::remove_dir_all(&template);
        // The owner's alone: it keeps the superuser's password.
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&template)
            .expect("template dir");
        let chown = |p: &Path| {
            if let Some((uid, gid)) = account {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).expect("chown template");
            }
        };
        chown(&template);
        let password = random_password();
        let pwfile = template.join("pwfile");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&pwfile)
            .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{password}\n").as_bytes()))
            .expect("write pwfile");
        chown(&pwfile);
        let out = as_account(Command::new(bin.join("initdb")), account)
            .arg("-D")
            .arg(template.join("data"))
            .args(["-U", SUPERUSER, "-E", "UTF8", "--no-locale"])
            .args(["--auth-host=scram-sha-256", "--auth-local=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap_or_else(|e| panic!("cannot run initdb (package postgresql): {e}"));
        assert!(
            out.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::rename(&pwfile, template.join("password")).expect("keep the password");
        std::fs::write(template.join("ready"), "").expect("mark the template ready");
    }
    let password = std::fs::read_to_string(template.join("password"))
        .expect("template password")
        .trim()
        .to_string();
    let out = as_account(Command::new("cp"), account)
        .arg("-a")
        .arg(template.join("data"))
        .arg(data)
        .output()
        .expect("cp");
    assert!(
        out.status.success(),
        "copying the template cluster failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = lock.unlock();
    password
}

fn as_account(mut cmd: Command, account: Option<(u32, u32)>) -> Command {
    if let Some((uid, gid)) = account {
        cmd.uid(uid).gid(gid);
        cmd.env("HOME", "/tmp");
    }
    cmd
}

/// The newest installed PostgreSQL's programs.
fn bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<u32> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{} (package postgresql): {e}", root.display()))
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort_unstable();
    let v = versions.last().unwrap_or_else(|| {
        panic!(
            "no PostgreSQL under {} (package postgresql)",
            root.display()
        )
    });
    root.join(v.to_string()).join("bin")
}

/// Creates the server's system account unless it exists; its (uid, gid).
fn ensure_server_account() -> (u32, u32) {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id")
            .args([flag, SERVER_ACCOUNT])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    if id("-u").is_none() {
        // Two test binaries may race here: the loser's useradd fails, and the account exists.
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
            ])
            .arg(SERVER_ACCOUNT)
            .stderr(Stdio::null())
            .status();
    }
    match (id("-u"), id("-g")) {
        (Some(uid), Some(gid)) => (uid, gid),
        _ => panic!("cannot create the account {SERVER_ACCOUNT} for PostgreSQL (tests need root)"),
    }
}

fn random_password() -> String {
    let mut bytes = [0u8; 18];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    read.expect("read /dev/urandom");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
