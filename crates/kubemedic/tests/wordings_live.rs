//! The live path agrees with the offline one on real wordings: wording fixtures whose evidence
//! lives in API objects (node conditions, pod statuses, core/v1 Events) are written into a real
//! kube-apiserver (no kubelet; statuses through the status subresource, timestamps moved to now)
//! and `kubemedic diagnose` live names the same cause as the fixture expects.
//!
//! Limits: wordings whose evidence is a log (container or node) need a kubelet or an agent to
//! serve it; they are covered by the dump round trip (wordings_dump.rs) and, for probes, by the
//! real node (probes_real_node.rs). A pod past its deletion grace period cannot be created
//! through the API without waiting for it.
#![allow(clippy::unwrap_used)]

#[path = "../../diagnose/tests/support/mod.rs"]
mod support;

#[path = "support/mod.rs"]
mod live;

use k8s_openapi::api::core::v1::{Event, Namespace, Pod};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::wordings::{Case, load};

/// The cases written live: one or two per class whose evidence is in API objects.
const LIVE: &[&str] = &[
    "kubelet-1.6-dockershim-cni-uninitialized",
    "kubelet-1.22-containerd-cni-not-initialized",
    "pod-event-1.9-network-not-ready-brackets",
    "sched-1.2-fit-failure-podexceedsfreememory",
    "sched-1.37-cpu-with-victims-suffix",
    "dead-port-no-logs",
    "timeout-new-go",
];

/// Moves every RFC 3339 timestamp string by `shift` seconds (fixtures are dated 2026-11-23).
fn shift_times(v: &mut Value, shift: i64) {
    match v {
        Value::String(s) => {
            if s.len() >= 20
                && s.as_bytes()[4] == b'-'
                && s.as_bytes()[10] == b'T'
                && let Ok(t) = s.parse::<jiff::Timestamp>()
            {
                *s = (t + jiff::SignedDuration::from_secs(shift)).to_string();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| shift_times(x, shift)),
        Value::Object(o) => o.values_mut().for_each(|x| shift_times(x, shift)),
        _ => {}
    }
}

/// The object as JSON for this case: namespace `shop` -> `ns`, nodes `nX` -> `<ns>-nX`,
/// timestamps moved to now, server-owned fields dropped.
fn localise<T: serde::Serialize>(obj: &T, ns: &str, shift: i64) -> Value {
    let text = serde_json::to_string(obj).unwrap();
    let mut text = text.replace("\"shop\"", &format!("\"{ns}\""));
    for n in 1..=9 {
        text = text.replace(&format!("\"n{n}\""), &format!("\"{ns}-n{n}\""));
    }
    let mut v: Value = serde_json::from_str(&text).unwrap();
    shift_times(&mut v, shift);
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
        ] {
            m.remove(k);
        }
    }
    v
}

async fn write_case(client: &kube::Client, c: &Case, ns: &str, shift: i64) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .unwrap();
    for n in &c.snap.nodes {
        let v = localise(n, ns, shift);
        let name = v["metadata"]["name"].as_str().unwrap();
        live::create_node(client, name, v["status"].clone()).await;
    }
    for p in &c.snap.pods {
        let mut v = localise(p, ns, shift);
        let pns = v["metadata"]["namespace"]
            .as_str()
            .unwrap_or(ns)
            .to_string();
        if pns != ns {
            // kube-system pods (a CNI DaemonSet pod) go to the case's namespace too.
            v["metadata"]["namespace"] = json!(ns);
        }
        let name = v["metadata"]["name"].as_str().unwrap().to_string();
        let status = v
            .as_object_mut()
            .unwrap()
            .remove("status")
            .unwrap_or(Value::Null);
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        pods.create(&PostParams::default(), &serde_json::from_value(v).unwrap())
            .await
            .unwrap();
        pods.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .unwrap();
    }
    for e in &c.snap.events {
        let mut v = localise(e, ns, shift);
        v["metadata"]["namespace"] = json!(ns);
        let name = format!("{}.{}", v["metadata"]["name"].as_str().unwrap_or("ev"), ns)
            .to_ascii_lowercase()
            .replace(
                |ch: char| !(ch.is_ascii_alphanumeric() || ch == '.' || ch == '-'),
                "-",
            );
        v["metadata"]["name"] = json!(name);
        let events: Api<Event> = Api::namespaced(client.clone(), ns);
        events
            .create(&PostParams::default(), &serde_json::from_value(v).unwrap())
            .await
            .unwrap();
    }
}

fn first_cause(report: &Value, kind: &str, ns: Option<&str>, name: &str) -> Option<String> {
    report["findings"].as_array()?.iter().find_map(|f| {
        let o = &f["object"];
        (o["kind"] == kind && o["name"] == name && ns.is_none_or(|ns| o["namespace"] == ns))
            .then(|| f["cause"].as_str().unwrap_or("").to_string())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_diagnosis_names_the_same_cause_for_real_wordings() {
    let Some(tb) = live::control_plane().await else {
        return;
    };
    let client = tb.client();
    let fixture_now: jiff::Timestamp = support::NOW.parse().unwrap();
    let shift = jiff::Timestamp::now().as_second() - fixture_now.as_second();
    let cases: Vec<Case> = load()
        .into_iter()
        .filter(|c| LIVE.contains(&c.w.id.as_str()))
        .collect();
    assert_eq!(cases.len(), LIVE.len());
    for (i, c) in cases.iter().enumerate() {
        write_case(&client, c, &format!("w{i}"), shift).await;
    }
    let kubeconfig = tb.kubeconfig_path().to_str().unwrap().to_string();
    // Pods created just now are "Pending" for under 30 s: poll until the findings settle.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (code, out, err) = live::kubemedic(&[
            "diagnose",
            "--kubeconfig",
            &kubeconfig,
            "-A",
            "--no-agents",
            "--no-logs",
            "-o",
            "json",
        ]);
        assert!(code == 0 || code == 1, "{err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        let mut wrong = Vec::new();
        for (i, c) in cases.iter().enumerate() {
            let ns = format!("w{i}");
            let (kind, name) = c.expect.object.split_once('/').unwrap();
            let got = match kind {
                "node" => first_cause(&report, "Node", None, &format!("{ns}-{name}")),
                _ => first_cause(&report, "Pod", Some(&ns), name),
            };
            if got.as_deref() != Some(c.expect.cause.as_str()) {
                wrong.push(format!(
                    "{}: expected {}, got {got:?}",
                    c.w.id, c.expect.cause
                ));
            }
        }
        if wrong.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "live findings differ from the fixtures after 90 s:\n{}\n{}",
            wrong.join("\n"),
            serde_json::to_string_pretty(&report["findings"]).unwrap()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
