//! Host names as scan targets: the agent resolves them in its own view of DNS, matches the
//! record by the address, logs in to that address against a real sshd, and reports it; a name
//! that does not resolve has its own cause, not "no record".

use sealscan_e2e::*;
use sealscan_protocols::appliance::{AddressRange, SecretFieldName};
use sealscan_protocols::results::{LoginKind, Status, Step};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::ensure_user;

const USER: &str = "e2e_hostname";
const PW: &str = "e2e-Hostname-Pw-8";

fn on(
    id: &str,
    host: &str,
    kind: LoginKind,
    port: u16,
) -> sealscan_protocols::appliance::JobTarget {
    let mut t = target(id, kind, port, None);
    t.host = host.into();
    t
}

#[test]
fn host_names_resolve_on_the_appliance_and_match_records_by_address() {
    ensure_user(USER, PW);
    let sshd = Sshd::start(&SshdOptions::default());
    let port = sshd.port();
    let mut record = unix_record(
        "r-loopback",
        USER,
        vec![legacy(SecretFieldName::Password, PW.as_bytes())],
    );
    record.address_ranges = vec![AddressRange {
        first: "127.0.0.0".parse().expect("ip"),
        last: "127.0.0.255".parse().expect("ip"),
    }];
    let mut elsewhere = unix_record(
        "r-elsewhere",
        "e2e_nobody",
        vec![legacy(SecretFieldName::Password, b"not-this-one")],
    );
    elsewhere.address_ranges = vec![AddressRange {
        first: "10.9.0.1".parse().expect("ip"),
        last: "10.9.0.1".parse().expect("ip"),
    }];
    // RFC 6761: `.invalid` never resolves, anywhere.
    let job = job(
        vec![
            on("by-name", "localhost", LoginKind::Unix, port),
            on("no-dns", "no-such-host.invalid", LoginKind::Unix, port),
            on(
                "no-dns-win",
                "no-such-host.invalid",
                LoginKind::Windows,
                port,
            ),
        ],
        vec![elsewhere, record],
        vec![],
    );
    let posts = run_job(&job, timeouts());

    let ok = result(&posts, "by-name");
    assert_eq!(ok.status, Status::Passed, "{ok:#?}");
    assert_eq!(ok.login_id, USER);
    assert_eq!(
        ok.facts.get("address").map(String::as_str),
        Some("127.0.0.1")
    );
    let post = posts
        .iter()
        .find(|p| p.target_id == "by-name")
        .expect("post");
    assert_eq!(post.record_id.as_deref(), Some("r-loopback"));
    assert_eq!(
        post.host, "localhost",
        "the target is reported as it was named"
    );
    assert_eq!(sshd.accepted_for(USER).len(), 1, "{}", sshd.auth_log());

    for (id, qid) in [("no-dns", 105297), ("no-dns-win", 105015)] {
        let o = result(&posts, id);
        assert_outcome(
            o,
            Status::NotAttempted,
            qid,
            Step::Resolve,
            &["no-such-host.invalid", "does not resolve on this appliance"],
        );
        assert!(
            !cause_text(o).contains("no Unix authentication record"),
            "{o:#?}"
        );
        assert!(!o.facts.contains_key("address"), "{o:#?}");
    }
}
