//! SMTP delivery of the outbox to a real SMTP server: Python's standard-library `smtpd`
//! (Debian 12's python3) on loopback, writing each accepted message to a file.
mod common;

use common::*;
use sealscan_control::mail::{SmtpConfig, deliver_outbox};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const SERVER: &str = r#"
import asyncore, os, smtpd, sys
out = sys.argv[1]
class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        n = len(os.listdir(out))
        with open(os.path.join(out, "%d.eml" % n), "wb") as f:
            f.write(("MAILFROM %s\nRCPTTO %s\n" % (mailfrom, ",".join(rcpttos))).encode() + data)
s = Sink(("127.0.0.1", 0), None, decode_data=False)
print(s.socket.getsockname()[1], flush=True)
asyncore.loop()
"#;

struct Smtpd {
    child: Child,
    port: u16,
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtpd(out: &std::path::Path) -> Smtpd {
    let mut child = Command::new("python3")
        .args(["-W", "ignore", "-c", SERVER])
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 is needed for this test (apt-get install python3; its stdlib smtpd serves SMTP)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port line");
    let port = line.trim().parse().unwrap_or_else(|_| {
        panic!("python3's smtpd did not start (needs Python <= 3.11, as on Debian 12): {line:?}")
    });
    Smtpd { child, port }
}

#[tokio::test]
async fn the_outbox_is_delivered_over_smtp_once() {
    let h = Harness::start().await;
    let pc = h.pc().await;
    h.user(&pc, "sam", "scanner").await;
    h.call(
        "post",
        "/api/v1/password/forgot",
        None,
        Some(json!({"username": "sam"})),
    )
    .await
    .expect_ok();
    let out = tempfile::tempdir().expect("tmp");
    let server = smtpd(out.path());
    let cfg = SmtpConfig {
        relay: format!("127.0.0.1:{}", server.port),
        from: "sealscan@example.com".into(),
        helo: "sealscan-control".into(),
    };
    let store = &h.server.state.store;
    assert_eq!(
        deliver_outbox(store, &cfg, h.clock_now())
            .await
            .expect("deliver"),
        (1, 0)
    );
    let mail = std::fs::read_to_string(out.path().join("0.eml")).expect("delivered message");
    assert!(mail.contains("MAILFROM sealscan@example.com"), "{mail}");
    assert!(mail.contains("RCPTTO sam@example.com"), "{mail}");
    assert!(
        mail.contains("Subject: Reset your sealscan password"),
        "{mail}"
    );
    assert!(mail.contains("rst_"), "{mail}");
    // Delivered once: the next run finds nothing to send.
    assert_eq!(
        deliver_outbox(store, &cfg, h.clock_now())
            .await
            .expect("deliver"),
        (0, 0)
    );
    let sent = store.read(|tx| tx.list_outbox()).expect("outbox");
    assert!(sent.iter().all(|m| m.sent_at.is_some()));
    assert!(
        !sent.iter().any(|m| m.body.contains("rst_")),
        "a delivered reset token is not kept"
    );

    // An unreachable relay leaves the email queued with the reason.
    drop(server);
    h.call(
        "post",
        "/api/v1/password/forgot",
        None,
        Some(json!({"username": "sam"})),
    )
    .await
    .expect_ok();
    assert_eq!(
        deliver_outbox(store, &cfg, h.clock_now())
            .await
            .expect("deliver"),
        (0, 1)
    );
    let queued = store.read(|tx| tx.unsent_outbox(10)).expect("outbox");
    assert_eq!(queued.len(), 1);
    assert!(
        queued[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("SMTP relay")),
        "{:?}",
        queued[0].last_error
    );
}
