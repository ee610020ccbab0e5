//! The offline path agrees with the engine on every real wording: each wording fixture written
//! as a dump (`kubectl cluster-info dump` layout plus `_nodes/`) and read back gives the same
//! findings as the snapshot it came from, and `kubemedic diagnose --dump` names the same cause.
#![allow(clippy::unwrap_used)]

#[path = "../../diagnose/tests/support/mod.rs"]
mod support;

use kubemedic_diagnose::diagnose;
use support::wordings::{load, object};

fn key(r: &kubemedic_diagnose::Report) -> Vec<(String, String, String)> {
    r.findings
        .iter()
        .map(|f| (f.object.to_string(), f.cause.to_string(), f.summary.clone()))
        .collect()
}

#[test]
fn every_wording_reads_back_from_a_dump_with_the_same_findings() {
    let cases = load();
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("{i:03}-{}", c.w.id));
        kubemedic_cluster::write_dump(&c.snap, &dir, "wordings test").unwrap();
        let back = kubemedic_cluster::load_dump(&dir).unwrap();
        let (want, got) = (key(&diagnose(&c.snap)), key(&diagnose(&back)));
        if want != got {
            failures.push(format!(
                "{}: in memory {want:#?}\nfrom the dump {got:#?}",
                c.w.id
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // And through the binary, for one wording of each class.
    let mut seen = std::collections::BTreeSet::new();
    for (i, c) in cases.iter().enumerate() {
        if !seen.insert(c.class.clone()) {
            continue;
        }
        let dir = tmp.path().join(format!("{i:03}-{}", c.w.id));
        let out = kubemedic_testbed::child::output(
            std::process::Command::new(env!("CARGO_BIN_EXE_kubemedic")).args([
                "diagnose",
                "--dump",
                dir.to_str().unwrap(),
                "-o",
                "json",
            ]),
            std::time::Duration::from_secs(60),
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let obj = object(&c.expect.object);
        let first = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| {
                f["object"]["kind"] == obj.kind.as_str() && f["object"]["name"] == obj.name.as_str()
            })
            .unwrap_or_else(|| panic!("{}: no finding for {obj}", c.w.id));
        assert_eq!(first["cause"], c.expect.cause.as_str(), "{}", c.w.id);
    }
}
