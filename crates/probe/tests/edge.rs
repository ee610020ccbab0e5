//! The prober's I/O edge against real sockets on 127.0.0.1: HTTP checks (200, 500, refused, a
//! server that accepts and never answers, TLS trusted / untrusted / insecure, a name that does
//! not resolve) and DNS probes. The DNS servers here are hand-written on purpose: they produce
//! what a real server cannot be made to send (undecodable bytes, a reply cut short, a truncated
//! reply with no TCP behind it, replies with the wrong id). Real CoreDNS replicas are probed in
//! the network-namespace tests of the `kubemedic` crate.
#![allow(clippy::unwrap_used)]

use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::A;
use hickory_resolver::proto::rr::{RData, Record};
use kubemedic_probe::dns::{self, QueryOptions};
use kubemedic_probe::dnsmsg::parse_name;
use kubemedic_probe::http::{CheckClient, ClientOptions, TlsOptions, system_resolver};
use kubemedic_probe::outcome::{DnsResult, HttpFailure, TraceEvent};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

fn client(
    timeout: Duration,
    tls: TlsOptions,
    resolv_conf: Option<&std::path::Path>,
) -> CheckClient {
    let resolver = match resolv_conf {
        Some(p) => system_resolver(p, timeout),
        None => Err("none".to_string()),
    };
    CheckClient::new(
        ClientOptions {
            timeout,
            connect_timeout: timeout,
            tls,
            token_file: None,
        },
        resolver,
    )
    .unwrap()
}

/// An HTTP/1.1 server answering every request with `status`.
async fn http_server(status: u16) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                let body = "ok";
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn ok_and_500_are_told_apart_with_every_phase_timed() {
    let c = client(Duration::from_secs(3), TlsOptions::default(), None);
    let ok = http_server(200).await;
    let o = c
        .get(&format!("http://{ok}/alwayshappy").parse().unwrap(), &[])
        .await;
    assert!(o.ok(), "{o:?}");
    assert_eq!(o.status, Some(200));
    let events: Vec<TraceEvent> = o.events.iter().map(|(e, _)| *e).collect();
    assert_eq!(
        events,
        vec![
            TraceEvent::ConnectStart,
            TraceEvent::ConnectDone,
            TraceEvent::GotConn,
            TraceEvent::WroteRequest,
            TraceEvent::GotFirstRespByte
        ],
        "an IP literal has no DNS phase"
    );
    let bad = http_server(500).await;
    let o = c
        .get(&format!("http://{bad}/alwayshappy").parse().unwrap(), &[])
        .await;
    assert_eq!(o.failure, Some(HttpFailure::Status(500)));
    assert_eq!(o.failure.as_ref().unwrap().event_label(), "status_code_500");
    assert_eq!(o.code_label(), "500");
}

#[tokio::test]
async fn a_neighbour_that_accepts_and_never_answers_costs_one_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        loop {
            let (s, _) = listener.accept().await.unwrap();
            conns.push(s); // never read, never answer
        }
    });
    let c = client(Duration::from_millis(800), TlsOptions::default(), None);
    let start = Instant::now();
    let o = c
        .get(&format!("http://{addr}/alwayshappy").parse().unwrap(), &[])
        .await;
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(3),
        "{took:?}"
    );
    match &o.failure {
        Some(HttpFailure::RoundTrip(m)) => {
            assert!(m.contains("timeout awaiting response headers"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(o.code_label(), "round_trip_error");
    // The request was written; no byte came back.
    assert!(o.events.iter().any(|(e, _)| *e == TraceEvent::WroteRequest));
    assert!(
        !o.events
            .iter()
            .any(|(e, _)| *e == TraceEvent::GotFirstRespByte)
    );
    held.abort();
}

#[tokio::test]
async fn refused_connections_fail_at_connect_done() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let c = client(Duration::from_secs(2), TlsOptions::default(), None);
    let o = c
        .get(&format!("http://{addr}/x").parse().unwrap(), &[])
        .await;
    match o.failure {
        Some(HttpFailure::Phase {
            event: TraceEvent::ConnectDone,
            message,
        }) => {
            assert!(message.contains("refused"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

/// A hand-written DNS server on UDP (and TCP when `tcp`), answering each query as `mode` says.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Answer(Ipv4Addr),
    Code(ResponseCode),
    Silent,
    Garbage,
    Cut,
    TruncatedNoTcp,
    TruncatedThenTcp(Ipv4Addr),
    WrongIdFirst(Ipv4Addr),
}

fn reply_to(query: &[u8], code: ResponseCode, answer: Option<Ipv4Addr>) -> Message {
    let q = Message::from_vec(query).unwrap();
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.response_code = code;
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    let question = q.queries[0].clone();
    if let Some(ip) = answer {
        m.add_answer(Record::from_rdata(
            question.name().clone(),
            5,
            RData::A(A(ip)),
        ));
    }
    m.add_query(question);
    m
}

async fn dns_server(mode: Mode) -> SocketAddr {
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = udp.local_addr().unwrap();
    if let Mode::TruncatedThenTcp(ip) = mode {
        let tcp = TcpListener::bind(addr).await.unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = tcp.accept().await else {
                    return;
                };
                let mut len = [0u8; 2];
                if s.read_exact(&mut len).await.is_err() {
                    continue;
                }
                let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                if s.read_exact(&mut q).await.is_err() {
                    continue;
                }
                let r = reply_to(&q, ResponseCode::NoError, Some(ip))
                    .to_vec()
                    .unwrap();
                let mut framed = (r.len() as u16).to_be_bytes().to_vec();
                framed.extend(r);
                let _ = s.write_all(&framed).await;
            }
        });
    }
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1500];
        loop {
            let Ok((n, peer)) = udp.recv_from(&mut buf).await else {
                return;
            };
            let q = &buf[..n];
            let out: Vec<Vec<u8>> = match mode {
                Mode::Answer(ip) => vec![
                    reply_to(q, ResponseCode::NoError, Some(ip))
                        .to_vec()
                        .unwrap(),
                ],
                Mode::Code(c) => vec![reply_to(q, c, None).to_vec().unwrap()],
                Mode::Silent => vec![],
                Mode::Garbage => {
                    let mut g = q[..2].to_vec(); // our id, then noise
                    g.extend((0..60u8).map(|i| i.wrapping_mul(37) ^ 0xa5));
                    vec![g]
                }
                Mode::Cut => {
                    let full = reply_to(q, ResponseCode::NoError, Some(Ipv4Addr::LOCALHOST))
                        .to_vec()
                        .unwrap();
                    vec![full[..full.len() - 3].to_vec()]
                }
                Mode::TruncatedNoTcp | Mode::TruncatedThenTcp(_) => {
                    let mut m = reply_to(q, ResponseCode::NoError, None);
                    m.metadata.truncation = true;
                    vec![m.to_vec().unwrap()]
                }
                Mode::WrongIdFirst(ip) => {
                    let mut wrong =
                        reply_to(q, ResponseCode::NoError, Some(Ipv4Addr::new(6, 6, 6, 6)));
                    wrong.metadata.id = wrong.metadata.id.wrapping_add(1);
                    vec![
                        wrong.to_vec().unwrap(),
                        reply_to(q, ResponseCode::NoError, Some(ip))
                            .to_vec()
                            .unwrap(),
                    ]
                }
            };
            for o in out {
                let _ = udp.send_to(&o, peer).await;
            }
        }
    });
    addr
}

#[tokio::test]
async fn dns_replies_are_classified_and_every_wait_is_bounded() {
    let name = parse_name("kubernetes.default.svc.cluster.local").unwrap();
    let q = QueryOptions {
        timeout: Duration::from_millis(300),
        attempts: 2,
    };
    let cases = [
        (
            Mode::Answer(Ipv4Addr::new(10, 96, 0, 1)),
            DnsResult::Ok,
            "10.96.0.1",
        ),
        (
            Mode::Code(ResponseCode::ServFail),
            DnsResult::ServFail,
            "SERVFAIL",
        ),
        (
            Mode::Code(ResponseCode::NXDomain),
            DnsResult::NxDomain,
            "NXDOMAIN",
        ),
        (
            Mode::Code(ResponseCode::Refused),
            DnsResult::Refused,
            "REFUSED",
        ),
        (
            Mode::Code(ResponseCode::NoError),
            DnsResult::NoData,
            "NOERROR without",
        ),
        (Mode::Silent, DnsResult::Timeout, "2 attempts"),
        (Mode::Garbage, DnsResult::Malformed, "undecodable"),
        (Mode::Cut, DnsResult::Malformed, "undecodable"),
        (
            Mode::TruncatedNoTcp,
            DnsResult::Truncated,
            "truncated over UDP",
        ),
        (
            Mode::TruncatedThenTcp(Ipv4Addr::new(10, 0, 0, 9)),
            DnsResult::Ok,
            "10.0.0.9",
        ),
        (
            Mode::WrongIdFirst(Ipv4Addr::new(10, 0, 0, 8)),
            DnsResult::Ok,
            "10.0.0.8",
        ),
    ];
    for (mode, want, detail) in cases {
        let server = dns_server(mode).await;
        let start = Instant::now();
        let o = dns::query(server, &name, q).await;
        assert_eq!(o.result, want, "{mode:?}: {o:?}");
        assert!(o.detail.contains(detail), "{mode:?}: {}", o.detail);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{mode:?} took {:?}",
            start.elapsed()
        );
    }
    // Nothing listens: the ICMP error comes back as a refused read.
    let gone = {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.local_addr().unwrap()
    };
    let o = dns::query(gone, &name, q).await;
    assert_eq!(o.result, DnsResult::Error, "{o:?}");
    assert!(o.detail.contains("refused"), "{}", o.detail);
}

#[tokio::test]
async fn names_resolve_through_the_configured_resolv_conf() {
    let dir = tempfile::tempdir().unwrap();
    let good = dns_server(Mode::Answer(Ipv4Addr::LOCALHOST)).await;
    let http = http_server(200).await;
    // resolv.conf cannot carry a port: point it at 127.0.0.x:53 only if we could bind 53; we
    // can, as root, on a loopback address nobody uses.
    let ip = Ipv4Addr::new(127, 53, 0, 1);
    let Ok(udp) = UdpSocket::bind((ip, 53)).await else {
        eprintln!("cannot bind {ip}:53 (not root?); skipping the resolv.conf part");
        return;
    };
    // Relay port 53 to the fake server.
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1500];
        let upstream = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        upstream.connect(good).await.unwrap();
        loop {
            let Ok((n, peer)) = udp.recv_from(&mut buf).await else {
                return;
            };
            upstream.send(&buf[..n]).await.unwrap();
            let mut r = vec![0u8; 1500];
            let Ok(m) = tokio::time::timeout(Duration::from_secs(1), upstream.recv(&mut r)).await
            else {
                continue;
            };
            let m = m.unwrap();
            udp.send_to(&r[..m], peer).await.unwrap();
        }
    });
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        format!(
            "nameserver {ip}\nsearch svc.cluster.local\noptions ndots:5 timeout:1 attempts:1\n"
        ),
    )
    .unwrap();
    let c = client(Duration::from_secs(3), TlsOptions::default(), Some(&resolv));
    let o = c
        .get(
            &format!("http://kubemedic-probe:{}/alwayshappy", http.port())
                .parse()
                .unwrap(),
            &[],
        )
        .await;
    assert!(o.ok(), "{o:?}");
    assert_eq!(o.events[0].0, TraceEvent::DnsStart);
    assert_eq!(o.events[1].0, TraceEvent::DnsDone);

    // A resolver that answers NXDOMAIN: the check fails at dns_done.
    let nx = dns_server(Mode::Code(ResponseCode::NXDomain)).await;
    let ip2 = Ipv4Addr::new(127, 53, 0, 2);
    let udp2 = UdpSocket::bind((ip2, 53)).await.unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1500];
        let upstream = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        upstream.connect(nx).await.unwrap();
        loop {
            let Ok((n, peer)) = udp2.recv_from(&mut buf).await else {
                return;
            };
            upstream.send(&buf[..n]).await.unwrap();
            let mut r = vec![0u8; 1500];
            let Ok(Ok(m)) =
                tokio::time::timeout(Duration::from_secs(1), upstream.recv(&mut r)).await
            else {
                continue;
            };
            udp2.send_to(&r[..m], peer).await.unwrap();
        }
    });
    std::fs::write(
        &resolv,
        format!("nameserver {ip2}\noptions timeout:1 attempts:1\n"),
    )
    .unwrap();
    let c = client(Duration::from_secs(3), TlsOptions::default(), Some(&resolv));
    let o = c
        .get(
            &format!("http://nowhere.invalid:{}/x", http.port())
                .parse()
                .unwrap(),
            &[],
        )
        .await;
    match o.failure {
        Some(HttpFailure::Phase {
            event: TraceEvent::DnsDone,
            message,
        }) => {
            assert!(message.contains("nowhere.invalid"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

/// A TLS server (rcgen certificate for 127.0.0.1 signed by its own CA) answering 200.
async fn tls_server(dir: &std::path::Path) -> (SocketAddr, std::path::PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let ca_path = dir.join("ca.crt");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(s).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = s.shutdown().await;
            });
        }
    });
    (addr, ca_path)
}

#[tokio::test]
async fn tls_trusted_untrusted_and_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, ca) = tls_server(dir.path()).await;
    let url: http::Uri = format!("https://{addr}/version").parse().unwrap();
    let trusted = client(
        Duration::from_secs(3),
        TlsOptions {
            insecure: false,
            ca_files: vec![ca],
        },
        None,
    );
    let o = trusted.get(&url, &[]).await;
    assert!(o.ok(), "{o:?}");
    assert!(
        o.events
            .iter()
            .any(|(e, _)| *e == TraceEvent::TlsHandshakeDone)
    );
    let untrusted = client(Duration::from_secs(3), TlsOptions::default(), None);
    match untrusted.get(&url, &[]).await.failure {
        Some(HttpFailure::Phase {
            event: TraceEvent::TlsHandshakeDone,
            message,
        }) => {
            assert!(message.to_lowercase().contains("certificate"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let insecure = client(
        Duration::from_secs(3),
        TlsOptions {
            insecure: true,
            ca_files: vec![],
        },
        None,
    );
    assert!(insecure.get(&url, &[]).await.ok());
    // A CA file that is not PEM is refused up front, naming the file.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let err = CheckClient::new(
        ClientOptions {
            tls: TlsOptions {
                insecure: false,
                ca_files: vec![junk.clone()],
            },
            ..ClientOptions::default()
        },
        Err("none".into()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("junk.pem"), "{err}");
}
