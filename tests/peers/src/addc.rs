//! Samba's Active Directory domain controller (KDC, LDAP, DNS, SMB) for the realm SEAL.TEST,
//! on 127.0.0.70 only, inside a container with systemd as PID 1. Provisioned once, with one
//! account in each state a login can meet; the container's root under /var/tmp keeps the
//! provisioned domain, so a warm start takes seconds.

use crate::container::Container;
use std::fs::{File, OpenOptions};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The DC's only address.
pub const ADDRESS: &str = "127.0.0.70";
/// The Kerberos realm (the upper-case DNS domain).
pub const REALM: &str = "SEAL.TEST";
/// The DNS domain.
pub const DNS_DOMAIN: &str = "seal.test";
/// The NetBIOS domain: not a Kerberos realm.
pub const NETBIOS_DOMAIN: &str = "SEAL";
/// The DC's host name: its SMB service principal is `cifs/dc1.seal.test@SEAL.TEST`. The test
/// machine cannot resolve it: connect to [`ADDRESS`] and use the name for the principal.
pub const HOST_NAME: &str = "dc1.seal.test";
/// The password of every account but the administrator (and the wrong-password one, given
/// [`WRONG_PASSWORD`]).
pub const PASSWORD: &str = "Seal-Scan-2026!";
/// What the wrong-password account is given.
pub const WRONG_PASSWORD: &str = "Not-The-Password-1";
const ADMIN_PASSWORD: &str = "Seal-Admin-2026!";

/// The container directory; its `rootfs` is the cached, provisioned DC.
const DEFAULT_DIR: &str = "/var/tmp/sealscan-addc-ct";
const PROVISION: &str = include_str!("addc/provision.sh");
/// Inside the root: the provisioning script that made it, to redo it when the script changes.
const PROVISIONED_MARK: &str = "var/lib/samba/sealscan-provisioned";
const SETTINGS_FILE: &str = "etc/samba/sealscan-settings.conf";
/// The KDC logs to the first, the SMB server to the second.
const LOG_FILES: [&str; 2] = ["var/log/samba/log.samba", "var/log/samba/log.smbd"];

/// The account states the DC holds, each behind its own user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Account {
    Valid,
    /// A valid account given the wrong password. Ten bad passwords within a minute would
    /// lock it: tests give it fewer.
    WrongPassword,
    Disabled,
    /// Its account expiry date has passed.
    Expired,
    /// Must change its password at next login.
    MustChange,
    LockedOut,
    /// No such principal.
    Unknown,
}

impl Account {
    pub const ALL: [Account; 7] = [
        Account::Valid,
        Account::WrongPassword,
        Account::Disabled,
        Account::Expired,
        Account::MustChange,
        Account::LockedOut,
        Account::Unknown,
    ];

    pub fn user(self) -> &'static str {
        match self {
            Account::Valid => "scanuser",
            Account::WrongPassword => "wrongpw",
            Account::Disabled => "disableduser",
            Account::Expired => "expireduser",
            Account::MustChange => "mustchange",
            Account::LockedOut => "lockeduser",
            Account::Unknown => "nosuchuser",
        }
    }

    /// What a login of this state is given.
    pub fn password(self) -> &'static str {
        match self {
            Account::WrongPassword => WRONG_PASSWORD,
            _ => PASSWORD,
        }
    }
}

/// The DC's switchable settings; a change restarts the DC (a few seconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DcSettings {
    /// `ntlm auth = disabled`: every NTLM login gets STATUS_NTLM_BLOCKED.
    pub ntlm_refused: bool,
    /// `server signing = mandatory`.
    pub signing_mandatory: bool,
    /// `smb encrypt = required` (SMB 3 encryption on every session).
    pub encryption_required: bool,
}

impl DcSettings {
    fn conf(self) -> String {
        let mut c = String::from("# written by sealscan's tests (tests/peers/src/addc.rs)\n");
        if self.ntlm_refused {
            c.push_str("ntlm auth = disabled\n");
        }
        if self.signing_mandatory {
            c.push_str("server signing = mandatory\n");
        }
        if self.encryption_required {
            c.push_str("smb encrypt = required\n");
        }
        c
    }
}

/// The running DC with the settings it was asked for. Holds a lock that keeps every other
/// test (of this process or another) from changing the settings until dropped; the container
/// keeps running after, for the next test to find warm (`AdDc::shut_down` stops it).
pub struct AdDc {
    container: Container,
    _lock: File,
}

/// What a client command inside the container said.
#[derive(Debug)]
pub struct Ran {
    pub ok: bool,
    pub output: String,
}

fn dc_dir() -> PathBuf {
    std::env::var_os("SEALSCAN_ADDC_DIR").map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from)
}

fn lock(dir: &Path) -> File {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let path = dir.with_extension("lock");
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
    file
}

impl AdDc {
    /// Boots the container (the first time: debootstrap, install and provision, a few
    /// minutes), applies `settings` and returns once the KDC issues tickets and SMB accepts
    /// connections. Needs root; panics with the reason when the DC cannot be brought up.
    pub fn start(settings: DcSettings) -> AdDc {
        assert!(
            crate::system::is_root(),
            "the AD DC peer runs in a systemd container and needs root"
        );
        let dir = dc_dir();
        let lock = lock(&dir);
        let container = Container::new(&dir);
        container.up();
        let dc = AdDc {
            container,
            _lock: lock,
        };
        dc.provision_once();
        dc.apply(settings);
        dc
    }

    fn file(&self, relative: &str) -> PathBuf {
        self.container.root().join(relative)
    }

    fn provision_once(&self) {
        let mark = self.file(PROVISIONED_MARK);
        if std::fs::read_to_string(&mark).is_ok_and(|m| m == PROVISION) {
            return;
        }
        self.container.must(
            PROVISION,
            &[
                ("ADMIN_PASSWORD", ADMIN_PASSWORD),
                ("USER_PASSWORD", PASSWORD),
            ],
        );
        std::fs::write(&mark, PROVISION)
            .unwrap_or_else(|e| panic!("write {}: {e}", mark.display()));
    }

    /// Tests give the wrong-password account bad passwords; enough of them within a minute
    /// (repeated test runs) would lock it for good, so each start unlocks it (lockoutTime 0
    /// also clears its bad-password count).
    fn unlock_wrong_password_account(&self) {
        let ldif = format!(
            "dn: CN={},CN=Users,DC=seal,DC=test\nchangetype: modify\nreplace: lockoutTime\n\
             lockoutTime: 0\n",
            Account::WrongPassword.user()
        );
        self.container.must(
            &format!("printf '{ldif}' | ldbmodify -H /var/lib/samba/private/sam.ldb >/dev/null"),
            &[],
        );
    }

    fn apply(&self, settings: DcSettings) {
        self.unlock_wrong_password_account();
        let path = self.file(SETTINGS_FILE);
        let wanted = settings.conf();
        let changed = std::fs::read_to_string(&path).map_or(true, |c| c != wanted);
        if changed {
            std::fs::write(&path, &wanted)
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            self.container.must("systemctl restart samba-ad-dc", &[]);
        } else {
            // After a boot the unit starts on its own; after a crash this brings it back.
            self.container.must("systemctl start samba-ad-dc", &[]);
        }
        self.wait_ready();
    }

    /// A Kerberos SMB session of the valid account working end to end: smbd accepts
    /// connections a moment before it can check tickets (STATUS_INTERNAL_ERROR until then).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let smb: SocketAddr = format!("{ADDRESS}:445").parse().expect("address");
        loop {
            let smb_up = TcpStream::connect_timeout(&smb, Duration::from_millis(200)).is_ok();
            if smb_up && self.smbclient(Account::Valid.user(), PASSWORD, true, "").ok {
                return;
            }
            if Instant::now() > deadline {
                let status = self.container.sh(
                    "systemctl status --no-pager samba-ad-dc; tail -30 /var/log/samba/log.samba",
                    &[],
                    None,
                );
                panic!(
                    "the AD DC in {} did not come up within 60 s:\n{}",
                    dc_dir().display(),
                    String::from_utf8_lossy(&status.stdout)
                );
            }
            sleep(Duration::from_millis(250));
        }
    }

    /// `kinit user@SEAL.TEST` inside the container (MIT krb5), the password on its input,
    /// into a credentials cache of its own.
    pub fn kinit(&self, user: &str, password: &str) -> Ran {
        let script = format!(
            "export KRB5CCNAME=FILE:$(mktemp); kinit '{user}@{REALM}' 2>&1; rc=$?; \
             kdestroy >/dev/null 2>&1; exit $rc"
        );
        self.with_password(&script, password)
    }

    /// Runs `script` inside with `password` on its input; what it printed.
    fn with_password(&self, script: &str, password: &str) -> Ran {
        let out = self
            .container
            .sh(script, &[], Some(format!("{password}\n").as_bytes()));
        Ran {
            ok: out.status.success(),
            output: String::from_utf8_lossy(&out.stdout).into_owned(),
        }
    }

    /// Connects to `IPC$` with `smbclient` inside the container (as the agent does; the
    /// `netlogon` share can refuse a listing after the container restarts): with Kerberos
    /// (`kinit` first, then `--use-kerberos=required` to `//dc1.seal.test` at the DC's
    /// address), or with NTLMv2 as `SEAL\user`. `extra` adds smbclient options.
    pub fn smbclient(&self, user: &str, password: &str, kerberos: bool, extra: &str) -> Ran {
        let script = if kerberos {
            format!(
                "export KRB5CCNAME=FILE:$(mktemp); kinit '{user}@{REALM}' >/dev/null 2>&1 || \
                 {{ echo kinit failed; exit 1; }}; smbclient //{HOST_NAME}/IPC$ \
                 -I {ADDRESS} --use-kerberos=required {extra} -c exit 2>&1; rc=$?; \
                 kdestroy >/dev/null 2>&1; exit $rc"
            )
        } else {
            format!(
                "read -r PASSWD; export PASSWD; smbclient //{ADDRESS}/IPC$ -U '{NETBIOS_DOMAIN}\\{user}' \
                 --use-kerberos=off {extra} -c exit 2>&1"
            )
        };
        self.with_password(&script, password)
    }

    /// The DC's logs, KDC's and SMB server's, with their authentication audit lines
    /// (`[SMB2,NTLMSSP]`, `[SMB2,krb5]`, `[Kerberos KDC,...]`).
    pub fn log(&self) -> String {
        LOG_FILES
            .iter()
            .map(|f| std::fs::read_to_string(self.file(f)).unwrap_or_default())
            .collect()
    }

    /// A private krb5.conf for clients on the host: the realm's KDC by address, no DNS.
    pub fn krb5_conf(&self) -> PathBuf {
        let path = dc_dir().with_extension("krb5.conf");
        let text = format!(
            "[libdefaults]\n    default_realm = {REALM}\n    dns_lookup_kdc = false\n    \
             dns_lookup_realm = false\n    rdns = false\n[realms]\n    {REALM} = {{\n        \
             kdc = {ADDRESS}\n    }}\n"
        );
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Creates (or re-creates) the valid account `user` with `password` (tests whose password
    /// is a canary).
    pub fn add_user(&self, user: &str, password: &str) {
        self.container.must(
            "samba-tool user delete \"$U\" >/dev/null 2>&1; \
             samba-tool user add \"$U\" \"$P\" >/dev/null",
            &[("U", user), ("P", password)],
        );
    }

    /// Makes [`HOST_NAME`] resolve to [`ADDRESS`] on this machine (a line in /etc/hosts, added
    /// once): the forward DNS the agent checks a Kerberos host name against. The test
    /// machine has no DNS server for seal.test.
    pub fn ensure_host_name_resolves(&self) {
        crate::system::ensure_hosts_line(ADDRESS, HOST_NAME);
    }

    /// Powers the container off (the provisioned root stays cached).
    pub fn shut_down(self) {
        self.container.down();
    }
}
