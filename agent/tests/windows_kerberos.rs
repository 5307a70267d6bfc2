//! Windows logins with Kerberos against a real domain controller (Samba's AD DC, realm
//! SEAL.TEST on 127.0.0.70): AS, TGS and AP exchanges, mutual authentication, signing, and a
//! cause from the KDC's answer for every account state.

use sealscan_agent::login::Target;
use sealscan_agent::login::windows::{
    KerberosLogin, KerberosRealm, SmbDialect, TicketCache, WindowsAuth, WindowsCredential, login,
};
use sealscan_agent::secret::SecretBytes;
use sealscan_protocols::results::{LoginOutcome, Status};
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
