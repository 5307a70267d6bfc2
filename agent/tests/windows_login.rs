//! Windows logins against a real Samba smbd on loopback, and against listeners that are not
//! SMB servers at all. Each case checks the QID and the precise cause.

use sealscan_agent::login::Target;
use sealscan_agent::login::windows::{
    NtlmWrapping, SmbDialect, WindowsCredential, login, login_with, probe_domain,
};
use sealscan_protocols::results::{LoginOutcome, Status, Step};
use sealscan_protocols::secret::SecretBytes;
use sealscan_test_peers::smbd::{Smbd, SmbdOptions};
use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

const PASSWORD: &str = "Sm-Test-Pw-4711";

fn target(port: u16) -> Target {
    Target {
        host: "127.0.0.1".into(),
        port,
        timeout: Duration::from_secs(10),
    }
}

fn cred(user: &str, domain: Option<&str>, password: &str) -> WindowsCredential {
    WindowsCredential {
        user: user.into(),
        domain: domain.map(Into::into),
        password: SecretBytes::copy_from(password.as_bytes()),
        require_signing: false,
        min_dialect: SmbDialect::Smb202,
        auth: Default::default(),
    }
}

fn server(options: SmbdOptions, user: &str) -> Smbd {
    let smbd = Smbd::start(options);
    smbd.add_user(user, PASSWORD);
    smbd
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn run(target: &Target, cred: &WindowsCredential) -> LoginOutcome {
    rt().block_on(login(target, cred))
}

fn cause(o: &LoginOutcome) -> String {
    o.cause.as_ref().map(|c| c.to_string()).unwrap_or_default()
}

fn assert_passed(o: &LoginOutcome) {
    assert_eq!(o.status, Status::Passed, "cause: {}", cause(o));
    assert_eq!(o.qid, 70053);
    assert!(o.cause.is_none());
}

fn assert_failed(o: &LoginOutcome, step: Step, words: &str) {
    assert_eq!(o.status, Status::Failed, "{o:?}");
    assert_eq!(o.qid, 105015);
    let c = o.cause.as_ref().expect("a cause");
    eprintln!("cause: {c}");
    assert_eq!(c.step, step, "{c}");
    assert!(
        c.detail.contains(words),
        "cause {c:?} should mention {words:?}"
    );
}

#[test]
fn local_account_passes_with_facts() {
    let smbd = server(SmbdOptions::default(), "smu_local");
    let o = run(&target(smbd.port()), &cred("smu_local", None, PASSWORD));
    assert_passed(&o);
    assert_eq!(o.login_id, "smu_local");
    assert_eq!(o.method, "NTLMv2 (SMB 3.1.1, unsigned)");
    assert_eq!(o.facts["server_netbios_name"], "TARGET1");
    // A standalone server (like a Windows workgroup machine) names its own account database
    // as the NetBIOS domain: the machine name, not the workgroup.
    assert_eq!(o.facts["server_netbios_domain"], "TARGET1");
    assert_eq!(o.facts["smb_dialect"], "3.1.1");
    assert!(o.facts.contains_key("os_version"), "{:?}", o.facts);
    assert_eq!(
        o.facts["security_token"],
        "SPNEGO (server mechListMIC verified)"
    );
    assert!(
        smbd.log().contains("smu_local"),
        "smbd's auth audit log names the user"
    );
}

#[test]
fn domain_account_passes() {
    let smbd = server(SmbdOptions::default(), "smu_dom");
    let o = run(
        &target(smbd.port()),
        &cred("smu_dom", Some("TESTDOM"), PASSWORD),
    );
    assert_passed(&o);
    assert_eq!(o.login_id, "TESTDOM\\smu_dom");
}

#[test]
fn wrong_password_and_unknown_user_fail_with_logon_failure() {
    let smbd = server(SmbdOptions::default(), "smu_wrongpw");
    let t = target(smbd.port());
    let o = run(&t, &cred("smu_wrongpw", None, "not-the-password"));
    assert_failed(&o, Step::Authentication, "STATUS_LOGON_FAILURE");
    assert_eq!(o.facts["server_netbios_domain"], "TARGET1");
    let o = run(&t, &cred("smu_nobody_here", None, PASSWORD));
    assert_failed(&o, Step::Authentication, "STATUS_LOGON_FAILURE");
    // Samba answers both alike; only its audit log tells them apart, and shows both
    // attempts reached it.
    let lines = smbd.auth_lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].contains("[smu_wrongpw]") && lines[0].contains("NT_STATUS_WRONG_PASSWORD"));
    assert!(lines[1].contains("[smu_nobody_here]") && lines[1].contains("NT_STATUS_NO_SUCH_USER"));
}

#[test]
fn wrong_domain_is_flagged_when_a_standalone_server_maps_it_to_its_own_accounts() {
    // A standalone server (Samba here, a Windows workgroup machine alike) authenticates any
    // domain name against its own account database, so the login passes; the outcome says
    // the record's domain is not one the server named, so the mismatch is visible.
    let smbd = server(SmbdOptions::default(), "smu_wrongdom");
    let o = run(
        &target(smbd.port()),
        &cred("smu_wrongdom", Some("WRONGDOM"), PASSWORD),
    );
    assert_passed(&o);
    assert_eq!(o.login_id, "WRONGDOM\\smu_wrongdom");
    let note = &o.facts["domain_mismatch"];
    assert!(
        note.contains("WRONGDOM") && note.contains("TARGET1"),
        "{note}"
    );
    assert!(smbd.log().contains("became [TARGET1]\\[smu_wrongdom]"));
    // The server's own name as the domain is no mismatch.
    let o = run(
        &target(smbd.port()),
        &cred("smu_wrongdom", Some("target1"), PASSWORD),
    );
    assert_passed(&o);
    assert!(!o.facts.contains_key("domain_mismatch"));
}

#[test]
fn disabled_account_fails_with_account_disabled() {
    let smbd = server(SmbdOptions::default(), "smu_disabled");
    smbd.disable_user("smu_disabled");
    let o = run(&target(smbd.port()), &cred("smu_disabled", None, PASSWORD));
    assert_failed(&o, Step::Authentication, "STATUS_ACCOUNT_DISABLED");
}

#[test]
fn signing_mandatory_on_the_server_is_honoured_on_every_dialect() {
    let smbd = server(
        SmbdOptions {
            signing: "mandatory".into(),
            ..SmbdOptions::default()
        },
        "smu_srvsign",
    );
    let t = target(smbd.port());
    let o = run(&t, &cred("smu_srvsign", None, PASSWORD));
    assert_passed(&o);
    assert_eq!(o.method, "NTLMv2 (SMB 3.1.1, signed)");
    assert_eq!(o.facts["smb_signing"], "on (required by the server)");
    drop(smbd);
    // The older dialects sign differently (HMAC-SHA256, AES-CMAC without preauth hash).
    for (max, shown) in [
        ("SMB2_02", "2.0.2"),
        ("SMB2_10", "2.1"),
        ("SMB3_00", "3.0"),
        ("SMB3_02", "3.0.2"),
    ] {
        let smbd = server(
            SmbdOptions {
                signing: "mandatory".into(),
                max_protocol: Some(max.into()),
                ..SmbdOptions::default()
            },
            "smu_srvsign",
        );
        let o = run(&target(smbd.port()), &cred("smu_srvsign", None, PASSWORD));
        assert_passed(&o);
        assert_eq!(o.method, format!("NTLMv2 (SMB {shown}, signed)"));
    }
}

#[test]
fn signing_required_by_the_record_signs() {
    let smbd = server(SmbdOptions::default(), "smu_recsign");
    let mut c = cred("smu_recsign", None, PASSWORD);
    c.require_signing = true;
    let o = run(&target(smbd.port()), &c);
    assert_passed(&o);
    assert_eq!(o.method, "NTLMv2 (SMB 3.1.1, signed)");
    assert_eq!(o.facts["smb_signing"], "on (required by the record)");
}

#[test]
fn minimum_dialect_above_the_servers_maximum_fails_at_negotiate() {
    let smbd = server(
        SmbdOptions {
            max_protocol: Some("SMB2_10".into()),
            ..SmbdOptions::default()
        },
        "smu_dialect",
    );
    let mut c = cred("smu_dialect", None, PASSWORD);
    c.min_dialect = SmbDialect::Smb300;
    let o = run(&target(smbd.port()), &c);
    assert_failed(&o, Step::Negotiate, "3.0, 3.0.2, 3.1.1");
    assert!(cause(&o).contains("STATUS_NOT_SUPPORTED"), "{}", cause(&o));
    assert!(cause(&o).contains("no dialect in common"), "{}", cause(&o));
    assert_eq!(
        smbd.auth_lines(),
        Vec::<String>::new(),
        "no authentication reached smbd"
    );
}

#[test]
fn probe_reports_the_servers_domain_without_logging_in() {
    let smbd = Smbd::start(SmbdOptions::default());
    let info = rt().block_on(probe_domain(&target(smbd.port()))).unwrap();
    assert_eq!(info.netbios_domain.as_deref(), Some("TARGET1"));
    assert_eq!(info.netbios_name.as_deref(), Some("TARGET1"));
    assert_eq!(info.dialect, Some(SmbDialect::Smb311));
}

#[test]
fn closed_port_is_not_attempted() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = run(&target(port), &cred("smu_closed", None, PASSWORD));
    assert_eq!(o.status, Status::NotAttempted);
    assert_eq!(o.qid, 105015);
    let c = o.cause.unwrap();
    assert_eq!(c.step, Step::Connect);
    assert!(c.detail.contains("connection refused"), "{c}");
}

#[test]
fn silent_listener_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut t = target(listener.local_addr().unwrap().port());
    t.timeout = Duration::from_millis(300);
    let o = run(&t, &cred("smu_silent", None, PASSWORD));
    assert_eq!(o.status, Status::TimedOut);
    assert_eq!(o.qid, 105015);
    let c = o.cause.unwrap();
    assert_eq!(c.step, Step::Negotiate);
    assert!(c.detail.contains("timeout"), "{c}");
    drop(listener);
}

#[test]
fn garbage_answer_fails_at_negotiate() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let _ = s.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n");
    });
    let o = run(&target(port), &cred("smu_garbage", None, PASSWORD));
    server.join().unwrap();
    assert_failed(&o, Step::Negotiate, "not SMB");
}

#[test]
fn raw_ntlmssp_without_spnego_also_logs_in_and_signs() {
    let smbd = server(
        SmbdOptions {
            signing: "mandatory".into(),
            ..SmbdOptions::default()
        },
        "smu_raw",
    );
    let t = target(smbd.port());
    let c = cred("smu_raw", None, PASSWORD);
    let o = rt().block_on(login_with(&t, &c, NtlmWrapping::Raw));
    assert_passed(&o);
    assert_eq!(o.facts["security_token"], "raw NTLMSSP");
    assert_eq!(o.method, "NTLMv2 (SMB 3.1.1, signed)");
    let bad = cred("smu_raw", None, "wrong");
    let o = rt().block_on(login_with(&t, &bad, NtlmWrapping::Raw));
    assert_failed(&o, Step::Authentication, "STATUS_LOGON_FAILURE");
}

#[test]
fn server_that_closes_every_connection_is_not_reported_as_a_dialect_mismatch() {
    use sealscan_test_peers::faulty::{Behaviour, FaultyTarget, loopback};
    let closer = FaultyTarget::start(loopback(1), 0, Behaviour::CloseOnAccept);
    let o = run(
        &target(closer.addr().port()),
        &cred("smu_closer", None, PASSWORD),
    );
    assert_eq!(o.status, Status::NotAttempted, "{o:?}");
    assert_eq!(o.qid, 105015);
    let c = o.cause.expect("a cause");
    assert_eq!(c.step, Step::Connect, "{c}");
    assert!(c.detail.contains("closes them at once"), "{c}");
    assert!(c.detail.contains("connection limit"), "{c}");
    assert!(!c.detail.contains("speaks none"), "{c}");

    // A server that reads the NEGOTIATE and then closes is still a dialect mismatch.
    let picky = FaultyTarget::start(loopback(1), 0, Behaviour::CloseAfterFirst);
    let o = run(
        &target(picky.addr().port()),
        &cred("smu_picky", None, PASSWORD),
    );
    assert_failed(&o, Step::Negotiate, "speaks none of them");
}
