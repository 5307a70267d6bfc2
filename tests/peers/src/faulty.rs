//! Targets that misbehave on purpose, for fault tests: a TCP listener on a loopback address
//! that accepts and then never answers, answers garbage, answers the first message with
//! garbage, or relays to a real peer; and listeners that never accept at all.
//!
//! All of 127.0.0.0/8 is loopback on Linux, and the real peers bind 127.0.0.1 only, so a
//! faulty target can take the real peer's port on another loopback address: one scan port
//! override then reaches both the real peer and the faulty ones, told apart by address.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What a [`FaultyTarget`] does with each connection it accepts.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Accepts and never sends a byte; the connection stays open until the target is dropped.
    Silent,
    /// Sends these bytes as soon as the connection is accepted, then nothing more.
    SendOnAccept(Vec<u8>),
    /// Waits for the client's first bytes, answers with these, then nothing more.
    ReplyToFirst(Vec<u8>),
    /// Relays the connection to a real peer at this address.
    Relay(SocketAddr),
    /// Closes each connection as soon as it is accepted, before reading anything: what a
    /// connection limit or a TCP wrapper (hosts.deny) does.
    CloseOnAccept,
    /// Reads the client's first bytes, then closes without answering: what a server does
    /// with a request in a protocol version it does not speak.
    CloseAfterFirst,
}

/// A listener with a [`Behaviour`]; stops and closes every connection when dropped.
pub struct FaultyTarget {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultyTarget {
    /// Listens on `ip:port`. Panics with the reason when the address cannot be bound.
    pub fn start(ip: Ipv4Addr, port: u16, behaviour: Behaviour) -> FaultyTarget {
        let listener = TcpListener::bind((ip, port))
            .unwrap_or_else(|e| panic!("faulty target cannot listen on {ip}:{port}: {e}"));
        let addr = listener.local_addr().expect("faulty target address");
        listener
            .set_nonblocking(true)
            .expect("non-blocking faulty listener");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let thread = {
            let (stop, accepted, open) = (stop.clone(), accepted.clone(), open.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            accepted.fetch_add(1, Ordering::SeqCst);
                            let _ = stream.set_nonblocking(false);
                            serve(stream, &behaviour, &open);
                        }
                        // Polling keeps the stop flag simple; this is a test peer, not a server.
                        Err(_) => thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        FaultyTarget {
            addr,
            stop,
            accepted,
            open,
            thread: Some(thread),
        }
    }

    /// Relays `ip:port` to the real peer on 127.0.0.1:`port`; [`FaultyTarget::accepted`] then
    /// counts the connections that reached the peer from `ip`.
    pub fn relay(ip: Ipv4Addr, port: u16) -> FaultyTarget {
        FaultyTarget::start(
            ip,
            port,
            Behaviour::Relay((Ipv4Addr::LOCALHOST, port).into()),
        )
    }

    /// One target on each `127.0.0.<n>` for `n` in `hosts`, all on `port`, each doing what
    /// `behaviour(n)` says.
    pub fn on_each(
        hosts: RangeInclusive<u8>,
        port: u16,
        behaviour: impl Fn(u8) -> Behaviour,
    ) -> Vec<FaultyTarget> {
        hosts
            .map(|n| FaultyTarget::start(loopback(n), port, behaviour(n)))
            .collect()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

fn keep(open: &Mutex<Vec<TcpStream>>, stream: &TcpStream) {
    if let Ok(clone) = stream.try_clone() {
        open.lock().unwrap_or_else(|e| e.into_inner()).push(clone);
    }
}

fn serve(stream: TcpStream, behaviour: &Behaviour, open: &Arc<Mutex<Vec<TcpStream>>>) {
    if let Behaviour::CloseOnAccept = behaviour {
        drop(stream);
        return;
    }
    if let Behaviour::CloseAfterFirst = behaviour {
        thread::spawn(move || {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
        });
        return;
    }
    keep(open, &stream);
    match behaviour.clone() {
        Behaviour::Silent => {}
        Behaviour::SendOnAccept(bytes) => {
            thread::spawn(move || {
                let mut stream = stream;
                let _ = stream.write_all(&bytes);
            });
        }
        Behaviour::ReplyToFirst(bytes) => {
            thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 4096];
                if matches!(stream.read(&mut buf), Ok(n) if n > 0) {
                    let _ = stream.write_all(&bytes);
                }
            });
        }
        Behaviour::CloseOnAccept | Behaviour::CloseAfterFirst => {}
        Behaviour::Relay(to) => {
            let Ok(upstream) = TcpStream::connect(to) else {
                let _ = stream.shutdown(Shutdown::Both);
                return;
            };
            keep(open, &upstream);
            for (from, into) in [(&stream, &upstream), (&upstream, &stream)] {
                let (Ok(mut from), Ok(mut into)) = (from.try_clone(), into.try_clone()) else {
                    continue;
                };
                thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut into);
                    let _ = into.shutdown(Shutdown::Write);
                });
            }
        }
    }
}

impl Drop for FaultyTarget {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for s in self
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// `len` bytes that follow no protocol, the same for the same `seed` (xorshift64), so a
/// failing run can be replayed byte for byte.
pub fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A loopback address other than 127.0.0.1: `127.0.0.<n>`.
pub fn loopback(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

/// A listener on `host:port` that never accepts: the kernel completes each TCP handshake into
/// its backlog and nothing ever reads or answers. Closed when dropped.
pub fn unanswered(host: &str, port: u16) -> TcpListener {
    TcpListener::bind((host, port))
        .unwrap_or_else(|e| panic!("bind a silent listener on {host}:{port}: {e}"))
}

/// [`unanswered`] listeners, one on each of `hosts`, all on one free port (returned), so a
/// scan's port override reaches each of them.
pub fn unanswered_on_each(hosts: &[&str]) -> (Vec<TcpListener>, u16) {
    'port: for _ in 0..50 {
        let first = TcpListener::bind((hosts[0], 0)).expect("bind a silent listener");
        let port = first.local_addr().expect("address").port();
        let mut all = vec![first];
        for h in &hosts[1..] {
            match TcpListener::bind((*h, port)) {
                Ok(l) => all.push(l),
                Err(_) => continue 'port,
            }
        }
        return (all, port);
    }
    panic!("no port free on all of {hosts:?}");
}

/// Server-side sockets of `port` the kernel holds as ESTABLISHED (accepted or waiting in the
/// backlog): a client's open connections to listeners that never answer.
pub fn established_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let wanted = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.get(1).is_some_and(|local| local.ends_with(&wanted)) && cols.get(3) == Some(&"01")
        })
        .count()
}
