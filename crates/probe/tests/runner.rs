//! Two probers in one process, each serving its check endpoint on its own loopback address:
//! they check each other, count each other's incoming checks, name the other unreachable when
//! its endpoint stops answering, and a cluster DNS with 10,000 endpoints stays a bounded job.
#![allow(clippy::unwrap_used)]

use kubemedic_model::probes::DnsRole;
use kubemedic_probe::discovery::fixed;
use kubemedic_probe::server::{ProbeCollector, router};
use kubemedic_probe::{
    Discovered, DnsServer, PeerPod, ProbeConfig, ProbeHandle, ProbeUpdate, Prober,
};
use prometheus_client::registry::Registry;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

fn peer(node: &str, ip: Ipv4Addr) -> PeerPod {
    PeerPod {
        name: format!("agent-{node}"),
        node: node.into(),
        ip: Some(IpAddr::V4(ip)),
        running: true,
        terminating: false,
    }
}

fn config(node: &str, port: u16) -> ProbeConfig {
    let mut c = ProbeConfig::new(node);
    c.pod = format!("agent-{node}");
    c.interval = Duration::from_millis(200);
    c.client.timeout = Duration::from_millis(500);
    c.client.connect_timeout = Duration::from_millis(500);
    c.check_port = port;
    c.dns = None;
    c
}

async fn serve(handle: ProbeHandle, addr: SocketAddr) -> tokio::task::JoinHandle<()> {
    let listener = TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router(handle)).await.unwrap();
    })
}

async fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn metrics_text(handle: &ProbeHandle) -> String {
    let mut r = Registry::default();
    r.register_collector(Box::new(ProbeCollector(handle.clone())));
    let mut s = String::new();
    prometheus_client::encoding::text::encode(&mut s, &r).unwrap();
    s
}

#[tokio::test]
async fn two_probers_check_each_other_and_name_a_silent_one() {
    let a_ip = Ipv4Addr::new(127, 0, 31, 1);
    let b_ip = Ipv4Addr::new(127, 0, 31, 2);
    let port = {
        let l = TcpListener::bind((a_ip, 0)).await.unwrap();
        l.local_addr().unwrap().port()
    };
    let view = Discovered {
        peers: vec![peer("a", a_ip), peer("b", b_ip)],
        synced: true,
        ..Discovered::default()
    };
    let a = Prober::new(config("a", port), None).unwrap();
    let b = Prober::new(config("b", port), None).unwrap();
    let (ha, hb) = (a.handle(), b.handle());
    let _sa = serve(ha.clone(), SocketAddr::from((a_ip, port))).await;
    let sb = serve(hb.clone(), SocketAddr::from((b_ip, port))).await;
    let (ta, mut ra) = mpsc::channel::<ProbeUpdate>(64);
    let (tb, _rb) = mpsc::channel::<ProbeUpdate>(64);
    tokio::spawn(a.run(fixed(view.clone()), ta));
    tokio::spawn(b.run(fixed(view), tb));

    wait_for("both see each other", Duration::from_secs(10), || {
        let fa = ha.facts();
        let fb = hb.facts();
        let ok = |f: &kubemedic_model::probes::ProbeFacts, other: &str| {
            f.neighbours
                .iter()
                .any(|n| n.node == other && n.ok == Some(true))
                && f.incoming
                    .iter()
                    .any(|i| i.node == other && i.expected && i.last_seen.is_some())
        };
        (ok(&fa, "b") && ok(&fb, "a")).then_some(())
    })
    .await;
    assert_eq!(ha.incoming_checks(), 1);
    let text = metrics_text(&ha);
    assert!(
        text.contains("kubenurse_httpclient_requests_total{type=\"path_b\",code=\"200\"}"),
        "{text}"
    );
    assert!(
        text.contains("kubenurse_neighbourhood_incoming_checks 1"),
        "{text}"
    );

    // b's endpoint goes away: a names b after two failures (a 2-node cluster cannot localise).
    sb.abort();
    let change = wait_for("NeighbourUnreachable(b)", Duration::from_secs(10), || {
        while let Ok(u) = ra.try_recv() {
            if let Some(c) = u
                .changes
                .into_iter()
                .find(|c| c.kind == "NeighbourUnreachable")
            {
                return Some(c);
            }
        }
        None
    })
    .await;
    assert_eq!(change.subject, "b");
    assert!(change.raised);
    assert!(
        change.message.contains("connect_done"),
        "{}",
        change.message
    );
    let f = ha.facts();
    assert!(f.fault("NeighbourUnreachable", "b").is_some());
    let text = metrics_text(&ha);
    assert!(
        text.contains("kubenurse_errors_total{type=\"path_b\",event=\"connect_done\"}"),
        "{text}"
    );
    assert!(
        text.contains("kubemedic_probe_fault{kind=\"NeighbourUnreachable\",subject=\"b\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn ten_thousand_dns_endpoints_are_a_bounded_job() {
    // Nothing listens behind the endpoints: every probe fails (refused, or its timeout).
    let port = 53;
    let dns: Vec<DnsServer> = (0..10_000u32)
        .map(|i| DnsServer {
            addr: SocketAddr::from(([127, 1, (i / 250) as u8, (i % 250) as u8 + 1], port)),
            role: DnsRole::Replica,
            pod: Some(format!("coredns-{i}")),
            namespace: Some("kube-system".into()),
            node: Some(format!("n{i}")),
        })
        .collect();
    let mut c = config("a", 1);
    c.neighbours = false;
    let mut d = kubemedic_probe::DnsProbeConfig {
        resolv_conf: None,
        max_servers: 16,
        ..Default::default()
    };
    d.query.timeout = Duration::from_millis(100);
    d.query.attempts = 1;
    c.dns = Some(d);
    let prober = Prober::new(c, None).unwrap();
    let h = prober.handle();
    let (tx, _rx) = mpsc::channel(64);
    let start = Instant::now();
    tokio::spawn(prober.run(
        fixed(Discovered {
            dns,
            synced: true,
            ..Discovered::default()
        }),
        tx,
    ));
    let f = wait_for("a round of DNS results", Duration::from_secs(10), || {
        let f = h.facts();
        (f.dns.iter().filter(|d| d.ok.is_some()).count() == 16).then_some(f)
    })
    .await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(f.dns.len(), 16);
    assert_eq!(f.dns_replicas_known, 10_000);
    assert!(f.dns.iter().all(|d| d.ok == Some(false)));
    let text = metrics_text(&h);
    assert!(
        text.contains("kubemedic_probe_dns_servers{state=\"not_probed\"} 9984"),
        "{text}"
    );
    let dns_series = text
        .lines()
        .filter(|l| l.starts_with("kubemedic_probe_dns_requests_total{"))
        .count();
    assert_eq!(dns_series, 32, "16 servers x 2 names, one result each");
    // Every server probed fails: all of them, not a partial failure.
    assert!(
        f.faults.iter().any(|x| x.kind == "DNSDown"),
        "{:?}",
        f.faults
    );
    assert!(
        f.faults
            .iter()
            .find(|x| x.kind == "DNSDown")
            .unwrap()
            .message
            .contains("9984 more replicas not probed")
    );
}

#[tokio::test]
async fn a_neighbour_answering_500_is_named_with_its_status() {
    let a_ip = Ipv4Addr::new(127, 0, 32, 1);
    let b_ip = Ipv4Addr::new(127, 0, 32, 2);
    let listener = TcpListener::bind((b_ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // b's endpoint is up but broken: 500 on the check path.
    let app = axum::Router::new().route(
        "/alwayshappy",
        axum::routing::get(|| async { axum::http::StatusCode::INTERNAL_SERVER_ERROR }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let view = Discovered {
        peers: vec![peer("a", a_ip), peer("b", b_ip)],
        synced: true,
        ..Discovered::default()
    };
    let a = Prober::new(config("a", port), None).unwrap();
    let ha = a.handle();
    let (ta, _ra) = mpsc::channel::<ProbeUpdate>(64);
    tokio::spawn(a.run(fixed(view), ta));
    let f = wait_for("b named unreachable", Duration::from_secs(10), || {
        let f = ha.facts();
        f.fault("NeighbourUnreachable", "b").is_some().then_some(f)
    })
    .await;
    let b = f.neighbours.iter().find(|n| n.node == "b").unwrap();
    assert_eq!(b.last_error.as_deref(), Some("status_code_500"));
    let text = metrics_text(&ha);
    assert!(
        text.contains("kubenurse_httpclient_requests_total{type=\"path_b\",code=\"500\"}"),
        "{text}"
    );
    assert!(
        text.contains("kubenurse_errors_total{type=\"path_b\",event=\"status_code_500\"}"),
        "{text}"
    );
    // A response arrived: its duration is observed, as kubenurse does for non-200 answers.
    assert!(
        text.contains("kubenurse_httpclient_request_duration_seconds_count{type=\"path_b\"}"),
        "{text}"
    );
}
