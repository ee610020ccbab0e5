use super::*;
use crate::outcome::{DnsResult, HttpFailure, TraceEvent};

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + secs).unwrap()
}

fn ok() -> HttpOutcome {
    HttpOutcome {
        status: Some(200),
        failure: None,
        elapsed: Duration::from_millis(2),
        events: vec![],
    }
}

fn timeout() -> HttpOutcome {
    HttpOutcome {
        status: None,
        failure: Some(HttpFailure::Phase {
            event: TraceEvent::ConnectDone,
            message: "connection timed out".into(),
        }),
        elapsed: Duration::from_secs(5),
        events: vec![],
    }
}

fn status(code: u16) -> HttpOutcome {
    HttpOutcome {
        status: Some(code),
        failure: Some(HttpFailure::Status(code)),
        elapsed: Duration::from_millis(3),
        events: vec![],
    }
}

fn neighbours(names: &[&str]) -> Vec<Neighbour> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| Neighbour {
            node: n.to_string(),
            pod: format!("agent-{n}"),
            ip: IpAddr::from([10, 0, 0, 10 + i as u8]),
        })
        .collect()
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// A node `me` with 4 neighbours and 4 watchers, interval 5 s.
fn setup() -> Verdicts {
    let mut v = Verdicts::new(
        "me",
        Thresholds::for_interval(Duration::from_secs(5)),
        t(0),
        None,
    );
    v.set_neighbours(&neighbours(&["a", "b", "c", "d"]));
    v.set_watchers(&strings(&["w", "x", "y", "z"]), t(0));
    v
}

/// One probe round at `now`: path results as given, incoming from the listed watchers.
fn round(
    v: &mut Verdicts,
    now: Timestamp,
    paths: &[(&str, HttpOutcome)],
    incoming: &[&str],
) -> Evaluation {
    for (n, o) in paths {
        v.record_path(n, o, now);
    }
    for w in incoming {
        v.record_incoming(w, now);
    }
    v.evaluate(now)
}

fn all(paths: &[&str], o: fn() -> HttpOutcome) -> Vec<(String, HttpOutcome)> {
    paths.iter().map(|p| (p.to_string(), o())).collect()
}

fn as_refs(v: &[(String, HttpOutcome)]) -> Vec<(&str, HttpOutcome)> {
    v.iter().map(|(n, o)| (n.as_str(), o.clone())).collect()
}

const N: [&str; 4] = ["a", "b", "c", "d"];
const W: [&str; 4] = ["w", "x", "y", "z"];

#[test]
fn healthy_node_has_no_faults_and_a_false_condition() {
    let mut v = setup();
    let mut last = None;
    for i in 0..6 {
        let e = round(&mut v, t(5 * i), &as_refs(&all(&N, ok)), &W);
        assert!(e.changes.is_empty(), "{:?}", e.changes);
        if let Some(c) = e.condition {
            last = Some(c);
        }
    }
    let c = last.unwrap();
    assert!(!c.unreachable);
    assert_eq!(c.reason, "PodNetworkReachable");
    assert!(
        c.message.contains("0/4 checks to neighbours fail"),
        "{}",
        c.message
    );
    assert!(
        c.message
            .contains("0/4 nodes that check this one went silent"),
        "{}",
        c.message
    );
    assert_eq!(v.faults().count(), 0);
}

#[test]
fn cut_node_blames_itself_not_its_neighbours_and_heals() {
    let mut v = setup();
    for i in 0..4 {
        round(&mut v, t(5 * i), &as_refs(&all(&N, ok)), &W);
    }
    // Cut at 17 s: checks out time out, nothing arrives any more.
    let mut raised_at = None;
    for i in 4..10 {
        let e = round(&mut v, t(5 * i), &as_refs(&all(&N, timeout)), &[]);
        if e.changes
            .iter()
            .any(|c| c.kind == kind::POD_NETWORK_UNREACHABLE && c.raised)
        {
            raised_at = Some(i);
            let c = e.condition.clone().unwrap();
            assert!(c.unreachable);
            assert!(
                c.message
                    .contains("4/4 checks to neighbours fail (a, b, c, d)"),
                "{}",
                c.message
            );
            assert!(
                c.message
                    .contains("4/4 nodes that check this one went silent (w, x, y, z)"),
                "{}",
                c.message
            );
        }
        // Its neighbours are never accused while its own network is the explanation.
        assert!(
            !e.changes
                .iter()
                .any(|c| c.kind == kind::NEIGHBOUR_UNREACHABLE && c.raised),
            "{:?}",
            e.changes
        );
    }
    // Last arrival at 15 s, silence after 10 s: silent from 26 s, verdict at the 30 s round.
    assert_eq!(raised_at, Some(6));
    assert!(v.pod_network_unreachable());
    // Heals: one good round is not enough (clear_after = 2), the second clears.
    let e = round(&mut v, t(50), &as_refs(&all(&N, ok)), &W);
    assert!(v.pod_network_unreachable(), "{e:?}");
    let e = round(&mut v, t(55), &as_refs(&all(&N, ok)), &W);
    assert!(!v.pod_network_unreachable());
    assert!(
        e.changes
            .iter()
            .any(|c| c.kind == kind::POD_NETWORK_UNREACHABLE && !c.raised)
    );
    assert_eq!(e.condition.unwrap().reason, "PodNetworkReachable");
    let f = v.facts(t(55));
    assert_eq!(f.history.len(), 2, "{:#?}", f.history);
    assert!(f.history[0].raised && !f.history[1].raised);
}

#[test]
fn one_unreachable_neighbour_is_named_after_two_failures() {
    let mut v = setup();
    for i in 0..3 {
        round(&mut v, t(5 * i), &as_refs(&all(&N, ok)), &W);
    }
    let bad = |_: ()| vec![("a", ok()), ("b", timeout()), ("c", ok()), ("d", ok())];
    let e = round(&mut v, t(15), &bad(()), &W);
    assert!(e.changes.is_empty());
    let e = round(&mut v, t(20), &bad(()), &W);
    assert_eq!(e.changes.len(), 1, "{:?}", e.changes);
    assert_eq!(e.changes[0].kind, kind::NEIGHBOUR_UNREACHABLE);
    assert_eq!(e.changes[0].subject, "b");
    assert!(
        e.changes[0]
            .message
            .contains("connect_done: connection timed out")
    );
    // The counter moving is not news: no new event.
    let e = round(&mut v, t(25), &bad(()), &W);
    assert!(e.changes.is_empty(), "{:?}", e.changes);
    assert!(!v.pod_network_unreachable());
    let f = v.facts(t(25));
    let b = f.neighbours.iter().find(|n| n.node == "b").unwrap();
    assert_eq!(b.consecutive_failures, 3);
    assert_eq!(b.failing_since, Some(t(15)));
}

#[test]
fn a_flaky_source_cannot_condemn_this_node() {
    // One watcher stops checking us (it is the broken one); our checks out all pass.
    let mut v = setup();
    for i in 0..10 {
        let e = round(&mut v, t(5 * i), &as_refs(&all(&N, ok)), &["x", "y", "z"]);
        assert!(
            !e.changes
                .iter()
                .any(|c| c.kind == kind::POD_NETWORK_UNREACHABLE)
        );
    }
    let f = v.facts(t(45));
    let pn = f.pod_network.unwrap();
    assert!(!pn.unreachable);
    assert_eq!(pn.incoming_silent, 1);
    assert_eq!(pn.silent_watchers, vec!["w"]);
}

#[test]
fn broken_egress_alone_is_not_an_unreachable_pod_network() {
    let mut v = setup();
    for i in 0..10 {
        round(&mut v, t(5 * i), &as_refs(&all(&N, timeout)), &W);
    }
    assert!(!v.pod_network_unreachable());
    // Not four accused neighbours: this node's egress.
    let kinds: Vec<&str> = v.faults().map(|f| f.kind.as_str()).collect();
    assert_eq!(kinds, vec![kind::POD_NETWORK_EGRESS_BROKEN]);
    let f = v.faults().next().unwrap();
    assert!(f.message.contains("4/4 checks from me to neighbours fail (a, b, c, d) while 4/4 nodes that check it get through"), "{}", f.message);
}

#[test]
fn silence_means_nothing_before_a_window_has_passed() {
    let mut v = setup();
    // Just started, nobody checked us yet, and our first checks failed.
    let e = round(&mut v, t(1), &as_refs(&all(&N, timeout)), &[]);
    assert!(!v.pod_network_unreachable());
    // The first condition is still written (False), so the Node carries the type at once.
    assert!(!e.condition.unwrap().unreachable);
    let e = round(&mut v, t(6), &as_refs(&all(&N, timeout)), &[]);
    assert!(!v.pod_network_unreachable(), "{e:?}");
    round(&mut v, t(11), &as_refs(&all(&N, timeout)), &[]);
    assert!(v.pod_network_unreachable());
}

#[test]
fn restart_keeps_a_true_condition_until_a_verdict() {
    let mut v = Verdicts::new(
        "me",
        Thresholds::for_interval(Duration::from_secs(5)),
        t(0),
        Some((true, t(-100))),
    );
    v.set_neighbours(&neighbours(&N));
    v.set_watchers(&strings(&W), t(0));
    let e = round(&mut v, t(1), &as_refs(&all(&N, ok)), &W);
    assert!(v.pod_network_unreachable());
    let c = e.condition.unwrap();
    assert!(c.unreachable);
    assert_eq!(c.transition, t(-100));
    round(&mut v, t(11), &as_refs(&all(&N, ok)), &W);
    round(&mut v, t(16), &as_refs(&all(&N, ok)), &W);
    assert!(!v.pod_network_unreachable());
}

#[test]
fn two_nodes_cannot_localise() {
    let mut v = Verdicts::new(
        "me",
        Thresholds::for_interval(Duration::from_secs(5)),
        t(0),
        None,
    );
    v.set_neighbours(&neighbours(&["other"]));
    v.set_watchers(&strings(&["other"]), t(0));
    for i in 0..10 {
        round(&mut v, t(5 * i), &[("other", timeout())], &[]);
    }
    assert!(!v.pod_network_unreachable());
    assert!(v.faults().any(|f| f.kind == kind::NEIGHBOUR_UNREACHABLE));
}

#[test]
fn three_nodes_localise_the_cut_one() {
    // a, b, c; each checks and is checked by both others. c is cut.
    let mk = |me: &str, others: [&str; 2]| {
        let mut v = Verdicts::new(
            me,
            Thresholds::for_interval(Duration::from_secs(5)),
            t(0),
            None,
        );
        v.set_neighbours(&neighbours(&others));
        v.set_watchers(&strings(&others), t(0));
        v
    };
    let mut a = mk("a", ["b", "c"]);
    let mut b = mk("b", ["a", "c"]);
    let mut c = mk("c", ["a", "b"]);
    for i in 0..10 {
        let now = t(5 * i);
        round(&mut a, now, &[("b", ok()), ("c", timeout())], &["b"]);
        round(&mut b, now, &[("a", ok()), ("c", timeout())], &["a"]);
        round(&mut c, now, &[("a", timeout()), ("b", timeout())], &[]);
    }
    assert!(!a.pod_network_unreachable());
    assert!(!b.pod_network_unreachable());
    assert!(c.pod_network_unreachable());
    assert!(
        a.faults()
            .any(|f| f.kind == kind::NEIGHBOUR_UNREACHABLE && f.subject == "c")
    );
}

fn dns_servers(n: u8) -> Vec<DnsServer> {
    (0..n)
        .map(|i| DnsServer {
            addr: SocketAddr::from(([10, 96, 0, 10 + i], 53)),
            role: DnsRole::Replica,
            pod: Some(format!("coredns-{i}")),
            namespace: Some("kube-system".into()),
            node: Some(format!("n{i}")),
        })
        .collect()
}

fn dns(result: DnsResult) -> DnsOutcome {
    DnsOutcome {
        result,
        detail: if result == DnsResult::Ok {
            "10.0.0.1".into()
        } else {
            result.as_str().into()
        },
        elapsed: Duration::from_millis(1),
    }
}

#[test]
fn two_of_six_replicas_failing_is_a_partial_failure_naming_them() {
    let mut v = setup();
    let servers = dns_servers(6);
    let names = [
        (
            QueryKind::Internal,
            "kubernetes.default.svc.cluster.local".to_string(),
        ),
        (QueryKind::External, "kubernetes.io".to_string()),
    ];
    v.set_dns(&servers, &names, 6);
    let run = |v: &mut Verdicts, now, broken: bool| {
        for (i, s) in servers.iter().enumerate() {
            let (int, ext) = match (broken, i) {
                (true, 2) => (DnsResult::Ok, DnsResult::ServFail),
                (true, 4) => (DnsResult::Timeout, DnsResult::Timeout),
                _ => (DnsResult::Ok, DnsResult::Ok),
            };
            v.record_dns(s.addr, QueryKind::Internal, &dns(int), now);
            v.record_dns(s.addr, QueryKind::External, &dns(ext), now);
        }
        v.evaluate(now)
    };
    assert!(run(&mut v, t(0), false).changes.is_empty());
    let e = run(&mut v, t(5), true);
    let partial = e
        .changes
        .iter()
        .find(|c| c.kind == kind::DNS_PARTIAL_FAILURE)
        .expect("partial failure raised after one failed probe");
    assert!(
        partial.message.starts_with("2 of 6 DNS replicas fail"),
        "{}",
        partial.message
    );
    assert!(
        partial
            .message
            .contains("10.96.0.12:53 (kube-system/coredns-2 on n2): servfail for kubernetes.io"),
        "{}",
        partial.message
    );
    assert!(partial.message.contains("coredns-4 on n4): timeout for kubernetes.default.svc.cluster.local, timeout for kubernetes.io"), "{}", partial.message);
    assert_eq!(
        e.changes
            .iter()
            .filter(|c| c.kind == kind::DNS_REPLICA_FAILING)
            .count(),
        2
    );
    // Same failures again: nothing new.
    assert!(run(&mut v, t(10), true).changes.is_empty());
    let f = v.facts(t(10));
    let r2 = f
        .dns
        .iter()
        .find(|d| d.pod.as_deref() == Some("coredns-2"))
        .unwrap();
    assert_eq!(r2.ok, Some(false));
    assert_eq!(r2.failing_since, Some(t(5)));
    // Fixed: all cleared.
    let e = run(&mut v, t(15), false);
    assert_eq!(e.changes.iter().filter(|c| !c.raised).count(), 3);
    assert_eq!(v.faults().count(), 0);
}

#[test]
fn every_replica_failing_is_dns_down() {
    let mut v = setup();
    let servers = dns_servers(3);
    v.set_dns(
        &servers,
        &[(QueryKind::External, "kubernetes.io".into())],
        3,
    );
    for s in &servers {
        v.record_dns(s.addr, QueryKind::External, &dns(DnsResult::ServFail), t(1));
    }
    let e = v.evaluate(t(1));
    assert!(e.changes.iter().any(|c| c.kind == kind::DNS_DOWN));
    assert!(
        !e.changes
            .iter()
            .any(|c| c.kind == kind::DNS_PARTIAL_FAILURE)
    );
}

#[test]
fn unprobed_replicas_are_mentioned() {
    let mut v = setup();
    let servers = dns_servers(3);
    v.set_dns(
        &servers,
        &[(QueryKind::External, "kubernetes.io".into())],
        10_000,
    );
    v.record_dns(
        servers[0].addr,
        QueryKind::External,
        &dns(DnsResult::ServFail),
        t(1),
    );
    v.record_dns(
        servers[1].addr,
        QueryKind::External,
        &dns(DnsResult::Ok),
        t(1),
    );
    let e = v.evaluate(t(1));
    let p = e
        .changes
        .iter()
        .find(|c| c.kind == kind::DNS_PARTIAL_FAILURE)
        .unwrap();
    assert!(
        p.message
            .contains("(9997 more replicas not probed from this node)"),
        "{}",
        p.message
    );
}

#[test]
fn service_path_broken_while_pod_ips_answer() {
    let mut v = setup();
    v.set_checks(&[
        (
            "me_service".into(),
            "http://kubemedic-probe.kube-system.svc:20258/alwayshappy".into(),
        ),
        (
            "api_server_direct".into(),
            "https://10.96.0.1:443/version".into(),
        ),
        (
            "api_server_dns".into(),
            "https://kubernetes.default.svc.cluster.local:443/version".into(),
        ),
    ]);
    for i in 0..3 {
        let now = t(5 * i);
        v.record_check("me_service", &timeout(), now);
        v.record_check("api_server_direct", &ok(), now);
        v.record_check("api_server_dns", &status(503), now);
        round(&mut v, now, &as_refs(&all(&N, ok)), &W);
    }
    let kinds: Vec<&str> = v.faults().map(|f| f.kind.as_str()).collect();
    assert!(kinds.contains(&kind::SERVICE_DATA_PATH_BROKEN), "{kinds:?}");
    assert!(kinds.contains(&kind::APISERVER_DNS_FAILING), "{kinds:?}");
    // The Service failing together with every pod IP is not blamed on the Service rules.
    let mut v = setup();
    v.set_checks(&[("me_service".into(), "http://svc/alwayshappy".into())]);
    for i in 0..3 {
        let now = t(5 * i);
        v.record_check("me_service", &timeout(), now);
        round(&mut v, now, &as_refs(&all(&N, timeout)), &W);
    }
    let kinds: Vec<&str> = v.faults().map(|f| f.kind.as_str()).collect();
    assert!(kinds.contains(&kind::CHECK_FAILING), "{kinds:?}");
    assert!(
        !kinds.contains(&kind::SERVICE_DATA_PATH_BROKEN),
        "{kinds:?}"
    );
}

#[test]
fn history_and_incoming_stay_bounded() {
    let mut v = setup();
    v.set_checks(&[("extra".into(), "http://x".into())]);
    for i in 0..1000 {
        let now = t(i);
        let o = if i % 4 < 2 { timeout() } else { ok() };
        v.record_check("extra", &o, now);
        // Strays from all over the cluster.
        v.record_incoming(&format!("stray-{i}"), now);
        v.evaluate(now);
    }
    let f = v.facts(t(1000));
    assert_eq!(f.history.len(), HISTORY);
    assert!(f.incoming.len() < 200, "{}", f.incoming.len());
}

#[test]
fn neighbour_changes_keep_or_reset_results() {
    let mut v = setup();
    round(&mut v, t(0), &[("a", timeout())], &W);
    // Same neighbour: kept. New pod IP on b: reset. e added, d gone.
    let mut next = neighbours(&["a", "b", "c", "e"]);
    next[1].ip = IpAddr::from([10, 9, 9, 9]);
    v.record_path("b", &timeout(), t(1));
    v.set_neighbours(&next);
    let f = v.facts(t(2));
    let get = |n: &str| f.neighbours.iter().find(|p| p.node == n).cloned();
    assert_eq!(get("a").unwrap().consecutive_failures, 1);
    assert_eq!(get("b").unwrap().consecutive_failures, 0);
    assert!(get("d").is_none());
    assert!(get("e").unwrap().ok.is_none());
    // A late result for d is ignored.
    v.record_path("d", &timeout(), t(3));
    assert!(v.facts(t(3)).neighbours.iter().all(|p| p.node != "d"));
}

#[test]
fn a_resolver_failing_now_and_then_is_explained_by_the_replicas() {
    let mut v = setup();
    let mut servers = dns_servers(3);
    let resolver = DnsServer {
        addr: SocketAddr::from(([10, 96, 255, 10], 53)),
        role: DnsRole::Resolver,
        pod: None,
        namespace: None,
        node: None,
    };
    servers.push(resolver.clone());
    v.set_dns(
        &servers,
        &[(QueryKind::External, "kubernetes.io".into())],
        3,
    );
    // Replica 1 is broken; the resolver (a Service VIP over the replicas, not one of their
    // addresses) fails twice in a row.
    for now in [t(0), t(5)] {
        for (i, s) in servers.iter().take(3).enumerate() {
            let r = if i == 1 {
                DnsResult::Timeout
            } else {
                DnsResult::Ok
            };
            v.record_dns(s.addr, QueryKind::External, &dns(r), now);
        }
        v.record_dns(
            resolver.addr,
            QueryKind::External,
            &dns(DnsResult::Timeout),
            now,
        );
        v.evaluate(now);
    }
    let kinds: Vec<&str> = v.faults().map(|f| f.kind.as_str()).collect();
    assert!(kinds.contains(&kind::DNS_PARTIAL_FAILURE), "{kinds:?}");
    assert!(!kinds.contains(&kind::DNS_RESOLVER_FAILING), "{kinds:?}");
    // Replicas fine, resolver failing: once is not enough, twice is.
    let mut v = setup();
    v.set_dns(
        &servers,
        &[(QueryKind::External, "kubernetes.io".into())],
        3,
    );
    for (k, now) in [t(0), t(5)].into_iter().enumerate() {
        for s in servers.iter().take(3) {
            v.record_dns(s.addr, QueryKind::External, &dns(DnsResult::Ok), now);
        }
        v.record_dns(
            resolver.addr,
            QueryKind::External,
            &dns(DnsResult::ServFail),
            now,
        );
        v.evaluate(now);
        let raised = v.faults().any(|f| f.kind == kind::DNS_RESOLVER_FAILING);
        assert_eq!(raised, k == 1);
    }
}
