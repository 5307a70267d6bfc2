//! A Kerberos record whose password is a random canary, created through the real control
//! plane's API (auth_protocol defaulting to kerberos for Active Directory) and scanned by the
//! real agent against the real DC: the login passes with Kerberos, and afterwards neither the
//! password, its NT hash nor its AES keys are in the agent's memory.

use picky_krb::crypto::CipherSuite;
use reqwest::Method;
use sealscan_e2e::agent::{AgentSettings, scan_memory};
use sealscan_e2e::control_plane::*;
use sealscan_e2e::{BOUND, random_hex, wait_until};
use sealscan_protocols::ntlm::nt_hash;
use sealscan_test_peers::addc::{self, AdDc, DcSettings};
use serde_json::json;

const USER: &str = "canaryuser";

#[test]
fn a_kerberos_scan_through_the_control_plane_leaves_no_password_or_key_in_memory() {
    let canary = format!("Cnry-kb-{}-Q1", random_hex(12));
    let dc = AdDc::start(DcSettings::default());
    dc.ensure_host_name_resolves();
    dc.add_user(USER, &canary);
    let plane = ControlPlane::start();
    let mut agent = plane.running_agent(AgentSettings::default());
    let mut record = password_record(
        "windows",
        "SEAL DC",
        USER,
        &[addc::ADDRESS],
        canary.as_bytes(),
    );
    record["windows"] = json!({
        "domain_type": "active_directory", "domain": addc::DNS_DOMAIN,
        "kdcs": [addc::ADDRESS], "host_names": [addc::HOST_NAME],
    });
    let id = plane.record(record);
    // `records show` says what the record will use.
    let shown = plane.call(Method::GET, &format!("/api/v1/records/{id}"), None);
    assert_eq!(shown["windows"]["auth_protocol"], "kerberos", "{shown}");
    assert_eq!(shown["windows"]["realm"], addc::REALM, "{shown}");
    let rows = plane.run_scan(
        json!({"title": "kerberos canary", "targets": [addc::ADDRESS], "kinds": "windows"}),
        1,
    );
    let windows = row(&rows, addc::ADDRESS, "windows");
    assert_eq!(windows["status"], "passed", "{windows}");
    assert_eq!(windows["qid"], 70053, "{windows}");
    assert_eq!(
        windows["method"], "Kerberos (AES256, SMB 3.1.1, signed)",
        "{windows}"
    );
    wait_until("an empty spool", BOUND, || agent.home.spooled().is_empty());
    wait_until("the job ends on the agent", BOUND, || {
        agent.home.stderr().contains(" done")
    });

    let utf16: Vec<u8> = canary.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let nt = nt_hash(canary.as_bytes()).expect("NT hash");
    let salt = format!("{}{USER}", addc::REALM);
    let aes = |suite: CipherSuite| {
        suite
            .cipher()
            .generate_key_from_password(canary.as_bytes(), salt.as_bytes())
            .expect("AES key")
    };
    let aes256 = aes(CipherSuite::Aes256CtsHmacSha196);
    let aes128 = aes(CipherSuite::Aes128CtsHmacSha196);
    let (hits, coverage) = scan_memory(
        agent.pid(),
        &[canary.as_bytes(), &utf16, &nt[..], &aes256, &aes128],
    );
    assert!(coverage.heap && coverage.stack, "{coverage:?}");
    assert!(
        hits.is_empty(),
        "password, NT hash or AES key in the agent's memory: {hits:#x?}"
    );
    agent.stop();
    assert!(!agent.home.stderr().contains(&canary));
}
