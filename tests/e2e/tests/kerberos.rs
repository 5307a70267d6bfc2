//! Kerberos Windows logins as the control plane hands them over (records with
//! `auth_protocol`, realm, KDCs and host names), run through the agent's own job code against
//! a real domain controller (Samba's AD DC, SEAL.TEST on 127.0.0.70).

use sealscan_e2e::*;
use sealscan_protocols::appliance::{
    JobTarget, SecretFieldName, WindowsAuthProtocol, WindowsDomainType,
};
use sealscan_protocols::results::{LoginKind, Status, Step};
use sealscan_test_peers::addc::{self, Account, AdDc, DcSettings};

fn record(
    id: &str,
    account: Account,
    protocol: WindowsAuthProtocol,
) -> sealscan_protocols::appliance::JobRecord {
    let mut options = windows_options(WindowsDomainType::ActiveDirectory, false);
    options.auth_protocol = protocol;
    options.realm = Some(addc::REALM.into());
    options.kdcs = vec![addc::ADDRESS.into()];
    options.host_names = vec![addc::HOST_NAME.into()];
    windows_record(
        id,
        account.user(),
        Some(addc::DNS_DOMAIN),
        options,
        sealscan_protocols::appliance::RecordLogin::Basic {
            secrets: vec![legacy(
                SecretFieldName::Password,
                account.password().as_bytes(),
            )],
        },
    )
}

/// A target given by the DC's address: the service host comes from the record's host names,
/// whose forward DNS gives that address.
fn dc_target(id: &str, record_id: &str) -> JobTarget {
    let mut t = target(id, LoginKind::Windows, 445, Some(record_id));
    t.host = addc::ADDRESS.into();
    t
}

#[test]
fn kerberos_records_pass_and_each_account_state_gets_its_cause() {
    let dc = AdDc::start(DcSettings::default());
    dc.ensure_host_name_resolves();
    let states = [
        ("valid", Account::Valid),
        ("wrong", Account::WrongPassword),
        ("disabled", Account::Disabled),
        ("expired", Account::Expired),
        ("must-change", Account::MustChange),
        ("locked", Account::LockedOut),
        ("unknown", Account::Unknown),
    ];
    let records = states
        .iter()
        .map(|(id, a)| record(id, *a, WindowsAuthProtocol::Kerberos))
        .collect();
    let mut targets: Vec<JobTarget> = states.iter().map(|(id, _)| dc_target(id, id)).collect();
    // A second target of the valid record: its tickets come from the job's cache.
    targets.push(dc_target("valid-again", "valid"));
    let posts = run_job(&job(targets, records, vec![]), timeouts());

    let ok = result(&posts, "valid");
    assert_eq!(ok.status, Status::Passed, "{}", cause_text(ok));
    assert_eq!(ok.qid, 70053);
    assert_eq!(ok.method, "Kerberos (AES256, SMB 3.1.1, signed)");
    assert_eq!(ok.facts["service_principal"], "cifs/dc1.seal.test");
    let again = result(&posts, "valid-again");
    assert_eq!(again.status, Status::Passed, "{}", cause_text(again));
    assert_eq!(again.facts["kdc_round_trips"], "3", "{:?}", again.facts);

    for (id, words) in [
        ("wrong", "wrong password"),
        ("disabled", "is disabled"),
        ("expired", "has expired"),
        ("must-change", "must change the password"),
        ("locked", "is locked out"),
        ("unknown", "unknown principal"),
    ] {
        assert_outcome(
            result(&posts, id),
            Status::Failed,
            105015,
            Step::Authentication,
            &[words],
        );
    }
}

#[test]
fn with_ntlm_refused_negotiate_passes_ntlm_fails_and_encryption_is_used_when_required() {
    let dc = AdDc::start(DcSettings {
        ntlm_refused: true,
        encryption_required: true,
        ..DcSettings::default()
    });
    dc.ensure_host_name_resolves();
    let mut ntlm = record("ntlm", Account::Valid, WindowsAuthProtocol::Ntlm);
    ntlm.domain = Some(addc::NETBIOS_DOMAIN.into());
    let posts = run_job(
        &job(
            vec![
                dc_target("negotiate", "negotiate"),
                dc_target("ntlm", "ntlm"),
            ],
            vec![
                record("negotiate", Account::Valid, WindowsAuthProtocol::Negotiate),
                ntlm,
            ],
            vec![],
        ),
        timeouts(),
    );
    let n = result(&posts, "negotiate");
    assert_eq!(n.status, Status::Passed, "{}", cause_text(n));
    assert_eq!(n.method, "Kerberos (AES256, SMB 3.1.1, encrypted)");
    assert_outcome(
        result(&posts, "ntlm"),
        Status::Failed,
        105015,
        Step::Authentication,
        &["STATUS_NTLM_BLOCKED"],
    );
}

/// The Secret Server simulator on its own runtime (it keeps serving while the job blocks this
/// thread), holding the DC's valid account and a stale password for it.
fn kerberos_vault() -> (tokio::runtime::Runtime, secret_server_sim::Sim) {
    let seed = serde_json::json!({
        "users": [{"username": "svc-scan", "password": VAULT_SVC_PW, "domain": null}],
        "folders": [{"id": 2, "name": "AD", "parentId": null}],
        "secrets": [
            {"id": 20, "name": "dc-login", "folderId": 2, "template": "Active Directory Account",
             "fields": {"domain": addc::DNS_DOMAIN, "username": Account::Valid.user(),
                        "password": addc::PASSWORD},
             "readers": ["svc-scan"]},
            {"id": 21, "name": "dc-stale", "folderId": 2, "template": "Active Directory Account",
             "fields": {"domain": addc::DNS_DOMAIN, "username": Account::Valid.user(),
                        "password": addc::WRONG_PASSWORD},
             "readers": ["svc-scan"]}
        ]
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let seed = secret_server_sim::Seed::from_json(&seed.to_string()).expect("seed");
    let sim = rt
        .block_on(secret_server_sim::start(secret_server_sim::SimConfig::new(
            seed,
        )))
        .expect("the Secret Server simulator starts");
    (rt, sim)
}

const VAULT_SVC_PW: &str = "svc-Krb-Vault-9";

#[test]
fn vault_records_log_in_with_kerberos_the_password_coming_from_secret_server() {
    let dc = AdDc::start(DcSettings::default());
    dc.ensure_host_name_resolves();
    let (_rt, sim) = kerberos_vault();
    let vault_record = |id: &str, secret: &str| {
        let mut r = record(id, Account::Valid, WindowsAuthProtocol::Kerberos);
        r.login = vault_login("ss", secret);
        r
    };
    let posts = run_job(
        &job(
            vec![dc_target("vault", "vault"), dc_target("stale", "stale")],
            vec![
                vault_record("vault", "dc-login"),
                vault_record("stale", "dc-stale"),
            ],
            vec![vault(
                "ss",
                &sim.base_url(),
                "svc-scan",
                VAULT_SVC_PW.as_bytes(),
            )],
        ),
        timeouts(),
    );
    let ok = result(&posts, "vault");
    assert_eq!(ok.status, Status::Passed, "{}", cause_text(ok));
    assert_eq!(ok.qid, 70053);
    assert_eq!(ok.method, "Kerberos (AES256, SMB 3.1.1, signed)");
    assert_eq!(ok.facts["service_principal"], "cifs/dc1.seal.test");
    // The vault's stale password is the KDC's wrong password, not a vault failure.
    assert_outcome(
        result(&posts, "stale"),
        Status::Failed,
        105015,
        Step::Authentication,
        &["wrong password for scanuser@SEAL.TEST"],
    );
}

#[test]
fn a_record_without_kdcs_finds_them_through_the_dcs_dns_srv_records() {
    let dc = AdDc::start(DcSettings::default());
    dc.ensure_host_name_resolves();
    // What `dns_servers = ["127.0.0.70"]` in the agent's configuration does.
    sealscan_agent::login::windows::use_dns_servers(&[format!("{}:53", addc::ADDRESS)
        .parse()
        .expect("address")]);
    let mut srv = record("srv", Account::Valid, WindowsAuthProtocol::Kerberos);
    srv.windows.as_mut().expect("windows options").kdcs = Vec::new();
    let mut unknown = record(
        "unknown-realm",
        Account::Valid,
        WindowsAuthProtocol::Kerberos,
    );
    let options = unknown.windows.as_mut().expect("windows options");
    options.kdcs = Vec::new();
    options.realm = Some("NOKDC.SEAL.TEST".into());
    let posts = run_job(
        &job(
            vec![
                dc_target("srv", "srv"),
                dc_target("srv-again", "srv"),
                dc_target("unknown-realm", "unknown-realm"),
            ],
            vec![srv, unknown],
            vec![],
        ),
        timeouts(),
    );
    for id in ["srv", "srv-again"] {
        let ok = result(&posts, id);
        assert_eq!(ok.status, Status::Passed, "{id}: {}", cause_text(ok));
        assert_eq!(ok.facts["kdc"], "127.0.0.70:88 (from the DNS SRV)", "{id}");
    }
    assert_outcome(
        result(&posts, "unknown-realm"),
        Status::Failed,
        105015,
        Step::Authentication,
        &[
            "no KDC found in DNS for realm NOKDC.SEAL.TEST",
            "_kerberos._tcp.nokdc.seal.test: no SRV record",
            "asked DNS servers 127.0.0.70:53",
        ],
    );
}
