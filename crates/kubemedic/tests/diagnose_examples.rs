//! End to end through the binary on the bundled example dumps (examples/dumps/): the causes
//! each story must produce, output formats, exit codes, and damaged input.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::copy_dir;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/dumps")
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn kubemedic(args: &[&str]) -> Run {
    kubemedic_env(args, &[])
}

/// Runs the binary with extra environment variables, for at most a minute.
fn kubemedic_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = kubemedic_testbed::child::output(
        Command::new(env!("CARGO_BIN_EXE_kubemedic"))
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("KUBECONFIG")
            .envs(env.iter().copied()),
        std::time::Duration::from_secs(60),
    )
    .unwrap_or_else(|e| panic!("kubemedic {args:?}: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn diagnose_json(dir: &Path, extra: &[&str]) -> (i32, Value) {
    let d = dir.to_str().unwrap();
    let mut args = vec!["diagnose", "--dump", d, "-o", "json"];
    args.extend_from_slice(extra);
    let r = kubemedic(&args);
    let v: Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", r.stdout, r.stderr));
    (r.code, v)
}

/// Causes of the findings about one object, in report order (most likely first).
fn causes_for(report: &Value, kind: &str, name: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["object"]["kind"] == kind && f["object"]["name"] == name)
        .map(|f| f["cause"].as_str().unwrap().to_string())
        .collect()
}

/// The first finding that covers a pod: about the pod itself or a workload grouping it.
fn first_cause_covering_pod(report: &Value, pod_prefix: &str) -> Option<String> {
    report["findings"].as_array().unwrap().iter().find_map(|f| {
        let direct = f["object"]["kind"] == "Pod"
            && f["object"]["name"]
                .as_str()
                .unwrap()
                .starts_with(pod_prefix);
        let grouped = f["affected"].as_array().is_some_and(|a| {
            a.iter()
                .any(|o| o["name"].as_str().unwrap().starts_with(pod_prefix))
        });
        (direct || grouped).then(|| f["cause"].as_str().unwrap().to_string())
    })
}

#[test]
fn node_notready_xtables_names_the_lock_contention_on_both_nodes() {
    let (code, r) = diagnose_json(&examples().join("node-notready-xtables"), &[]);
    assert_eq!(code, 1);
    for node in ["paas-10-239-40-157", "paas-10-239-40-158"] {
        let causes = causes_for(&r, "Node", node);
        assert_eq!(
            causes.first().map(String::as_str),
            Some("IptablesLockContention"),
            "{node}: {causes:?}"
        );
        let f = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["object"]["name"] == node)
            .unwrap();
        assert_eq!(f["severity"], "critical");
        let evidence: Vec<String> = f["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} | {}",
                    e["source"].as_str().unwrap(),
                    e["text"].as_str().unwrap()
                )
            })
            .collect();
        assert!(
            evidence.iter().any(|e| e.contains("PLEG is not healthy")),
            "{evidence:#?}"
        );
        assert!(
            evidence.iter().any(|e| e.contains("ContainerGCFailed")
                || e.contains("Container garbage collection failed")),
            "{evidence:#?}"
        );
        assert!(!f["remediation"].as_array().unwrap().is_empty());
    }
    // Healthy nodes get nothing at warning or above.
    for node in ["paas-10-239-40-160", "paas-10-239-40-161"] {
        assert!(
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["object"]["name"] != node || f["severity"] == "info"),
            "{node} has findings"
        );
    }
    // Stuck pods point at their node, never at a symptom.
    let pod_cause = first_cause_covering_pod(&r, "order-center-").unwrap();
    assert_eq!(pod_cause, "IptablesLockContention");
    for f in r["findings"].as_array().unwrap() {
        let c = f["cause"].as_str().unwrap();
        assert!(!["CrashLoopBackOff", "NotReady", "BackOff"].contains(&c));
    }
}

#[test]
fn fifty_eight_nodes_notready_are_one_incident_that_fits_one_screen() {
    let dump = examples().join("nodes-notready-58");
    let (code, v) = diagnose_json(&dump, &[]);
    assert_eq!(code, 1);
    let findings = v["findings"].as_array().unwrap();
    let incident = &findings[0];
    assert_eq!(incident["object"]["kind"], "Incident");
    assert_eq!(incident["cause"], "IptablesLockContention");
    assert_eq!(incident["affected"].as_array().unwrap().len(), 58);
    let evidence = incident["evidence"].to_string();
    assert!(evidence.contains("paas-10-239-40-{101..158}"), "{evidence}");
    assert!(
        evidence.contains("kernel 3.10.0-862.el7.x86_64"),
        "{evidence}"
    );
    assert!(evidence.contains("116 pods created"), "{evidence}");
    // JSON keeps every node's own finding, marked as part of the incident.
    let members = findings
        .iter()
        .filter(|f| f["object"]["kind"] == "Node" && f["incident"]["kind"] == "Incident")
        .count();
    assert_eq!(members, 58);

    // Text on an 80-column terminal: the incident first, one screen in all.
    let d = dump.to_str().unwrap();
    let out = kubemedic_testbed::child::output(
        Command::new(env!("CARGO_BIN_EXE_kubemedic"))
            .args(["diagnose", "--dump", d])
            .env("COLUMNS", "80")
            .env("NO_COLOR", "1"),
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() <= 45, "{} lines:\n{text}", lines.len());
    assert!(
        lines.iter().all(|l| l.chars().count() <= 80),
        "a line wider than 80 columns:\n{text}"
    );
    let first_finding = lines.iter().position(|l| l.starts_with("  ")).unwrap();
    assert!(
        lines[first_finding].contains("IptablesLockContention  incident: 58 nodes"),
        "{text}"
    );
    assert!(
        text.contains("under this incident: 58 node findings"),
        "{text}"
    );
    assert!(
        !text.contains("node/paas-10-239-40-120 "),
        "per-node findings are folded:\n{text}"
    );
}

#[test]
fn user_rules_add_causes_and_bad_rules_are_refused_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("gateway.yaml"),
        r#"causes:
  - id: GatewayEmptyFrame
    title: Gateway crashes on an empty frame
    meaning: Firmware 3.2 devices send frames without a header; gateway builds before 2.8 dereference it.
    fix: ["Upgrade the gateway to 2.8 or later"]
rules:
  - id: gateway-empty-frame
    match: {field: container.log, regex: 'session (\d+) empty frame, header=nil'}
    cause: GatewayEmptyFrame
    severity: critical
    confidence: 0.97
    summary: 'container {container} crashes on the empty frame of device {1}'
"#,
    )
    .unwrap();
    let dump = examples().join("crashloop-exit-2");
    let (code, v) = diagnose_json(&dump, &["--rules", rules.to_str().unwrap()]);
    assert_eq!(code, 1);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cause"] == "GatewayEmptyFrame")
        .expect("the user cause");
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("container pod4 crashes on the empty frame of device 86137"),
        "{f}"
    );
    // explain knows the user cause and lists rules in the file format.
    let r = kubemedic(&[
        "explain",
        "cause",
        "GatewayEmptyFrame",
        "--rules",
        rules.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("a cause of yours") && r.stdout.contains("gateway-empty-frame"));
    let r = kubemedic(&["explain", "rules", "--rules", rules.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("  - id: gateway-empty-frame"));
    assert!(r.stdout.contains("  - id: builtin/node/xtables-lock"));
    // The same rules from the config file.
    std::fs::write(tmp.path().join("config.yaml"), "rules: rules\n").unwrap();
    let cfg = tmp.path().join("config.yaml");
    let r = kubemedic(&["explain", "cause", "--config", cfg.to_str().unwrap()]);
    assert!(
        r.stdout.contains("GatewayEmptyFrame"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    // A bad file: exit 2, file, line and reason, nothing diagnosed.
    std::fs::write(
        rules.join("zz-bad.yaml"),
        "rules:\n  - id: x\n    match: {field: container.log, regex: '(unclosed'}\n    cause: AppError\n",
    )
    .unwrap();
    let r = kubemedic(&[
        "diagnose",
        "--dump",
        dump.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("zz-bad.yaml:3:") && r.stderr.contains("invalid regex"),
        "{}",
        r.stderr
    );
}

#[test]
fn explain_probe_too_early_states_the_evidence_it_needs() {
    let r = kubemedic(&["explain", "cause", "ProbeTooEarly"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The meaning is wrapped to the terminal: compare as one line.
    let text = r.stdout.replace('\n', " ");
    for needle in [
        "positive evidence",
        "start-up completing",
        "later than the kill time",
        "without that evidence the finding is LivenessProbeFailure",
    ] {
        assert!(text.contains(needle), "{needle:?} missing:\n{}", r.stdout);
    }
}

#[test]
fn crashloop_exit_2_is_a_go_panic_and_old_restarts_stay_quiet() {
    let (code, r) = diagnose_json(&examples().join("crashloop-exit-2"), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        first_cause_covering_pod(&r, "pod4-deployment-").as_deref(),
        Some("AppPanic")
    );
    assert_eq!(
        first_cause_covering_pod(&r, "pod1-deployment-").as_deref(),
        Some("AppPanic")
    );
    let panic = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cause"] == "AppPanic")
        .unwrap();
    assert!(panic["evidence"].as_array().unwrap().iter().any(|e| {
        e["text"]
            .as_str()
            .unwrap()
            .contains("nil pointer dereference")
            && e["source"].as_str().unwrap().contains("previous")
    }));
    // pod2/pod3 restarted weeks ago and run fine now.
    for f in r["findings"].as_array().unwrap() {
        let name = f["object"]["name"].as_str().unwrap();
        if name.starts_with("pod2-") || name.starts_with("pod3-") || name.starts_with("coredns") {
            assert_eq!(f["severity"], "info", "{f}");
        }
    }
}

#[test]
fn startup_failures_each_get_their_own_cause() {
    let (code, r) = diagnose_json(&examples().join("startup-failures"), &[]);
    assert_eq!(code, 1);
    let expect = [
        ("web-", "ImageNotFound"),
        ("payments-", "RegistryAuthFailure"),
        ("search-", "InsufficientResources"),
        ("checkout-", "MissingConfigOrSecret"),
        ("report-", "CNIFailure"),
    ];
    for (pod, cause) in expect {
        assert_eq!(
            first_cause_covering_pod(&r, pod).as_deref(),
            Some(cause),
            "{pod}"
        );
    }
    assert_eq!(
        causes_for(&r, "Service", "cart")
            .first()
            .map(String::as_str),
        Some("ServiceNoEndpoints")
    );
    // Healthy workloads and Services stay quiet.
    for f in r["findings"].as_array().unwrap() {
        let name = f["object"]["name"].as_str().unwrap();
        if name.starts_with("frontend") || name.starts_with("coredns") || name == "kube-dns" {
            assert_eq!(f["severity"], "info", "{f}");
        }
    }
}

#[test]
fn json_output_follows_the_findings_format() {
    let (_, r) = diagnose_json(&examples().join("startup-failures"), &[]);
    let findings = r["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    for f in findings {
        for key in [
            "cause",
            "severity",
            "object",
            "summary",
            "evidence",
            "remediation",
            "confidence",
        ] {
            assert!(f.get(key).is_some(), "finding without {key}: {f}");
        }
        assert!(["critical", "warning", "info"].contains(&f["severity"].as_str().unwrap()));
        assert!(f["object"]["kind"].is_string() && f["object"]["name"].is_string());
        let c = f["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&c));
        for e in f["evidence"].as_array().unwrap() {
            assert!(e["source"].is_string() && e["text"].is_string());
        }
    }
    let s = &r["summary"];
    let crit = findings
        .iter()
        .filter(|f| f["severity"] == "critical")
        .count();
    assert_eq!(s["critical"].as_u64().unwrap() as usize, crit);
    assert_eq!(s["nodes"], 5);
}

#[test]
fn targets_and_min_severity_narrow_the_report() {
    let dir = examples().join("node-notready-xtables");
    let (code, r) = diagnose_json(&dir, &["node/paas-10-239-40-157"]);
    assert_eq!(code, 1);
    let findings = r["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    assert_eq!(findings[0]["object"]["name"], "paas-10-239-40-157");
    assert!(
        findings
            .iter()
            .all(|f| f["object"]["name"] == "paas-10-239-40-157"
                || f["caused_by"]["name"] == "paas-10-239-40-157")
    );

    let (code, r) = diagnose_json(
        &dir,
        &["node/paas-10-239-40-160", "--min-severity", "warning"],
    );
    assert_eq!(code, 0, "{r}");
    assert!(r["findings"].as_array().unwrap().is_empty());

    let (_, r) = diagnose_json(
        &examples().join("crashloop-exit-2"),
        &["deploy/pod4-deployment"],
    );
    let f = r["findings"].as_array().unwrap();
    assert!(!f.is_empty());
    assert!(f.iter().all(|f| {
        f["object"]["name"]
            .as_str()
            .unwrap()
            .starts_with("pod4-deployment")
    }));
}

#[test]
fn text_output_without_a_tty_has_no_colour_and_groups_by_severity() {
    let d = examples().join("node-notready-xtables");
    let r = kubemedic(&["diagnose", "--dump", d.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(!r.stdout.contains('\x1b'), "colour codes on a pipe");
    assert!(r.stdout.starts_with("kubemedic diagnose: "));
    assert!(r.stdout.contains("\nCRITICAL ("));
    assert!(
        r.stdout
            .contains("IptablesLockContention  node/paas-10-239-40-157")
    );
    // Fits 100 columns (the default width off a terminal).
    let widest = r
        .stdout
        .lines()
        .filter(|l| !l.contains("kubectl") && !l.contains("ssh "))
        .map(|l| l.chars().count())
        .max()
        .unwrap();
    assert!(widest <= 100, "line of {widest} columns");

    let r = kubemedic(&["diagnose", "--dump", d.to_str().unwrap(), "-o", "markdown"]);
    assert!(r.stdout.starts_with("# kubemedic diagnosis"));
    assert!(
        r.stdout
            .contains("### `IptablesLockContention` on `node/paas-10-239-40-157`")
    );
}

#[test]
fn fixes_fit_80_columns_and_comments_never_read_as_commands() {
    for example in [
        "node-notready-xtables",
        "crashloop-exit-2",
        "startup-failures",
    ] {
        let d = examples().join(example);
        let r = kubemedic_env(
            &["diagnose", "--dump", d.to_str().unwrap()],
            &[("COLUMNS", "80")],
        );
        let mut in_fix = false;
        let mut item_is_command = false;
        let mut previous = "";
        for line in r.stdout.lines() {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if trimmed == "fix:" {
                in_fix = true;
            } else if indent < 6 {
                in_fix = false;
            }
            let unbreakable = in_fix && !trimmed.contains(' ');
            assert!(
                line.chars().count() <= 80 || unbreakable,
                "{example}: line of {} columns: {line}",
                line.chars().count()
            );
            if in_fix && trimmed != "fix:" {
                if let Some(item) = trimmed.strip_prefix("- ") {
                    item_is_command = ["kubectl", "kubemedic", "ssh", "crane", "docker"]
                        .iter()
                        .any(|c| item.starts_with(&format!("{c} ")));
                } else if item_is_command {
                    assert!(
                        previous.ends_with(" \\") || trimmed.starts_with("# "),
                        "{example}: a wrapped fix line reads as a separate command: {line:?} after {previous:?}"
                    );
                }
            }
            previous = line;
        }
    }
}

#[test]
fn healthy_dump_exits_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let src = examples().join("startup-failures");
    std::fs::copy(src.join("nodes.json"), tmp.path().join("nodes.json")).unwrap();
    copy_dir(&src.join("kube-system"), &tmp.path().join("kube-system"));
    let (code, r) = diagnose_json(tmp.path(), &[]);
    assert_eq!(code, 0, "{r:#}");
    let r = kubemedic(&["diagnose", "--dump", tmp.path().to_str().unwrap()]);
    assert_eq!(r.code, 0);
}

#[test]
fn usage_and_input_errors_exit_two() {
    let r = kubemedic(&["diagnose", "--dump", "/nonexistent/kubemedic-dump"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    let d = examples().join("crashloop-exit-2");
    let r = kubemedic(&["diagnose", "--dump", d.to_str().unwrap(), "widget/x"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("invalid target"), "{}", r.stderr);
    let r = kubemedic(&["diagnose", "--dump", d.to_str().unwrap(), "-o", "yaml"]);
    assert_eq!(r.code, 2);
    let f = tempfile::NamedTempFile::new().unwrap();
    let r = kubemedic(&["diagnose", "--dump", f.path().to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a directory"), "{}", r.stderr);
}

#[test]
fn a_directory_that_is_not_a_dump_a_missing_target_or_namespace_exit_two() {
    // Before: "0 nodes, 0 pods, No problems found" and exit 0 for each of these.
    let empty = tempfile::tempdir().unwrap();
    let r = kubemedic(&["diagnose", "--dump", empty.path().to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(
        r.stderr.contains("is not a dump: the directory is empty"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let ns_dir = examples().join("crashloop-exit-2").join("qld2-production");
    let r = kubemedic(&["diagnose", "--dump", ns_dir.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("looks like one namespace directory of a dump"),
        "{}",
        r.stderr
    );
    let r = kubemedic(&["diagnose", "--dump", examples().to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("dumps in subdirectories"), "{}", r.stderr);
    let r = kubemedic(&["diagnose", "--dump", "/proc/self"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not a dump"), "{}", r.stderr);

    let d = examples().join("crashloop-exit-2");
    let d = d.to_str().unwrap();
    let r = kubemedic(&["diagnose", "--dump", d, "pod/no-such-pod"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("pod/no-such-pod not found in the dump"),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("No problems found"), "{}", r.stdout);
    // One good target, one typo: the good one is reported, the exit code says the input was wrong.
    let r = kubemedic(&[
        "diagnose",
        "--dump",
        d,
        "deploy/pod4-deployment",
        "node/typo",
    ]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.contains("pod4-deployment"), "{}", r.stdout);
    assert!(r.stderr.contains("node/typo not found"), "{}", r.stderr);
    let r = kubemedic(&["diagnose", "--dump", d, "-n", "no-such-namespace"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("namespace no-such-namespace is not in the dump"),
        "{}",
        r.stderr
    );
}

#[test]
fn malformed_file_is_reported_by_name_and_position_and_the_rest_is_diagnosed() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&examples().join("node-notready-xtables"), tmp.path());
    // Truncate one file mid-document and break one item's type in another.
    let pods = tmp.path().join("kube-system/pods.json");
    let text = std::fs::read_to_string(&pods).unwrap();
    std::fs::write(&pods, &text[..text.len() / 2]).unwrap();
    let events = tmp.path().join("default/events.json");
    let text = std::fs::read_to_string(&events).unwrap();
    std::fs::write(
        &events,
        text.replacen("\"count\": 9", "\"count\": \"nine\"", 1),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("_nodes/paas-10-239-40-160/kubelet.log"),
        b"bad \xff\xfe utf8\n",
    )
    .unwrap();

    let (code, r) = diagnose_json(tmp.path(), &[]);
    assert_eq!(code, 1);
    let skipped: Vec<String> = r["summary"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}: {}",
                s["input"].as_str().unwrap(),
                s["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        skipped
            .iter()
            .any(|s| s.starts_with("kube-system/pods.json: truncated JSON at line")),
        "{skipped:#?}"
    );
    assert!(
        skipped
            .iter()
            .any(|s| s.starts_with("default/events.json: item ")
                && s.contains("field `count`")
                && s.contains("line ")),
        "{skipped:#?}"
    );
    // The rest is still diagnosed.
    assert_eq!(
        causes_for(&r, "Node", "paas-10-239-40-157")
            .first()
            .map(String::as_str),
        Some("IptablesLockContention")
    );
    let text = kubemedic(&["diagnose", "--dump", tmp.path().to_str().unwrap()]);
    assert!(text.stdout.contains("SKIPPED INPUTS"), "{}", text.stdout);
    assert!(text.stdout.contains("kube-system/pods.json"));
}

#[test]
fn explain_exit_codes_and_causes() {
    let r = kubemedic(&["explain", "exit-code", "137", "-o", "json"]);
    assert_eq!(r.code, 0);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["signal"]["name"], "SIGKILL");
    assert!(
        v["likelyCauses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["cause"] == "OOMKilled")
    );

    let r = kubemedic(&["explain", "exit-code", "2"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("AppPanic"), "{}", r.stdout);

    let r = kubemedic(&["explain", "exit-code", "-1", "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["effective"], 255);

    let r = kubemedic(&["explain", "cause", "iptableslockcontention"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.starts_with("IptablesLockContention: "),
        "{}",
        r.stdout
    );

    let r = kubemedic(&["explain", "cause", "OOMKiled"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("did you mean OOMKilled?"), "{}", r.stderr);
    assert!(r.stderr.contains("IptablesLockContention"));

    let r = kubemedic(&["explain", "cause", "NoSuchThing", "-o", "json"]);
    assert_eq!(r.code, 2);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v["validCauses"].as_array().unwrap().len() >= 50);
}

#[test]
fn explain_speaks_to_users_without_internal_jargon() {
    let r = kubemedic(&["explain", "cause", "-o", "json"]);
    assert_eq!(r.code, 0);
    let all: Value = serde_json::from_str(&r.stdout).unwrap();
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cause"].as_str().unwrap())
        .collect();
    assert!(ids.len() >= 50);
    for id in ids {
        let r = kubemedic(&["explain", "cause", id]);
        assert_eq!(r.code, 0, "{id}: {}", r.stderr);
        for jargon in ["seed", "fixture", "analyser", "snapshot"] {
            assert!(
                !r.stdout.to_lowercase().contains(jargon),
                "explain cause {id} says {jargon:?}:\n{}",
                r.stdout
            );
        }
        assert!(r.stdout.contains("\nBased on: "), "{id}:\n{}", r.stdout);
    }
}

#[test]
fn a_bad_target_says_what_a_target_is_once() {
    let d = examples().join("crashloop-exit-2");
    for (target, reason) in [
        ("pod", "no KIND/ before the name"),
        ("widget/x", "unknown kind widget"),
        ("/x", "empty kind"),
        ("pod/a/b/c", "more than two slashes"),
    ] {
        let r = kubemedic(&["diagnose", "--dump", d.to_str().unwrap(), target]);
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains(reason), "{target}: {}", r.stderr);
        assert_eq!(r.stderr.matches("expected").count(), 0, "{}", r.stderr);
        assert_eq!(r.stderr.matches("a target is").count(), 1, "{}", r.stderr);
    }
}

#[test]
fn kubectl_plugin_binary_runs_the_same_cli() {
    let plugin = env!("CARGO_BIN_EXE_kubectl-medic");
    let d = examples().join("crashloop-exit-2");
    let out = kubemedic_testbed::child::output(
        Command::new(plugin).args(["diagnose", "--dump", d.to_str().unwrap(), "-o", "json"]),
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!v["findings"].as_array().unwrap().is_empty());
}
