//! SMB2 over TCP: each message behind a 4-byte NetBIOS session header.

use super::exchange::Failure;
use sealscan_protocols::results::{Status, Step};
use sealscan_protocols::smb2::{frame, frame_len};
use std::io::ErrorKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The detail of a failure because the server closed the connection.
pub(super) const CLOSED: &str = "the server closed the connection";

/// Replies to a login never come near this; a larger length means the peer is not SMB.
const MAX_REPLY: usize = 1 << 20;

pub(super) async fn send(stream: &mut TcpStream, msg: &[u8], step: Step) -> Result<(), Failure> {
    let framed = frame(msg).map_err(|e| Failure::failed(step, e.to_string()))?;
    stream.write_all(&framed).await.map_err(|e| match e.kind() {
        ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => Failure::failed(step, CLOSED),
        _ => Failure::failed(step, format!("sending to the server failed: {e}")),
    })
}

pub(super) async fn receive(stream: &mut TcpStream, step: Step) -> Result<Vec<u8>, Failure> {
    let mut head = [0u8; 4];
    stream
        .read_exact(&mut head)
        .await
        .map_err(|e| io_failure(e, step))?;
    let len = frame_len(head).map_err(|e| Failure::failed(step, format!("not SMB: {e}")))?;
    if len > MAX_REPLY {
        return Err(Failure::failed(
            step,
            format!("not SMB: reply announces {len} bytes (more than {MAX_REPLY})"),
        ));
    }
    let mut body = vec![0u8; len];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| io_failure(e, step))?;
    Ok(body)
}

fn io_failure(e: std::io::Error, step: Step) -> Failure {
    let detail = match e.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
            CLOSED.to_string()
        }
        _ => format!("reading from the server failed: {e}"),
    };
    Failure {
        status: Status::Failed,
        step,
        detail,
        info: None,
    }
}
