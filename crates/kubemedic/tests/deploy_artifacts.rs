//! The install artifacts under deploy/, checked without a cluster: the Helm chart linted and
//! rendered by a real helm (built by testbed/build), its default render equal to the plain
//! manifests, every agent flag they pass accepted by the built binary, the image contract
//! (Dockerfile, deploy/image/config.json, the manifests' command and image) consistent, the RBAC
//! least-privilege, and every metric the Grafana dashboard queries exported by a real agent.
//! Installing on a real apiserver: deploy_cluster.rs.
#![allow(clippy::unwrap_used)]

#[path = "support/deploy.rs"]
mod deploy;

use deploy::{
    by_key, find, helm, helm_run, helm_template, plain_manifests, repo, run, strip_helm_labels,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn agent_daemonset(objects: &[Value]) -> &Value {
    objects
        .iter()
        .find(|o| o["kind"] == "DaemonSet")
        .expect("an agent DaemonSet")
}

fn agent_container(ds: &Value) -> &Value {
    &ds["spec"]["template"]["spec"]["containers"][0]
}

fn args_of(ds: &Value) -> Vec<String> {
    agent_container(ds)["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn helm_lint_is_clean_with_the_default_and_the_example_values() {
    let Some(helm) = helm().await else { return };
    let chart = deploy::chart();
    let mut values: Vec<_> = std::fs::read_dir(chart.join("ci"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    values.sort();
    assert!(values.len() >= 2, "example values in ci/: {values:?}");
    let mut runs = vec![vec![]];
    runs.extend(values.iter().map(|v| vec!["-f", v.to_str().unwrap()]));
    for extra in runs {
        let mut args = vec!["lint", "--strict", chart.to_str().unwrap()];
        args.extend(extra.iter().copied());
        let (code, out, err) = helm_run(&helm, &args);
        assert_eq!(code, 0, "helm {args:?}:\n{out}\n{err}");
        assert!(out.contains("0 chart(s) failed"), "{out}");
        assert!(
            !out.contains("[WARNING]") && !out.contains("[ERROR]"),
            "helm {args:?}:\n{out}"
        );
    }
}

/// The plain manifests are what `helm template kubemedic -n kubemedic` renders with the default
/// values, object for object, field for field (RBAC rules, labels, selectors, ports, args,
/// mounts, probes, ...), apart from the labels only Helm adds and the Namespace (Helm's
/// `--create-namespace` makes it).
#[tokio::test]
async fn the_default_chart_render_is_the_plain_manifests() {
    let Some(helm) = helm().await else { return };
    let chart = by_key(
        helm_template(&helm, &[])
            .into_iter()
            .map(|mut o| {
                strip_helm_labels(&mut o);
                o
            })
            .collect(),
    );
    let plain = by_key(
        plain_manifests()
            .into_iter()
            .filter(|o| o["kind"] != "Namespace")
            .collect(),
    );
    let chart_keys: BTreeSet<_> = chart.keys().collect();
    let plain_keys: BTreeSet<_> = plain.keys().collect();
    assert_eq!(
        chart_keys, plain_keys,
        "the chart and deploy/manifests define different objects"
    );
    for (k, from_chart) in &chart {
        let from_plain = &plain[k];
        assert!(
            from_chart == from_plain,
            "{k} differs:\nchart:\n{}\nplain:\n{}",
            serde_json::to_string_pretty(from_chart).unwrap(),
            serde_json::to_string_pretty(from_plain).unwrap()
        );
    }
}

#[tokio::test]
async fn chart_values_reach_the_rendered_objects() {
    let Some(helm) = helm().await else { return };
    let chart = deploy::chart();

    // NPD migration: NPD's ConfigMap and monitor files, another port while NPD still runs.
    let npd = chart.join("ci/npd-migration-values.yaml");
    let objects = helm_template(&helm, &["-f", npd.to_str().unwrap()]);
    let ds = agent_daemonset(&objects);
    let args = args_of(ds);
    for expected in [
        "--config.system-log-monitor=/config/kernel-monitor.json,/config/docker-monitor.json,/config/readonly-monitor.json",
        "--config.custom-plugin-monitor=/config/health-checker-kubelet.json",
        "--config.system-stats-monitor=/config/system-stats-monitor.json",
        "--port=20258",
        "--prometheus-port=20258",
    ] {
        assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
    }
    let pod = &ds["spec"]["template"];
    assert_eq!(
        agent_container(ds)["ports"][0]["containerPort"],
        json!(20258)
    );
    assert_eq!(
        pod["metadata"]["annotations"]["prometheus.io/port"],
        "20258"
    );
    let config = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "config")
        .expect("config volume");
    assert_eq!(config["configMap"]["name"], "node-problem-detector-config");
    assert!(
        agent_container(ds)["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "config" && m["mountPath"] == "/config")
    );
    assert!(
        !objects.iter().any(|o| o["kind"] == "ConfigMap"),
        "an existing ConfigMap is not rendered again"
    );
    assert_eq!(
        find(&objects, "Service", "kubemedic-agent")["spec"]["ports"][0]["port"],
        json!(20258)
    );
    for kind in ["ClusterRoleBinding", "RoleBinding"] {
        let binding = objects
            .iter()
            .find(|o| {
                o["kind"] == kind && o["roleRef"]["name"].as_str().unwrap().contains("diagnose")
            })
            .unwrap_or_else(|| panic!("diagnose {kind}"));
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "Group", "name": "sre", "apiGroup": "rbac.authorization.k8s.io"}])
        );
    }

    // Inline monitor files: rendered into the chart's ConfigMap, as JSON.
    let inline = chart.join("ci/inline-monitors-values.yaml");
    let objects = helm_template(&helm, &["-f", inline.to_str().unwrap()]);
    let cm = find(&objects, "ConfigMap", "kubemedic-agent-config");
    let kernel: Value =
        serde_json::from_str(cm["data"]["kernel-monitor.json"].as_str().unwrap()).unwrap();
    assert_eq!(kernel["conditions"][0]["quietPeriod"], "1h");
    let stats: Value =
        serde_json::from_str(cm["data"]["system-stats-monitor.json"].as_str().unwrap()).unwrap();
    assert_eq!(stats["invokeInterval"], "60s");
    let ds = agent_daemonset(&objects);
    let args = args_of(ds);
    for expected in [
        "--config.system-log-monitor=/config/kernel-monitor.json",
        "--config.system-stats-monitor=/config/system-stats-monitor.json",
        "--k8s-exporter-heartbeat-period=1m",
        "--facts-interval=30s",
        "--disk-path=runtime=/var/lib/containerd",
    ] {
        assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
    }
    assert!(
        ds["spec"]["template"]["metadata"]["annotations"]["kubemedic.io/config-checksum"]
            .is_string(),
        "a changed monitor file rolls the agents"
    );
    assert!(ds["spec"]["template"]["spec"]["priorityClassName"].is_null());
    assert_eq!(
        agent_container(ds)["resources"]["requests"]["memory"],
        "64Mi"
    );
}

#[tokio::test]
async fn bad_values_are_refused_naming_the_value() {
    let Some(helm) = helm().await else { return };
    let chart = deploy::chart();
    let chart = chart.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--set", "agent.monitors.existingConfigMap=npd"],
            "name the monitor files in systemLogMonitors",
        ),
        (
            &[
                "--set",
                "agent.monitors.systemLogMonitors={kernel-monitor.json}",
            ],
            "need agent.monitors.files or agent.monitors.existingConfigMap",
        ),
        (
            &[
                "--set-string",
                "agent.monitors.files.a\\.json=x",
                "--set",
                "agent.monitors.systemLogMonitors={b.json}",
            ],
            "b.json is listed but not in agent.monitors.files (a.json)",
        ),
        (
            &[
                "--set-string",
                "agent.monitors.files.a\\.json=x",
                "--set",
                "agent.monitors.existingConfigMap=npd",
            ],
            "set either files or existingConfigMap, not both",
        ),
        (
            &["--set", "agent.tolerration=x"],
            "'tolerration' not allowed",
        ),
        (
            &["--set", "agent.heartbeatPeriod=5 minutes"],
            "/agent/heartbeatPeriod",
        ),
        (&["--set", "agent.port=0"], "/agent/port"),
    ];
    for (values, message) in cases {
        let mut args = vec!["template", "kubemedic", chart];
        args.extend_from_slice(values);
        let (code, out, err) = helm_run(&helm, &args);
        assert_ne!(code, 0, "helm {args:?} accepted:\n{out}");
        assert!(
            err.contains(message),
            "helm {args:?}: {err:?} lacks {message:?}"
        );
    }
}

/// Runs the built binary with the DaemonSet's command line plus `--print-default-config`, which
/// exits before anything starts but after every flag was parsed: an unknown flag or a bad value
/// fails.
fn assert_binary_accepts(ds: &Value, what: &str) {
    let container = agent_container(ds);
    let command: Vec<&str> = container["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(command, ["/kubemedic", "agent"], "{what}");
    let args = args_of(ds);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubemedic"));
    cmd.arg("agent")
        .args(&args)
        .args(["--print-default-config", "kernel-monitor.json"]);
    let (code, out, err) = run(cmd, Duration::from_secs(60));
    assert_eq!(code, 0, "{what}: kubemedic agent {args:?}: {err}");
    assert!(out.contains("\"plugin\""), "{what}: {out}");
}

#[tokio::test]
async fn the_binary_accepts_every_agent_flag_the_manifests_pass() {
    assert_binary_accepts(agent_daemonset(&plain_manifests()), "deploy/manifests");
    let Some(helm) = helm().await else { return };
    let chart = deploy::chart();
    for values in [
        "ci/npd-migration-values.yaml",
        "ci/inline-monitors-values.yaml",
    ] {
        let path = chart.join(values);
        let objects = helm_template(&helm, &["-f", path.to_str().unwrap()]);
        assert_binary_accepts(agent_daemonset(&objects), values);
    }
    // And a flag the binary does not know is caught by the same check.
    let mut ds = agent_daemonset(&plain_manifests()).clone();
    ds["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array_mut()
        .unwrap()
        .push(json!("--no-such-flag"));
    let result = std::panic::catch_unwind(|| assert_binary_accepts(&ds, "bad"));
    assert!(result.is_err(), "an unknown flag must fail the check");
}

#[test]
fn manifests_carry_what_the_cli_expects() {
    let objects = plain_manifests();
    let ds = agent_daemonset(&objects);
    let labels = &ds["spec"]["template"]["metadata"]["labels"];
    let (key, value) = kubemedic_cluster::live::DEFAULT_AGENT_SELECTOR
        .split_once('=')
        .unwrap();
    assert_eq!(labels[key], value, "diagnose finds agents by {key}={value}");
    let port = kubemedic_cluster::live::DEFAULT_AGENT_PORT;
    assert_eq!(
        agent_container(ds)["ports"][0]["containerPort"],
        json!(port)
    );
    let args = args_of(ds);
    for a in [
        "--address=0.0.0.0".to_string(),
        format!("--port={port}"),
        "--prometheus-address=0.0.0.0".to_string(),
        format!("--prometheus-port={port}"),
        "--host-root=/host".to_string(),
    ] {
        assert!(args.contains(&a), "{a} in {args:?}");
    }
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(pod["tolerations"], json!([{"operator": "Exists"}]));
    assert_eq!(pod["priorityClassName"], "system-node-critical");
    let env = &agent_container(ds)["env"];
    assert_eq!(env[0]["name"], "NODE_NAME");
    assert_eq!(
        env[0]["valueFrom"]["fieldRef"]["fieldPath"],
        "spec.nodeName"
    );

    // Host mounts: what the agent reads, and the host root not read-only (statvfs through a
    // read-only bind reports every disk as read-only: false FilesystemReadOnly findings).
    let volumes: BTreeMap<&str, &str> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap(),
                v["hostPath"]["path"].as_str().unwrap(),
            )
        })
        .collect();
    let mounts: BTreeMap<&str, &Value> = agent_container(ds)["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m))
        .collect();
    let host_to_container: BTreeMap<&str, &str> = mounts
        .iter()
        .map(|(name, m)| (volumes[name], m["mountPath"].as_str().unwrap()))
        .collect();
    assert_eq!(
        host_to_container,
        BTreeMap::from([
            ("/dev/kmsg", "/dev/kmsg"),
            ("/var/log", "/var/log"),
            ("/", "/host")
        ])
    );
    let host_root = mounts["host-root"];
    assert!(host_root["readOnly"].is_null() || host_root["readOnly"] == false);
    assert_eq!(host_root["mountPropagation"], "HostToContainer");

    // The Service selects exactly the DaemonSet's pods.
    let svc = find(&objects, "Service", "kubemedic-agent");
    assert_eq!(
        svc["spec"]["selector"],
        ds["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(svc["spec"]["ports"][0]["port"], json!(port));
}

#[test]
fn rbac_is_least_privilege() {
    let objects = plain_manifests();
    let rules = |kind: &str, name: &str| find(&objects, kind, name)["rules"].clone();
    assert_eq!(
        rules("ClusterRole", "kubemedic-agent"),
        json!([
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]},
        ])
    );
    let events = find(&objects, "Role", "kubemedic-agent-events");
    assert_eq!(events["metadata"]["namespace"], "default");
    assert_eq!(
        events["rules"],
        json!([{"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]}])
    );
    assert_eq!(
        rules("Role", "kubemedic-diagnose-agents"),
        json!([{"apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["get"]}])
    );
    // Nowhere: Secrets, ConfigMaps, wildcards, or a verb that writes for diagnose.
    for obj in objects
        .iter()
        .filter(|o| o["kind"] == "ClusterRole" || o["kind"] == "Role")
    {
        let name = obj["metadata"]["name"].as_str().unwrap();
        for rule in obj["rules"].as_array().unwrap() {
            for field in ["resources", "verbs", "apiGroups"] {
                for item in rule[field].as_array().unwrap() {
                    let item = item.as_str().unwrap();
                    assert_ne!(item, "*", "{name}: wildcard {field}");
                    assert!(
                        !["secrets", "configmaps", "serviceaccounts/token"].contains(&item),
                        "{name} grants {item}"
                    );
                }
            }
            if name.contains("diagnose") {
                for verb in rule["verbs"].as_array().unwrap() {
                    assert!(
                        ["get", "list"].contains(&verb.as_str().unwrap()),
                        "{name}: {verb}"
                    );
                }
            }
        }
    }
    // The own-node policy applies to the agent's ServiceAccount.
    let policy = find(
        &objects,
        "ValidatingAdmissionPolicy",
        "kubemedic-agent-own-node",
    );
    assert!(
        policy["spec"]["matchConditions"][0]["expression"]
            .as_str()
            .unwrap()
            .contains("system:serviceaccount:kubemedic:kubemedic-agent")
    );
    assert_eq!(
        find(
            &objects,
            "ValidatingAdmissionPolicyBinding",
            "kubemedic-agent-own-node"
        )["spec"]["policyName"],
        "kubemedic-agent-own-node"
    );
}

/// The final stage's instructions of deploy/Dockerfile: (instruction, rest of line).
fn dockerfile_final_stage() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    let mut stages: Vec<Vec<(String, String)>> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (instr, rest) = line.split_once(' ').unwrap_or((line, ""));
        let instr = instr.to_ascii_uppercase();
        if instr == "FROM" {
            stages.push(Vec::new());
        }
        if let Some(stage) = stages.last_mut() {
            stage.push((instr, rest.trim().to_string()));
        }
    }
    assert!(stages.len() >= 2, "a multi-stage build");
    stages.pop().unwrap()
}

#[test]
fn the_dockerfile_the_image_config_and_the_manifests_agree() {
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/image/config.json")).unwrap(),
    )
    .unwrap();
    let config = &config["config"];
    let stage = dockerfile_final_stage();
    let get = |instr: &str| -> Vec<&str> {
        stage
            .iter()
            .filter(|(i, _)| i == instr)
            .map(|(_, r)| r.as_str())
            .collect()
    };
    assert!(
        get("FROM")[0].starts_with("gcr.io/distroless/static"),
        "{:?}",
        get("FROM")
    );
    assert_eq!(get("COPY"), ["--from=build /rootfs/ /"]);
    let entrypoint: Value = serde_json::from_str(get("ENTRYPOINT")[0]).unwrap();
    assert_eq!(entrypoint, config["Entrypoint"]);
    let env: Vec<String> = get("ENV").iter().map(|e| e.to_string()).collect();
    assert_eq!(json!(env), config["Env"]);
    assert_eq!(get("WORKDIR"), [config["WorkingDir"].as_str().unwrap()]);
    assert_eq!(get("USER"), [config["User"].as_str().unwrap()]);
    // The build stage runs the script the tests run, into the directory the final stage copies.
    let dockerfile = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    assert!(dockerfile.contains("RUN deploy/image/build-rootfs /rootfs --profile release"));
    assert!(repo().join("deploy/Dockerfile.dockerignore").is_file());

    // The manifests run the entrypoint's binary, from the image the docs build.
    let objects = plain_manifests();
    let container = agent_container(agent_daemonset(&objects));
    assert_eq!(container["command"][0], config["Entrypoint"][0]);
    assert_eq!(container["image"], format!("kubemedic:{VERSION}"));
}

#[test]
fn the_chart_is_versioned_with_the_binary() {
    let chart: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(deploy::chart().join("Chart.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(chart["version"], VERSION);
    assert_eq!(chart["appVersion"], VERSION);
    let (code, out, err) = run(
        {
            let mut c = Command::new(env!("CARGO_BIN_EXE_kubemedic"));
            c.args(["version", "-o", "json"]);
            c
        },
        Duration::from_secs(30),
    );
    assert_eq!(code, 0, "{err}");
    let version: Value = serde_json::from_str(&out).unwrap();
    let oldest = version["supported_kubernetes"][0].as_str().unwrap();
    assert_eq!(chart["kubeVersion"], format!(">={oldest}.0-0"));
}

// ---- Grafana -------------------------------------------------------------------------------

/// Metric names and label names a PromQL expression uses. Good enough for dashboard queries:
/// identifiers followed by `(` are functions, `by`/`without`/`on`/`ignoring`/`group_*` lists
/// and `{}` matchers are labels, `[...]` ranges and strings are skipped.
fn promql_names(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    const KEYWORDS: [&str; 11] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut metrics = BTreeSet::new();
    let mut labels = BTreeSet::new();
    let mut i = 0;
    let ident = |i: &mut usize| -> String {
        let start = *i;
        while *i < chars.len()
            && (chars[*i].is_ascii_alphanumeric() || chars[*i] == '_' || chars[*i] == ':')
        {
            *i += 1;
        }
        chars[start..*i].iter().collect()
    };
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    let mut label_list_next = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
        } else if c == '{' {
            // label matchers: name op "value", ...
            i += 1;
            loop {
                skip_ws(&mut i);
                if i >= chars.len() || chars[i] == '}' {
                    i += 1;
                    break;
                }
                let name = ident(&mut i);
                if !name.is_empty() {
                    labels.insert(name);
                }
                while i < chars.len() && chars[i] != '"' && chars[i] != '\'' && chars[i] != '}' {
                    i += 1;
                }
                if i < chars.len() && chars[i] != '}' {
                    let q = chars[i];
                    i += 1;
                    while i < chars.len() && chars[i] != q {
                        i += if chars[i] == '\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                skip_ws(&mut i);
                if i < chars.len() && chars[i] == ',' {
                    i += 1;
                }
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let name = ident(&mut i);
            let mut j = i;
            skip_ws(&mut j);
            let next = chars.get(j).copied();
            // `sum by (x) (...)`: an aggregation whose grouping comes first.
            let mut k = j;
            let next_word = ident(&mut k);
            if [
                "by",
                "without",
                "on",
                "ignoring",
                "group_left",
                "group_right",
            ]
            .contains(&name.as_str())
            {
                label_list_next = next == Some('(');
            } else if next == Some('(')
                || KEYWORDS.contains(&name.as_str())
                || next_word == "by"
                || next_word == "without"
            {
                // a function or an aggregation, or a binary keyword
            } else {
                metrics.insert(name);
            }
        } else if c == '(' && label_list_next {
            label_list_next = false;
            i += 1;
            while i < chars.len() && chars[i] != ')' {
                if chars[i].is_ascii_alphabetic() || chars[i] == '_' {
                    labels.insert(ident(&mut i));
                } else {
                    i += 1;
                }
            }
        } else if c == '$' {
            // a Grafana variable ($__range, ${datasource}) outside brackets
            i += 1;
            if chars.get(i) == Some(&'{') {
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
                i += 1;
            } else {
                ident(&mut i);
            }
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    (metrics, labels)
}

#[test]
fn the_promql_scanner_finds_metrics_and_labels() {
    let (m, l) = promql_names(
        r#"sum by (instance, reason) (increase(problem_counter{instance=~"$instance", x!="a,b}"}[$__range])) > 0 or vector(0)"#,
    );
    assert_eq!(m, BTreeSet::from(["problem_counter".to_string()]));
    assert_eq!(
        l,
        ["instance", "reason", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let (m, _) = promql_names(
        "cpu_load_1m / on (instance) count by (instance) (system_cpu_stat{stage=\"idle\"})",
    );
    assert_eq!(
        m,
        ["cpu_load_1m", "system_cpu_stat"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
}

/// Every PromQL expression in the dashboard: panel targets and templating queries.
fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            out.push(target["expr"].as_str().unwrap().to_string());
        }
    }
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if var["type"] == "query" {
            let q = var["query"]["query"].as_str().unwrap();
            // label_values(metric, label)
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|r| r.strip_suffix(')'))
                .unwrap_or_else(|| panic!("unexpected variable query {q}"));
            let (metric, label) = inner.split_once(',').unwrap();
            out.push(format!("{} {{{}=\"\"}}", metric.trim(), label.trim()));
        }
    }
    out
}

/// A running `kubemedic agent --standalone` (default monitors), killed on drop.
struct Agent(std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = kubemedic_testbed::child::wait(&mut self.0, Duration::from_secs(30));
    }
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let (head, body) = reply.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// Sample names and, per name, label names of an OpenMetrics text.
fn exported(metrics: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let entry = out.entry(line[..name_end].to_string()).or_default();
        if line[name_end..].starts_with('{') {
            let labels = &line[name_end + 1..line.find('}').unwrap()];
            for pair in labels.split("\",") {
                if let Some((name, _)) = pair.split_once('=') {
                    entry.insert(name.trim().to_string());
                }
            }
        }
    }
    out
}

#[test]
fn the_grafana_dashboard_queries_only_what_a_real_agent_exports() {
    let path = repo().join("deploy/grafana/kubemedic-agent.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
    assert_eq!(dashboard["uid"], "kubemedic-agent");
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(
            ids.insert(panel["id"].as_i64().unwrap()),
            "duplicate panel id"
        );
        assert!(panel["gridPos"]["w"].as_i64().unwrap() <= 24);
        if panel["type"] != "row" {
            assert!(!panel["targets"].as_array().unwrap().is_empty());
            assert_eq!(panel["datasource"]["uid"], "${datasource}");
        }
    }

    // A real agent with the default monitors; its metrics port on a free 127.0.0.1 port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _agent = Agent(
        kubemedic_testbed::child::die_with_test(kubemedic_testbed::child::reset_signals(
            Command::new(env!("CARGO_BIN_EXE_kubemedic"))
                .args(["agent", "--standalone", "--output", "json", "--port", "0"])
                .args(["--prometheus-address", "127.0.0.1", "--prometheus-port"])
                .arg(port.to_string())
                .args(["--facts-interval", "1s", "--iptables-save", ""])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null()),
        ))
        .spawn()
        .unwrap(),
    );
    // Stats samples appear after the first collection: wait for them (and the source metrics).
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        if let Some(body) = http_get(port, "/metrics")
            && body.contains("\ncpu_load_1m")
            && body.contains("kubemedic_agent_source_up{")
        {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "no metrics from the agent within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let exported = exported(&metrics);
    // Labels Prometheus adds at scrape time (and the ServiceMonitor's node relabel).
    let target_labels = ["instance", "job", "node", "pod", "namespace"];
    let queries = dashboard_queries(&dashboard);
    let mut used = BTreeSet::new();
    for q in &queries {
        let (metrics, labels) = promql_names(q);
        assert!(!metrics.is_empty(), "no metric in {q}");
        for m in &metrics {
            assert!(
                exported.contains_key(m),
                "the dashboard queries {m}, which the agent does not export ({q})"
            );
            used.insert(m.clone());
        }
        for l in labels
            .iter()
            .filter(|l| !target_labels.contains(&l.as_str()))
        {
            assert!(
                metrics.iter().any(|m| exported[m].contains(l)),
                "label {l} is on none of {metrics:?} ({q})"
            );
        }
    }
    // node-problem-detector's names, so NPD dashboards and this one read the same series.
    for npd in ["problem_counter", "problem_gauge"] {
        assert!(used.contains(npd), "the dashboard does not show {npd}");
    }
    assert!(used.iter().any(|m| m.starts_with("kubemedic_agent_")));
    assert!(Path::new(&path).is_file());
}

// ---- the image's root filesystem ---------------------------------------------------------

/// Whether an ELF file asks for a program interpreter (dynamic linking): a PT_INTERP header.
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not ELF64");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let p = phoff + i * phentsize;
        u32::from_le_bytes(elf[p..p + 4].try_into().unwrap()) == 3 // PT_INTERP
    })
}

/// deploy/image/build-rootfs, the Dockerfile's build stage, run here (a debug build, in the
/// workspace's target directory like any other build): one static binary at the entrypoint's
/// path, which runs.
#[test]
fn build_rootfs_makes_the_image_root_filesystem() {
    let script = repo().join("deploy/image/build-rootfs");
    let (code, _, err) = run(Command::new(&script), Duration::from_secs(30));
    assert_eq!(code, 2, "no DIR is a usage error: {err}");
    assert!(
        err.contains("usage: deploy/image/build-rootfs DIR"),
        "{err}"
    );
    let mut bad = Command::new(&script);
    bad.args(["/tmp/x", "--profile", "fast"]);
    let (code, _, err) = run(bad, Duration::from_secs(30));
    assert_eq!(code, 2);
    assert!(err.contains("--profile must be release or dev"), "{err}");

    let out = tempfile::tempdir().unwrap();
    let rootfs = out.path().join("rootfs");
    let mut build = Command::new(&script);
    build
        .arg(&rootfs)
        .args(["--profile", "dev"])
        .env_remove("CARGO_TARGET_DIR");
    // A cold musl build of the whole binary takes minutes on two cores.
    let (code, stdout, err) = run(build, Duration::from_secs(1800));
    assert_eq!(code, 0, "build-rootfs failed:\n{err}");
    let binary = rootfs.join("kubemedic");
    assert_eq!(stdout.lines().last(), Some(binary.to_str().unwrap()));
    let entries: Vec<_> = std::fs::read_dir(&rootfs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries, ["kubemedic"], "the rootfs holds the binary only");
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/image/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["config"]["Entrypoint"], json!(["/kubemedic"]));
    assert!(
        !has_interpreter(&std::fs::read(&binary).unwrap()),
        "dynamically linked"
    );
    assert!(
        has_interpreter(&std::fs::read(env!("CARGO_BIN_EXE_kubemedic")).unwrap()),
        "the check tells a dynamic binary (this test's own build) from a static one"
    );
    let mut version = Command::new(&binary);
    version.args(["version", "-o", "json"]);
    let (code, out, err) = run(version, Duration::from_secs(30));
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], VERSION);
}

#[test]
fn the_agent_refuses_a_host_root_that_is_not_a_directory() {
    let mut agent = Command::new(env!("CARGO_BIN_EXE_kubemedic"));
    agent.args([
        "agent",
        "--standalone",
        "--port",
        "0",
        "--prometheus-port",
        "0",
        "--host-root",
        "/nonexistent/host",
    ]);
    let (code, _, err) = run(agent, Duration::from_secs(30));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--host-root /nonexistent/host: not a directory"),
        "{err}"
    );
}

/// The objects of deploy/manifests/probe/ (the opt-in network prober).
fn probe_manifests() -> Vec<Value> {
    let path = repo().join("deploy/manifests/probe/40-probe.yaml");
    deploy::yaml_docs(
        &std::fs::read_to_string(&path).unwrap(),
        &path.display().to_string(),
    )
}

/// deploy/manifests/probe/ is exactly what `probe.enabled=true` adds to the default render, field
/// for field; the prober runs in the pod network with least privilege, and the binary accepts
/// every flag it is given.
#[tokio::test]
async fn the_probe_manifests_are_what_the_chart_adds_with_probe_enabled() {
    let objects = probe_manifests();
    let ds = find(&objects, "DaemonSet", "kubemedic-probe");
    let pod = &ds["spec"]["template"]["spec"];
    // A prober on the node's network would test the node network, not the pod network.
    assert!(pod["hostNetwork"].is_null(), "{pod}");
    assert_eq!(
        pod["containers"][0]["securityContext"]["privileged"],
        Value::Null
    );
    assert_eq!(
        pod["containers"][0]["securityContext"]["runAsNonRoot"],
        true
    );
    let args = args_of(ds);
    for flag in ["--probes", "--no-monitors", "--probe-port=20258"] {
        assert!(args.iter().any(|a| a == flag), "{flag} in {args:?}");
    }
    // The Service of the me_service check selects the probers and targets their check port.
    let svc = find(&objects, "Service", "kubemedic-probe");
    assert_eq!(
        svc["spec"]["selector"]["app.kubernetes.io/name"],
        "kubemedic-probe"
    );
    assert!(
        args.iter()
            .any(|a| a == "--probe-service-url=http://kubemedic-probe.kubemedic.svc:20258"),
        "{args:?}"
    );
    // Least privilege: exactly these rules, no Secrets, no writes beyond node status and Events.
    let rules = |kind: &str, name: &str| -> Value { find(&objects, kind, name)["rules"].clone() };
    assert_eq!(
        rules("ClusterRole", "kubemedic-probe"),
        json!([
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]}
        ])
    );
    assert_eq!(
        rules("Role", "kubemedic-probe"),
        json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]}])
    );
    let dns_role = find(&objects, "Role", "kubemedic-probe-dns");
    assert_eq!(dns_role["metadata"]["namespace"], "kube-system");
    assert_eq!(
        dns_role["rules"],
        json!([{"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}])
    );
    assert_eq!(
        rules("Role", "kubemedic-probe-events"),
        json!([{"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]}])
    );

    // The built binary accepts the prober's flags (and --no-monitors runs no monitor).
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubemedic"));
    cmd.arg("agent")
        .args(&args)
        .args(["--print-default-config", "kernel-monitor.json"]);
    let (code, _, err) = run(cmd, Duration::from_secs(60));
    assert_eq!(code, 0, "kubemedic agent {args:?}: {err}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubemedic"));
    cmd.args([
        "agent",
        "--no-monitors",
        "--config.system-log-monitor=x.json",
    ]);
    let (code, _, err) = run(cmd, Duration::from_secs(60));
    assert_eq!(
        code, 2,
        "--no-monitors with a monitor config must be refused: {err}"
    );
    assert!(err.contains("--no-monitors"), "{err}");

    let Some(helm) = helm().await else { return };
    let strip = |objects: Vec<Value>| -> Vec<Value> {
        objects
            .into_iter()
            .map(|mut o| {
                strip_helm_labels(&mut o);
                o
            })
            .collect()
    };
    let default = by_key(strip(helm_template(&helm, &[])));
    let enabled = by_key(strip(helm_template(
        &helm,
        &["--set", "probe.enabled=true"],
    )));
    let added: BTreeMap<&String, &Value> = enabled
        .iter()
        .filter(|(k, _)| !default.contains_key(*k))
        .collect();
    for (k, v) in &default {
        assert_eq!(Some(v), enabled.get(k), "{k} changed by probe.enabled=true");
    }
    let plain = by_key(objects);
    assert_eq!(
        added.keys().copied().collect::<BTreeSet<&String>>(),
        plain.keys().collect::<BTreeSet<&String>>(),
        "probe.enabled=true and deploy/manifests/probe/ define different objects"
    );
    for (k, from_chart) in added {
        assert!(
            from_chart == &plain[k],
            "{k} differs:\nchart:\n{}\nplain:\n{}",
            serde_json::to_string_pretty(from_chart).unwrap(),
            serde_json::to_string_pretty(&plain[k]).unwrap()
        );
    }
    // A DNS Service that is not NAMESPACE/NAME is refused by the schema.
    let (code, out, err) = helm_run(
        &helm,
        &[
            "template",
            "kubemedic",
            deploy::chart().to_str().unwrap(),
            "--set",
            "probe.enabled=true",
            "--set",
            "probe.dnsService=kube-dns",
        ],
    );
    assert_ne!(code, 0, "accepted:\n{out}");
    assert!(err.contains("dnsService"), "{err}");
}
