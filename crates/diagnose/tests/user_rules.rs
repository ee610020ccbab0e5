//! Rules users add in YAML: a message pattern mapped to a cause of their own or a built-in one,
//! ranked with the built-in findings.
#![allow(clippy::unwrap_used)]

mod support;

use kubemedic_diagnose::rules::RuleSet;
use kubemedic_diagnose::{Cause, diagnose, diagnose_with};
use kubemedic_model::NodeLogSource;
use support::*;

const VENDOR: &str = r#"
causes:
  - id: VendorCSIStaleLock
    title: Stale vendor CSI volume lock
    meaning: The vendor's CSI driver left a volume lock behind after a node crash.
    fix: ["vendorctl unlock <volume>"]
rules:
  - id: vendor-csi-stale-lock
    match:
      field: event.message
      reason: FailedMount
      regex: 'csi-vendor: volume (?P<vol>\S+) is locked by node (\S+)'
    cause: VendorCSIStaleLock
    severity: critical
    confidence: 0.92
    summary: 'pod {pod}: volume {vol} is still locked by node {2}'
    fix: ['vendorctl unlock {vol} --holder {2}   # then: kubectl -n {namespace} delete pod {pod}']
  - id: nic-firmware
    match: {field: node.log, source: kernel, regex: 'ixgbe .* Detected Tx Unit Hang'}
    cause: NodePodNetworkDown
    confidence: 0.8
    summary: 'node {node}: the NIC driver reports a TX hang'
"#;

#[test]
fn a_user_rule_names_its_own_cause_first_with_its_templates() {
    let mut s = base();
    s.pods.push(creating_pod("api-1"));
    s.events.push(pod_event("api-1", "FailedMount", "MountVolume.SetUp failed for volume \"pvc-7f3a\" : rpc error: code = Internal desc = csi-vendor: volume pvc-7f3a is locked by node n9", 12));
    // Without the rule the built-in reading is a volume attach failure.
    assert_eq!(
        first_cause(&diagnose(&s), &pod_ref("api-1")),
        Some(Cause::VolumeAttachFailure)
    );
    let mut rules = RuleSet::default();
    rules.add_file("vendor.yaml", VENDOR).unwrap();
    let report = diagnose_with(&s, &rules);
    let f = &findings_for(&report, &pod_ref("api-1"))[0];
    assert_eq!(f.cause.as_str(), "VendorCSIStaleLock");
    assert!(f.cause.is_user());
    assert_eq!(
        f.summary,
        "pod api-1: volume pvc-7f3a is still locked by node n9"
    );
    assert_eq!(
        f.remediation,
        vec!["vendorctl unlock pvc-7f3a --holder n9   # then: kubectl -n shop delete pod api-1"]
    );
    assert!(
        f.evidence
            .iter()
            .any(|e| e.source == "rule" && e.text == "vendor-csi-stale-lock (vendor.yaml:8)"),
        "{:#?}",
        f.evidence
    );
    // The built-in reading stays, ranked after it.
    assert!(
        findings_for(&report, &pod_ref("api-1"))
            .iter()
            .any(|f| f.cause == Cause::VolumeAttachFailure)
    );
    // JSON carries the user's ID and reads back.
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("\"cause\":\"VendorCSIStaleLock\""));
    let back: kubemedic_diagnose::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
}

#[test]
fn a_user_rule_can_map_node_log_lines_to_a_built_in_cause() {
    let mut s = base();
    node_log(
        &mut s,
        "n2",
        NodeLogSource::Kernel,
        "Nov 23 09:51:12 n2 kernel: ixgbe 0000:3b:00.0 eth0: Detected Tx Unit Hang\n",
    );
    // Other sources and old lines do not count.
    node_log(
        &mut s,
        "n1",
        NodeLogSource::Syslog,
        "Nov 23 09:51:12 n1 kernel: ixgbe 0000:3b:00.0 eth0: Detected Tx Unit Hang\n",
    );
    node_log(
        &mut s,
        "n1",
        NodeLogSource::Kernel,
        "Nov 12 09:51:12 n1 kernel: ixgbe 0000:3b:00.0 eth0: Detected Tx Unit Hang\n",
    );
    let mut rules = RuleSet::default();
    rules.add_file("vendor.yaml", VENDOR).unwrap();
    let report = diagnose_with(&s, &rules);
    let f = &findings_for(&report, &node_ref("n2"))[0];
    assert_eq!(f.cause, Cause::NodePodNetworkDown);
    assert_eq!(f.summary, "node n2: the NIC driver reports a TX hang");
    assert_eq!(f.evidence[0].source, "node n2 kernel.log line 1");
    assert!(
        !f.remediation.is_empty(),
        "a built-in cause brings its catalog fix"
    );
    assert!(
        findings_for(&report, &node_ref("n1")).is_empty(),
        "{report:#?}"
    );
}

#[test]
fn healthy_pods_are_not_matched() {
    let mut s = base();
    s.pods.push(pod("api-1", serde_json::json!({})));
    logs(
        &mut s,
        "api-1",
        None,
        Some("csi-vendor: volume v is locked by node n9\n"),
    );
    let mut rules = RuleSet::default();
    rules
        .add_file(
            "r.yaml",
            "rules:\n  - id: r\n    match: {field: container.log, regex: 'locked by node'}\n    cause: AppError\n",
        )
        .unwrap();
    assert!(diagnose_with(&s, &rules).findings.is_empty());
}
