//! `GET /api/v1/secrets` (and v2), `/secrets/search-total` and `/secrets/lookup`: the
//! secrets a caller may list, filtered with `filter.*` (or tss-sdk-go's `paging.filter.*`),
//! sorted and paged.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::auth::authenticate;
use super::errors::{invalid_request, json_response};
use super::params::Params;
use crate::model;
use crate::seed::{ItemValue, Secret};
use crate::server::Source;
use crate::state::{Caller, Shared};

/// Secret Server's page size when the caller sends no `take`; small on purpose, as users
/// find out when "not all secrets show".
pub(crate) const DEFAULT_TAKE: i64 = 10;

/// Looks a parameter up under its plain name and tss-sdk-go's `paging.` prefix.
fn lookup<'p>(params: &'p Params, name: &str) -> Option<&'p str> {
    params
        .get(name)
        .or_else(|| params.get(&format!("paging.{name}")))
}

fn bool_param(params: &Params, name: &str) -> Result<Option<bool>, Response> {
    match lookup(params, name) {
        None | Some("") => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(invalid_request(
            name,
            &format!("The value of {name} is not valid for Boolean."),
        )),
    }
}

fn int_param(params: &Params, name: &str) -> Result<Option<i64>, Response> {
    match lookup(params, name) {
        None | Some("") => Ok(None),
        // Secret Server binds these as Int32; that bound also keeps the paging arithmetic small.
        Some(v) => v
            .trim()
            .parse::<i32>()
            .map(|n| Some(i64::from(n)))
            .map_err(|_| {
                invalid_request(
                    name,
                    &format!("The value of {name} is not valid for Int32."),
                )
            }),
    }
}

struct Filter {
    search_text: Option<String>,
    search_field: Option<String>,
    exact: bool,
    folder_id: Option<i64>,
    include_sub_folders: bool,
    template_ids: Vec<i64>,
    include_inactive: bool,
    include_active: bool,
    include_restricted: bool,
}

impl Filter {
    fn parse(params: &Params) -> Result<Filter, Response> {
        let mut template_ids = Vec::new();
        for name in ["filter.secretTemplateId", "filter.secretTemplateIds"] {
            let mut values = params.all(name);
            values.extend(params.all(&format!("paging.{name}")));
            for v in values {
                for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    template_ids.push(part.parse::<i64>().map_err(|_| {
                        invalid_request(
                            name,
                            &format!("The value of {name} is not valid for Int32."),
                        )
                    })?);
                }
            }
        }
        Ok(Filter {
            search_text: lookup(params, "filter.searchText")
                .filter(|t| !t.is_empty())
                .map(str::to_string),
            search_field: lookup(params, "filter.searchFieldSlug")
                .or_else(|| lookup(params, "filter.searchField"))
                .filter(|t| !t.is_empty())
                .map(str::to_string),
            exact: bool_param(params, "filter.isExactMatch")?.unwrap_or(false),
            folder_id: int_param(params, "filter.folderId")?,
            include_sub_folders: bool_param(params, "filter.includeSubFolders")?.unwrap_or(false),
            template_ids,
            include_inactive: bool_param(params, "filter.includeInactive")?.unwrap_or(false),
            include_active: bool_param(params, "filter.includeActive")?.unwrap_or(true),
            include_restricted: bool_param(params, "filter.includeRestricted")?.unwrap_or(false),
        })
    }

    fn text_matches(&self, value: &str, needle: &str) -> bool {
        if self.exact {
            value.eq_ignore_ascii_case(needle)
        } else {
            value.to_lowercase().contains(&needle.to_lowercase())
        }
    }

    /// The name and the plain text fields are searchable; passwords, files and notes are not.
    fn matches_text(&self, secret: &Secret) -> bool {
        let Some(needle) = &self.search_text else {
            return true;
        };
        let field_values = secret.items.iter().filter_map(|i| match &i.value {
            ItemValue::Text(t) if !i.is_password && !i.is_notes => Some((i, t)),
            _ => None,
        });
        match &self.search_field {
            Some(field) if field.eq_ignore_ascii_case("name") => {
                self.text_matches(&secret.name, needle)
            }
            Some(field) => field_values
                .filter(|(i, _)| {
                    i.slug.eq_ignore_ascii_case(field) || i.field_name.eq_ignore_ascii_case(field)
                })
                .any(|(_, t)| self.text_matches(t, needle)),
            None => {
                self.text_matches(&secret.name, needle)
                    || field_values
                        .into_iter()
                        .any(|(_, t)| self.text_matches(t, needle))
            }
        }
    }

    fn matches(&self, shared: &Shared, secret: &Secret) -> bool {
        let state_ok =
            (secret.active && self.include_active) || (!secret.active && self.include_inactive);
        let folder_ok = match self.folder_id {
            None => true,
            Some(f) => match secret.folder_id {
                Some(sf) if self.include_sub_folders => shared.seed.folder_within(sf, f),
                Some(sf) => sf == f,
                None => false,
            },
        };
        state_ok
            && folder_ok
            && (self.template_ids.is_empty() || self.template_ids.contains(&secret.template.id))
            && (self.include_restricted || !secret.is_restricted())
            && self.matches_text(secret)
    }
}

struct Sort {
    field: String,
    descending: bool,
}

fn parse_sort(params: &Params) -> Result<Sort, Response> {
    let field = lookup(params, "sortBy[0].name")
        .unwrap_or("name")
        .to_string();
    if !["name", "id", "folderid", "secrettemplatename"].contains(&field.to_lowercase().as_str()) {
        return Err(invalid_request(
            "sortBy[0].name",
            "Sorting is supported on name, id, folderId and secretTemplateName.",
        ));
    }
    let descending = match lookup(params, "sortBy[0].direction") {
        None | Some("") => false,
        Some(d) if d.eq_ignore_ascii_case("asc") => false,
        Some(d) if d.eq_ignore_ascii_case("desc") => true,
        Some(_) => {
            return Err(invalid_request(
                "sortBy[0].direction",
                "The direction must be Asc or Desc.",
            ));
        }
    };
    Ok(Sort { field, descending })
}

fn compare(sort: &Sort, a: &Secret, b: &Secret) -> Ordering {
    let primary = match sort.field.to_lowercase().as_str() {
        "id" => a.id.cmp(&b.id),
        "folderid" => a.folder_id.cmp(&b.folder_id),
        "secrettemplatename" => a.template.name.cmp(b.template.name),
        _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
    };
    let primary = if sort.descending {
        primary.reverse()
    } else {
        primary
    };
    primary.then(a.id.cmp(&b.id))
}

fn matching<'a>(
    shared: &'a Shared,
    caller: &Caller,
    source: Source,
    filter: &Filter,
) -> Vec<&'a Secret> {
    let Some(user) = shared.user(caller.user) else {
        return Vec::new();
    };
    shared
        .seed
        .secrets
        .iter()
        .filter(|s| s.readable_by(user) && s.source_allowed(source.0))
        .filter(|s| filter.matches(shared, s))
        .collect()
}

struct Page {
    skip: i64,
    take: i64,
}

fn parse_page(params: &Params) -> Result<Page, Response> {
    let skip = int_param(params, "skip")?.unwrap_or(0);
    let take = int_param(params, "take")?.unwrap_or(DEFAULT_TAKE);
    if skip < 0 {
        return Err(invalid_request("skip", "skip must not be negative."));
    }
    if take < 0 {
        return Err(invalid_request("take", "take must not be negative."));
    }
    // take=0 is what python-tss-sdk sends for an empty folder; the server then uses its default.
    let take = if take == 0 { DEFAULT_TAKE } else { take };
    Ok(Page { skip, take })
}

fn paging_body(page: &Page, total: usize, sort: &Sort, records: Vec<Value>) -> Value {
    let total = total as i64;
    let batch = records.len() as i64;
    let has_next = page.skip + batch < total;
    json!({
        "success": true,
        "severity": "None",
        "total": total,
        "skip": page.skip,
        "take": page.take,
        "pageCount": (total + page.take - 1) / page.take,
        "currentPage": page.skip / page.take + 1,
        "batchCount": (total + page.take - 1) / page.take,
        "prevSkip": (page.skip - page.take).max(0),
        "nextSkip": page.skip + page.take,
        "hasPrev": page.skip > 0,
        "hasNext": has_next,
        "sortBy": [{"name": sort.field, "direction": if sort.descending { "Desc" } else { "Asc" }, "priority": 0}],
        "records": records,
    })
}

pub(crate) async fn search(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = (|| {
        let caller = authenticate(&shared, &headers)?;
        let params = Params::parse(query.as_deref().unwrap_or(""));
        let filter = Filter::parse(&params)?;
        let sort = parse_sort(&params)?;
        let page = parse_page(&params)?;
        let mut found = matching(&shared, &caller, source, &filter);
        found.sort_by(|a, b| compare(&sort, a, b));
        let total = found.len();
        let records: Vec<Value> = found
            .into_iter()
            .skip(usize::try_from(page.skip).unwrap_or(usize::MAX))
            .take(usize::try_from(page.take).unwrap_or(usize::MAX))
            .map(|s| model::summary(&shared, s))
            .collect();
        Ok(json_response(
            StatusCode::OK,
            paging_body(&page, total, &sort, records),
        ))
    })();
    result.unwrap_or_else(|e: Response| e)
}

pub(crate) async fn search_total(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = (|| {
        let caller = authenticate(&shared, &headers)?;
        let params = Params::parse(query.as_deref().unwrap_or(""));
        let filter = Filter::parse(&params)?;
        let total = matching(&shared, &caller, source, &filter).len();
        Ok(json_response(StatusCode::OK, json!(total)))
    })();
    result.unwrap_or_else(|e: Response| e)
}

pub(crate) async fn lookup_secrets(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = (|| {
        let caller = authenticate(&shared, &headers)?;
        let params = Params::parse(query.as_deref().unwrap_or(""));
        let filter = Filter::parse(&params)?;
        let sort = parse_sort(&params)?;
        let page = parse_page(&params)?;
        let mut found = matching(&shared, &caller, source, &filter);
        found.sort_by(|a, b| compare(&sort, a, b));
        let total = found.len();
        let records: Vec<Value> = found
            .into_iter()
            .skip(usize::try_from(page.skip).unwrap_or(usize::MAX))
            .take(usize::try_from(page.take).unwrap_or(usize::MAX))
            .map(|s| json!({"id": s.id, "value": s.name}))
            .collect();
        Ok(json_response(
            StatusCode::OK,
            paging_body(&page, total, &sort, records),
        ))
    })();
    result.unwrap_or_else(|e: Response| e)
}
