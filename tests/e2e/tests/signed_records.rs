//! Signed records end to end (docs/signed-records.md): a root pinned on a real agent with
//! `sealscan-agent root pin`, the subscription's signing material and a record's signed
//! statement uploaded through the control plane's API, and scans against a real sshd. The
//! honest record passes; the same record with an address added straight in the database is
//! refused at the `record signature` step on that address, and a listener there sees no
//! connection.
//!
//! Targets: OpenSSH sshd on 127.0.0.81; the attacker's listener on 127.0.0.82, same port.

use reqwest::Method;
use sealscan_e2e::agent::{Agent, AgentSettings};
use sealscan_e2e::control_plane::*;
use sealscan_e2e::{BOUND, seal_to, wait_until};
use sealscan_protocols::appliance::{
    AddressRange, Delegation, DelegationPassword, HostKeyPolicy, LoginType, RecordKind,
    SecretFieldName,
};
use sealscan_protocols::envelope::{Binding, Envelope};
use sealscan_protocols::signing::{
    EnvelopeHash, RecordStatement, RootDeclaration, SignedUnix, SignerRole, SigningKey, Statement,
    TrustList, UserCertificate, envelope_hash, fingerprint_text,
};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::ensure_user;
use serde_json::json;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const USER: &str = "e2e_signed";
const PASSWORD: &str = "e2e-Signed-Record-8";
const HOST: &str = "127.0.0.81";
const ATTACKER: &str = "127.0.0.82";
const RECORD: &str = "r-3b7d0c91e4a25f68";

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32])
}

/// Counts the connections a listener accepts until the test ends.
fn counting_listener(address: &str, port: u16) -> Arc<AtomicUsize> {
    let listener = TcpListener::bind((address, port)).expect("bind the attacker's listener");
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stream.is_ok() {
                seen.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    count
}

fn appliance_key(plane: &ControlPlane) -> [u8; 32] {
    use base64::Engine as _;
    let list = plane.call(Method::GET, "/api/v1/ncsm/recipients", None);
    let key = base64::engine::general_purpose::STANDARD
        .decode(
            list["recipients"][0]["public_key"]
                .as_str()
                .expect("public key"),
        )
        .expect("base64 key");
    key.try_into().expect("a 32-byte X25519 key")
}

#[test]
fn a_signed_record_passes_and_an_address_added_in_the_database_gets_nothing() {
    ensure_user(USER, PASSWORD);
    let sshd = Sshd::start_at(&SshdOptions::default(), HOST, None);
    let port = sshd.port();
    let attacker = counting_listener(ATTACKER, port);

    let (root, alice) = (key(11), key(12));
    let fp = root.fingerprint();
    let mut plane = ControlPlane::start();
    // The appliance pins the root before it runs, as its operator does out of band.
    let (home, id) = plane.enroll_with(AgentSettings::default());
    let pinned = home
        .command()
        .args(["root", "pin", &fingerprint_text(&fp)])
        .output()
        .expect("run sealscan-agent root pin");
    assert!(
        pinned.status.success(),
        "{}",
        String::from_utf8_lossy(&pinned.stderr)
    );
    plane.approve(&id);
    let mut agent = Agent::new(home, id);
    agent.start();
    wait_until("the agent collects its credential", BOUND, || {
        agent.home.state_dir().join("credential").exists()
    });
    plane.activate_ncsm();

    // The root's declaration and a trust list certifying Alice, as their CLIs sign them.
    let now = u64::try_from(now()).expect("time");
    let certificate = UserCertificate {
        user_id: "u-alice".into(),
        role: SignerRole::Manager,
        public_key: alice.public_key(),
        not_before: now - 600,
        not_after: now + 86_400,
    }
    .sign(&root, &fp);
    let list = TrustList {
        number: 1,
        issued_at: now,
        certificates: vec![certificate.clone()],
        revoked: vec![],
    }
    .sign(&root, &fp);
    let declaration = RootDeclaration {
        subscription_id: "sub-e2e".into(),
        recovery_key: key(13).public_key(),
        issued_at: now,
    }
    .sign(&root, &fp);
    plane.call(
        Method::PUT,
        "/api/v1/signing",
        Some(json!({"root_declaration": declaration.to_text(), "trust_list": list.to_text()})),
    );

    // Alice's record: the password sealed to the appliance, the statement signed by her.
    let binding = Binding::for_record("unix", RECORD, SecretFieldName::Password, USER, None, false);
    let envelope = seal_to(&appliance_key(&plane), &binding, PASSWORD.as_bytes());
    let statement = RecordStatement {
        record_id: RECORD.into(),
        version: 1,
        kind: RecordKind::Unix,
        login_type: LoginType::Basic,
        user: USER.into(),
        domain: None,
        scope: vec![AddressRange {
            first: HOST.parse().unwrap(),
            last: HOST.parse().unwrap(),
        }],
        ports: vec![port],
        unix: Some(SignedUnix {
            host_key_policy: HostKeyPolicy::Pin,
            known_host_keys: vec![],
            delegation: Delegation::None,
            delegation_password: DelegationPassword::Login,
            certificate: None,
            auth: None,
        }),
        windows: None,
        vault: None,
        envelopes: vec![EnvelopeHash {
            field: SecretFieldName::Password,
            hash: envelope_hash(&Envelope::from_text(&envelope).expect("envelope")),
        }],
        signer_certificate: certificate.hash(),
        signed_at: now,
    }
    .sign(&alice, &fp);
    plane.record(json!({
        "id": RECORD, "kind": "unix", "title": "signed", "user": USER, "ips": [HOST],
        "secrets": [sealed_secret("password", &envelope)],
        "statement": statement.to_text(),
    }));
    let _ = RecordStatement::KIND;

    let scan = |label: &str, targets: &[&str]| {
        plane.run_scan(
            json!({"title": label, "targets": targets, "kinds": "unix",
                   "ports": {"unix": port}}),
            targets.len(),
        )
    };
    let rows = scan("signed", &[HOST]);
    let r = row(&rows, HOST, "unix");
    assert_eq!(r["status"], "passed", "{r:#}");

    // Someone with the database adds the attacker's address to the record.
    plane
        .store()
        .write(|tx| {
            let mut r = tx.record(RECORD)?.expect("the record");
            r.ips.push(ATTACKER.into());
            tx.update_record(&r)
        })
        .expect("add an address in the database");
    let rows = scan("re-aimed", &[HOST, ATTACKER]);
    assert_eq!(row(&rows, HOST, "unix")["status"], "passed", "{rows:#?}");
    let refused = row(&rows, ATTACKER, "unix");
    assert_eq!(refused["step"], "record signature", "{refused:#}");
    assert_ne!(refused["status"], "passed", "{refused:#}");
    let cause = refused["cause"].as_str().unwrap_or_default();
    assert!(cause.starts_with("record signature: "), "{refused:#}");
    assert_eq!(
        attacker.load(Ordering::SeqCst),
        0,
        "the attacker's listener was reached"
    );
    drop(agent);
}
