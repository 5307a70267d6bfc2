//! `sealscan signing` as the root's holder runs it against the real server: declare the root,
//! certify a colleague's key in a new trust list, and see what is stored. The statements are
//! signed by the CLI; the server only keeps them (and refuses a trust list it already has a
//! newer number of).
mod common;

use common::cli::*;
use sealscan_protocols::signing::{Signed, TrustList, fingerprint_text, open};

const PASS: &str = "root passphrase, long enough";

#[test]
fn the_root_declares_itself_and_certifies_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (root_cfg, other_cfg) = (dir.path().join("root"), dir.path().join("bob"));
    let served = init_and_serve(&data);
    let ca = data.join("tls/cert.pem");
    login(&root_cfg, &served, &ca);
    let stdin = format!("{PASS}\n");
    let key_of = |cfg: &std::path::Path| {
        let out = ok(&run(cfg, &["--password-stdin", "keys", "create"], &stdin));
        out.lines()
            .find_map(|l| l.strip_prefix("public key:").map(|k| k.trim().to_string()))
            .expect("public key line")
    };
    let root_pk = key_of(&root_cfg);
    let bob_pk = key_of(&other_cfg);

    // Nothing to extend before the root is declared; a bad key is named.
    fails(
        &run(
            &root_cfg,
            &[
                "--password-stdin",
                "signing",
                "certify",
                "--user-id",
                "u-bob",
                "--public-key",
                &bob_pk,
            ],
            &stdin,
        ),
        "declare the root",
    );
    fails(
        &run(
            &root_cfg,
            &[
                "--password-stdin",
                "signing",
                "declare",
                "--subscription-id",
                "acme",
                "--recovery-public-key",
                "beef",
            ],
            &stdin,
        ),
        "64 hex digits",
    );
    fails(
        &run(
            &root_cfg,
            &[
                "--password-stdin",
                "signing",
                "declare",
                "--subscription-id",
                "acme",
                "--recovery-public-key",
                &root_pk,
            ],
            &stdin,
        ),
        "another key than the root",
    );
    fails(
        &run(
            &root_cfg,
            &[
                "--password-stdin",
                "signing",
                "declare",
                "--subscription-id",
                "acme",
                "--recovery-public-key",
                &bob_pk,
            ],
            "wrong passphrase here\n",
        ),
        "does not unlock",
    );
    let out = ok(&run(
        &root_cfg,
        &[
            "--password-stdin",
            "signing",
            "declare",
            "--subscription-id",
            "acme",
            "--recovery-public-key",
            &bob_pk,
        ],
        &stdin,
    ));
    assert!(out.contains("root declaration: stored"), "{out}");
    let out = ok(&run(
        &root_cfg,
        &[
            "--password-stdin",
            "signing",
            "certify",
            "--user-id",
            "u-bob",
            "--public-key",
            &bob_pk,
        ],
        &stdin,
    ));
    assert!(out.contains("trust list: stored"), "{out}");

    // What is stored is a trust list numbered 2, signed by the root, certifying Bob's key.
    let shown = ok(&run(&root_cfg, &["--json", "signing", "show"], ""));
    let v: serde_json::Value = serde_json::from_str(&shown).expect("json");
    let list = open::<TrustList>(
        &Signed::from_text(v["trust_list"].as_str().expect("trust list")).expect("signed"),
    )
    .expect("a valid trust list");
    assert_eq!(list.statement.number, 2);
    assert_eq!(list.statement.certificates.len(), 1);
    assert_eq!(hex::encode(list.signer), root_pk);
    let _ = fingerprint_text(&list.root);

    // Bob is not the root: his key cannot extend the list.
    login(&other_cfg, &served, &ca);
    fails(
        &run(
            &other_cfg,
            &[
                "--password-stdin",
                "signing",
                "certify",
                "--user-id",
                "u-x",
                "--public-key",
                &root_pk,
            ],
            &stdin,
        ),
        "not signed by your key",
    );

    // `records show` says whether a record is signed (the CLI does not sign records yet).
    ok(&run(
        &root_cfg,
        &[
            "--password-stdin",
            "records",
            "create",
            "--kind",
            "unix",
            "--title",
            "L",
            "--user",
            "scan",
            "--ip",
            "10.3.0.1",
        ],
        "Cli-Signing-Pass-1\n",
    ));
    let listed = ok(&run(&root_cfg, &["--json", "records", "list"], ""));
    let v: serde_json::Value = serde_json::from_str(&listed).expect("json");
    let id = v["records"][0]["id"].as_str().expect("record id");
    let shown = ok(&run(&root_cfg, &["records", "show", id], ""));
    assert!(shown.contains("signed: no"), "{shown}");
    assert!(!shown.contains("statement"), "{shown}");
}
