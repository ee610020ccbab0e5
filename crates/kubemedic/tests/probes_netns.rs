//! The network prober on real network stacks: four node namespaces running `kubemedic agent
//! --probes` against the real testbed apiserver, six real CoreDNS replicas of which two are
//! broken differently, and a Service VIP made the way kube-proxy makes it.
//!
//! - every agent finds its neighbours and the DNS replicas through the API and names the two
//!   broken replicas (and their pods) from its own per-replica probes;
//! - one node's pod network is cut (nft inside its namespace, the host network kept): the
//!   `PodNetworkUnreachable` condition turns True on that node only, then False again after
//!   the cut is undone; Events say so;
//! - one node loses its Service rules: `ServiceDataPathBroken` on that node only;
//! - the diagnosis engine, fed the agents' probe results, names the broken replicas and the
//!   cut node.
#![allow(clippy::unwrap_used)]

mod support;
use support::control_plane;
#[path = "support/probelab.rs"]
mod probelab;

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};
use kubemedic_model::{NodeFacts, Snapshot};
use probelab::{
    EXTERNAL, LabOptions, ProbeLab, SERVFAIL_REPLICA, SILENT_REPLICA, node_name, wait_for,
};
use std::collections::BTreeMap;
use std::time::Duration;

async fn snapshot(lab: &ProbeLab) -> Snapshot {
    let nodes: Api<kubemedic_model::objects::Node> = Api::all(lab.client.clone());
    let mut s = Snapshot {
        taken_at: Some(jiff::Timestamp::now()),
        nodes: nodes.list(&ListParams::default()).await.unwrap().items,
        ..Snapshot::default()
    };
    let mut facts = BTreeMap::new();
    for i in 0..lab.nodes.len() {
        if let Some(p) = lab.probes(i).await {
            facts.insert(
                node_name(i),
                NodeFacts {
                    node: node_name(i),
                    probes: Some(p),
                    ..NodeFacts::default()
                },
            );
        }
    }
    s.node_facts = facts;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_on_real_network_stacks() {
    let Some(lab) = ProbeLab::start(LabOptions::default()).await else {
        return;
    };
    let n = lab.nodes.len();
    for i in 0..n {
        lab.start_agent(
            i,
            "1s",
            &["--probe-timeout", "1s", "--probe-dns-timeout", "300ms"],
        );
    }

    // 1. Everyone sees everyone, and names the two broken replicas.
    for i in 0..n {
        let f = wait_for(
            &lab,
            &format!("{} sees its neighbours and the DNS verdict", node_name(i)),
            Duration::from_secs(60),
            || async {
                let f = lab.probes(i).await?;
                let pn = f.pod_network.as_ref()?;
                let neighbours_ok =
                    f.neighbours.len() == n - 1 && f.neighbours.iter().all(|p| p.ok == Some(true));
                let heard = pn.incoming_expected == n - 1 && pn.incoming_silent == 0;
                let dns_done = f.dns.iter().filter(|d| d.ok.is_some()).count() >= 6;
                let partial = f.fault("DNSPartialFailure", "cluster-dns").is_some();
                (neighbours_ok && heard && dns_done && partial).then_some(f)
            },
        )
        .await;
        let partial = f.fault("DNSPartialFailure", "cluster-dns").unwrap();
        assert!(
            partial.message.starts_with("2 of 6 DNS replicas fail"),
            "{}",
            partial.message
        );
        assert!(
            partial
                .message
                .contains(&format!("kube-system/coredns-{SERVFAIL_REPLICA}")),
            "{}",
            partial.message
        );
        assert!(
            partial
                .message
                .contains(&format!("kube-system/coredns-{SILENT_REPLICA}")),
            "{}",
            partial.message
        );
        let servfail = f
            .dns
            .iter()
            .find(|d| d.pod.as_deref() == Some(&format!("coredns-{SERVFAIL_REPLICA}")))
            .unwrap();
        let ext = servfail
            .queries
            .iter()
            .find(|q| q.kind == "external")
            .unwrap();
        assert_eq!(ext.result, "servfail", "{servfail:?}");
        assert_eq!(ext.name, EXTERNAL);
        let int = servfail
            .queries
            .iter()
            .find(|q| q.kind == "internal")
            .unwrap();
        assert_eq!(
            int.result, "ok",
            "the internal zone still answers: {servfail:?}"
        );
        let silent = f
            .dns
            .iter()
            .find(|d| d.pod.as_deref() == Some(&format!("coredns-{SILENT_REPLICA}")))
            .unwrap();
        assert!(
            silent.queries.iter().all(|q| q.result == "timeout"),
            "{silent:?}"
        );
        // The apiserver answers directly and through its DNS name.
        for c in ["api_server_direct", "api_server_dns", "me_service"] {
            let check = f.checks.iter().find(|x| x.name == c).unwrap();
            assert_eq!(check.ok, Some(true), "{check:?}");
        }
    }
    for i in 0..n {
        let c = wait_for(
            &lab,
            "the condition written False",
            Duration::from_secs(20),
            || lab.condition(i),
        )
        .await;
        assert_eq!(c.status, "False", "{c:?}");
        assert_eq!(c.reason.as_deref(), Some("PodNetworkReachable"));
    }
    let text = lab.metrics(0).await;
    for want in [
        "kubenurse_httpclient_requests_total{type=\"path_n1\",code=\"200\"}",
        "kubenurse_httpclient_requests_total{type=\"api_server_dns\",code=\"200\"}",
        "kubenurse_httpclient_trace_request_duration_seconds_bucket{le=\"0.005\",type=\"api_server_dns\",event=\"dns_done\"}",
        "kubenurse_neighbourhood_incoming_checks 3",
        "kubemedic_probe_fault{kind=\"DNSPartialFailure\",subject=\"cluster-dns\"} 1",
    ] {
        assert!(text.contains(want), "metrics of n0 lack {want}:\n{text}");
    }
    // The diagnosis names the replicas from the probes.
    let report = kubemedic_diagnose::diagnose(&snapshot(&lab).await);
    let dns = report
        .findings
        .iter()
        .find(|f| f.cause == kubemedic_diagnose::Cause::DNSPartialFailure)
        .unwrap_or_else(|| panic!("no DNSPartialFailure in {:#?}", report.findings));
    assert!(dns.summary.contains("2 of 6"), "{}", dns.summary);
    assert!(
        dns.summary.contains("coredns-2") && dns.summary.contains("coredns-4"),
        "{}",
        dns.summary
    );
    assert!(
        dns.evidence.iter().any(|e| e.source.starts_with("probes")),
        "{:?}",
        dns.evidence
    );

    // 2. Cut n1's pod network (its host network to the apiserver stays).
    let cut = 1;
    lab.lab.isolate(&lab.nodes[cut]).unwrap();
    let started = std::time::Instant::now();
    let c = wait_for(
        &lab,
        "n1's condition True",
        Duration::from_secs(30),
        || async {
            // No other node may turn True meanwhile.
            for i in (0..n).filter(|i| *i != cut) {
                if let Some(c) = lab.condition(i).await {
                    assert_eq!(
                        c.status,
                        "False",
                        "{} went {c:?} while n1 was cut",
                        node_name(i)
                    );
                }
            }
            lab.condition(cut).await.filter(|c| c.status == "True")
        },
    )
    .await;
    eprintln!("n1 named unreachable {:?} after the cut", started.elapsed());
    assert_eq!(c.reason.as_deref(), Some("PodNetworkUnreachable"));
    let msg = c.message.unwrap_or_default();
    // The condition turns True as soon as a majority is seen (more than half of the checks out
    // fail and more than half of the watchers went silent): 2/3 or 3/3, depending on timing.
    let majority = |what: &str| {
        ["2/3", "3/3"]
            .iter()
            .any(|n| msg.contains(&format!("{n} {what}")))
    };
    assert!(majority("checks to neighbours fail"), "{msg}");
    assert!(majority("nodes that check this one went silent"), "{msg}");
    // Its neighbours name n1, not themselves.
    for i in (0..n).filter(|i| *i != cut) {
        wait_for(
            &lab,
            "neighbours name n1",
            Duration::from_secs(15),
            || async {
                let f = lab.probes(i).await?;
                (f.fault("NeighbourUnreachable", "n1").is_some() && !f.pod_network?.unreachable)
                    .then_some(())
            },
        )
        .await;
    }
    let report = kubemedic_diagnose::diagnose(&snapshot(&lab).await);
    let down: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.cause == kubemedic_diagnose::Cause::NodePodNetworkDown)
        .collect();
    assert_eq!(down.len(), 1, "{down:#?}");
    assert_eq!(down[0].object.name, "n1");
    // Heal.
    lab.lab.reconnect(&lab.nodes[cut]).unwrap();
    wait_for(
        &lab,
        "n1's condition False again",
        Duration::from_secs(30),
        || async { lab.condition(cut).await.filter(|c| c.status == "False") },
    )
    .await;
    let events: Api<Event> = Api::namespaced(lab.client.clone(), "default");
    let reasons: Vec<(String, String)> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| {
            (
                e.involved_object.name.unwrap_or_default(),
                e.reason.unwrap_or_default(),
            )
        })
        .collect();
    for want in [
        "PodNetworkUnreachable",
        "PodNetworkUnreachableResolved",
        "DNSPartialFailure",
    ] {
        assert!(
            reasons.contains(&("n1".into(), want.into())),
            "no {want} Event on n1: {reasons:?}"
        );
    }
    assert!(
        !reasons
            .iter()
            .any(|(node, r)| node != "n1" && r == "PodNetworkUnreachable"),
        "{reasons:?}"
    );

    // 3. n2 loses its Service rules: its Service path breaks, pod IPs still answer.
    lab.service_rules(2, false);
    wait_for(
        &lab,
        "ServiceDataPathBroken on n2",
        Duration::from_secs(30),
        || async {
            lab.probes(2)
                .await?
                .fault("ServiceDataPathBroken", "me_service")
                .map(|_| ())
        },
    )
    .await;
    for i in [0, 3] {
        let f = lab.probes(i).await.unwrap();
        assert!(
            f.fault("ServiceDataPathBroken", "me_service").is_none(),
            "{:?}",
            f.faults
        );
    }
    lab.service_rules(2, true);
    wait_for(
        &lab,
        "n2's Service path back",
        Duration::from_secs(30),
        || async {
            lab.probes(2)
                .await?
                .fault("ServiceDataPathBroken", "me_service")
                .is_none()
                .then_some(())
        },
    )
    .await;
}
