//! `--archive postgres://…?sslmode=…`: a real PostgreSQL server with `ssl=on` and a certificate
//! signed by a CA made here; every sslmode, a wrong CA and a host name the certificate lacks.

use kubemedic_archive::pgserver::{PgServer, PgServerError, REQUIRE_ENV};
use kubemedic_archive::postgres::PostgresStore;
use kubemedic_archive::{Batch, EventOccurrence, EventQuery, ObjectRef, Origin, Store, StoreError};
use std::path::Path;

/// A CA and a server certificate for `names`, signed by it: (CA PEM, server cert PEM, key PEM).
fn pki(ca_name: &str, names: &[&str]) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).expect("signed");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

fn start(test: &str, cert: &str, key: &str) -> Option<PgServer> {
    match PgServer::start_tls(cert, key) {
        Ok(s) => Some(s),
        Err(PgServerError::NotInstalled)
            if std::env::var(REQUIRE_ENV).ok().as_deref() != Some("1") =>
        {
            eprintln!(
                "{test}: skipped: PostgreSQL is not installed ({REQUIRE_ENV}=1 makes this a failure)"
            );
            None
        }
        Err(e) => panic!("postgres with ssl=on starts: {e}"),
    }
}

fn occurrence(uid: &str) -> EventOccurrence {
    let t = jiff::Timestamp::now();
    EventOccurrence {
        uid: uid.into(),
        count: 1,
        time: t,
        first_time: t,
        origin: Origin::Event,
        api: "events.k8s.io/v1".into(),
        object: ObjectRef {
            kind: "Pod".into(),
            namespace: "shop".into(),
            name: "api-1".into(),
            uid: None,
        },
        workload: None,
        reason: "BackOff".into(),
        type_: "Warning".into(),
        message: "Back-off restarting failed container".into(),
        component: "kubelet".into(),
        host: "worker-1".into(),
    }
}

/// Whether the server sees this session as TLS (`pg_stat_ssl`), through the archive's own
/// connector.
fn session_uses_tls(url: &str) -> bool {
    let (driver_url, settings) = kubemedic_archive::pgtls::split_url(url).expect("url");
    let tls = kubemedic_archive::pgtls::connector(&settings)
        .expect("connector")
        .expect("TLS on");
    let config: postgres::Config = driver_url.parse().expect("config");
    let mut client = config.connect(tls).expect("connects");
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .expect("query")
        .get(0)
}

fn write_and_read(url: &str) {
    let store = PostgresStore::connect(url, "tls").expect("connects over TLS");
    store
        .write(&Batch {
            events: vec![occurrence("tls-1")],
            ..Default::default()
        })
        .expect("write");
    let got = store
        .events(&EventQuery {
            object: Some("pod/api-1".parse().expect("selector")),
            ..Default::default()
        })
        .expect("query");
    assert_eq!(got.len(), 1);
}

fn refused(url: &str) -> String {
    match PostgresStore::connect(url, "tls") {
        Ok(_) => panic!("{url} must be refused"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn postgres_archive_over_tls_checks_what_sslmode_asks() {
    let test = "postgres_archive_over_tls_checks_what_sslmode_asks";
    let (ca, cert, key) = pki("km test CA", &["localhost"]);
    let Some(pg) = start(test, &cert, &key) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, &ca).expect("write CA");
    let (other_ca, _, _) = pki("another CA", &["localhost"]);
    let other_path = dir.path().join("other.pem");
    std::fs::write(&other_path, &other_ca).expect("write CA");
    pg.create_database("archive").expect("database");
    let port = pg.port();
    let url =
        |host: &str, params: &str| format!("postgres://postgres@{host}:{port}/archive?{params}");
    let root = |p: &Path| p.display().to_string();

    // require: encrypted, certificate not checked (it is signed by a CA the client never saw).
    assert!(session_uses_tls(&url("127.0.0.1", "sslmode=require")));
    write_and_read(&url("127.0.0.1", "sslmode=require"));

    // verify-full with the right CA and a name in the certificate.
    let full = url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", root(&ca_path)),
    );
    assert!(session_uses_tls(&full));
    write_and_read(&full);

    // verify-full by an address the certificate does not name: refused, and the error says why.
    let err = refused(&url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", root(&ca_path)),
    ));
    assert!(
        err.contains("does not name the host") && err.contains("verify-full"),
        "{err}"
    );
    // verify-ca checks only the chain: the same address is accepted.
    write_and_read(&url(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={}", root(&ca_path)),
    ));

    // A CA that did not sign the server's certificate: refused for verify-ca and verify-full.
    for mode in ["verify-ca", "verify-full"] {
        let err = refused(&url(
            "localhost",
            &format!("sslmode={mode}&sslrootcert={}", root(&other_path)),
        ));
        assert!(
            err.contains("not signed by a CA in sslrootcert"),
            "{mode}: {err}"
        );
    }

    // A root file that does not exist, or holds no certificate: named before any connection.
    let err = refused(&url(
        "localhost",
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    ));
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").expect("write");
    let err = refused(&url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", root(&empty)),
    ));
    assert!(err.contains("no PEM certificate"), "{err}");
    let err = refused(&url("localhost", "sslmode=verify"));
    assert!(err.contains("verify-full"), "{err}");
}

#[test]
fn sslmode_require_refuses_a_server_without_tls() {
    let Some(pg) = PgServer::start_or_skip("sslmode_require_refuses_a_server_without_tls")
        .expect("postgres starts")
    else {
        return;
    };
    let base = pg.create_database("archive").expect("database");
    let err = match PostgresStore::connect(&format!("{base}?sslmode=require"), "tls") {
        Ok(_) => panic!("a server without TLS must be refused under sslmode=require"),
        Err(e) => e,
    };
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("ssl=off"), "{err}");
    // prefer (libpq's default) falls back to a plain connection.
    PostgresStore::connect(&format!("{base}?sslmode=prefer"), "tls").expect("prefer connects");
    PostgresStore::connect(&base, "tls").expect("the default connects");
}
