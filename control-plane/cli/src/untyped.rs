//! What `records`, `vaults`, `ncsm`, `appliances` and `scans` still send and read as JSON
//! values: their answers are not yet `sealscan-api` types (see docs/control-plane.md).
use super::{Ctx, Failure, R};
use sealscan_api::client::Method;
use serde_json::Value;

/// A cell: `-` for null.
pub fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Ctx {
    pub(crate) async fn call_value(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> R<Value> {
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| Failure(format!("bad method {method}")))?;
        self.call(method, path, body.as_ref()).await
    }
}
