//! Jobs as the control plane hands them to the agent (`sealscan_protocols::appliance`): their
//! records, secrets, vaults and targets, and what each secret is bound to.

use sealscan_agent::config::Timeouts;
use sealscan_agent::resolve;
use sealscan_protocols::appliance::{
    Job, JobRecord, JobTarget, JobVault, RecordKind, RecordLogin, SecretField, SecretFieldName,
    SecretValue, WindowsDomainType, WindowsOptions, WireSecret,
};
use sealscan_protocols::envelope::Binding;
use sealscan_protocols::results::LoginKind;

/// A legacy-model secret field, as the control plane puts it in a job before NCSM.
pub fn legacy(field: SecretFieldName, value: &[u8]) -> SecretField {
    SecretField {
        field,
        value: SecretValue::Legacy {
            value: WireSecret::new(value),
        },
    }
}

/// A sealed field holding `envelope` (its text form).
pub fn sealed(field: SecretFieldName, envelope: &str) -> SecretField {
    SecretField {
        field,
        value: SecretValue::Sealed {
            envelope: envelope.to_string(),
        },
    }
}

pub fn unix_record(id: &str, user: &str, secrets: Vec<SecretField>) -> JobRecord {
    JobRecord {
        record_id: id.into(),
        title: format!("unix {id}"),
        kind: RecordKind::Unix,
        user: user.into(),
        domain: None,
        windows: None,
        unix: None,
        login: RecordLogin::Basic { secrets },
        address_ranges: Vec::new(),
    }
}

pub fn windows_options(domain_type: WindowsDomainType, service_selected: bool) -> WindowsOptions {
    WindowsOptions {
        domain_type,
        service_selected,
        ntlmv2: true,
        require_signing: false,
        min_smb_version: "2.0.2".into(),
        ..WindowsOptions::default()
    }
}

pub fn windows_record(
    id: &str,
    user: &str,
    domain: Option<&str>,
    options: WindowsOptions,
    login: RecordLogin,
) -> JobRecord {
    JobRecord {
        record_id: id.into(),
        title: format!("windows {id}"),
        kind: RecordKind::Windows,
        user: user.into(),
        domain: domain.map(Into::into),
        windows: Some(options),
        unix: None,
        login,
        address_ranges: Vec::new(),
    }
}

pub fn vault_login(vault_id: &str, secret_name: &str) -> RecordLogin {
    RecordLogin::Vault {
        vault_id: vault_id.into(),
        secret_name: secret_name.into(),
        folder: None,
        secret_id: None,
        unix_auth: None,
    }
}

/// A Secret Server vault whose web-service password travels as a legacy secret.
pub fn vault(id: &str, url: &str, user: &str, password: &[u8]) -> JobVault {
    JobVault {
        vault_id: id.into(),
        title: format!("vault {id}"),
        url: url.into(),
        user: user.into(),
        domain: None,
        organization: None,
        verify_tls: true,
        ca_pem: None,
        api: "rest".into(),
        password: SecretValue::Legacy {
            value: WireSecret::new(password),
        },
    }
}

pub fn target(id: &str, kind: LoginKind, port: u16, record_id: Option<&str>) -> JobTarget {
    JobTarget {
        target_id: id.into(),
        host: "127.0.0.1".into(),
        kind,
        port: Some(port),
        record_id: record_id.map(Into::into),
    }
}

pub fn job(targets: Vec<JobTarget>, records: Vec<JobRecord>, vaults: Vec<JobVault>) -> Job {
    Job {
        job_id: "job-e2e".into(),
        scan_id: "scan-e2e".into(),
        lease_secs: 60,
        targets,
        records,
        vaults,
    }
}

/// Bounds for stuck peers, not measurements: loopback logins take a fraction of them.
pub fn timeouts() -> Timeouts {
    Timeouts {
        unix_secs: 30,
        windows_secs: 30,
        vault_secs: 30,
    }
}

/// What a record's secret is bound to (`record_kind` "unix"/"windows", as the contract says).
pub fn record_fields(record: &JobRecord, field: SecretFieldName) -> Binding {
    resolve::record_binding(record, field)
}

/// What a vault's web-service password is bound to.
pub fn vault_fields(vault: &JobVault) -> Binding {
    resolve::vault_binding(vault)
}
