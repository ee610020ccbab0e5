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
//! - live `kubemedic diagnose -A` asks the prober pods (labelled as the chart's prober
//!   DaemonSet) for `/probes` through the real apiserver's pod proxy and names the broken
//!   replicas and the cut node from their results; a prober that does not answer is named and the
//!   rest is used; `collect` writes the results into the dump and `diagnose --dump` names the
//!   same.
#![allow(clippy::unwrap_used)]

mod support;
use support::{control_plane, kubemedic};
#[path = "support/probelab.rs"]
mod probelab;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use probelab::{
    EXTERNAL, LabOptions, PROBE_PORT, ProbeLab, SERVFAIL_REPLICA, SILENT_REPLICA, node_name,
    wait_for,
};
use serde_json::{Value, json};
use std::net::Ipv4Addr;
use std::time::Duration;

/// The namespace of the prober DaemonSet's pods in this test (the chart's release namespace).
const PROBER_NS: &str = "kubemedic";

/// A Running prober pod on `node` at `ip`, labelled as the chart labels the prober DaemonSet.
async fn prober_pod(lab: &ProbeLab, name: &str, node: &str, ip: Ipv4Addr) {
    let pods: Api<Pod> = Api::namespaced(lab.client.clone(), PROBER_NS);
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "kubemedic-probe"}},
            "spec": {"nodeName": node, "containers": [{"name": "probe", "image": "kubemedic:lab",
                     "ports": [{"name": "probe", "containerPort": PROBE_PORT}]}]}
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    pods.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(
            json!({"status": {"phase": "Running", "podIP": ip.to_string(),
            "hostIP": ip.to_string(), "podIPs": [{"ip": ip.to_string()}]}}),
        ),
    )
    .await
    .unwrap();
}

/// Runs the binary against the testbed (real apiserver, pod proxy to the lab's probers); the
/// exit code and stdout as JSON.
fn run_json(lab: &ProbeLab, args: &[&str]) -> (i32, Value) {
    let kubeconfig = lab.tb.kubeconfig_path().to_str().unwrap().to_string();
    let mut all: Vec<&str> = args.to_vec();
    if args[0] == "collect" || !args.contains(&"--dump") {
        all.extend(["--kubeconfig", kubeconfig.as_str(), "-A", "--no-archive"]);
    }
    let (code, stdout, stderr) = kubemedic(&all);
    let v = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {stdout}\n{stderr}"));
    (code, v)
}

/// Findings of `cause` in a report.
fn findings<'a>(report: &'a Value, cause: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["cause"] == cause)
        .collect()
}

fn evidence_sources(f: &Value) -> Vec<String> {
    f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap().to_string())
        .collect()
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
    // The prober pods as the chart's DaemonSet makes them (the agents above answer on the
    // prober port), and one whose prober does not answer (nothing listens on the DNS host).
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(lab.client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": PROBER_NS}})).unwrap(),
        )
        .await
        .unwrap();
    for (i, host) in lab.nodes.iter().enumerate() {
        let name = node_name(i);
        prober_pod(&lab, &format!("kubemedic-probe-{name}"), &name, host.ip).await;
    }
    prober_pod(&lab, "kubemedic-probe-gone", "n-gone", lab.dns_host.ip).await;

    // Live diagnosis: the replicas named from the probers' results, fetched through the pod
    // proxy.
    let (code, live) = run_json(&lab, &["diagnose", "-o", "json", "--no-logs"]);
    assert_eq!(code, 1, "{live:#}");
    let dns = findings(&live, "DNSPartialFailure");
    assert_eq!(dns.len(), 1, "{live:#}");
    let summary = dns[0]["summary"].as_str().unwrap();
    assert!(summary.contains("2 of 6"), "{summary}");
    assert!(
        summary.contains("coredns-2") && summary.contains("coredns-4"),
        "{summary}"
    );
    // Quoted: a few nodes' own results per replica (which replica, since when), and how many
    // of the nodes that probe it see it fail.
    let sources = evidence_sources(dns[0]);
    assert!(
        sources
            .iter()
            .filter(|s| s.starts_with("probes from node n"))
            .count()
            >= 3,
        "{sources:?}"
    );
    let texts: Vec<&str> = dns[0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains(&format!("(coredns-{SERVFAIL_REPLICA} on "))
                && t.contains(" since ")),
        "which replica, since when: {texts:?}"
    );
    for i in [SERVFAIL_REPLICA, SILENT_REPLICA] {
        assert!(
            texts.contains(
                &format!("coredns-{i}: failing from {n} of {n} nodes that probe it").as_str()
            ),
            "{texts:?}"
        );
    }
    let skipped = live["summary"]["skipped"].as_array().unwrap();
    let gone: Vec<&Value> = skipped
        .iter()
        .filter(|s| {
            s["input"]
                .as_str()
                .unwrap()
                .starts_with("network probe results of ")
        })
        .collect();
    assert_eq!(
        gone.len(),
        1,
        "only the prober that does not answer: {skipped:#?}"
    );
    assert_eq!(
        gone[0]["input"],
        format!(
            "network probe results of n-gone (prober {PROBER_NS}/kubemedic-probe-gone, /api/v1/namespaces/{PROBER_NS}/pods/kubemedic-probe-gone:{PROBE_PORT}/proxy/probes)"
        )
    );
    // Nothing listens there: the apiserver's proxy answers 503, said in one line.
    let reason = gone[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("503 ServiceUnavailable: ") && !reason.contains("Status {"),
        "{reason}"
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
    let (code, live) = run_json(&lab, &["diagnose", "-o", "json", "--no-logs"]);
    assert_eq!(code, 1, "{live:#}");
    let down = findings(&live, "NodePodNetworkDown");
    assert_eq!(down.len(), 1, "{live:#}");
    assert_eq!(down[0]["object"]["name"], "n1", "{live:#}");
    let sources = evidence_sources(down[0]);
    assert!(
        sources.iter().any(|s| s.starts_with("probes")),
        "the probers' results are the evidence: {sources:?}"
    );
    // collect keeps the probers' results in the node facts; the dump diagnoses the same.
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    let (code, _) = run_json(
        &lab,
        &["collect", dump.to_str().unwrap(), "-o", "json", "--no-logs"],
    );
    assert_eq!(code, 0);
    let facts: Value =
        serde_json::from_str(&std::fs::read_to_string(dump.join("_nodes/n1/facts.json")).unwrap())
            .unwrap();
    assert_eq!(facts["probes"]["node"], "n1", "{facts:#}");
    assert_eq!(
        facts["probes"]["podNetwork"]["unreachable"], true,
        "{facts:#}"
    );
    let (code, offline) = run_json(
        &lab,
        &["diagnose", "--dump", dump.to_str().unwrap(), "-o", "json"],
    );
    assert_eq!(code, 1, "{offline:#}");
    let offline_down = findings(&offline, "NodePodNetworkDown");
    assert_eq!(offline_down.len(), 1, "{offline:#}");
    // The probers go on probing between the two reads: the counts in the texts may move, the
    // conclusions may not.
    assert_eq!(offline_down[0]["object"], down[0]["object"]);
    assert!(
        evidence_sources(offline_down[0])
            .iter()
            .any(|s| s.starts_with("probes")),
        "{offline:#}"
    );
    let offline_dns = findings(&offline, "DNSPartialFailure");
    assert_eq!(offline_dns.len(), 1, "{offline:#}");
    assert!(
        offline_dns[0]["summary"]
            .as_str()
            .unwrap()
            .starts_with("2 of 6 DNS replicas fail"),
        "{offline:#}"
    );
    // Heal.
    lab.lab.reconnect(&lab.nodes[cut]).unwrap();
    wait_for(
        &lab,
        "n1's condition False again",
        Duration::from_secs(30),
        || async { lab.condition(cut).await.filter(|c| c.status == "False") },
    )
    .await;
    // The Events follow the condition: the agent writes them after the status patch.
    let events: Api<Event> = Api::namespaced(lab.client.clone(), "default");
    let wanted = [
        "PodNetworkUnreachable",
        "PodNetworkUnreachableResolved",
        "DNSPartialFailure",
    ];
    let reasons: Vec<(String, String)> = wait_for(
        &lab,
        "n1's PodNetworkUnreachable, ...Resolved and DNSPartialFailure Events",
        Duration::from_secs(30),
        || async {
            let reasons: Vec<(String, String)> = events
                .list(&ListParams::default())
                .await
                .ok()?
                .items
                .into_iter()
                .map(|e| {
                    (
                        e.involved_object.name.unwrap_or_default(),
                        e.reason.unwrap_or_default(),
                    )
                })
                .collect();
            wanted
                .iter()
                .all(|w| reasons.contains(&("n1".into(), (*w).into())))
                .then_some(reasons)
        },
    )
    .await;
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
