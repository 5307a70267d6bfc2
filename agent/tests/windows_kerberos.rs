//! Windows logins with Kerberos against a real domain controller (Samba's AD DC, realm
//! SEAL.TEST on 127.0.0.70): AS, TGS and AP exchanges, mutual authentication, signing, and a
//! cause from the KDC's answer for every account state.

use sealscan_agent::login::Target;
use sealscan_agent::login::windows::{
    KerberosLogin, KerberosRealm, SmbDialect, TicketCache, WindowsAuth, WindowsCredential, login,
};
use sealscan_protocols::results::{LoginOutcome, Status};
use sealscan_protocols::secret::SecretBytes;
use sealscan_test_peers::addc::{self, Account, AdDc, DcSettings};
use std::sync::Arc;
use std::time::Duration;

fn target() -> Target {
    Target {
        host: addc::ADDRESS.into(),
        port: 445,
        timeout: Duration::from_secs(20),
    }
}

fn kerberos(service_host: &str, tickets: &Arc<TicketCache>) -> KerberosLogin {
    KerberosLogin {
        realm: KerberosRealm {
            realm: addc::REALM.into(),
            kdcs: vec![addc::ADDRESS.into()],
        },
        service_host: Some(service_host.into()),
        tickets: Arc::clone(tickets),
    }
}

fn cred(account: Account, auth: WindowsAuth) -> WindowsCredential {
    WindowsCredential {
        user: account.user().into(),
        domain: Some(addc::NETBIOS_DOMAIN.into()),
        password: SecretBytes::copy_from(account.password().as_bytes()),
        require_signing: false,
        min_dialect: SmbDialect::Smb202,
        auth,
    }
}

fn run(cred: &WindowsCredential) -> LoginOutcome {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(login(&target(), cred))
}

fn cause(o: &LoginOutcome) -> String {
    o.cause.as_ref().map(|c| c.to_string()).unwrap_or_default()
}

#[test]
fn a_valid_account_logs_in_with_kerberos_signed_and_mutually_authenticated() {
    let _dc = AdDc::start(DcSettings::default());
    let tickets = Arc::new(TicketCache::default());
    let c = cred(
        Account::Valid,
        WindowsAuth::Kerberos(kerberos(addc::HOST_NAME, &tickets)),
    );
    let out = run(&c);
    assert_eq!(out.status, Status::Passed, "cause: {}", cause(&out));
    assert_eq!(out.qid, 70053);
    assert_eq!(out.method, "Kerberos (AES256, SMB 3.1.1, signed)");
    assert_eq!(out.facts["service_principal"], "cifs/dc1.seal.test");
    // One AS exchange (two round trips: the salt, then pre-authentication) and one TGS.
    assert_eq!(tickets.round_trips(), 3);
    // A second login of the job reuses both tickets: no KDC round trip.
    let again = run(&c);
    assert_eq!(again.status, Status::Passed, "cause: {}", cause(&again));
    assert_eq!(tickets.round_trips(), 3);
}

#[test]
fn each_account_state_gets_its_own_cause_from_the_kdc() {
    let _dc = AdDc::start(DcSettings::default());
    let expected = [
        (
            Account::WrongPassword,
            "wrong password for wrongpw@SEAL.TEST (Kerberos error 24)",
        ),
        (
            Account::Disabled,
            "the account disableduser@SEAL.TEST is disabled (Kerberos error 18, NTSTATUS 0xC0000072)",
        ),
        (
            Account::Expired,
            "the account expireduser@SEAL.TEST has expired (Kerberos error 18, NTSTATUS 0xC0000193)",
        ),
        (
            Account::MustChange,
            "mustchange@SEAL.TEST must change the password before logging in (Kerberos error 23",
        ),
        (
            Account::LockedOut,
            "the account lockeduser@SEAL.TEST is locked out (Kerberos error 18",
        ),
        (
            Account::Unknown,
            "unknown principal: the KDC has no account nosuchuser@SEAL.TEST (Kerberos error 6)",
        ),
    ];
    for (account, text) in expected {
        let tickets = Arc::new(TicketCache::default());
        let out = run(&cred(
            account,
            WindowsAuth::Kerberos(kerberos(addc::HOST_NAME, &tickets)),
        ));
        assert_eq!(out.status, Status::Failed, "{account:?}: {}", cause(&out));
        assert_eq!(out.qid, 105015);
        assert!(
            cause(&out).contains(text),
            "{account:?}: expected {text:?} in {:?}",
            cause(&out)
        );
    }
}

#[test]
fn a_host_without_a_service_principal_is_named_as_such() {
    let _dc = AdDc::start(DcSettings::default());
    let tickets = Arc::new(TicketCache::default());
    // The DC's address is not a principal name it has: the KDC cannot issue cifs/127.0.0.70.
    let out = run(&cred(
        Account::Valid,
        WindowsAuth::Kerberos(kerberos(addc::ADDRESS, &tickets)),
    ));
    assert_eq!(out.status, Status::Failed);
    assert!(
        cause(&out).contains("no service principal cifs/127.0.0.70"),
        "{}",
        cause(&out)
    );
}

#[test]
fn no_reachable_kdc_is_named() {
    let (_closed, port) = sealscan_test_peers::system::closed_loopback_port();
    let tickets = Arc::new(TicketCache::default());
    let mut k = kerberos(addc::HOST_NAME, &tickets);
    k.realm.kdcs = vec![format!("127.0.0.1:{port}")];
    let out = run(&cred(Account::Valid, WindowsAuth::Kerberos(k)));
    assert_eq!(out.status, Status::Failed);
    assert!(
        cause(&out).contains("no KDC reachable for realm SEAL.TEST"),
        "{}",
        cause(&out)
    );
}

#[test]
fn with_ntlm_refused_negotiate_passes_and_ntlm_fails_naming_the_refusal() {
    let dc = AdDc::start(DcSettings {
        ntlm_refused: true,
        ..DcSettings::default()
    });
    let tickets = Arc::new(TicketCache::default());
    let negotiate = run(&cred(
        Account::Valid,
        WindowsAuth::Negotiate(kerberos(addc::HOST_NAME, &tickets)),
    ));
    assert_eq!(negotiate.status, Status::Passed, "{}", cause(&negotiate));
    assert!(
        negotiate.method.starts_with("Kerberos"),
        "{}",
        negotiate.method
    );
    let ntlm = run(&cred(Account::Valid, WindowsAuth::Ntlm));
    assert_eq!(ntlm.status, Status::Failed);
    assert!(cause(&ntlm).contains("NTLM_BLOCKED"), "{}", cause(&ntlm));
    // A Kerberos record sends no NTLM message: the DC logs no NTLMSSP login of the user
    // after this one.
    let before = dc.log().matches("NTLMSSP] user [SEAL]\\[scanuser]").count();
    let k = run(&cred(
        Account::Valid,
        WindowsAuth::Kerberos(kerberos(addc::HOST_NAME, &tickets)),
    ));
    assert_eq!(k.status, Status::Passed, "{}", cause(&k));
    assert_eq!(
        dc.log().matches("NTLMSSP] user [SEAL]\\[scanuser]").count(),
        before
    );
}

#[test]
fn with_encryption_required_the_login_passes_encrypted() {
    let _dc = AdDc::start(DcSettings {
        signing_mandatory: true,
        encryption_required: true,
        ..DcSettings::default()
    });
    let tickets = Arc::new(TicketCache::default());
    let out = run(&cred(
        Account::Valid,
        WindowsAuth::Kerberos(kerberos(addc::HOST_NAME, &tickets)),
    ));
    assert_eq!(out.status, Status::Passed, "{}", cause(&out));
    assert_eq!(out.method, "Kerberos (AES256, SMB 3.1.1, encrypted)");
}

#[test]
fn negotiate_falls_back_to_ntlm_only_where_kerberos_is_not_possible() {
    let _dc = AdDc::start(DcSettings::default());
    let tickets = Arc::new(TicketCache::default());
    // No service principal for the address: Kerberos is not possible, NTLMv2 is tried.
    let out = run(&cred(
        Account::Valid,
        WindowsAuth::Negotiate(kerberos(addc::ADDRESS, &tickets)),
    ));
    assert_eq!(out.status, Status::Passed, "{}", cause(&out));
    assert!(out.method.starts_with("NTLMv2"), "{}", out.method);
    assert!(
        out.facts["kerberos_not_possible"].contains("no service principal"),
        "{:?}",
        out.facts
    );
    // A wrong password is the KDC's refusal, not an impossibility: no NTLM attempt.
    let wrong = run(&cred(
        Account::WrongPassword,
        WindowsAuth::Negotiate(kerberos(addc::HOST_NAME, &Arc::new(TicketCache::default()))),
    ));
    assert_eq!(wrong.status, Status::Failed);
    assert!(
        cause(&wrong).contains("wrong password"),
        "{}",
        cause(&wrong)
    );
}

/// The DC's own DNS (Samba's internal server on the DC's address), as an operator would
/// name it in the agent's `dns_servers`.
fn use_the_dcs_dns() {
    sealscan_agent::login::windows::use_dns_servers(&[format!("{}:53", addc::ADDRESS)
        .parse()
        .unwrap()]);
}

#[test]
fn a_record_without_kdcs_finds_them_through_dns_srv() {
    let _dc = AdDc::start(DcSettings::default());
    use_the_dcs_dns();
    let tickets = Arc::new(TicketCache::default());
    let mut k = kerberos(addc::HOST_NAME, &tickets);
    k.realm.kdcs = Vec::new();
    let out = run(&cred(Account::Valid, WindowsAuth::Kerberos(k)));
    assert_eq!(out.status, Status::Passed, "cause: {}", cause(&out));
    assert_eq!(out.method, "Kerberos (AES256, SMB 3.1.1, signed)");
    assert_eq!(out.facts["kdc"], "127.0.0.70:88 (from the DNS SRV)");
    // Discovery is DNS, not a KDC round trip: still one AS exchange (two trips) and a TGS.
    assert_eq!(tickets.round_trips(), 3);
}

#[test]
fn a_realm_without_srv_records_names_the_srv_names_queried() {
    let _dc = AdDc::start(DcSettings::default());
    use_the_dcs_dns();
    let tickets = Arc::new(TicketCache::default());
    let mut k = kerberos(addc::HOST_NAME, &tickets);
    // A name inside the DC's own zone, so its DNS answers with authority: no such name.
    k.realm = KerberosRealm {
        realm: "NOKDC.SEAL.TEST".into(),
        kdcs: Vec::new(),
    };
    let out = run(&cred(Account::Valid, WindowsAuth::Kerberos(k)));
    assert_eq!(out.status, Status::Failed);
    assert_eq!(out.qid, 105015);
    let c = cause(&out);
    for part in [
        "no KDC found in DNS for realm NOKDC.SEAL.TEST",
        "_kerberos._tcp.nokdc.seal.test: no SRV record",
        "_kerberos._udp.nokdc.seal.test: no SRV record",
        "asked DNS servers 127.0.0.70:53",
    ] {
        assert!(c.contains(part), "expected {part:?} in {c:?}");
    }
    assert_eq!(tickets.round_trips(), 0);
}

#[test]
fn a_wrong_password_costs_one_as_exchange_per_job_not_one_per_target() {
    let _dc = AdDc::start(DcSettings::default());
    let tickets = Arc::new(TicketCache::default());
    let c = cred(
        Account::WrongPassword,
        WindowsAuth::Kerberos(kerberos(addc::HOST_NAME, &tickets)),
    );
    for _ in 0..3 {
        let out = run(&c);
        assert_eq!(out.status, Status::Failed);
        assert!(cause(&out).contains("wrong password"), "{}", cause(&out));
    }
    // The salt, then the one pre-authentication the KDC refused: each further target of the
    // job gets the same answer without another bad password reaching the account's lockout
    // count.
    assert_eq!(tickets.round_trips(), 2);
}
