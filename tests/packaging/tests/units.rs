//! The shipped units must stay sandboxed at least as tightly as we promise operators:
//! `systemd-analyze security` exposure 1.5 or lower for the agent (Vault ships 6.0, OpenBao 5.9).

use sealscan_packaging_tests::repo_root;
use sealscan_test_peers::system::ensure_packages;
use std::process::Command;

fn exposure(unit: &str) -> f64 {
    ensure_packages(&["systemd"]);
    let path = repo_root().join("systemd").join(unit);
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian package systemd) must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no exposure line for {unit}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let figure = line
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("cannot read the figure in {line:?}"));
    println!("{unit}: exposure {figure}");
    figure
}

#[test]
fn agent_unit_exposure_is_at_most_1_5() {
    let figure = exposure("sealscan-agent.service");
    assert!(
        figure <= 1.5,
        "sealscan-agent.service exposure {figure} > 1.5"
    );
}

#[test]
fn control_unit_exposure_is_at_most_1_5() {
    let figure = exposure("sealscan-control.service");
    assert!(
        figure <= 1.5,
        "sealscan-control.service exposure {figure} > 1.5"
    );
}

#[test]
fn units_keep_the_secret_specific_settings() {
    let unit = std::fs::read_to_string(repo_root().join("systemd/sealscan-agent.service")).unwrap();
    for directive in [
        "Type=notify",
        "WatchdogSec=",
        "LimitCORE=0",
        "MemorySwapMax=0",
        "LimitMEMLOCK=",
        "CapabilityBoundingSet=\n",
        "UMask=0077",
        "StateDirectory=sealscan-agent",
        "ConfigurationDirectory=sealscan",
    ] {
        assert!(
            unit.contains(directive),
            "sealscan-agent.service lost {directive:?}"
        );
    }
}
