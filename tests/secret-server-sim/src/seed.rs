//! The seed: users, folders and secrets the simulator serves, parsed from JSON and checked
//! once so that request handling never meets an inconsistent seed.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

use base64::Engine;
use serde::Deserialize;

use crate::templates::{Template, template_by_name};

/// Why a seed was refused. Each variant names the offending entry.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed is not valid JSON for the simulator: {0}")]
    Json(#[from] serde_json::Error),
    #[error("duplicate {kind} id {id}")]
    DuplicateId { kind: &'static str, id: i64 },
    #[error("duplicate user {0:?} (user names are case-insensitive within a domain)")]
    DuplicateUser(String),
    #[error("secret {secret}: unknown template {template:?} (known: {known})")]
    UnknownTemplate {
        secret: i64,
        template: String,
        known: String,
    },
    #[error("secret {secret}: template {template:?} has no field with slug {slug:?}")]
    UnknownField {
        secret: i64,
        template: String,
        slug: String,
    },
    #[error("secret {secret}: field {slug:?} is a {expected} field")]
    FieldKind {
        secret: i64,
        slug: String,
        expected: &'static str,
    },
    #[error("secret {secret}: file field {slug:?} has invalid contentBase64: {reason}")]
    FileBase64 {
        secret: i64,
        slug: String,
        reason: String,
    },
    #[error("secret {secret}: folderId {folder} is not a seeded folder")]
    UnknownFolder { secret: i64, folder: i64 },
    #[error("folder {folder}: parentId {parent} is not a seeded folder")]
    UnknownParent { folder: i64, parent: i64 },
    #[error("secret {secret}: reader {reader:?} is not a seeded user")]
    UnknownReader { secret: i64, reader: String },
    #[error("secret {secret}: allowedSources entry {entry:?} is not an IP address")]
    BadSource { secret: i64, entry: String },
    #[error("{kind} id {id} must be between 1 and 2147483647 (Secret Server ids are Int32)")]
    BadId { kind: &'static str, id: i64 },
}

/// A web-services user. `domain` is `None` for a local Secret Server account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub domain: Option<String>,
    /// When set, the token request must carry this code in an `OTP` header.
    #[serde(default)]
    pub otp: Option<String>,
}

impl User {
    /// How a reader list names this user: `name` or `DOMAIN\name`.
    pub fn matches_reader(&self, reader: &str) -> bool {
        match (reader.split_once('\\'), &self.domain) {
            (Some((d, n)), Some(domain)) => {
                d.eq_ignore_ascii_case(domain) && n.eq_ignore_ascii_case(&self.username)
            }
            (Some(_), None) => false,
            (None, _) => reader.eq_ignore_ascii_case(&self.username),
        }
    }

    pub fn display_name(&self) -> String {
        match &self.domain {
            Some(d) => format!("{d}\\{}", self.username),
            None => self.username.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Folder {
    pub id: i64,
    pub name: String,
    #[serde(default, rename = "parentId")]
    pub parent_id: Option<i64>,
}

/// A field value as the seed gives it: text, or a file attachment.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawField {
    Text(String),
    File {
        #[serde(rename = "fileName")]
        file_name: String,
        #[serde(default)]
        content: Option<String>,
        #[serde(default, rename = "contentBase64")]
        content_base64: Option<String>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecret {
    id: i64,
    name: String,
    #[serde(rename = "folderId", default)]
    folder_id: Option<i64>,
    template: String,
    #[serde(default)]
    fields: BTreeMap<String, RawField>,
    #[serde(default)]
    readers: Vec<String>,
    #[serde(default, rename = "allowedSources")]
    allowed_sources: Option<Vec<String>>,
    #[serde(default, rename = "requiresComment")]
    requires_comment: bool,
    #[serde(default, rename = "checkOutEnabled")]
    check_out_enabled: bool,
    #[serde(default, rename = "requiresApproval")]
    requires_approval: bool,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeed {
    #[serde(default)]
    users: Vec<User>,
    #[serde(default)]
    folders: Vec<Folder>,
    #[serde(default)]
    secrets: Vec<RawSecret>,
}

/// One item of a secret, in template order.
#[derive(Debug, Clone)]
pub struct Item {
    pub item_id: i64,
    pub field_id: i64,
    pub field_name: &'static str,
    pub slug: &'static str,
    pub is_password: bool,
    pub is_notes: bool,
    pub value: ItemValue,
}

#[derive(Debug, Clone)]
pub enum ItemValue {
    Text(String),
    /// A file field with no attachment.
    NoFile,
    File {
        attachment_id: i64,
        file_name: String,
        content: Vec<u8>,
    },
}

impl Item {
    pub fn is_file(&self) -> bool {
        !matches!(self.value, ItemValue::Text(_))
    }
}

#[derive(Debug, Clone)]
pub struct Secret {
    pub id: i64,
    pub name: String,
    pub folder_id: Option<i64>,
    pub template: &'static Template,
    pub items: Vec<Item>,
    pub readers: Vec<String>,
    pub allowed_sources: Option<Vec<IpAddr>>,
    pub requires_comment: bool,
    pub check_out_enabled: bool,
    pub requires_approval: bool,
    pub active: bool,
}

impl Secret {
    pub fn item(&self, slug: &str) -> Option<&Item> {
        self.items
            .iter()
            .find(|i| i.slug.eq_ignore_ascii_case(slug))
    }

    pub fn readable_by(&self, user: &User) -> bool {
        self.readers.iter().any(|r| user.matches_reader(r))
    }

    pub fn source_allowed(&self, source: IpAddr) -> bool {
        match &self.allowed_sources {
            None => true,
            Some(list) => list.contains(&source),
        }
    }

    /// Restricted in the sense of `filter.includeRestricted`: needs a comment or an approval.
    pub fn is_restricted(&self) -> bool {
        self.requires_comment || self.requires_approval
    }
}

/// The parsed, checked seed.
#[derive(Debug, Clone, Default)]
pub struct Seed {
    pub users: Vec<User>,
    pub folders: Vec<Folder>,
    pub secrets: Vec<Secret>,
}

impl Seed {
    /// Parses and checks a seed. Ids must be unique and positive, folders, readers and
    /// template fields must exist, and file fields must be given as files.
    pub fn from_json(text: &str) -> Result<Seed, SeedError> {
        let raw: RawSeed = serde_json::from_str(text)?;
        check_users(&raw.users)?;
        check_folders(&raw.folders)?;
        let mut ids = HashSet::new();
        let mut secrets = Vec::with_capacity(raw.secrets.len());
        for s in raw.secrets {
            if !valid_id(s.id) {
                return Err(SeedError::BadId {
                    kind: "secret",
                    id: s.id,
                });
            }
            if !ids.insert(s.id) {
                return Err(SeedError::DuplicateId {
                    kind: "secret",
                    id: s.id,
                });
            }
            secrets.push(build_secret(s, &raw.users, &raw.folders)?);
        }
        Ok(Seed {
            users: raw.users,
            folders: raw.folders,
            secrets,
        })
    }

    pub fn secret(&self, id: i64) -> Option<&Secret> {
        self.secrets.iter().find(|s| s.id == id)
    }

    pub fn folder(&self, id: i64) -> Option<&Folder> {
        self.folders.iter().find(|f| f.id == id)
    }

    /// `\Parent\Child` for a folder, as Secret Server writes folder paths.
    pub fn folder_path(&self, id: i64) -> String {
        let mut names = Vec::new();
        let mut current = Some(id);
        // The seed check refuses unknown parents; the depth bound guards against cycles.
        while let Some(fid) = current {
            if names.len() > self.folders.len() {
                break;
            }
            match self.folder(fid) {
                Some(f) => {
                    names.push(f.name.as_str());
                    current = f.parent_id;
                }
                None => break,
            }
        }
        names.reverse();
        let mut path = String::new();
        for n in names {
            path.push('\\');
            path.push_str(n);
        }
        path
    }

    /// Whether `folder` is `ancestor` or lies below it.
    pub fn folder_within(&self, folder: i64, ancestor: i64) -> bool {
        let mut current = Some(folder);
        let mut steps = 0;
        while let Some(fid) = current {
            if fid == ancestor {
                return true;
            }
            steps += 1;
            if steps > self.folders.len() {
                return false;
            }
            current = self.folder(fid).and_then(|f| f.parent_id);
        }
        false
    }
}

fn valid_id(id: i64) -> bool {
    (1..=i64::from(i32::MAX)).contains(&id)
}

fn check_users(users: &[User]) -> Result<(), SeedError> {
    let mut seen = HashSet::new();
    for u in users {
        let key = (
            u.domain.as_deref().unwrap_or("").to_ascii_lowercase(),
            u.username.to_ascii_lowercase(),
        );
        if !seen.insert(key) {
            return Err(SeedError::DuplicateUser(u.display_name()));
        }
    }
    Ok(())
}

fn check_folders(folders: &[Folder]) -> Result<(), SeedError> {
    let mut ids = HashSet::new();
    for f in folders {
        if !valid_id(f.id) {
            return Err(SeedError::BadId {
                kind: "folder",
                id: f.id,
            });
        }
        if !ids.insert(f.id) {
            return Err(SeedError::DuplicateId {
                kind: "folder",
                id: f.id,
            });
        }
    }
    for f in folders {
        if let Some(p) = f.parent_id
            && !ids.contains(&p)
        {
            return Err(SeedError::UnknownParent {
                folder: f.id,
                parent: p,
            });
        }
    }
    Ok(())
}

fn build_secret(s: RawSecret, users: &[User], folders: &[Folder]) -> Result<Secret, SeedError> {
    let template = template_by_name(&s.template).ok_or_else(|| SeedError::UnknownTemplate {
        secret: s.id,
        template: s.template.clone(),
        known: crate::templates::TEMPLATES
            .iter()
            .map(|t| t.name)
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    if let Some(folder) = s.folder_id
        && !folders.iter().any(|f| f.id == folder)
    {
        return Err(SeedError::UnknownFolder {
            secret: s.id,
            folder,
        });
    }
    for slug in s.fields.keys() {
        if !template.fields.iter().any(|f| f.slug == slug) {
            return Err(SeedError::UnknownField {
                secret: s.id,
                template: template.name.to_string(),
                slug: slug.clone(),
            });
        }
    }
    for reader in &s.readers {
        if !users.iter().any(|u| u.matches_reader(reader)) {
            return Err(SeedError::UnknownReader {
                secret: s.id,
                reader: reader.clone(),
            });
        }
    }
    let allowed_sources = match s.allowed_sources {
        None => None,
        Some(list) => Some(
            list.iter()
                .map(|e| {
                    e.parse::<IpAddr>().map_err(|_| SeedError::BadSource {
                        secret: s.id,
                        entry: e.clone(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let mut items = Vec::with_capacity(template.fields.len());
    for (index, field) in template.fields.iter().enumerate() {
        // Item ids are unique across the seed: secret id, then the field's position.
        let item_id = s.id * 100 + index as i64 + 1;
        let value = match (field.is_file, s.fields.get(field.slug)) {
            (false, None) => ItemValue::Text(String::new()),
            (false, Some(RawField::Text(t))) => ItemValue::Text(t.clone()),
            (true, None) => ItemValue::NoFile,
            (
                true,
                Some(RawField::File {
                    file_name,
                    content,
                    content_base64,
                }),
            ) => ItemValue::File {
                attachment_id: item_id + 500_000,
                file_name: file_name.clone(),
                content: file_content(s.id, field.slug, content, content_base64)?,
            },
            (is_file, Some(_)) => {
                return Err(SeedError::FieldKind {
                    secret: s.id,
                    slug: field.slug.to_string(),
                    expected: if is_file {
                        "file ({\"fileName\", \"content\"})"
                    } else {
                        "text"
                    },
                });
            }
        };
        items.push(Item {
            item_id,
            field_id: field.field_id,
            field_name: field.name,
            slug: field.slug,
            is_password: field.is_password,
            is_notes: field.is_notes,
            value,
        });
    }
    Ok(Secret {
        id: s.id,
        name: s.name,
        folder_id: s.folder_id,
        template,
        items,
        readers: s.readers,
        allowed_sources,
        requires_comment: s.requires_comment,
        check_out_enabled: s.check_out_enabled,
        requires_approval: s.requires_approval,
        active: s.active,
    })
}

fn file_content(
    secret: i64,
    slug: &str,
    content: &Option<String>,
    content_base64: &Option<String>,
) -> Result<Vec<u8>, SeedError> {
    match (content, content_base64) {
        (Some(text), None) => Ok(text.as_bytes().to_vec()),
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| SeedError::FileBase64 {
                secret,
                slug: slug.to_string(),
                reason: e.to_string(),
            }),
        _ => Err(SeedError::FieldKind {
            secret,
            slug: slug.to_string(),
            expected: "file with exactly one of \"content\" or \"contentBase64\"",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
      "users": [{"username": "svc-scan", "password": "pw", "domain": null},
                {"username": "aduser", "password": "pw2", "domain": "CORP"}],
      "folders": [{"id": 2, "name": "Unix", "parentId": null},
                  {"id": 3, "name": "Prod", "parentId": 2}],
      "secrets": [{"id": 10, "name": "unix-root", "folderId": 3, "template": "Unix Account (SSH)",
                   "fields": {"username": "root", "private-key": {"fileName": "id", "content": "KEY"}},
                   "readers": ["svc-scan", "CORP\\aduser"], "allowedSources": ["127.0.0.1"]}]
    }"#;

    #[test]
    fn parses_a_good_seed() {
        let seed = Seed::from_json(GOOD).expect("good seed");
        let s = seed.secret(10).expect("secret 10");
        assert_eq!(s.template.name, "Unix Account (SSH)");
        assert!(matches!(&s.item("private-key").map(|i| &i.value),
            Some(ItemValue::File { content, .. }) if content == b"KEY"));
        assert!(
            matches!(&s.item("password").map(|i| &i.value), Some(ItemValue::Text(t)) if t.is_empty())
        );
        assert!(s.readable_by(&seed.users[1]));
        assert_eq!(seed.folder_path(3), "\\Unix\\Prod");
        assert!(seed.folder_within(3, 2));
        assert!(!seed.folder_within(2, 3));
    }

    #[test]
    fn refuses_what_is_wrong_and_names_it() {
        let cases = [
            (
                GOOD.replace("Unix Account (SSH)", "Nope"),
                "unknown template",
            ),
            (
                GOOD.replace("\"username\": \"root\"", "\"colour\": \"red\""),
                "colour",
            ),
            (
                GOOD.replace("\"folderId\": 3", "\"folderId\": 9"),
                "folderId 9",
            ),
            (
                GOOD.replace("\"svc-scan\", \"CORP", "\"ghost\", \"CORP"),
                "ghost",
            ),
            (
                GOOD.replace("[\"127.0.0.1\"]", "[\"localhost\"]"),
                "localhost",
            ),
            (
                GOOD.replace(
                    "\"username\": \"root\"",
                    "\"username\": {\"fileName\": \"x\", \"content\": \"y\"}",
                ),
                "text field",
            ),
            (
                GOOD.replace("\"id\": 3,", "\"id\": 2,"),
                "duplicate folder id 2",
            ),
            (
                GOOD.replace("\"id\": 10,", "\"id\": 9223372036854775807,"),
                "between 1 and",
            ),
            (GOOD.replace("\"id\": 3,", "\"id\": 0,"), "folder id 0"),
            (
                GOOD.replace("\"content\": \"KEY\"", "\"contentBase64\": \"@@\""),
                "invalid contentBase64",
            ),
            ("{\"users\": [], \"extra\": 1}".to_string(), "unknown field"),
        ];
        for (text, needle) in cases {
            let err = Seed::from_json(&text).expect_err(needle).to_string();
            assert!(err.contains(needle), "{err:?} should mention {needle:?}");
        }
    }
}
