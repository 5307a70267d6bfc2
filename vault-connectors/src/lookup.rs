//! What the REST and SOAP clients share in finding a secret: both search by name, then insist
//! on exactly one match, because logging in with the wrong one of two same-named secrets would
//! be worse than failing with a cause that says to name the folder; and both read the server's
//! refusals into the same causes.

use sealscan_protocols::results::Step;

use crate::error::{FailureKind, VaultError};
use crate::record::same_name;

/// A secret reference's folder: an id is exact, and so is a `\`-path (`\Unix\Prod`) where the
/// server can resolve paths; a bare name still has to be looked up and be unique.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FolderRef<'a> {
    Id(i64),
    /// The path with one leading `\` and no trailing one, e.g. `\Unix\Prod`.
    Path(String),
    Name(&'a str),
}

impl<'a> FolderRef<'a> {
    pub(crate) fn parse(folder: &'a str) -> Self {
        if let Ok(id) = folder.trim().parse::<i64>() {
            return FolderRef::Id(id);
        }
        if folder.contains(['\\', '/']) {
            let parts: Vec<&str> = folder
                .split(['\\', '/'])
                .filter(|p| !p.is_empty())
                .collect();
            if parts.len() > 1 || folder.starts_with(['\\', '/']) {
                return FolderRef::Path(parts.iter().flat_map(|p| ["\\", p]).collect());
            }
        }
        FolderRef::Name(folder)
    }

    /// The last component of a path (what a name-only folder search can look for).
    pub(crate) fn last_name(path: &str) -> &str {
        path.rsplit(['\\', '/'])
            .find(|p| !p.is_empty())
            .unwrap_or(path)
    }
}

/// The one item among `found`. None is "not found or access denied" for secret `shown` (the
/// server does not tell the two apart); several are ambiguous, the cause listing their ids.
/// `folder` names the folder being resolved when the items are folders of `shown`.
pub(crate) fn exactly_one<T>(
    step: Step,
    shown: &str,
    folder: Option<&str>,
    mut found: Vec<T>,
    id: impl Fn(&T) -> i64,
) -> Result<T, VaultError> {
    match found.len() {
        0 => Err(VaultError::new(
            step,
            FailureKind::NotFoundOrDenied {
                secret: shown.to_string(),
            },
        )),
        1 => Ok(found.remove(0)),
        count => Err(VaultError::new(
            step,
            FailureKind::Ambiguous {
                secret: match folder {
                    Some(name) => format!("folder {name:?} of {shown}"),
                    None => shown.to_string(),
                },
                count,
                ids: found
                    .iter()
                    .map(|f| id(f).to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            },
        )),
    }
}

/// The id of the one item of `items` whose name is `wanted` (as Secret Server compares names),
/// with the causes of [`exactly_one`].
pub(crate) fn exactly_one_named<T>(
    step: Step,
    shown: &str,
    folder: Option<&str>,
    wanted: &str,
    items: impl IntoIterator<Item = T>,
    name: impl Fn(&T) -> &str,
    id: impl Fn(&T) -> i64,
) -> Result<i64, VaultError> {
    let ids = items
        .into_iter()
        .filter(|i| same_name(name(i), wanted))
        .map(|i| id(&i))
        .collect();
    exactly_one(step, shown, folder, ids, |id| *id)
}

/// The cause a refusal's words name (`words` lower-cased: the error code and message), or
/// `None` when they name none of the known ones. `not_found` is the API's own sign of a missing
/// secret; Secret Server answers "not found" and "access denied" alike on purpose, so the cause
/// names both.
pub(crate) fn refusal_kind(
    not_found: bool,
    words: &str,
    secret: &str,
    message: String,
) -> Option<FailureKind> {
    let secret = secret.to_string();
    Some(
        if not_found || words.contains("accessdenied") || words.contains("access denied") {
            FailureKind::NotFoundOrDenied { secret }
        } else if words.contains("comment") {
            FailureKind::CommentRequired { secret, message }
        } else if words.contains("approval") {
            FailureKind::ApprovalRequired { secret, message }
        } else if words.contains("checked out")
            || words.contains("checkedout")
            || words.contains("check out")
        {
            FailureKind::CheckedOut { secret, message }
        } else {
            return None;
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_by_id_by_path_or_by_name() {
        assert!(matches!(FolderRef::parse("42"), FolderRef::Id(42)));
        assert_eq!(
            FolderRef::parse("\\Unix\\Prod\\"),
            FolderRef::Path("\\Unix\\Prod".into())
        );
        assert_eq!(
            FolderRef::parse("Unix/Prod"),
            FolderRef::Path("\\Unix\\Prod".into())
        );
        assert_eq!(FolderRef::parse("\\Lab"), FolderRef::Path("\\Lab".into()));
        assert_eq!(FolderRef::last_name("\\Unix\\Prod"), "Prod");
        assert!(matches!(FolderRef::parse("Lab"), FolderRef::Name("Lab")));
    }

    #[test]
    fn none_one_or_several() {
        let id = |v: &i64| *v;
        let e = exactly_one(Step::SecretLookup, "\"x\"", None, Vec::<i64>::new(), id);
        assert_eq!(
            e.unwrap_err().kind,
            FailureKind::NotFoundOrDenied {
                secret: "\"x\"".into()
            }
        );
        assert_eq!(
            exactly_one(Step::SecretLookup, "\"x\"", None, vec![7], id).ok(),
            Some(7)
        );
        let folders = [(3, "Lab"), (4, "lab"), (5, "Unix")];
        let e = exactly_one_named(
            Step::SecretLookup,
            "\"x\"",
            Some("Lab"),
            "LAB",
            folders,
            |f| f.1,
            |f| f.0,
        );
        assert_eq!(
            e.unwrap_err().kind,
            FailureKind::Ambiguous {
                secret: "folder \"Lab\" of \"x\"".into(),
                count: 2,
                ids: "3, 4".into()
            }
        );
    }
}
