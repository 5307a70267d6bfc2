//! Logging to the journal with structured fields, or to stderr.
//!
//! Everything goes through the `log` facade. Structured values are `log` key-values; under
//! systemd they become journal fields (`journalctl -u sealscan-agent QID=105015`), on stderr
//! they follow the message as `KEY=value`. [`log_outcome`] logs a login outcome with the
//! fields ops teams search by: JOB_ID, TARGET, RECORD_ID, QID, CAUSE.
//!
//! Nothing here may ever be handed a secret: causes and login ids are not secret by contract
//! (see `sealscan_protocols::results::Cause`).

use crate::config::LogTarget;
use log::kv::{self, Key, Source, Value, VisitSource};
use log::{Level, LevelFilter, Log, Metadata, Record};
use sealscan_protocols::results::{LoginKind, LoginOutcome, Status};
use std::fmt::Write as _;
use std::io::Write as _;
use systemd_journal_logger::JournalLog;

/// Name the journal shows for the agent's lines (`SYSLOG_IDENTIFIER`).
pub const SYSLOG_IDENTIFIER: &str = "sealscan-agent";

/// Where log records ended up going.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    Journal,
    Stderr,
}

#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error(
        "log = \"journal\" but the journal socket /run/systemd/journal/socket cannot be \
         reached ({0}); set log = \"auto\" or \"stderr\" in the configuration"
    )]
    JournalUnavailable(std::io::Error),
    #[error("a logger is already installed in this process")]
    AlreadyInstalled,
}

/// Installs the process-wide logger for `target` and returns where it writes.
pub fn init(target: LogTarget, level: LevelFilter) -> Result<Destination, LoggingError> {
    let journal = match target {
        LogTarget::Stderr => None,
        LogTarget::Journal => {
            Some(JournalSink::connect().map_err(LoggingError::JournalUnavailable)?)
        }
        // Under systemd stderr is the journal stream; elsewhere (a terminal, a test) stderr is
        // what the operator reads.
        LogTarget::Auto if systemd_journal_logger::connected_to_journal() => {
            JournalSink::connect().ok()
        }
        LogTarget::Auto => None,
    };
    let (logger, destination): (Box<dyn Log>, _) = match journal {
        Some(sink) => (Box::new(sink), Destination::Journal),
        None => (Box::new(StderrLog), Destination::Stderr),
    };
    log::set_boxed_logger(logger).map_err(|_| LoggingError::AlreadyInstalled)?;
    log::set_max_level(level);
    Ok(destination)
}

/// Sends records to journald's native socket.
///
/// The journal library always writes the record's `log` target (a module path) as `TARGET`,
/// which would clash with the scan target ops teams filter on. So when a record carries a
/// `TARGET` key-value, it is sent as the record's target instead, and the journal holds one
/// `TARGET` field: the scanned host.
pub struct JournalSink {
    inner: JournalLog,
}

impl JournalSink {
    /// Connects to journald (it checks the socket answers).
    pub fn connect() -> std::io::Result<Self> {
        let inner = JournalLog::new()?.with_syslog_identifier(SYSLOG_IDENTIFIER.to_owned());
        Ok(Self { inner })
    }
}

impl Log for JournalSink {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        let Some(scan_target) = find_value(record.key_values(), TARGET) else {
            self.inner.log(record);
            return;
        };
        let rest = Without {
            source: record.key_values(),
            key: TARGET,
        };
        self.inner.log(
            &Record::builder()
                .args(*record.args())
                .level(record.level())
                .target(&scan_target)
                .module_path(record.module_path())
                .file(record.file())
                .line(record.line())
                .key_values(&rest)
                .build(),
        );
    }

    fn flush(&self) {}
}

/// Writes one readable line per record to stderr: level, message, then `KEY=value` pairs.
pub struct StderrLog;

impl Log for StderrLog {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_line(record);
        // A log line that cannot be written has nowhere else to go.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// The stderr form of `record`, newline included. Control characters are escaped so one
/// record is always one line.
pub fn format_line(record: &Record) -> String {
    let mut line = format!("{SYSLOG_IDENTIFIER}: {:<5} ", record.level());
    push_escaped(&mut line, &record.args().to_string());
    let mut pairs = PairWriter { out: &mut line };
    let _ = record.key_values().visit(&mut pairs);
    line.push('\n');
    line
}

struct PairWriter<'a> {
    out: &'a mut String,
}

impl<'kvs> VisitSource<'kvs> for PairWriter<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
        let value = value.to_string();
        let _ = write!(self.out, " {key}=");
        let plain = !value.is_empty()
            && value
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '=');
        if plain {
            self.out.push_str(&value);
        } else {
            let _ = write!(self.out, "{value:?}");
        }
        Ok(())
    }
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}

const TARGET: &str = "TARGET";

fn find_value(source: &dyn Source, wanted: &str) -> Option<String> {
    struct Find<'w> {
        wanted: &'w str,
        found: Option<String>,
    }
    impl<'kvs> VisitSource<'kvs> for Find<'_> {
        fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
            if self.found.is_none() && key.as_str().eq_ignore_ascii_case(self.wanted) {
                self.found = Some(value.to_string());
            }
            Ok(())
        }
    }
    let mut find = Find {
        wanted,
        found: None,
    };
    let _ = source.visit(&mut find);
    find.found
}

/// `source` minus one key.
struct Without<'a> {
    source: &'a dyn Source,
    key: &'static str,
}

impl Source for Without<'_> {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), kv::Error> {
        struct Skip<'v, 'kvs> {
            inner: &'v mut dyn VisitSource<'kvs>,
            key: &'static str,
        }
        impl<'kvs> VisitSource<'kvs> for Skip<'_, 'kvs> {
            fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
                if key.as_str().eq_ignore_ascii_case(self.key) {
                    Ok(())
                } else {
                    self.inner.visit_pair(key, value)
                }
            }
        }
        self.source.visit(&mut Skip {
            inner: visitor,
            key: self.key,
        })
    }
}

/// Which job, target and record an outcome belongs to.
#[derive(Clone, Copy, Debug)]
pub struct OutcomeContext<'a> {
    pub job_id: &'a str,
    /// The scanned host as the job named it.
    pub target: &'a str,
    /// The authentication record used; `None` when no record matched.
    pub record_id: Option<&'a str>,
}

/// Logs one login outcome through the process-wide logger: info when it passed, warning
/// otherwise, with JOB_ID, TARGET, RECORD_ID, QID, CAUSE, LOGIN_KIND, STATUS and LOGIN_ID as
/// structured fields.
pub fn log_outcome(context: &OutcomeContext<'_>, outcome: &LoginOutcome) {
    if outcome_level(outcome) <= log::max_level() {
        log_outcome_to(log::logger(), context, outcome);
    }
}

fn outcome_level(outcome: &LoginOutcome) -> Level {
    if outcome.status == Status::Passed {
        Level::Info
    } else {
        Level::Warn
    }
}

/// [`log_outcome`] to a given logger, whatever the process-wide level.
pub fn log_outcome_to(logger: &dyn Log, context: &OutcomeContext<'_>, outcome: &LoginOutcome) {
    let level = outcome_level(outcome);
    let kind = match outcome.kind {
        LoginKind::Unix => "unix",
        LoginKind::Windows => "windows",
    };
    let status = match outcome.status {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::NotAttempted => "not_attempted",
        Status::TimedOut => "timed_out",
    };
    let cause = outcome.cause.as_ref().map(ToString::to_string);
    let mut message = format!(
        "{kind} login to {} {} (QID {})",
        context.target,
        status.replace('_', " "),
        outcome.qid
    );
    if let Some(cause) = &cause {
        message.push_str(": ");
        message.push_str(cause);
    }
    let qid = outcome.qid.to_string();
    let mut fields: Vec<(&str, &str)> = vec![
        ("JOB_ID", context.job_id),
        (TARGET, context.target),
        ("QID", &qid),
        ("LOGIN_KIND", kind),
        ("STATUS", status),
    ];
    if let Some(record_id) = context.record_id {
        fields.push(("RECORD_ID", record_id));
    }
    if let Some(cause) = &cause {
        fields.push(("CAUSE", cause));
    }
    if !outcome.login_id.is_empty() {
        fields.push(("LOGIN_ID", &outcome.login_id));
    }
    logger.log(
        &Record::builder()
            .args(format_args!("{message}"))
            .level(level)
            .target(module_path!())
            .module_path(Some(module_path!()))
            .file(Some(file!()))
            .line(Some(line!()))
            .key_values(&fields.as_slice())
            .build(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealscan_protocols::results::{Cause, Step, qid_for};

    fn failed_windows() -> LoginOutcome {
        LoginOutcome {
            kind: LoginKind::Windows,
            status: Status::Failed,
            qid: qid_for(LoginKind::Windows, Status::Failed),
            cause: Some(Cause {
                step: Step::Authentication,
                detail: "STATUS_LOGON_FAILURE".to_owned(),
            }),
            login_id: "LAB\\scanner".to_owned(),
            method: String::new(),
            facts: Default::default(),
        }
    }

    fn context() -> OutcomeContext<'static> {
        OutcomeContext {
            job_id: "job-42",
            target: "127.0.0.1",
            record_id: Some("rec-7"),
        }
    }

    /// Captures what a logger is handed, formatted the stderr way.
    struct Capture(std::sync::Mutex<Vec<String>>);

    impl Log for Capture {
        fn enabled(&self, _: &Metadata) -> bool {
            true
        }
        fn log(&self, record: &Record) {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format_line(record));
        }
        fn flush(&self) {}
    }

    #[test]
    fn stderr_line_carries_the_fields_on_one_line() {
        let capture = Capture(Default::default());
        log_outcome_to(&capture, &context(), &failed_windows());
        let lines = capture.0.into_inner().unwrap_or_else(|e| e.into_inner());
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        assert!(line.starts_with("sealscan-agent: WARN  windows login to 127.0.0.1 failed (QID 105015): authentication: STATUS_LOGON_FAILURE"), "{line}");
        for field in [
            " JOB_ID=job-42",
            " TARGET=127.0.0.1",
            " QID=105015",
            " RECORD_ID=rec-7",
            " CAUSE=\"authentication: STATUS_LOGON_FAILURE\"",
            " LOGIN_ID=LAB\\scanner",
            " STATUS=failed",
        ] {
            assert!(line.contains(field), "{field} missing in {line}");
        }
    }

    #[test]
    fn control_characters_cannot_split_a_line() {
        let line = format_line(
            &Record::builder()
                .args(format_args!("first\nsecond"))
                .level(Level::Info)
                .key_values(&[("TARGET", "a\nb")])
                .build(),
        );
        assert_eq!(line.matches('\n').count(), 1, "{line}");
        assert!(line.contains("first\\nsecond") && line.contains("TARGET=\"a\\nb\""));
    }

    /// Fields of one native-protocol datagram: `KEY=value\n`, or `KEY\n` + 64-bit LE length +
    /// value + `\n` for values that contain newlines.
    fn parse_native(mut data: &[u8]) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        while !data.is_empty() {
            let line_end = data.iter().position(|b| *b == b'\n').expect("field ends");
            let line = &data[..line_end];
            if let Some(eq) = line.iter().position(|b| *b == b'=') {
                fields.push((
                    String::from_utf8_lossy(&line[..eq]).into_owned(),
                    String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
                ));
                data = &data[line_end + 1..];
            } else {
                let name = String::from_utf8_lossy(line).into_owned();
                let rest = &data[line_end + 1..];
                let len = u64::from_le_bytes(rest[..8].try_into().expect("length")) as usize;
                let value = String::from_utf8_lossy(&rest[8..8 + len]).into_owned();
                fields.push((name, value));
                data = &rest[8 + len + 1..];
            }
        }
        fields
    }

    /// Runs `f` on a thread with its own mount namespace and a private, empty tmpfs on /run.
    /// journald's socket path is fixed in systemd-journal-logger, so this is how a test puts
    /// its own socket there, or none, without touching the machine's journal. Needs root
    /// (CAP_SYS_ADMIN).
    #[allow(unsafe_code)]
    fn with_private_run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(move || {
            // SAFETY: plain syscalls on this thread's own namespace; the mounts are private to it.
            unsafe {
                assert_eq!(
                    libc::unshare(libc::CLONE_NEWNS),
                    0,
                    "unshare(CLONE_NEWNS) failed ({}): this test must run as root to give itself \
                     a private /run/systemd/journal/socket",
                    std::io::Error::last_os_error()
                );
                assert_eq!(
                    libc::mount(
                        c"none".as_ptr(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ),
                    0,
                    "making / private: {}",
                    std::io::Error::last_os_error()
                );
                assert_eq!(
                    libc::mount(
                        c"tmpfs".as_ptr(),
                        c"/run".as_ptr(),
                        c"tmpfs".as_ptr(),
                        0,
                        c"mode=0755".as_ptr().cast(),
                    ),
                    0,
                    "mounting a private tmpfs on /run: {}",
                    std::io::Error::last_os_error()
                );
            }
            f()
        })
        .join()
        .expect("private /run thread")
    }

    #[test]
    fn journal_target_without_a_journal_is_refused() {
        let err = with_private_run(|| {
            init(LogTarget::Journal, LevelFilter::Info)
                .expect_err("no journal socket in the private /run")
                .to_string()
        });
        assert!(err.contains("log = \"journal\""), "{err}");
        assert!(err.contains("set log = \"auto\" or \"stderr\""), "{err}");
    }

    #[test]
    fn outcome_fields_reach_the_journal_native_socket() {
        let fields = with_private_run(|| {
            std::fs::create_dir_all("/run/systemd/journal").expect("journal dir");
            let server = std::os::unix::net::UnixDatagram::bind("/run/systemd/journal/socket")
                .expect("bind the journal socket");
            let sink = JournalSink::connect().expect("journal client connects");
            log_outcome_to(&sink, &context(), &failed_windows());
            let mut buf = vec![0u8; 65536];
            loop {
                let n = server.recv(&mut buf).expect("receive a datagram");
                // The client's connection check is an empty datagram.
                if n > 0 {
                    return parse_native(&buf[..n]);
                }
            }
        });

        let get = |name: &str| -> Vec<&str> {
            fields
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(get("TARGET"), ["127.0.0.1"], "{fields:?}");
        assert_eq!(get("JOB_ID"), ["job-42"]);
        assert_eq!(get("RECORD_ID"), ["rec-7"]);
        assert_eq!(get("QID"), ["105015"]);
        assert_eq!(get("CAUSE"), ["authentication: STATUS_LOGON_FAILURE"]);
        assert_eq!(get("PRIORITY"), ["4"]);
        assert_eq!(get("SYSLOG_IDENTIFIER"), ["sealscan-agent"]);
        assert_eq!(
            get("MESSAGE"),
            [
                "windows login to 127.0.0.1 failed (QID 105015): authentication: STATUS_LOGON_FAILURE"
            ]
        );
    }
}
