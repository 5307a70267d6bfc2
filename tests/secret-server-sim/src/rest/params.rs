//! Query-string and body parameters, read the way ASP.NET binds them: names
//! case-insensitive, repeated names kept, unknown names ignored.

use axum::response::Response;

use super::errors;

pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(text: &str) -> Self {
        Params(
            form_urlencoded::parse(text.as_bytes())
                .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name` (any case).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.0
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, Response> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(errors::invalid_request(
                name,
                &format!("The value of {name} is not valid for Boolean."),
            )),
        }
    }
}

/// Parses a path id as Secret Server does: an integer, else "The request is invalid.".
pub(crate) fn path_id(text: &str) -> Result<i64, Response> {
    text.parse::<i64>()
        .map_err(|_| errors::invalid_request("id", &format!("The value '{text}' is not valid.")))
}
