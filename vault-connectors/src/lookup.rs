//! What the REST and SOAP clients share in finding a secret: both search by name, then insist
//! on exactly one match, because logging in with the wrong one of two same-named secrets would
//! be worse than failing with a cause that says to name the folder; and both read the server's
//! refusals into the same causes.

use sealscan_protocols::results::Step;

use crate::error::{FailureKind, VaultError};
use crate::record::same_name;

/// A secret reference's folder: an id is exact; a name (or a `\`-path, of which the last
/// component counts) still has to be looked up.
pub(crate) enum FolderRef<'a> {
    Id(i64),
    Name(&'a str),
}

impl<'a> FolderRef<'a> {
    pub(crate) fn parse(folder: &'a str) -> Self {
        match folder.parse::<i64>() {
            Ok(id) => FolderRef::Id(id),
            Err(_) => FolderRef::Name(
                folder
                    .trim_matches('\\')
                    .rsplit('\\')
                    .next()
                    .unwrap_or(folder),
            ),
        }
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
    fn folders_by_id_or_by_the_last_path_component() {
        assert!(matches!(FolderRef::parse("42"), FolderRef::Id(42)));
        assert!(matches!(
            FolderRef::parse("\\Unix\\Prod\\"),
            FolderRef::Name("Prod")
        ));
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
