//! The .rpm packages, as far as a Debian root allows: `rpm -i` into the container's own root
//! under its running systemd, so the scriptlets (systemd-sysusers, systemd-tmpfiles, daemon-reload,
//! try-restart, disable --now) run for real. `--nodeps` because the RPM database of a Debian
//! system lists none of its packages; `--force-debian` because Debian's rpm refuses to install
//! without it.

use crate::flow::{Session, indent};
use crate::{check, step, wait_for};
use sealscan_control::password_policy::Names;
use sealscan_control::secrets::generate_password;
use std::net::TcpStream;
use std::time::Duration;

const RPM: &str = "rpm --force-debian --nodeps";

pub fn rpm(s: &Session) -> Result<(), String> {
    let ct = s.ct;
    step("the .rpm: rpm -i under the container's systemd, scriptlets and file list");
    ct.sh(&format!(
        "cd /root/packages/1 && {RPM} -i sealscan-agent-*.rpm sealscan-control-*.rpm"
    ))?;
    for (package, want) in [
        ("sealscan-agent", "sealscan-agent-0.1.0-1.x86_64"),
        ("sealscan-control", "sealscan-control-0.1.0-1.x86_64"),
    ] {
        let got = ct.sh(&format!("rpm -q {package}"))?;
        check(got.trim() == want, || format!("rpm -q {package}: {got}"))?;
    }
    let config = ct.sh("rpm -qc sealscan-agent")?;
    check(config.trim() == "/etc/sealscan/agent.toml", || {
        format!("rpm -qc sealscan-agent lists {config:?}")
    })?;
    for (unit, path) in [
        (
            "sealscan-agent",
            "/usr/lib/systemd/system/sealscan-agent.service",
        ),
        (
            "sealscan-control",
            "/usr/lib/systemd/system/sealscan-control.service",
        ),
    ] {
        check(
            ct.sh(&format!("rpm -ql {unit}"))?
                .lines()
                .any(|l| l == path),
            || format!("the {unit} rpm does not ship {path}"),
        )?;
        // Debian 12 merges /lib into /usr/lib: systemd may name either.
        let loaded = ct.prop(unit, "FragmentPath")?;
        check(
            loaded == path || loaded == path.trim_start_matches("/usr"),
            || format!("systemd loads {unit} from {loaded:?}, not {path}"),
        )?;
        check(ct.prop(unit, "UnitFileState")? == "disabled", || {
            format!("{unit} is enabled by the rpm install")
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
        ("/etc/sealscan/agent.toml", "644 root root"),
    ] {
        let got = ct.sh(&format!("stat -c '%a %U %G' {path}"))?;
        check(got.trim() == want, || {
            format!("{path} is {}, expected {want}", got.trim())
        })?;
    }
    ct.must(&["sealscan-agent", "--version"], None)?;

    // A running control plane, for the upgrade's restart to show.
    let pw = generate_password(
        20,
        &Names {
            first: "Bob",
            last: "Jones",
        },
    );
    ct.must(
        &[
            "runuser",
            "-u",
            "sealscan-control",
            "--",
            "sealscan-control",
            "init",
            "--username",
            "bob",
            "--first-name",
            "Bob",
            "--last-name",
            "Jones",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ],
        Some(pw.expose().as_bytes()),
    )?;
    ct.must(&["systemctl", "start", "sealscan-control"], None)?;
    let addr = format!("127.0.0.1:{}", s.port);
    wait_for(
        "the rpm's control plane to listen",
        Duration::from_secs(60),
        || Ok(TcpStream::connect(&addr).is_ok()),
    )?;
    let pid = ct.prop("sealscan-control", "MainPID")?;
    ct.sh("sed -i 's|^concurrency = .*|concurrency = 4|' /etc/sealscan/agent.toml")?;
    let edited = ct.sh("cat /etc/sealscan/agent.toml")?;

    step("rpm -U to the newer build: edited config kept, running service restarted");
    ct.sh(&format!(
        "cd /root/packages/2 && {RPM} -U sealscan-agent-*.rpm sealscan-control-*.rpm"
    ))?;
    let got = ct.sh("rpm -q sealscan-agent sealscan-control")?;
    check(got.lines().all(|l| l.contains("0.1.0-2")), || {
        format!("after rpm -U: {got}")
    })?;
    check(ct.sh("cat /etc/sealscan/agent.toml")? == edited, || {
        "rpm -U changed the edited /etc/sealscan/agent.toml".into()
    })?;
    let now = ct.prop("sealscan-control", "MainPID")?;
    check(now != pid && now != "0", || {
        format!("rpm -U did not restart the running control plane (pid {pid}, now {now})")
    })?;

    step("rpm -e: services stopped, state kept (RPM has no purge), the edited config saved");
    ct.sh(&format!("{RPM} -e sealscan-agent sealscan-control"))?;
    let active = ct.run(&["systemctl", "is-active", "sealscan-control"], None)?;
    check(active.stdout.trim() != "active", || {
        "rpm -e left the control plane running".into()
    })?;
    let left = ct.sh("ls -d /var/lib/sealscan-agent /var/lib/sealscan-control /etc/sealscan/*")?;
    println!("{}", indent(&left));
    for path in [
        "/var/lib/sealscan-agent",
        "/var/lib/sealscan-control",
        "/etc/sealscan/agent.toml.rpmsave",
    ] {
        check(left.lines().any(|l| l == path), || {
            format!("rpm -e left no {path}")
        })?;
    }
    Ok(())
}
