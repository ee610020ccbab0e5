//! The dump formats users have (kubectl's JSON and `--output yaml` dumps, events.k8s.io lists,
//! ReplicationControllers, kubectl versions that omit files) and directories that are not dumps,
//! on real kubectl output (tests/fixtures, see its README) and hostile variations of it.
#![allow(clippy::unwrap_used)]

use kubemedic_cluster::{DumpError, DumpOptions, load_dump, load_dump_with};
use kubemedic_model::Snapshot;
use std::fs;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A copy of a fixture dump in a temporary directory, to damage.
fn copy_of(name: &str) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for e in fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &target);
            } else {
                fs::copy(e.path(), target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&fixture(name), dir.path());
    dir
}

fn notes(snap: &Snapshot) -> Vec<String> {
    snap.skipped
        .iter()
        .map(|s| format!("{}: {}", s.input, s.reason))
        .collect()
}

fn pods_json_notes(snap: &Snapshot) -> Vec<String> {
    notes(snap)
        .into_iter()
        .filter(|n| n.starts_with("shop/pods.json"))
        .collect()
}

fn names<T: k8s_openapi::Metadata<Ty = kubemedic_model::objects::ObjectMeta>>(
    v: &[T],
) -> Vec<String> {
    v.iter()
        .map(|o| {
            let m = o.metadata();
            format!(
                "{}/{}",
                m.namespace.as_deref().unwrap_or(""),
                m.name.as_deref().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn kubectl_json_dump_reads_every_file_including_replication_controllers() {
    let snap = load_dump(&fixture("kubectl-1.32-json")).unwrap();
    assert!(snap.skipped.is_empty(), "{:#?}", notes(&snap));
    assert!(snap.missing.is_empty(), "{:?}", snap.missing);
    assert_eq!(snap.nodes.len(), 3);
    assert_eq!(snap.pods.len(), 4);
    assert_eq!(names(&snap.replication_controllers), ["shop/legacy"]);
    let rc = &snap.replication_controllers[0];
    assert_eq!(rc.spec.as_ref().unwrap().replicas, Some(1));
    assert_eq!(rc.status.as_ref().unwrap().replicas, 1, "status read too");
    // The last-applied copy of the manifest is not kept.
    assert!(
        rc.metadata
            .annotations
            .as_ref()
            .is_none_or(|a| a.is_empty())
    );
    assert_eq!(snap.deployments.len(), 2);
    assert_eq!(snap.replica_sets.len(), 2);
    assert_eq!(snap.services.len(), 2);
    assert!(snap.events.len() >= 10, "{}", snap.events.len());
    // kubectl wrote "Request log error" instead of logs (kwok serves none): nothing kept, and
    // for pods that never started that is normal, not a note.
    assert!(snap.container_logs.is_empty());
}

#[test]
fn kubectl_yaml_dump_reads_the_same_objects_as_the_json_one() {
    let json = load_dump(&fixture("kubectl-1.32-json")).unwrap();
    let yaml = load_dump(&fixture("kubectl-1.32-yaml")).unwrap();
    assert!(yaml.skipped.is_empty(), "{:#?}", notes(&yaml));
    assert!(yaml.missing.is_empty(), "{:?}", yaml.missing);
    assert_eq!(yaml.pods, json.pods);
    assert_eq!(yaml.deployments, json.deployments);
    assert_eq!(yaml.replica_sets, json.replica_sets);
    assert_eq!(yaml.replication_controllers, json.replication_controllers);
    assert_eq!(yaml.services, json.services);
    // Taken seconds apart: heartbeats moved, the set of nodes and events did not.
    assert_eq!(names(&yaml.nodes), names(&json.nodes));
    assert_eq!(yaml.events.len(), json.events.len());
}

/// Every JSON file parsed as it is read, as files larger than the read buffer are (a 5,000-node
/// `nodes.json` is ~90 MB).
fn streamed() -> DumpOptions {
    DumpOptions {
        max_whole_read_bytes: 0,
        ..DumpOptions::default()
    }
}

#[test]
fn files_larger_than_the_read_buffer_give_the_same_objects() {
    let whole = load_dump(&fixture("kubectl-1.32-json")).unwrap();
    let streamed = load_dump_with(&fixture("kubectl-1.32-json"), &streamed()).unwrap();
    assert!(streamed.skipped.is_empty(), "{:#?}", notes(&streamed));
    assert_eq!(streamed.pods.len(), 4);
    assert_eq!(streamed.pods, whole.pods);
    assert_eq!(streamed.nodes, whole.nodes);
    assert_eq!(streamed.events, whole.events);
    assert_eq!(streamed.deployments, whole.deployments);
    assert_eq!(streamed.replica_sets, whole.replica_sets);
    assert_eq!(
        streamed.replication_controllers,
        whole.replication_controllers
    );
    assert_eq!(streamed.services, whole.services);
}

#[test]
fn damaged_or_unreadable_files_larger_than_the_read_buffer_are_named_as_any_other() {
    let dir = copy_of("kubectl-1.32-json");
    // A wrong type in one item: that item is skipped, the other kept.
    let pods = dir.path().join("shop/pods.json");
    let text = fs::read_to_string(&pods).unwrap();
    let damaged = text.replacen("\"restartCount\": 0", "\"restartCount\": \"many\"", 1);
    assert_ne!(text, damaged);
    fs::write(&pods, damaged).unwrap();
    // Cut short.
    let services = dir.path().join("default/services.json");
    let text = fs::read_to_string(&services).unwrap();
    fs::write(&services, &text[..text.len() / 2]).unwrap();
    // Cannot be opened: a link to nothing.
    let events = dir.path().join("default/events.json");
    fs::remove_file(&events).unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone.json"), &events).unwrap();

    let whole = load_dump(dir.path()).unwrap();
    let streamed = load_dump_with(dir.path(), &streamed()).unwrap();
    let n = notes(&streamed);
    assert_eq!(n, notes(&whole), "the same notes as when read whole");
    assert!(
        n.iter().any(|r| r.starts_with("shop/pods.json: item ")
            && r.contains("field `status.containerStatuses[0].restartCount`")),
        "{n:#?}"
    );
    assert!(
        n.iter()
            .any(|r| r.starts_with("default/services.json: truncated JSON at line ")),
        "{n:#?}"
    );
    assert!(
        n.iter()
            .any(|r| r.starts_with("default/events.json: cannot read: ")),
        "{n:#?}"
    );
    assert_eq!(streamed.pods, whole.pods);
    assert_eq!(streamed.pods.len(), 3, "the other pods are kept");
    assert_eq!(names(&streamed.services), ["shop/api"]);
    assert!(
        streamed
            .events
            .iter()
            .all(|e| e.metadata.namespace.as_deref() == Some("shop"))
    );
}

#[test]
fn bad_yaml_names_file_line_and_field_and_the_rest_loads() {
    let dir = copy_of("kubectl-1.32-yaml");
    // A wrong type in one item: that item is skipped with its field path, the other kept.
    let pods = dir.path().join("default/pods.yaml");
    let text = fs::read_to_string(&pods).unwrap();
    let damaged = text.replacen("restartCount: 0", "restartCount: many", 1);
    assert_ne!(text, damaged);
    fs::write(&pods, damaged).unwrap();
    // Broken syntax in another file: the whole file is skipped with its line.
    fs::write(
        dir.path().join("shop/services.yaml"),
        "---\napiVersion: v1\nitems:\n- metadata:\n    name: \"api\n  spec: {}\nkind: ServiceList\n",
    )
    .unwrap();
    let snap = load_dump(dir.path()).unwrap();
    let n = notes(&snap);
    assert!(
        n.iter()
            .any(|r| r.starts_with("default/pods.yaml: item 0 (default/web-")
                && r.contains("field `status.containerStatuses[0].restartCount`")
                && r.contains("line ")),
        "{n:#?}"
    );
    assert!(
        n.iter()
            .any(|r| r.starts_with("shop/services.yaml: invalid YAML at line ")),
        "{n:#?}"
    );
    assert_eq!(snap.pods.len(), 3, "the other pods are kept");
    assert_eq!(names(&snap.services), ["default/kubernetes"]);
}

#[test]
fn events_k8s_io_items_in_a_plain_v1_list_are_converted() {
    // `kubectl get events.v1.events.k8s.io -o json`: list apiVersion v1, items events.k8s.io/v1.
    let dir = copy_of("kubectl-1.32-json");
    fs::copy(
        fixture("events-v1-kubectl.json"),
        dir.path().join("shop/events.json"),
    )
    .unwrap();
    let snap = load_dump(dir.path()).unwrap();
    assert!(snap.skipped.is_empty(), "{:#?}", notes(&snap));
    let shop: Vec<_> = snap
        .events
        .iter()
        .filter(|e| e.metadata.namespace.as_deref() == Some("shop"))
        .collect();
    assert_eq!(shop.len(), 5);
    let scheduled = shop
        .iter()
        .find(|e| e.reason.as_deref() == Some("Scheduled"))
        .unwrap();
    assert_eq!(
        scheduled.involved_object.name.as_deref(),
        Some("api-7bc4d67567-tg5kr"),
        "`regarding` becomes involvedObject"
    );
    assert!(
        scheduled
            .message
            .as_deref()
            .unwrap()
            .starts_with("Successfully assigned shop/api-7bc4d67567-tg5kr"),
        "`note` becomes message"
    );
    let legacy = shop
        .iter()
        .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .unwrap();
    assert_eq!(legacy.involved_object.name.as_deref(), Some("legacy-spl8h"));
}

#[test]
fn a_dump_from_a_kubectl_that_omits_files_says_what_is_missing() {
    // Older kubectl wrote no daemonsets/deployments/replicasets; some dumps lack nodes.json too.
    let dir = copy_of("kubectl-1.32-json");
    for ns in ["default", "shop"] {
        for f in ["daemonsets.json", "deployments.json", "replicasets.json"] {
            fs::remove_file(dir.path().join(ns).join(f)).unwrap();
        }
    }
    fs::remove_file(dir.path().join("nodes.json")).unwrap();
    let snap = load_dump(dir.path()).unwrap();
    assert!(snap.skipped.is_empty(), "{:#?}", notes(&snap));
    assert_eq!(snap.pods.len(), 4, "what is there is read");
    let missing: Vec<String> = snap
        .missing
        .iter()
        .map(|m| format!("{}: {}", m.input, m.reason))
        .collect();
    assert_eq!(missing.len(), 4, "{missing:#?}");
    assert!(
        missing[0].starts_with("nodes.json: missing"),
        "{missing:#?}"
    );
    assert!(
        missing.iter().any(|m| m.starts_with(
            "replicasets.json: missing in 2 of 2 namespace directories (default, shop)"
        )),
        "{missing:#?}"
    );
}

#[test]
fn a_list_of_the_wrong_kind_is_skipped_not_read_as_its_file_name() {
    let dir = copy_of("kubectl-1.32-json");
    // A NodeList where pods belong: the nodes must not become pods.
    fs::copy(
        dir.path().join("nodes.json"),
        dir.path().join("shop/pods.json"),
    )
    .unwrap();
    let snap = load_dump(dir.path()).unwrap();
    // (With shop's pods unknown, every log there is read: kwok's "Request log error" notes.)
    assert_eq!(
        pods_json_notes(&snap),
        ["shop/pods.json: holds a NodeList, but its name says PodList; file skipped"]
    );
    assert_eq!(
        names(&snap.pods),
        [
            "default/web-69c6f74b8b-5ppwn",
            "default/web-69c6f74b8b-cqddw"
        ]
    );
    assert_eq!(snap.nodes.len(), 3);
}

#[test]
fn items_without_a_name_are_skipped_with_their_index() {
    let dir = copy_of("kubectl-1.32-json");
    let path = dir.path().join("shop/pods.json");
    let mut list: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    list["items"][1]["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    fs::write(&path, serde_json::to_vec_pretty(&list).unwrap()).unwrap();
    let snap = load_dump(dir.path()).unwrap();
    assert_eq!(
        pods_json_notes(&snap),
        ["shop/pods.json: item 1: no metadata.name; item skipped"]
    );
    assert_eq!(snap.pods.len(), 3);
    assert!(
        snap.pods
            .iter()
            .all(|p| p.metadata.name.as_deref().is_some_and(|n| !n.is_empty()))
    );
}

fn not_a_dump(dir: &Path) -> String {
    match load_dump(dir) {
        Err(e @ DumpError::NotADump { .. }) => e.to_string(),
        Err(e) => panic!("wrong error for {}: {e}", dir.display()),
        Ok(s) => panic!(
            "{} loaded as a dump: {} nodes, {} pods",
            dir.display(),
            s.nodes.len(),
            s.pods.len()
        ),
    }
}

#[test]
fn directories_that_are_not_dumps_are_refused_with_what_they_are() {
    let empty = tempfile::tempdir().unwrap();
    let msg = not_a_dump(empty.path());
    assert!(
        msg.ends_with("is not a dump: the directory is empty"),
        "{msg}"
    );

    // The parent of dumps.
    let parent = tempfile::tempdir().unwrap();
    let a = copy_of("kubectl-1.32-json");
    fs::rename(a.path(), parent.path().join("prod-eu")).unwrap();
    let msg = not_a_dump(parent.path());
    assert!(
        msg.contains("it holds 1 dump in subdirectories; pass one of them: ")
            && msg.contains("prod-eu"),
        "{msg}"
    );

    // A namespace directory of a dump.
    let msg = not_a_dump(&fixture("kubectl-1.32-json/shop"));
    assert!(
        msg.contains("looks like one namespace directory of a dump")
            && msg.contains("kubectl-1.32-json"),
        "{msg}"
    );

    // Something else entirely.
    let msg = not_a_dump(Path::new("/proc/self"));
    assert!(msg.contains("no nodes.json"), "{msg}");
}
