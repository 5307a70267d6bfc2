//! The AD DC peer answers as a domain controller does: each account state with its own
//! Kerberos error, SMB with Kerberos, and the switchable NTLM, signing and encryption settings.

use sealscan_test_peers::addc::{Account, AdDc, DcSettings};

#[test]
fn the_kdc_answers_each_account_state_with_its_own_error() {
    let dc = AdDc::start(DcSettings::default());
    for account in Account::ALL {
        let ran = dc.kinit(account.user(), account.password());
        let expected = match account {
            Account::Valid => None,
            Account::WrongPassword => Some("Password incorrect"),
            Account::Disabled | Account::Expired | Account::LockedOut => {
                Some("credentials have been revoked")
            }
            Account::MustChange => Some("expired"),
            Account::Unknown => Some("not found in Kerberos database"),
        };
        match expected {
            None => assert!(ran.ok, "{account:?}: kinit failed: {}", ran.output),
            Some(text) => {
                assert!(!ran.ok, "{account:?}: kinit passed");
                assert!(
                    ran.output.contains(text),
                    "{account:?}: expected {text:?}, kinit said: {}",
                    ran.output
                );
            }
        }
    }
    let smb = dc.smbclient(Account::Valid.user(), Account::Valid.password(), true, "");
    assert!(smb.ok, "smbclient -k failed: {}", smb.output);
}

#[test]
fn ntlm_refused_blocks_ntlm_but_not_kerberos() {
    let user = Account::Valid;
    {
        let dc = AdDc::start(DcSettings::default());
        let ntlm = dc.smbclient(user.user(), user.password(), false, "");
        assert!(ntlm.ok, "NTLMv2 with NTLM allowed failed: {}", ntlm.output);
        assert!(
            dc.log().contains("[SMB2,NTLMSSP]"),
            "the DC's audit log has no NTLM login"
        );
    }
    let dc = AdDc::start(DcSettings {
        ntlm_refused: true,
        ..DcSettings::default()
    });
    let ntlm = dc.smbclient(user.user(), user.password(), false, "");
    assert!(!ntlm.ok, "NTLMv2 passed with ntlm auth = disabled");
    assert!(
        ntlm.output.contains("NT_STATUS_NTLM_BLOCKED"),
        "expected NT_STATUS_NTLM_BLOCKED: {}",
        ntlm.output
    );
    let kerberos = dc.smbclient(user.user(), user.password(), true, "");
    assert!(
        kerberos.ok,
        "Kerberos failed with NTLM refused: {}",
        kerberos.output
    );
}

#[test]
fn encryption_required_takes_smb3_and_refuses_smb21() {
    let dc = AdDc::start(DcSettings {
        signing_mandatory: true,
        encryption_required: true,
        ..DcSettings::default()
    });
    let user = Account::Valid;
    let smb3 = dc.smbclient(
        user.user(),
        user.password(),
        true,
        "--client-protection=encrypt",
    );
    assert!(
        smb3.ok,
        "encrypted SMB 3 with Kerberos failed: {}",
        smb3.output
    );
    let smb21 = dc.smbclient(
        user.user(),
        user.password(),
        true,
        "--option='client max protocol = SMB2_10'",
    );
    assert!(!smb21.ok, "SMB 2.1 passed with encryption required");
}
