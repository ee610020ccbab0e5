//! `kubemedic runbooks` and `kubemedic heal` through the built binary: listing, validation
//! errors with file, line and field, plans from the bundled dumps, the shipped CRD.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

fn kubemedic(args: &[&str]) -> Output {
    kubemedic_testbed::child::output(
        Command::new(env!("CARGO_BIN_EXE_kubemedic"))
            .args(args)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .env_remove("KUBEMEDIC_RUNBOOKS"),
        std::time::Duration::from_secs(60),
    )
    .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn runbooks_list_shows_every_default_with_its_mode() {
    let o = kubemedic(&["runbooks", "list"]);
    assert!(o.status.success());
    let out = stdout(&o);
    for name in [
        "cni-failure",
        "runtime-unresponsive",
        "node-disk-full",
        "kernel-deadlock",
        "node-not-ready",
        "pod-crashloop",
        "iptables-lock",
    ] {
        assert!(out.contains(name), "{name} missing:\n{out}");
    }
    assert!(out.contains("cni-failure            dry-run"), "{out}");
    let o = kubemedic(&["runbooks", "list", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runbooks"]["cni-failure"]["runbook"]["mode"], "dry-run");
    assert_eq!(
        v["runbooks"]["cni-failure"]["runbook"]["steps"][0]["action"]["action"],
        "delete-pod"
    );
}

#[test]
fn a_user_directory_overrides_and_bad_files_are_refused_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("enable.yaml"),
        "name: cni-failure\nmode: enabled\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "name: mine\nmatch:\n  causes: [NoSuchCause]\nsteps:\n  - action: cordon\n",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let o = kubemedic(&["runbooks", "list", "--runbooks", d]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("cni-failure            enabled"), "{out}");
    assert!(!out.contains("mine "), "{out}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.yaml:3: match.causes[0]: unknown cause \"NoSuchCause\""),
        "{err}"
    );
    let o = kubemedic(&["runbooks", "show", "cni-failure", "--runbooks", d]);
    assert!(stdout(&o).contains("# overridden by"), "{}", stdout(&o));
}

#[test]
fn validate_names_file_line_field_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "name: x\nmatch:\n  conditions:\n    - type: Ready\n      status: \"False\"\n      for: 5\nsteps:\n  - action: restart-docker\n",
    )
    .unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, "name: kernel-deadlock\nenableSteps: [reboot]\n").unwrap();
    let o = kubemedic(&[
        "runbooks",
        "validate",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("good.yaml: ok: override of kernel-deadlock"),
        "{out}"
    );
    assert!(
        out.contains("bad.yaml:6: match.conditions[0].for: bad duration \"5\""),
        "{out}"
    );
    assert!(
        out.contains("bad.yaml:8: steps[0].action: unknown action \"restart-docker\""),
        "{out}"
    );
    let o = kubemedic(&["runbooks", "validate", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn plan_on_the_xtables_dump_alerts_and_restarts_nothing() {
    let o = kubemedic(&[
        "heal",
        "plan",
        "--dump",
        "examples/dumps/node-notready-xtables",
        "-o",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entries = v["plan"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{entries:#?}");
    for e in entries {
        assert_eq!(e["runbook"], "iptables-lock");
        assert_eq!(e["decision"], "start");
        assert_eq!(e["dryRun"], false);
    }
    let o = kubemedic(&[
        "heal",
        "plan",
        "--dump",
        "examples/dumps/node-notready-xtables",
    ]);
    let out = stdout(&o);
    assert!(
        out.contains("iptables-lock → node/paas-10-239-40-157"),
        "{out}"
    );
    assert!(out.contains("cordon [step disabled]"), "{out}");
}

#[test]
fn plan_with_a_bad_safety_config_fails_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("heal.yaml");
    std::fs::write(&cfg, "maxDisrupted: lots\n").unwrap();
    let o = kubemedic(&[
        "heal",
        "plan",
        "--dump",
        "examples/dumps/crashloop-exit-2",
        "--heal-config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("heal.yaml: line 1"), "{err}");
}

/// The CRD the manifests and the chart ship is the one the binary generates (the chart's copy
/// inside its `crds.install` condition).
#[test]
fn the_shipped_crd_is_the_generated_one() {
    let o = kubemedic(&["heal", "crd"]);
    assert!(o.status.success());
    let generated = stdout(&o);
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/manifests/05-crds.yaml"
    ))
    .unwrap();
    assert_eq!(
        generated, shipped,
        "regenerate: kubemedic heal crd > deploy/manifests/05-crds.yaml"
    );
    let chart = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/helm/kubemedic/templates/crds.yaml"
    ))
    .unwrap();
    assert_eq!(
        chart,
        format!("{{{{- if .Values.crds.install }}}}\n{generated}{{{{- end }}}}\n"),
        "regenerate: (echo '{{{{- if .Values.crds.install }}}}'; kubemedic heal crd; echo '{{{{- end }}}}') > deploy/helm/kubemedic/templates/crds.yaml"
    );
}
