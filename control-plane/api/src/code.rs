//! The error codes the control plane sends in `error.rule`, one variant per rule, and the
//! names of the password complexity rules a check reports.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($($variant:ident = $text:literal,)*) => {
        /// What refused a request, as the string the server sends (`account.locked`). A
        /// client decides on this, never on the message text.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Code {
            $(#[serde(rename = $text)] $variant,)*
            /// A rule this build does not know (a newer server); never sent by this one.
            #[serde(other)]
            Unknown,
        }

        /// The closed list the server sends: `Unknown` is only a reader's fallback.
        impl JsonSchema for Code {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                "Code".into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let names: Vec<serde_json::Value> = Code::ALL
                    .iter()
                    .map(|c| serde_json::Value::from(c.as_str()))
                    .collect();
                schemars::json_schema!({
                    "description": "The rule that refused the request.",
                    "type": "string",
                    "enum": names,
                })
            }
        }

        impl Code {
            /// Every code this build knows, for the OpenAPI document and its tests.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                    Code::Unknown => "unknown",
                }
            }
        }
    };
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

codes! {
    TwoFaAlreadyEnrolled = "2fa.already-enrolled",
    TwoFaCodeInvalid = "2fa.code-invalid",
    TwoFaCodeRequired = "2fa.code-required",
    TwoFaEnrollmentRequired = "2fa.enrollment-required",
    TwoFaNotStarted = "2fa.not-started",
    AccountLocked = "account.locked",
    AllowlistDenied = "allowlist.denied",
    AllowlistExcludesCaller = "allowlist.excludes-caller",
    AllowlistInvalidEntry = "allowlist.invalid-entry",
    ApiOnlyInteractiveOnly = "api-only.interactive-only",
    ApplianceReason = "appliance.reason",
    ApplianceState = "appliance.state",
    ApplianceUnknown = "appliance.unknown",
    AuthInvalidToken = "auth.invalid-token",
    AuthRequired = "auth.required",
    EnrollTokenLabel = "enroll-token.label",
    EnrollTokenLifetime = "enroll-token.lifetime",
    EnrollKeyInUse = "enroll.key-in-use",
    EnrollName = "enroll.name",
    EnrollPollRefused = "enroll.poll-refused",
    EnrollPublicKey = "enroll.public-key",
    EnrollTokenInvalid = "enroll.token-invalid",
    ExternalIdsForbidden = "external-ids.forbidden",
    ExternalIdsNotGranted = "external-ids.not-granted",
    ExternalIdsOptionOff = "external-ids.option-off",
    ExternalIdsRole = "external-ids.role",
    Internal = "internal",
    JobNotYours = "job.not-yours",
    JobUnknown = "job.unknown",
    LockoutRange = "lockout.range",
    LoginFailed = "login.failed",
    NcsmAlreadyActive = "ncsm.already-active",
    NcsmBindingMismatch = "ncsm.binding-mismatch",
    NcsmComplete = "ncsm.complete",
    NcsmEnvelopeInvalid = "ncsm.envelope-invalid",
    NcsmMigrationPending = "ncsm.migration-pending",
    NcsmMigrationRunning = "ncsm.migration-running",
    NcsmNoAppliance = "ncsm.no-appliance",
    NcsmNotActive = "ncsm.not-active",
    NcsmNotEnabled = "ncsm.not-enabled",
    NcsmPlaintextRefused = "ncsm.plaintext-refused",
    NcsmRecipientMissing = "ncsm.recipient-missing",
    NcsmRecipientUnknown = "ncsm.recipient-unknown",
    NcsmResetManagersOnly = "ncsm.reset-managers-only",
    NcsmSelfServiceResetOff = "ncsm.self-service-reset-off",
    NcsmSignInAgain = "ncsm.sign-in-again",
    NdsmNotAccepted = "ndsm.not-accepted",
    NdsmOneWay = "ndsm.one-way",
    NeverExpireAgreementRequired = "never-expire.agreement-required",
    NeverExpireApiOnly = "never-expire.api-only",
    NeverExpireFeatureOff = "never-expire.feature-off",
    PasswordExpiryNoticeRange = "password-expiry.notice-range",
    PasswordExpiryRange = "password-expiry.range",
    PasswordExpiryRepeatRange = "password-expiry.repeat-range",
    PasswordResetTokenInvalid = "password-reset.token-invalid",
    PasswordChangeRequired = "password.change-required",
    PasswordCurrentWrong = "password.current-wrong",
    PasswordDigit = "password.digit",
    PasswordExpired = "password.expired",
    PasswordFirstName = "password.first-name",
    PasswordLastName = "password.last-name",
    PasswordLowercase = "password.lowercase",
    PasswordMaxLength = "password.max-length",
    PasswordMinLength = "password.min-length",
    PasswordMinLengthRange = "password.min-length-range",
    PasswordNewRequired = "password.new-required",
    PasswordRequired = "password.required",
    PasswordReuse = "password.reuse",
    PasswordSpecial = "password.special",
    PasswordThreeIdentical = "password.three-identical",
    PasswordThreeSequential = "password.three-sequential",
    PasswordUppercase = "password.uppercase",
    PasswordUserDefinedOff = "password.user-defined-off",
    RecordDomainInvalid = "record.domain-invalid",
    RecordDomainTaken = "record.domain-taken",
    RecordDomainTypeInvalid = "record.domain-type-invalid",
    RecordFieldInvalid = "record.field-invalid",
    RecordFolderUnexpected = "record.folder-unexpected",
    RecordIdInvalid = "record.id-invalid",
    RecordIdTaken = "record.id-taken",
    RecordIpDuplicate = "record.ip-duplicate",
    RecordIpInvalid = "record.ip-invalid",
    RecordIpTaken = "record.ip-taken",
    RecordIpsRequired = "record.ips-required",
    RecordKindInvalid = "record.kind-invalid",
    RecordLoginTypeInvalid = "record.login-type-invalid",
    RecordNotFound = "record.not-found",
    RecordNtlmv1Refused = "record.ntlmv1-refused",
    RecordNtlmv2Required = "record.ntlmv2-required",
    RecordSecretDuplicate = "record.secret-duplicate",
    RecordSecretEmpty = "record.secret-empty",
    RecordSecretIdInvalid = "record.secret-id-invalid",
    RecordSecretNameRequired = "record.secret-name-required",
    RecordSecretPathInvalid = "record.secret-path-invalid",
    RecordSecretReferenceConflict = "record.secret-reference-conflict",
    RecordSecretRequired = "record.secret-required",
    RecordSecretUnexpected = "record.secret-unexpected",
    RecordSecretsRebindRequired = "record.secrets-rebind-required",
    RecordSecretsUnexpected = "record.secrets-unexpected",
    RecordServiceSelectedInvalid = "record.service-selected-invalid",
    RecordServiceSelectedIps = "record.service-selected-ips",
    RecordSmbVersionInvalid = "record.smb-version-invalid",
    RecordAuthProtocolInvalid = "record.auth-protocol-invalid",
    RecordCertificateInvalid = "record.certificate-invalid",
    RecordCertificateUnused = "record.certificate-unused",
    RecordDelegationInvalid = "record.delegation-invalid",
    RecordDelegationPasswordInvalid = "record.delegation-password-invalid",
    RecordDelegationSecretInvalid = "record.delegation-secret-invalid",
    RecordDelegationSecretRequired = "record.delegation-secret-required",
    RecordDelegationSecretUnused = "record.delegation-secret-unused",
    RecordHostKeyInvalid = "record.host-key-invalid",
    RecordHostKeyPolicyInvalid = "record.host-key-policy-invalid",
    RecordHostKeysRequired = "record.host-keys-required",
    RecordHostKeysUnused = "record.host-keys-unused",
    RecordKerberosInvalid = "record.kerberos-invalid",
    RecordRealmRequired = "record.realm-required",
    RecordUnixOptionsInvalid = "record.unix-options-invalid",
    RecordTitleTaken = "record.title-taken",
    RecordStatementInvalid = "record.statement-invalid",
    RecordStatementMismatch = "record.statement-mismatch",
    RecordStatementOld = "record.statement-old",
    SigningInvalid = "signing.invalid",
    SigningTrustListOld = "signing.trust-list-old",
    RecordUnixAuthInvalid = "record.unix-auth-invalid",
    RecordUserHasDomain = "record.user-has-domain",
    RecordVaultRequired = "record.vault-required",
    RecordVaultUnexpected = "record.vault-unexpected",
    RecordWindowsOptionsInvalid = "record.windows-options-invalid",
    RecordsPermissionRole = "records-permission.role",
    RequestMalformed = "request.malformed",
    RequestMethodNotAllowed = "request.method-not-allowed",
    RequestUnknownEndpoint = "request.unknown-endpoint",
    ResultCause = "result.cause",
    ResultIdempotencyKey = "result.idempotency-key",
    ResultQid = "result.qid",
    ResultTargetMismatch = "result.target-mismatch",
    ResultUnknownTarget = "result.unknown-target",
    RewrapDuplicateItem = "rewrap.duplicate-item",
    RewrapEmpty = "rewrap.empty",
    RewrapEnvelopeInvalid = "rewrap.envelope-invalid",
    RewrapPayloadChanged = "rewrap.payload-changed",
    RewrapRecipientDropped = "rewrap.recipient-dropped",
    RewrapRecipientMissing = "rewrap.recipient-missing",
    RewrapRecipientUnknown = "rewrap.recipient-unknown",
    RewrapStoredInvalid = "rewrap.stored-invalid",
    RewrapUnknownAppliance = "rewrap.unknown-appliance",
    RewrapUnknownItem = "rewrap.unknown-item",
    RoleApplianceOnly = "role.appliance-only",
    RoleForbidden = "role.forbidden",
    RolePrimaryContactOnly = "role.primary-contact-only",
    RoleRecordsPermissionRequired = "role.records-permission-required",
    RoleTargetForbidden = "role.target-forbidden",
    RoleUserOnly = "role.user-only",
    ScanAppliance = "scan.appliance",
    ScanKinds = "scan.kinds",
    ScanNoAppliance = "scan.no-appliance",
    ScanPorts = "scan.ports",
    ScanTargets = "scan.targets",
    ScanTitle = "scan.title",
    ScanUnknown = "scan.unknown",
    ServerBusy = "server.busy",
    SessionTimeoutRange = "session-timeout.range",
    SessionInactivityTimeout = "session.inactivity-timeout",
    StoreConflict = "store.conflict",
    UnitOtherUnit = "unit.other-unit",
    UnitOwnerUnknown = "unit.owner-unknown",
    UserEmailInvalid = "user.email-invalid",
    UserFieldInvalid = "user.field-invalid",
    UserNotFound = "user.not-found",
    UserNothingToChange = "user.nothing-to-change",
    UserPrimaryContactApiOnly = "user.primary-contact-api-only",
    UserPrimaryContactProtected = "user.primary-contact-protected",
    UserPrimaryContactRole = "user.primary-contact-role",
    UserSelfLock = "user.self-lock",
    UserUsernameInvalid = "user.username-invalid",
    VaultApiInvalid = "vault.api-invalid",
    VaultCaInvalid = "vault.ca-invalid",
    VaultCaUnused = "vault.ca-unused",
    VaultIdTaken = "vault.id-taken",
    VaultInUse = "vault.in-use",
    VaultNotFound = "vault.not-found",
    VaultSecretsRebindRequired = "vault.secrets-rebind-required",
    VaultTitleTaken = "vault.title-taken",
    VaultUrlInvalid = "vault.url-invalid",
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn every_code_is_its_string_both_ways() {
        for &code in Code::ALL {
            let text = serde_json::to_string(&code).unwrap();
            assert_eq!(text, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<Code>(&text).unwrap(), code);
        }
    }

    #[test]
    fn a_rule_from_a_newer_server_reads_as_unknown() {
        let code: Code = serde_json::from_str("\"quota.exceeded\"").unwrap();
        assert_eq!(code, Code::Unknown);
    }
}
