//! The controller's install artifacts: least-privilege RBAC, the Deployment and Service the CLI
//! expects, every flag they pass accepted by the built binary, and the chart's archive options
//! (PVC needs one replica, PostgreSQL needs a Secret).
#![allow(clippy::unwrap_used)]

#[path = "support/deploy.rs"]
mod deploy;

use deploy::{chart, find, helm, helm_run, helm_template, plain_manifests};
use serde_json::{Value, json};

fn controller_args(objects: &[Value]) -> Vec<String> {
    let d = find(objects, "Deployment", "kubemedic-controller");
    d["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_controller_manifests_are_least_privilege_and_what_the_cli_expects() {
    let objects = plain_manifests();
    let d = find(&objects, "Deployment", "kubemedic-controller");
    assert_eq!(d["metadata"]["namespace"], "kubemedic");
    assert_eq!(d["spec"]["replicas"], 2);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"], json!(["/kubemedic", "controller"]));
    assert_eq!(c["ports"][0]["name"], "http");
    assert_eq!(c["ports"][0]["containerPort"], 20258);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    let env: Vec<&str> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"POD_NAME") && env.contains(&"POD_NAMESPACE"),
        "{env:?}"
    );
    // `kubemedic events|crashes` default: service kubemedic-controller, port name http, in kubemedic.
    let svc = find(&objects, "Service", "kubemedic-controller");
    assert_eq!(svc["metadata"]["namespace"], "kubemedic");
    assert_eq!(svc["spec"]["ports"][0]["name"], "http");
    assert_eq!(
        svc["spec"]["selector"],
        d["spec"]["selector"]["matchLabels"]
    );
    // Cluster-wide: reads, plus exactly the writes healing's allow-listed actions need
    // (Remediations and their status, cordon/taint, delete-pod by UID, evictions, rollout
    // restarts, Events); nothing else is ever written cluster-wide.
    let allowed: &[(&str, &str, &[&str])] = &[
        ("kubemedic.io", "remediations", &["create"]),
        ("kubemedic.io", "remediations/status", &["update", "patch"]),
        ("", "nodes", &["patch"]),
        ("", "pods", &["delete"]),
        ("", "pods/eviction", &["create"]),
        ("apps", "deployments", &["patch"]),
        ("apps", "daemonsets", &["patch"]),
        ("apps", "statefulsets", &["patch"]),
        ("events.k8s.io", "events", &["create", "patch"]),
    ];
    let cr = find(&objects, "ClusterRole", "kubemedic-controller");
    for rule in cr["rules"].as_array().unwrap() {
        for verb in rule["verbs"].as_array().unwrap() {
            let verb = verb.as_str().unwrap();
            if ["get", "list", "watch"].contains(&verb) {
                continue;
            }
            for group in rule["apiGroups"].as_array().unwrap() {
                for res in rule["resources"].as_array().unwrap() {
                    let (g, r) = (group.as_str().unwrap(), res.as_str().unwrap());
                    assert!(
                        allowed
                            .iter()
                            .any(|(ag, ar, vs)| *ag == g && *ar == r && vs.contains(&verb)),
                        "cluster-wide {verb} on {g}/{r} in {rule}"
                    );
                }
            }
        }
    }
    // In its namespace: its own Lease, and the per-node Leases of healing's one-run-per-node lock.
    let role = find(&objects, "Role", "kubemedic-controller");
    assert_eq!(role["metadata"]["namespace"], "kubemedic");
    let writes: Vec<&Value> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| ["patch", "update", "delete"].contains(&v.as_str().unwrap()))
        })
        .collect();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert_eq!(writes[0]["resources"], json!(["leases"]));
    assert_eq!(writes[0]["resourceNames"], json!(["kubemedic-controller"]));
    assert_eq!(writes[1]["resources"], json!(["leases"]));
    assert_eq!(writes[1]["verbs"], json!(["get", "update", "delete"]));
}

#[test]
fn the_binary_accepts_every_controller_flag_the_manifests_pass() {
    // The manifest's flags with the archive pointed at a file that is not SQLite: parsing them
    // succeeds, and the controller then refuses the file (exit 2, naming it). An unknown flag
    // would fail earlier with clap's message instead.
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("not-a-db");
    std::fs::write(&bogus, "hello").unwrap();
    let args: Vec<String> = controller_args(&plain_manifests())
        .into_iter()
        .map(|a| {
            if a.starts_with("--archive=") {
                format!("--archive=sqlite:{}", bogus.display())
            } else {
                a
            }
        })
        .collect();
    let mut all = vec!["controller".to_string()];
    all.extend(args);
    let out = kubemedic_testbed::child::output(
        std::process::Command::new(env!("CARGO_BIN_EXE_kubemedic"))
            .args(&all)
            .env_remove("KUBECONFIG"),
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not a SQLite database"), "{err}");
    assert!(err.contains("not-a-db"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_archive_options_render_or_refuse_naming_the_value() {
    let Some(helm) = helm().await else { return };
    // PVC: one replica, Recreate, the claim mounted.
    let objects = helm_template(
        &helm,
        &[
            "--set",
            "controller.replicas=1",
            "--set",
            "controller.archive.sqlite.persistence.enabled=true",
        ],
    );
    let d = find(&objects, "Deployment", "kubemedic-controller");
    assert_eq!(d["spec"]["strategy"]["type"], "Recreate");
    assert_eq!(
        d["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "kubemedic-controller-archive"
    );
    find(
        &objects,
        "PersistentVolumeClaim",
        "kubemedic-controller-archive",
    );
    // PVC with two replicas: refused, saying why.
    let (code, _, err) = helm_run(
        &helm,
        &[
            "template",
            "kubemedic",
            chart().to_str().unwrap(),
            "--set",
            "controller.archive.sqlite.persistence.enabled=true",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("controller.replicas must be 1"), "{err}");
    // PostgreSQL: the URL from a Secret, no --archive flag.
    let (code, _, err) = helm_run(
        &helm,
        &[
            "template",
            "kubemedic",
            chart().to_str().unwrap(),
            "--set",
            "controller.archive.type=postgres",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("existingSecret"), "{err}");
    let objects = helm_template(
        &helm,
        &[
            "--set",
            "controller.archive.type=postgres",
            "--set",
            "controller.archive.postgres.existingSecret=archive-db",
            "--set",
            "controller.archive.postgres.clusterName=prod-eu-1",
        ],
    );
    let args = controller_args(&objects);
    assert!(!args.iter().any(|a| a.starts_with("--archive")), "{args:?}");
    let d = find(&objects, "Deployment", "kubemedic-controller");
    let env = d["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(
        env.contains("archive-db") && env.contains("prod-eu-1"),
        "{env}"
    );
    // Exports: a ConfigMap mounted and the flag passed.
    let objects = helm_template(
        &helm,
        &[
            "--set",
            "controller.exports.sinks[0].name=loki",
            "--set",
            "controller.exports.sinks[0].type=loki",
            "--set",
            "controller.exports.sinks[0].url=http://loki:3100",
        ],
    );
    find(&objects, "ConfigMap", "kubemedic-controller-exports");
    assert!(controller_args(&objects).contains(&"--exports=/config/exports.yaml".to_string()));
    // A bad retention is refused by the schema.
    let (code, _, err) = helm_run(
        &helm,
        &[
            "template",
            "kubemedic",
            chart().to_str().unwrap(),
            "--set",
            "controller.retention=a month",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("retention"), "{err}");
}
