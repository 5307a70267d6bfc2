//! A Unix target whose root password and sudoers can be set freely: a Debian container with
//! systemd as PID 1 (`../shared/tools/systemd-container`), its sshd listening on the dedicated
//! loopback address 127.0.0.63, port 22. It shares the host's network, so sshd's listen address
//! is written into the rootfs before openssh-server is installed or the container boots.
//!
//! The rootfs is built once under /var/tmp (about a minute) and kept; later runs boot it (a few
//! seconds) or find it running. Accounts, passwords and sudoers rules are (re)set on each
//! `RootTarget::start`, so a run does not depend on what a previous one left.

use crate::container::Container;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::Mutex;

pub const ADDRESS: &str = "127.0.0.63";
pub const PORT: u16 = 22;
const DIR: &str = "/var/tmp/sealscan-unix-ct/cache";
const SSHD_CONFIG: &str = "ListenAddress 127.0.0.63\nPasswordAuthentication yes\n\
    KbdInteractiveAuthentication no\nUseDNS no\nMaxStartups 1000:30:1000\nMaxSessions 100\n";

static STARTED: Mutex<bool> = Mutex::new(false);

/// One sudoers line per account (a file in /etc/sudoers.d).
pub struct Account<'a> {
    pub name: &'a str,
    pub password: &'a str,
    /// E.g. `ALL=(ALL) ALL`, `ALL=(ALL) NOPASSWD: ALL`; None: not in sudoers.
    pub sudoers: Option<&'a str>,
    /// `Defaults:NAME requiretty`.
    pub requiretty: bool,
}

pub struct RootTarget {
    container: Container,
}

impl RootTarget {
    /// Boots the container (building its rootfs the first time) and sets root's password and
    /// the accounts. Panics with the tool's words when that fails: the tests need it.
    pub fn start(root_password: &str, accounts: &[Account<'_>]) -> RootTarget {
        let target = RootTarget {
            container: Container::new(DIR),
        };
        {
            let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
            if !*started {
                target.boot();
                *started = true;
            }
        }
        target.set_password("root", root_password);
        for account in accounts {
            target.run(&[
                "sh",
                "-c",
                &format!(
                    "id -u {0} >/dev/null 2>&1 || useradd -m -s /bin/bash {0}",
                    account.name
                ),
            ]);
            target.set_password(account.name, account.password);
            let rules = [
                account
                    .requiretty
                    .then(|| format!("Defaults:{} requiretty\n", account.name)),
                account.sudoers.map(|r| format!("{} {r}\n", account.name)),
            ]
            .into_iter()
            .flatten()
            .collect::<String>();
            let file = target
                .container
                .root()
                .join("etc/sudoers.d")
                .join(format!("sealscan-{}", account.name));
            fs::write(&file, rules).expect("write a sudoers.d file");
            // sudo ignores a sudoers file others could have written.
            fs::set_permissions(&file, fs::Permissions::from_mode(0o440))
                .expect("chmod a sudoers.d file");
        }
        target.run(&["visudo", "-c"]);
        target
    }

    fn boot(&self) {
        self.container.up();
        // sudo resolves the host name for its rules; without an entry it waits for DNS to fail
        // on every call and says "unable to resolve host".
        let hosts = self.container.root().join("etc/hosts");
        if !hosts.exists() {
            let name = fs::read_to_string(self.container.root().join("etc/hostname"))
                .unwrap_or_default()
                .trim()
                .to_string();
            let name = self.run(&["hostname"]).trim().to_string().max(name);
            fs::write(&hosts, format!("127.0.0.1 localhost\n127.0.1.1 {name}\n"))
                .expect("write /etc/hosts");
        }
        let conf = self.container.root().join("etc/ssh/sshd_config.d");
        fs::create_dir_all(&conf).expect("create sshd_config.d");
        fs::write(conf.join("sealscan.conf"), SSHD_CONFIG).expect("write sshd config");
        self.run(&[
            "sh",
            "-c",
            "dpkg -s openssh-server >/dev/null 2>&1 || \
             DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
             openssh-server sudo >/dev/null; systemctl restart ssh",
        ]);
    }

    fn set_password(&self, user: &str, password: &str) {
        self.run_with_input(&["chpasswd"], &format!("{user}:{password}\n"));
    }

    /// Runs `args` inside the container; panics with its output when it fails.
    pub fn run(&self, args: &[&str]) -> String {
        self.run_with_input(args, "")
    }

    fn run_with_input(&self, args: &[&str], input: &str) -> String {
        let out = self.container.exec(args, Some(input.as_bytes()));
        assert!(
            out.status.success(),
            "`{}` in the container failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// sshd's, sudo's and su's lines in the container's journal since `since` (a `journalctl
    /// --since` value such as `@1700000000`).
    pub fn auth_log(&self, since: &str) -> String {
        self.run(&[
            "journalctl",
            "-q",
            "--no-pager",
            "--since",
            since,
            "-t",
            "sshd",
            "-t",
            "sudo",
            "-t",
            "su",
        ])
    }
}
