//! `sealscan-control init`: the subscription and its Manager Primary Contact.
use crate::domain::{DomainError, validate};
use crate::lifecycle;
use crate::model::{Edition, NewUser, Person, Role};
use crate::password_policy::Names;
use crate::secrets::{HashCost, Password, hash_password};
use crate::store::Store;
use sealscan_api::Code;
use std::path::Path;

pub struct InitOptions {
    pub subscription: String,
    pub edition: Edition,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub password: Password,
    pub hash_cost: HashCost,
    pub now: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Dir(#[from] crate::datadir::DataDirError),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Key(#[from] crate::keyfile::KeyError),
    #[error("{rule}: {message}")]
    Refused { rule: Code, message: String },
}

impl From<DomainError> for InitError {
    fn from(e: DomainError) -> Self {
        InitError::Refused {
            rule: e.rule,
            message: e.message,
        }
    }
}

pub fn init(data_dir: &Path, o: InitOptions) -> Result<i64, InitError> {
    validate::username(&o.username)?;
    validate::text("first name", &o.first_name, 100)?;
    validate::text("last name", &o.last_name, 100)?;
    validate::email(&o.email)?;
    let security = crate::model::security_for_edition(o.edition, o.now);
    // The Primary Contact's own password always meets every complexity rule.
    lifecycle::check_policy(
        &security,
        &Names {
            first: &o.first_name,
            last: &o.last_name,
        },
        &o.password,
    )?;
    crate::datadir::create(data_dir)?;
    let store = match crate::datadir::database(data_dir)? {
        Some(location) => Store::open_location(location)?,
        None => {
            let db = data_dir.join(crate::server::DB_FILE);
            crate::datadir::prepare_db_file(&db)?;
            Store::open(&db)?
        }
    };
    crate::keyfile::DataKey::load_or_create(data_dir)?;
    let hash = hash_password(o.hash_cost, o.password.expose()).map_err(|_| InitError::Refused {
        rule: Code::Internal,
        message: "password hashing failed".into(),
    })?;
    let id = store.write(|tx| {
        tx.insert_subscription(&o.subscription, o.edition, o.now, &security)?;
        let id = tx.insert_user(
            &NewUser {
                person: Person {
                    username: o.username.clone(),
                    first_name: o.first_name.trim().to_string(),
                    last_name: o.last_name.trim().to_string(),
                    email: o.email.clone(),
                },
                role: Role::Manager,
                api_only: false,
                external_id: None,
                password_hash: hash,
                must_change_password: false,
            },
            o.now,
        )?;
        tx.set_primary_contact(id)?;
        tx.audit(
            o.now,
            "operator",
            "subscription.created",
            &o.subscription,
            &serde_json::json!({"edition": o.edition, "primary_contact": o.username}),
            None,
        )?;
        Ok::<_, InitError>(id)
    })?;
    Ok(id)
}
