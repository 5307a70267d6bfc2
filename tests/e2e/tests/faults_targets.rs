//! Targets that accept TCP and then never answer, or answer garbage, on the SSH and the SMB
//! port, scanned through the real control plane by the real agent: each ends with its QID
//! (105053 Unix, 105015 Windows) and a cause that says what the peer did, and the agent stays
//! healthy: a real sshd and smbd after them, in the same job and in the next, still pass.

use sealscan_e2e::agent::AgentSettings;
use sealscan_e2e::control_plane::*;
use sealscan_test_peers::faulty::{Behaviour, FaultyTarget, garbage, loopback};
use sealscan_test_peers::smbd::{Smbd, SmbdOptions};
use sealscan_test_peers::sshd::{Sshd, SshdOptions};
use sealscan_test_peers::system::ensure_user;
use serde_json::json;

const USER: &str = "e2e_ftarget";
const WIN_USER: &str = "e2e_ftargetw";
const PASSWORD: &str = "Ft4!target-Qm8z";

/// An SMB2 header's protocol id behind a NetBIOS session header, then bytes that are no SMB2
/// message: a reply that gets past a check of the first four bytes only.
fn smb_garbage_reply() -> Vec<u8> {
    let mut body = b"\xfeSMB".to_vec();
    body.extend(garbage(60, 0x5eed_0004));
    let mut framed = vec![0, 0, 0, body.len() as u8];
    framed.extend(body);
    framed
}

/// A NetBIOS session header announcing 100 bytes, then only the first 8 of them.
fn smb_truncated_reply() -> Vec<u8> {
    let mut framed = vec![0, 0, 0, 100];
    framed.extend(b"\xfeSMB");
    framed.extend([64, 0, 0, 0]);
    framed
}

#[test]
fn silent_and_garbage_targets_fail_with_their_qid_and_the_agent_stays_healthy() {
    ensure_user(USER, PASSWORD);
    let sshd = Sshd::start(&SshdOptions::default());
    let smbd = Smbd::start(SmbdOptions::default());
    smbd.add_user(WIN_USER, PASSWORD);
    let (ssh_port, smb_port) = (sshd.port(), smbd.port());
    let banner_then_garbage = {
        let mut b = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".to_vec();
        b.extend(garbage(2048, 0x5eed_0003));
        b
    };
    let peers = [
        FaultyTarget::start(loopback(2), ssh_port, Behaviour::Silent),
        FaultyTarget::start(loopback(2), smb_port, Behaviour::Silent),
        FaultyTarget::start(
            loopback(3),
            ssh_port,
            Behaviour::SendOnAccept(garbage(4096, 0x5eed_0002)),
        ),
        FaultyTarget::start(
            loopback(3),
            smb_port,
            Behaviour::SendOnAccept(garbage(4096, 0x5eed_0002)),
        ),
        FaultyTarget::start(
            loopback(4),
            ssh_port,
            Behaviour::SendOnAccept(banner_then_garbage),
        ),
        FaultyTarget::start(
            loopback(4),
            smb_port,
            Behaviour::ReplyToFirst(smb_garbage_reply()),
        ),
        FaultyTarget::start(
            loopback(5),
            ssh_port,
            Behaviour::SendOnAccept(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".to_vec()),
        ),
        FaultyTarget::start(
            loopback(5),
            smb_port,
            Behaviour::ReplyToFirst(smb_truncated_reply()),
        ),
        FaultyTarget::relay(loopback(6), ssh_port),
        FaultyTarget::relay(loopback(6), smb_port),
    ];
    let plane = ControlPlane::with_manual_clock();
    let mut agent = plane.running_agent(AgentSettings {
        concurrency: 2,
        unix_secs: 3,
        windows_secs: 3,
    });
    let ips = ["127.0.0.1-127.0.0.6"];
    for (kind, user) in [("unix", USER), ("windows", WIN_USER)] {
        let title = format!("fault {kind}");
        plane.record(password_record(
            kind,
            &title,
            user,
            &ips,
            PASSWORD.as_bytes(),
        ));
    }
    let ports = json!({"unix": ssh_port, "windows": smb_port});
    let scan = plane.scan(
        json!({"title": "faulty", "targets": ["127.0.0.2-127.0.0.6"],
                                 "kinds": "both", "ports": ports}),
    );
    let rows = plane.wait_done(&scan);
    let by_target = one_per_target(&rows);
    assert_eq!(rows.len(), 10, "{rows:#?}");
    let expect = |target: &str, kind: &str, status: &str, qid: u32, words: &[&str]| {
        let row = &by_target[&(target.to_string(), kind.to_string())];
        if status == "passed" {
            assert_eq!(row["status"], status, "{row}");
            assert_eq!(row["qid"], qid, "{row}");
        } else {
            assert_row(row, status, qid, "negotiate", words);
        }
    };
    // Accepts and never answers: a timeout, named as such, with the timeout's QID.
    expect(
        "t1",
        "unix",
        "timed_out",
        115263,
        &[
            "127.0.0.2:",
            "accepted the TCP connection but did not complete an SSH handshake",
            "3.0 s timeout",
        ],
    );
    expect(
        "t2",
        "windows",
        "timed_out",
        105015,
        &["no answer from 127.0.0.2:", "within 3s"],
    );
    // Random bytes: no SSH banner, no NetBIOS session message.
    expect(
        "t3",
        "unix",
        "failed",
        105053,
        &["127.0.0.3:", "does not answer as an SSH server"],
    );
    expect(
        "t4",
        "windows",
        "failed",
        105015,
        &["not SMB", "not a NetBIOS session message"],
    );
    // A plausible SSH banner, then garbage; an SMB2 protocol id, then garbage.
    expect(
        "t5",
        "unix",
        "failed",
        105053,
        &["127.0.0.4:", "key exchange"],
    );
    expect("t6", "windows", "failed", 105015, &["not an SMB2 server"]);
    // A banner and then silence; half an SMB reply and then silence.
    expect("t7", "unix", "timed_out", 115263, &["127.0.0.5:"]);
    expect(
        "t8",
        "windows",
        "timed_out",
        105015,
        &["no answer from 127.0.0.5:"],
    );
    // The targets after them in the same job, through relays to the real peers.
    expect("t9", "unix", "passed", 38307, &[]);
    expect("t10", "windows", "passed", 70053, &[]);
    for peer in &peers {
        assert!(peer.accepted() >= 1, "{} was never reached", peer.addr());
    }

    // The next job, straight to the real peers: the agent is still healthy.
    let scan = plane.scan(json!({"title": "after", "targets": ["127.0.0.1"],
                                 "kinds": "both", "ports": ports}));
    let rows = plane.wait_done(&scan);
    let by_target = one_per_target(&rows);
    assert_eq!(
        by_target[&("t1".to_string(), "unix".to_string())]["qid"],
        38307,
        "{rows:?}"
    );
    assert_eq!(
        by_target[&("t2".to_string(), "windows".to_string())]["qid"],
        70053,
        "{rows:?}"
    );
    assert!(agent.alive(), "{}", agent.home.stderr());
    assert!(
        !agent.home.stderr().contains("panicked"),
        "{}",
        agent.home.stderr()
    );
    agent.stop();
}
