//! Shared by the deploy tests: the artifacts under deploy/ read as Kubernetes objects, helm run
//! with a time limit, and the labels Helm adds that the plain manifests do not carry.
#![allow(clippy::unwrap_used, dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The chart's directory.
pub fn chart() -> PathBuf {
    repo().join("deploy/helm/kubemedic")
}

/// Every document of a multi-document YAML text (empty documents left out).
pub fn yaml_docs(text: &str, what: &str) -> Vec<Value> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).unwrap_or_else(|e| panic!("{what}: not YAML: {e}"));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// The objects of deploy/manifests/*.yaml, in file order (as `kubectl apply -f` takes them).
pub fn plain_manifests() -> Vec<Value> {
    let dir = repo().join("deploy/manifests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in {}", dir.display());
    files
        .iter()
        .flat_map(|f| {
            yaml_docs(
                &std::fs::read_to_string(f).unwrap(),
                &f.display().to_string(),
            )
        })
        .collect()
}

/// `kind/namespace/name` of an object.
pub fn key(obj: &Value) -> String {
    format!(
        "{}/{}/{}",
        obj["kind"].as_str().unwrap_or("?"),
        obj["metadata"]["namespace"].as_str().unwrap_or(""),
        obj["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// Objects by [`key`]; a duplicate key fails the test.
pub fn by_key(objects: Vec<Value>) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for obj in objects {
        let k = key(&obj);
        assert!(map.insert(k.clone(), obj).is_none(), "{k} defined twice");
    }
    map
}

/// The object of `kind` named `name`.
pub fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// Labels only Helm renders (chart version, manager, app version), removed from `obj`'s own
/// labels and its pod template's.
pub fn strip_helm_labels(obj: &mut Value) {
    const HELM_ONLY: [&str; 3] = [
        "helm.sh/chart",
        "app.kubernetes.io/managed-by",
        "app.kubernetes.io/version",
    ];
    for path in ["/metadata/labels", "/spec/template/metadata/labels"] {
        if let Some(map) = obj.pointer_mut(path).and_then(Value::as_object_mut) {
            for l in HELM_ONLY {
                map.remove(l);
            }
        }
    }
}

/// An exit code and both outputs; a run still going after `limit` is killed and fails the test.
/// The child starts with default signal dispositions, whatever the test inherited.
pub fn run(mut cmd: Command, limit: Duration) -> (i32, String, String) {
    let what = format!("{cmd:?}");
    let out =
        kubemedic_testbed::child::output(&mut cmd, limit).unwrap_or_else(|e| panic!("{what}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// helm from the testbed build (`testbed/build`), or `None` after the testbed said why.
pub async fn helm() -> Option<PathBuf> {
    let dir = kubemedic_testbed::Testbed::binaries().await?;
    let helm = dir.join("helm");
    assert!(
        helm.is_file(),
        "{} missing: testbed/build builds helm",
        helm.display()
    );
    Some(helm)
}

/// `helm ARGS` (no kubeconfig unless the args give one), output and exit code; two minutes
/// at most.
pub fn helm_run(helm: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(helm);
    cmd.args(args)
        .env_remove("KUBECONFIG")
        .env(
            "HELM_CACHE_HOME",
            std::env::temp_dir().join("kubemedic-helm-cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("kubemedic-helm-config"),
        )
        .env(
            "HELM_DATA_HOME",
            std::env::temp_dir().join("kubemedic-helm-data"),
        );
    run(cmd, Duration::from_secs(120))
}

/// `helm template kubemedic <chart> -n kubemedic EXTRA...`: the rendered objects.
pub fn helm_template(helm: &Path, extra: &[&str]) -> Vec<Value> {
    let chart = chart();
    let mut args = vec![
        "template",
        "kubemedic",
        chart.to_str().unwrap(),
        "--namespace",
        "kubemedic",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = helm_run(helm, &args);
    assert_eq!(code, 0, "helm {args:?} failed: {err}");
    yaml_docs(&out, "helm template output")
}
