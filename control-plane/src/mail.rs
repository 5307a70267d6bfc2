//! SMTP delivery of the outbox to a relay the operator names (`serve --smtp-relay`). The
//! relay is trusted and local (loopback or the host's MTA): plain SMTP, no AUTH, no STARTTLS;
//! the relay does onward delivery. Without a relay the operator reads the outbox.
use crate::store::{OutboxEmail, Store, StoreError};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const STEP_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_ATTEMPTS: u32 = 20;

#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// host:port of the relay.
    pub relay: String,
    pub from: String,
    pub helo: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("cannot talk to the SMTP relay {relay}: {reason}")]
    Io { relay: String, reason: String },
    #[error("the SMTP relay refused {step}: {reply}")]
    Refused { step: &'static str, reply: String },
    #[error("{0}")]
    BadAddress(String),
}

/// Header values come from our own records; CR/LF would let them forge headers.
fn header_safe(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

fn address(s: &str) -> Result<&str, MailError> {
    if s.is_empty()
        || s.chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>')
    {
        return Err(MailError::BadAddress(format!(
            "{s:?} is not a deliverable address"
        )));
    }
    Ok(s)
}

/// The message text with SMTP dot-stuffing and CRLF line ends.
fn message(cfg: &SmtpConfig, mail: &OutboxEmail) -> String {
    let mut out = format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <outbox-{}.{}@{}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        header_safe(&cfg.from),
        header_safe(&mail.to),
        header_safe(&mail.subject),
        crate::dates::rfc2822(mail.at),
        mail.id,
        mail.at,
        header_safe(&cfg.helo),
    );
    for line in mail.body.lines() {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

struct Session {
    reader: BufReader<tokio::io::ReadHalf<TcpStream>>,
    writer: tokio::io::WriteHalf<TcpStream>,
    relay: String,
}

impl Session {
    fn io(&self, e: impl std::fmt::Display) -> MailError {
        MailError::Io {
            relay: self.relay.clone(),
            reason: e.to_string(),
        }
    }

    /// One reply, possibly multi-line ("250-..." then "250 ...").
    async fn reply(&mut self) -> Result<(u16, String), MailError> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(STEP_TIMEOUT, self.reader.read_line(&mut line))
                .await
                .map_err(|_| self.io("timed out waiting for a reply"))?
                .map_err(|e| self.io(e))?;
            if n == 0 {
                return Err(self.io("the relay closed the connection"));
            }
            let line = line.trim_end();
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| self.io(format!("unexpected reply {line:?}")))?;
            text.push_str(line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, text));
            }
            text.push(' ');
        }
    }

    async fn send(&mut self, data: &str) -> Result<(), MailError> {
        tokio::time::timeout(STEP_TIMEOUT, self.writer.write_all(data.as_bytes()))
            .await
            .map_err(|_| self.io("timed out sending"))?
            .map_err(|e| self.io(e))
    }

    async fn step(
        &mut self,
        step: &'static str,
        command: &str,
        ok: &[u16],
    ) -> Result<(), MailError> {
        self.send(command).await?;
        let (code, reply) = self.reply().await?;
        if ok.contains(&code) {
            Ok(())
        } else {
            Err(MailError::Refused { step, reply })
        }
    }
}

pub async fn send(cfg: &SmtpConfig, mail: &OutboxEmail) -> Result<(), MailError> {
    let from = address(&cfg.from)?;
    let to = address(&mail.to)?;
    let stream = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(&cfg.relay))
        .await
        .map_err(|_| MailError::Io {
            relay: cfg.relay.clone(),
            reason: "connect timed out".into(),
        })?
        .map_err(|e| MailError::Io {
            relay: cfg.relay.clone(),
            reason: e.to_string(),
        })?;
    let (r, w) = tokio::io::split(stream);
    let mut s = Session {
        reader: BufReader::new(r),
        writer: w,
        relay: cfg.relay.clone(),
    };
    let (code, reply) = s.reply().await?;
    if code != 220 {
        return Err(MailError::Refused {
            step: "the connection",
            reply,
        });
    }
    s.step(
        "EHLO",
        &format!("EHLO {}\r\n", header_safe(&cfg.helo)),
        &[250],
    )
    .await?;
    s.step("the sender", &format!("MAIL FROM:<{from}>\r\n"), &[250])
        .await?;
    s.step("the recipient", &format!("RCPT TO:<{to}>\r\n"), &[250, 251])
        .await?;
    s.step("DATA", "DATA\r\n", &[354]).await?;
    let mut data = message(cfg, mail);
    data.push_str(".\r\n");
    s.step("the message", &data, &[250]).await?;
    // The message is accepted; a failed QUIT changes nothing.
    let _ = s.step("QUIT", "QUIT\r\n", &[221]).await;
    Ok(())
}

/// Sends every undelivered email; returns (sent, failed). Failures are recorded on the row
/// and retried on the next run, up to a bound.
pub async fn deliver_outbox(
    store: &Store,
    cfg: &SmtpConfig,
    now: i64,
) -> Result<(usize, usize), StoreError> {
    let pending = store.read(|tx| tx.unsent_outbox(100))?;
    let (mut sent, mut failed) = (0, 0);
    for mail in pending.iter().filter(|m| m.attempts < MAX_ATTEMPTS) {
        match send(cfg, mail).await {
            Ok(()) => {
                store.write(|tx| tx.mark_outbox_sent(mail.id, now))?;
                sent += 1;
            }
            Err(e) => {
                log::warn!("email #{} to {} not delivered: {e}", mail.id, mail.to);
                store.write(|tx| tx.mark_outbox_failed(mail.id, &e.to_string()))?;
                failed += 1;
            }
        }
    }
    Ok((sent, failed))
}
