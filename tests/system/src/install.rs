//! The .deb packages through apt-get, as operators install them: install, upgrade to a newer
//! build, remove, purge.

use crate::container::Container;
use crate::flow::{Session, indent};
use crate::{check, step};

const APT: &str = "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends";

/// `apt-get install ./sealscan-control_*.deb ./sealscan-agent_*.deb`, then the users,
/// directories, modes and conffile the packages promise.
pub fn install(ct: &Container) -> Result<(), String> {
    step("apt-get install ./sealscan-control_*.deb ./sealscan-agent_*.deb");
    let out = ct.sh(&format!(
        "cd /root/packages/1 && {APT} ./sealscan-control_*.deb ./sealscan-agent_*.deb"
    ))?;
    println!("{}", indent(&out));
    for user in ["sealscan-agent", "sealscan-control"] {
        let entry = ct.sh(&format!("getent passwd {user}"))?;
        let f: Vec<&str> = entry.trim().split(':').collect();
        let uid: u32 = f.get(2).and_then(|u| u.parse().ok()).unwrap_or(u32::MAX);
        check(uid < 1000, || {
            format!("{user} is not a system user: {entry}")
        })?;
        check(
            f.get(5) == Some(&format!("/var/lib/{user}").as_str()),
            || format!("{user}'s home is not /var/lib/{user}: {entry}"),
        )?;
        check(f.get(6).is_some_and(|s| s.ends_with("nologin")), || {
            format!("{user} can log in: {entry}")
        })?;
    }
    for (path, want) in [
        (
            "/var/lib/sealscan-agent",
            "700 sealscan-agent sealscan-agent",
        ),
        (
            "/var/lib/sealscan-control",
            "700 sealscan-control sealscan-control",
        ),
        ("/etc/sealscan", "755 root root"),
        ("/etc/sealscan/agent.toml", "644 root root"),
        ("/usr/bin/sealscan-agent", "755 root root"),
        ("/usr/bin/sealscan-control", "755 root root"),
        ("/usr/bin/sealscan", "755 root root"),
        (
            "/lib/systemd/system/sealscan-agent.service",
            "644 root root",
        ),
    ] {
        let got = ct.sh(&format!("stat -c '%a %U %G' {path}"))?;
        check(got.trim() == want, || {
            format!("{path} is {}, expected {want}", got.trim())
        })?;
    }
    let conffiles = ct.sh("dpkg-query -W -f='${Conffiles}' sealscan-agent")?;
    check(
        conffiles
            .lines()
            .any(|l| l.trim().starts_with("/etc/sealscan/agent.toml ")),
        || format!("/etc/sealscan/agent.toml is not a conffile: {conffiles:?}"),
    )?;
    for unit in ["sealscan-agent", "sealscan-control"] {
        let enabled = ct.run(&["systemctl", "is-enabled", unit], None)?;
        check(enabled.stdout.trim() == "disabled", || {
            format!(
                "{unit} is {} after install, expected disabled",
                enabled.stdout.trim()
            )
        })?;
        let active = ct.run(&["systemctl", "is-active", unit], None)?;
        check(active.stdout.trim() == "inactive", || {
            format!(
                "{unit} is {} after install, expected inactive",
                active.stdout.trim()
            )
        })?;
    }
    Ok(())
}

fn read(ct: &Container, path: &str) -> Result<Vec<u8>, String> {
    let full = ct.root().join(path.trim_start_matches('/'));
    std::fs::read(&full).map_err(|e| format!("reading {path}: {e}"))
}

/// A newer build over the running system: config and state kept, both services restarted,
/// the agent still enrolled.
pub fn upgrade(s: &Session) -> Result<(), String> {
    let ct = s.ct;
    step("upgrade: apt-get install the newer build (0.1.0-2) over the running services");
    let keep = [
        "/etc/sealscan/agent.toml",
        "/etc/sealscan/ca.pem",
        "/var/lib/sealscan-agent/identity.key",
        "/var/lib/sealscan-agent/credential",
    ];
    let before: Vec<Vec<u8>> = keep.iter().map(|p| read(ct, p)).collect::<Result<_, _>>()?;
    let control_files = ct.sh("cd /var/lib/sealscan-control && find . -type f | sort")?;
    let pids = [
        ct.prop("sealscan-agent", "MainPID")?,
        ct.prop("sealscan-control", "MainPID")?,
    ];
    let out = ct.sh(&format!(
        "cd /root/packages/2 && {APT} ./sealscan-control_*.deb ./sealscan-agent_*.deb"
    ))?;
    println!("{}", indent(&out));
    for package in ["sealscan-agent", "sealscan-control"] {
        let v = ct.sh(&format!("dpkg-query -W -f='${{Version}}' {package}"))?;
        check(v.trim() == "0.1.0-2", || {
            format!("{package} is at {v} after the upgrade")
        })?;
    }
    for (path, old) in keep.iter().zip(&before) {
        check(&read(ct, path)? == old, || {
            format!("the upgrade changed {path}")
        })?;
    }
    let stray = ct.sh("ls /etc/sealscan")?;
    check(stray.split_whitespace().count() == 2, || {
        format!("the upgrade left files beside the config: {stray}")
    })?;
    check(
        ct.sh("cd /var/lib/sealscan-control && find . -type f | sort")? == control_files,
        || "the upgrade changed the control plane's files".into(),
    )?;
    for (unit, old) in ["sealscan-agent", "sealscan-control"].iter().zip(&pids) {
        let now = ct.prop(unit, "MainPID")?;
        check(&now != old && now != "0", || {
            format!("{unit} was not restarted by the upgrade (pid {old}, now {now})")
        })?;
        check(ct.prop(unit, "UnitFileState")? == "enabled", || {
            format!("{unit} is no longer enabled after the upgrade")
        })?;
    }
    // Still enrolled and approved: the restarted agent never waits for an approval (its first
    // claim may fail while the control plane restarts beside it; the scan after this shows it
    // works).
    let status = ct.prop("sealscan-agent", "StatusText")?;
    check(
        !status.is_empty() && !status.starts_with("waiting for approval"),
        || format!("the upgraded agent's status is {status:?}"),
    )?;
    Ok(())
}

/// Remove stops and disables the services and keeps config and state; purge removes them.
pub fn remove_and_purge(ct: &Container) -> Result<(), String> {
    step("apt-get remove: services stopped and disabled, config and state kept");
    ct.sh("DEBIAN_FRONTEND=noninteractive apt-get remove -y -q sealscan-agent sealscan-control")?;
    let root = ct.root();
    for unit in ["sealscan-agent", "sealscan-control"] {
        let active = ct.run(&["systemctl", "is-active", unit], None)?;
        check(active.stdout.trim() == "inactive", || {
            format!("{unit} is {} after remove", active.stdout.trim())
        })?;
        // symlink_metadata: with the unit file gone, a link left behind dangles.
        let link = root.join(format!(
            "etc/systemd/system/multi-user.target.wants/{unit}.service"
        ));
        check(std::fs::symlink_metadata(&link).is_err(), || {
            format!(
                "remove left {unit} enabled: {} is still there",
                link.display()
            )
        })?;
        let state = ct.sh(&format!("dpkg-query -W -f='${{db:Status-Abbrev}}' {unit}"))?;
        check(state.trim() == "rc", || {
            format!("{unit} is {state:?} after remove, expected rc")
        })?;
    }
    for path in [
        "var/lib/sealscan-agent/identity.key",
        "var/lib/sealscan-control",
        "etc/sealscan/agent.toml",
    ] {
        check(root.join(path).exists(), || {
            format!("remove deleted /{path}")
        })?;
    }
    check(!root.join("usr/bin/sealscan-agent").exists(), || {
        "remove left /usr/bin/sealscan-agent".into()
    })?;

    step("apt-get purge: state and config gone, the operator's CA file and the users stay");
    ct.sh("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q sealscan-agent sealscan-control")?;
    for path in [
        "var/lib/sealscan-agent",
        "var/lib/sealscan-control",
        "etc/sealscan/agent.toml",
    ] {
        check(!root.join(path).exists(), || format!("purge left /{path}"))?;
    }
    check(root.join("etc/sealscan/ca.pem").exists(), || {
        "purge removed the operator's /etc/sealscan/ca.pem".into()
    })?;
    let helper = ct.sh(
        "find /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
         -name '*sealscan*' 2>/dev/null || true",
    )?;
    check(helper.trim().is_empty(), || {
        format!("purge left deb-systemd-helper state: {helper}")
    })?;
    ct.sh("getent passwd sealscan-agent sealscan-control >/dev/null")?;
    Ok(())
}
