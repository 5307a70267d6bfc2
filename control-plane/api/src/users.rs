//! Users (`/users`) as the API shows and changes them.
use crate::role::Role;
use schemars::JsonSchema;
use sealscan_protocols::secret::Password;
use serde::{Deserialize, Deserializer, Serialize};

/// Who a user is: the name they sign in with, their names and their email. One definition
/// for the first user (`sealscan-control init`), a new user (`POST /users`, `sealscan users
/// create`) and the view.
// No deny_unknown_fields: flattened into its holders, it sees their other fields too.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct Person {
    #[cfg_attr(feature = "clap", arg(long))]
    pub username: String,
    #[cfg_attr(feature = "clap", arg(long))]
    pub first_name: String,
    #[cfg_attr(feature = "clap", arg(long))]
    pub last_name: String,
    #[cfg_attr(feature = "clap", arg(long))]
    pub email: String,
}

/// What the API shows of a user. Hashes and TOTP secrets never leave the server.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserView {
    pub id: i64,
    #[serde(flatten)]
    pub person: Person,
    pub role: Role,
    pub primary_contact: bool,
    pub api_only: bool,
    pub external_id: Option<String>,
    /// The grant as stored, and whether it is in force (the subscription option is on).
    pub external_id_permission: bool,
    pub external_id_permission_effective: bool,
    /// The records grant as stored, and whether this user may change records and vaults
    /// (Managers always; Unit Managers with the grant).
    pub records_permission: bool,
    pub records_permission_effective: bool,
    pub never_expire: bool,
    pub never_expire_effective: bool,
    pub locked: bool,
    pub failed_logins: u32,
    pub must_change_password: bool,
    pub two_factor_enabled: bool,
    pub session_timeout_minutes: Option<u32>,
    pub effective_session_timeout_minutes: u32,
    pub password_changed_at: String,
    pub password_expires_at: Option<String>,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

/// `POST /users`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[serde(flatten)]
    pub person: Person,
    pub role: Role,
    #[serde(default)]
    pub api_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Required when user-defined passwords are on; otherwise the server generates one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub password: Option<Password>,
}

/// `POST /users` and `POST /users/{id}/reset-password` answer with the user and, when the
/// control plane chose it, the new password (shown once).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreated {
    pub user: UserView,
    #[schemars(with = "Option<String>")]
    pub generated_password: Option<Password>,
}

/// `PATCH /users/{id}`: only the fields given change. `external_id` and
/// `session_timeout_minutes` take null to clear them.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_only: Option<bool>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_timeout_minutes: Option<Option<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub never_expire: Option<bool>,
}

impl UpdateUser {
    pub fn is_empty(&self) -> bool {
        self.first_name.is_none()
            && self.last_name.is_none()
            && self.email.is_none()
            && self.api_only.is_none()
            && self.external_id.is_none()
            && self.session_timeout_minutes.is_none()
            && self.never_expire.is_none()
    }
}

/// Tells an absent field (outer None) from an explicit null (Some(None)).
fn double_option<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /users/{id}/reset-password`.
#[derive(Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetUserPassword {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub password: Option<Password>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPasswordReset {
    pub user: UserView,
    #[schemars(with = "Option<String>")]
    pub generated_password: Option<Password>,
    pub must_change_password: bool,
}

/// `PUT /users/{id}/role`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    pub role: Role,
}

/// `PUT /users/{id}/external-id-permission` and `/records-permission`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionRequest {
    pub granted: bool,
}

/// `PUT /users|records|vaults/{id}/unit`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitRequest {
    /// The unit's name; null takes the owner out of every unit.
    pub unit: Option<String>,
}

/// `GET`/`PUT /users/{id}/unit`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUnit {
    pub username: String,
    pub unit: Option<String>,
}

/// `PUT /records/{id}/unit` and `/vaults/{id}/unit`.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerUnit {
    /// `record` or `vault`.
    pub kind: UnitOwnerKind,
    pub id: String,
    pub unit: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnitOwnerKind {
    Record,
    Vault,
}

#[cfg(test)]
mod tests {
    use super::{CreateUser, UpdateUser};

    #[test]
    fn a_person_reads_flat_and_unknown_fields_are_refused() {
        let c: CreateUser = serde_json::from_str(
            r#"{"username":"alice","first_name":"Alice","last_name":"Liddell",
                "email":"alice@example.com","role":"reader"}"#,
        )
        .expect("a create");
        assert_eq!(c.person.username, "alice");
        let text = serde_json::to_string(&c).expect("serialize");
        assert!(
            text.starts_with(r#"{"username":"alice","first_name":"Alice""#),
            "{text}"
        );
        let err = serde_json::from_str::<CreateUser>(
            r#"{"username":"alice","first_name":"Alice","last_name":"Liddell",
                "email":"alice@example.com","role":"reader","nickname":"al"}"#,
        )
        .expect_err("an unknown field");
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = serde_json::from_str::<CreateUser>(r#"{"username":"alice","role":"reader"}"#)
            .expect_err("no names");
        assert!(err.to_string().contains("first_name"), "{err}");
    }

    #[test]
    fn a_patch_tells_null_from_absent() {
        let clear = UpdateUser {
            external_id: Some(None),
            ..UpdateUser::default()
        };
        assert_eq!(
            serde_json::to_string(&clear).unwrap(),
            r#"{"external_id":null}"#
        );
        let back: UpdateUser = serde_json::from_str(r#"{"external_id":null}"#).unwrap();
        assert_eq!(back.external_id, Some(None));
        let absent: UpdateUser = serde_json::from_str("{}").unwrap();
        assert!(absent.is_empty());
    }
}
