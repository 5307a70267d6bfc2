//! The request log tests read to count calls, optionally mirrored to a JSON-lines file.

use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Mutex;

/// One request as the simulator saw it. `path` is relative to the application root (the
/// full path when the request fell outside it); `query` is the raw query string with the
/// values of `password` parameters replaced by `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub source_ip: IpAddr,
    pub status: u16,
}

#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    entries: Mutex<Vec<LoggedRequest>>,
    file: Option<Mutex<File>>,
}

impl RequestLog {
    pub(crate) fn new(file: Option<File>) -> Self {
        RequestLog {
            entries: Mutex::default(),
            file: file.map(Mutex::new),
        }
    }

    pub(crate) fn push(&self, entry: LoggedRequest) {
        if let Some(file) = &self.file {
            let line = serde_json::json!({
                "method": entry.method,
                "path": entry.path,
                "query": entry.query,
                "sourceIp": entry.source_ip.to_string(),
                "status": entry.status,
            });
            let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
            // The log file is a debugging aid; a full disk must not fail the request.
            let _ = writeln!(f, "{line}");
        }
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(entry);
    }

    pub(crate) fn snapshot(&self) -> Vec<LoggedRequest> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// The query string with every `password` value masked (the SOAP HTTP-GET form carries it).
pub(crate) fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_passwords_only() {
        assert_eq!(
            super::redact_query("username=u&password=p%21&domain="),
            "username=u&password=***&domain="
        );
        assert_eq!(super::redact_query(""), "");
    }
}
