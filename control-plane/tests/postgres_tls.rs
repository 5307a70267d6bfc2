//! TLS to PostgreSQL against a real server with ssl on (tests/peers), its certificate signed
//! by a certificate authority this test makes: `verify-full` checks the chain and the name,
//! `verify-ca` the chain only, bare `require` neither, and a server without TLS is refused
//! under `require`. What is checked is seen from the server's side (`pg_stat_ssl`).
use sealscan_control::store::{Location, Store};
use sealscan_test_peers::postgres::{Postgres, shared};
use std::path::Path;

struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

fn ca(name: &str) -> Ca {
    let key = rcgen::KeyPair::generate().expect("CA key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).expect("CA certificate");
    Ca { cert, key }
}

/// A server certificate for 127.0.0.1 and db.sealscan.test (not "localhost"), signed by `ca`:
/// its chain and key, as PEM.
fn server_cert(ca: &Ca) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("server key");
    let params = rcgen::CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        "db.sealscan.test".to_string(),
    ])
    .expect("server params");
    let cert = params
        .signed_by(&key, &ca.cert, &ca.key)
        .expect("server certificate");
    (
        format!("{}{}", cert.pem(), ca.cert.pem()),
        key.serialize_pem(),
    )
}

fn open(url: &str) -> Result<Store, String> {
    Location::parse(url)
        .and_then(Store::open_location)
        .map_err(|e| e.to_string())
}

/// How many of the database's connections the server sees encrypted.
fn encrypted_connections(pg: &Postgres, db: &str) -> i64 {
    pg.psql(&format!(
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE ssl AND datname = '{db}'"
    ))
    .trim()
    .parse()
    .expect("count")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write CA file");
    path.display().to_string()
}

#[test]
fn verify_full_verify_ca_and_require_against_a_tls_server() {
    let authority = ca("sealscan test database CA");
    let (chain, key) = server_cert(&authority);
    let pg = Postgres::start_with_tls(&chain, &key);
    pg.psql("CREATE DATABASE tls");
    let tmp = tempfile::tempdir().expect("tmp");
    let good_ca = write(tmp.path(), "ca.pem", &authority.cert.pem());
    let other_ca = write(tmp.path(), "other.pem", &ca("someone else's CA").cert.pem());
    let url = pg.url("tls");
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, p)| p.to_string())
        .expect("password in the URL");

    // verify-full with the right CA: connected, encrypted (seen from the server).
    let store = open(&format!("{url}?sslmode=verify-full&sslrootcert={good_ca}"))
        .expect("verify-full with the signing CA");
    assert!(store.schema_version().expect("version") > 0);
    assert!(encrypted_connections(&pg, "tls") >= 1);
    drop(store);

    // Another CA: refused, without the password in the error.
    let err = open(&format!("{url}?sslmode=verify-full&sslrootcert={other_ca}"))
        .err()
        .expect("verify-full with a CA that did not sign the server's certificate");
    assert!(!err.contains(&password), "{err}");
    assert!(err.contains("certificate"), "the cause is named: {err}");

    // The name: the certificate is not for "localhost". verify-full refuses it, verify-ca
    // (chain only) accepts it.
    let by_name = url.replace("@127.0.0.1:", "@localhost:");
    let err = open(&format!(
        "{by_name}?sslmode=verify-full&sslrootcert={good_ca}"
    ))
    .err()
    .expect("verify-full with a name the certificate does not hold");
    assert!(err.contains("localhost"), "the name is named: {err}");
    open(&format!(
        "{by_name}?sslmode=verify-ca&sslrootcert={good_ca}"
    ))
    .expect("verify-ca ignores the name");

    // Bare require: encrypted, certificate not checked (libpq's meaning).
    open(&format!("{url}?sslmode=require")).expect("require without a root certificate");
    // require with sslrootcert checks the chain, as libpq does.
    assert!(open(&format!("{url}?sslmode=require&sslrootcert={other_ca}")).is_err());

    // verify-full without sslrootcert is refused before any connection, naming the option.
    let err = open(&format!("{url}?sslmode=verify-full"))
        .err()
        .expect("verify-full without sslrootcert");
    assert!(err.contains("sslrootcert"), "{err}");
}

#[test]
fn require_refuses_a_server_without_tls() {
    let url = shared().create_database();
    let err = open(&format!("{url}?sslmode=require"))
        .err()
        .expect("require against a server with ssl off");
    assert!(err.contains("TLS"), "the cause is named: {err}");
    // The default (prefer) still connects in the clear to such a server.
    open(&url).expect("prefer falls back to a plain connection");
}
