//! One [`Client`] method per operator endpoint, each with its request and response type: the
//! CLI never names a path, a method or a JSON shape.
use crate::client::{Client, ClientError, Method, NO_BODY};
use crate::{admin, appliances, ncsm, password, records, scans, security, session, users};

/// A path segment as sent: user names are `[a-z0-9._-]` and ids are generated, so only '/'
/// and '%' need escaping to keep the path intact (the server refuses anything else anyway).
pub fn segment(s: &str) -> String {
    s.replace('%', "%25").replace('/', "%2F")
}

macro_rules! endpoints {
    (@body) => { NO_BODY };
    (@body $body:ident) => { Some($body) };
    ($(
        $(#[$doc:meta])*
        fn $name:ident($($arg:ident),* $(; $body:ident: $req:ty)?) = $method:ident $path:literal -> $resp:ty;
    )*) => {
        impl Client {
            $(
                $(#[$doc])*
                pub async fn $name(
                    &self,
                    $($arg: &str,)*
                    $($body: &$req,)?
                ) -> Result<$resp, ClientError> {
                    let path = format!($path $(, $arg = segment($arg))*);
                    self.send(Method::$method, &path, endpoints!(@body $($body)?)).await
                }
            )*
        }
    };
}

endpoints! {
    /// Signs in (a TOTP code or a new password when the server asks for one).
    fn login(; body: session::LoginRequest) = POST "/session" -> session::LoginResponse;
    fn whoami() = GET "/session" -> session::WhoAmI;
    fn logout() = DELETE "/session" -> ();
    fn check_password(; body: password::CheckRequest) = POST "/password/check" -> password::CheckResponse;
    fn change_password(; body: password::ChangeRequest) = POST "/password/change" -> password::ChangeResponse;
    fn forgot_password(; body: password::ForgotRequest) = POST "/password/forgot" -> password::Message;
    fn reset_password(; body: password::ResetRequest) = POST "/password/reset" -> password::ChangeResponse;
    fn enroll_2fa() = POST "/2fa/enroll" -> session::Enrollment;
    fn confirm_2fa(; body: session::ConfirmRequest) = POST "/2fa/confirm" -> session::Confirmed;
    fn users() = GET "/users" -> Vec<users::UserView>;
    fn create_user(; body: users::CreateUser) = POST "/users" -> users::UserCreated;
    /// `id`: the user's id or name.
    fn user(id) = GET "/users/{id}" -> users::UserView;
    fn update_user(id; body: users::UpdateUser) = PATCH "/users/{id}" -> users::UserView;
    fn lock_user(id) = POST "/users/{id}/lock" -> users::UserView;
    fn unlock_user(id) = POST "/users/{id}/unlock" -> users::UserView;
    fn reset_user_password(id; body: users::ResetUserPassword) = POST "/users/{id}/reset-password" -> users::UserPasswordReset;
    fn reset_user_2fa(id) = DELETE "/users/{id}/2fa" -> users::UserView;
    fn set_role(id; body: users::RoleRequest) = PUT "/users/{id}/role" -> users::UserView;
    fn set_external_id_permission(id; body: users::PermissionRequest) = PUT "/users/{id}/external-id-permission" -> users::UserView;
    fn set_records_permission(id; body: users::PermissionRequest) = PUT "/users/{id}/records-permission" -> users::UserView;
    fn user_unit(id) = GET "/users/{id}/unit" -> users::UserUnit;
    fn set_user_unit(id; body: users::UnitRequest) = PUT "/users/{id}/unit" -> users::UserUnit;
    fn set_record_unit(id; body: users::UnitRequest) = PUT "/records/{id}/unit" -> users::OwnerUnit;
    fn set_vault_unit(id; body: users::UnitRequest) = PUT "/vaults/{id}/unit" -> users::OwnerUnit;
    fn security() = GET "/security" -> security::SecurityView;
    fn update_security(; body: security::SecurityPatch) = PUT "/security" -> security::SecurityView;
    fn allowlist() = GET "/security/allowlist" -> security::AllowlistView;
    fn set_allowlist(; body: security::AllowlistRequest) = PUT "/security/allowlist" -> security::AllowlistView;
    fn set_external_ids(; body: security::ToggleRequest) = PUT "/security/external-ids" -> security::ExternalIdsView;
    fn answer_never_expire_agreement(; body: security::AgreementRequest) = POST "/security/never-expire-agreement" -> security::AgreementView;
    fn accept_ndsm(; body: security::NdsmRequest) = PUT "/security/new-data-security-model" -> security::NdsmView;
    fn outbox() = GET "/outbox" -> Vec<admin::OutboxEmail>;
    fn audit() = GET "/audit" -> Vec<admin::AuditEntry>;
    fn create_enrollment_token(; body: appliances::TokenRequest) = POST "/appliances/tokens" -> appliances::TokenCreated;
    fn enrollment_tokens() = GET "/appliances/tokens" -> Vec<appliances::EnrollmentToken>;
    fn appliances() = GET "/appliances" -> Vec<appliances::ApplianceView>;
    fn approve_appliance(id) = POST "/appliances/{id}/approve" -> appliances::Decided;
    fn reject_appliance(id; body: appliances::DecisionRequest) = POST "/appliances/{id}/reject" -> appliances::Decided;
    fn revoke_appliance(id; body: appliances::DecisionRequest) = POST "/appliances/{id}/revoke" -> appliances::Decided;
    fn create_scan(; body: scans::ScanRequest) = POST "/scans" -> scans::ScanView;
    fn scans() = GET "/scans" -> Vec<scans::ScanView>;
    fn scan(id) = GET "/scans/{id}" -> scans::ScanView;
    fn scan_results(id) = GET "/scans/{id}/results" -> Vec<scans::ResultView>;
    fn records() = GET "/records" -> records::RecordList;
    fn create_record(; body: records::CreateRecord) = POST "/records" -> records::RecordView;
    fn record(id) = GET "/records/{id}" -> records::RecordView;
    fn update_record(id; body: records::UpdateRecord) = PATCH "/records/{id}" -> records::RecordView;
    fn delete_record(id) = DELETE "/records/{id}" -> records::Deleted;
    fn vaults() = GET "/vaults" -> records::VaultList;
    fn create_vault(; body: records::CreateVault) = POST "/vaults" -> records::VaultView;
    fn vault(id) = GET "/vaults/{id}" -> records::VaultView;
    fn update_vault(id; body: records::UpdateVault) = PATCH "/vaults/{id}" -> records::VaultView;
    fn delete_vault(id) = DELETE "/vaults/{id}" -> records::Deleted;
    fn signing() = GET "/signing" -> records::SigningMaterial;
    fn upload_signing(; body: records::SigningMaterial) = PUT "/signing" -> records::SigningMaterial;
    fn ncsm_status() = GET "/ncsm" -> ncsm::NcsmStatus;
    fn ncsm_recipients() = GET "/ncsm/recipients" -> ncsm::Recipients;
    fn start_ncsm() = POST "/ncsm/start" -> ncsm::NcsmStatus;
    fn resume_ncsm() = POST "/ncsm/resume" -> ncsm::NcsmStatus;
}
