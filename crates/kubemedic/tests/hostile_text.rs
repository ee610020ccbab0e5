//! No terminal injection: escape sequences, BEL, NUL, backspace, carriage returns, C1 controls
//! and bidi overrides planted in a dump (container logs, event messages, object names, file
//! names) reach the human outputs (text, markdown) only as visible escapes, while the JSON
//! output keeps the exact strings.
#![allow(clippy::unwrap_used)]

mod support;

use support::copy_dir;

use serde_json::Value;
use std::path::Path;

/// Sets the window title, clears the screen, homes the cursor, rings the bell, and more.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[H\u{0}\u{8}\u{7f}\u{9b}31m\u{202e}gpj.exe\rNo problems found.";

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/dumps")
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// The crash-loop example with hostile text in a panic line (summary and evidence), an event
/// message, a pod name, a node log line and a damaged file whose directory name is hostile.
fn hostile_dump() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&examples().join("crashloop-exit-2"), tmp.path());
    let ns = tmp.path().join("qld2-production");
    edit(
        &ns.join("pod1-deployment-56744f755c-hx2w7/previous-logs.txt"),
        "panic: runtime error: invalid memory address or nil pointer dereference",
        &format!("panic: runtime error: {HOSTILE}"),
    );
    let json_hostile = serde_json::to_string(HOSTILE).unwrap();
    let json_hostile = json_hostile.trim_matches('"');
    edit(
        &ns.join("events.json"),
        "Back-off restarting failed container",
        &format!("Back-off restarting failed container {json_hostile}"),
    );
    edit(
        &ns.join("pods.json"),
        "\"name\": \"pod3-deployment-75fbbb8b6b-sh9s8\"",
        &format!("\"name\": \"pod3-{json_hostile}\""),
    );
    let evil = tmp.path().join("evil\u{1b}]0;dir\u{7}ns");
    std::fs::create_dir_all(&evil).unwrap();
    std::fs::write(
        evil.join("pods.json"),
        "{\"kind\": \"PodList\", \"items\": [",
    )
    .unwrap();
    tmp
}

/// Every character a terminal could act on, other than the line feeds of the layout.
fn dangerous(text: &str) -> Vec<(usize, char)> {
    text.char_indices()
        .filter(|(_, c)| {
            (c.is_control() && *c != '\n')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

#[test]
fn text_and_markdown_show_control_characters_and_json_keeps_them() {
    let dump = hostile_dump();
    let dir = dump.path().to_str().unwrap();

    for format in ["text", "markdown"] {
        let (code, stdout, stderr) = support::kubemedic(&["diagnose", "--dump", dir, "-o", format]);
        assert_eq!(code, 1, "{stderr}");
        let bad = dangerous(&stdout);
        assert!(
            bad.is_empty(),
            "{format}: raw control characters {bad:?} in:\n{stdout}"
        );
        // What was planted is still there for a person to read.
        assert!(
            stdout.contains("\\x1b]0;pwned\\x07\\x1b[2J\\x1b[H\\x00\\x08\\x7f\\u{9b}31m\\u{202e}gpj.exe\\rNo problems found."),
            "{format}: the hostile panic line is not shown escaped:\n{stdout}"
        );
        assert!(
            stdout.contains("pod3-\\x1b]0;pwned"),
            "{format}: pod name\n{stdout}"
        );
        // A directory whose name cannot be a namespace is not read; if a report ever names
        // it, only escaped.
        assert!(
            !stdout.contains("evil") || stdout.contains("evil\\x1b]0;dir\\x07ns"),
            "{format}: skipped file\n{stdout}"
        );
    }

    let (code, stdout, _) = support::kubemedic(&["diagnose", "--dump", dir, "-o", "json"]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["text"].as_str().unwrap().contains(HOSTILE))),
        "JSON must carry the exact log line"
    );
    assert!(
        findings.iter().any(|f| f["object"]["name"]
            .as_str()
            .unwrap()
            .starts_with("pod3-\u{1b}]0;pwned")),
        "JSON must carry the exact pod name"
    );
}

#[test]
fn errors_name_hostile_paths_visibly() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("no\u{1b}[2Jdump");
    let (code, stdout, stderr) =
        support::kubemedic(&["diagnose", "--dump", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(dangerous(&stderr).is_empty(), "{stderr:?}");
    assert!(stderr.contains("no\\x1b[2Jdump"), "{stderr}");
}

/// An archive whose records carry what a hostile container or cluster object can put there:
/// the crash's logs, termination message, reason and names, and an event's message and reason.
fn hostile_archive(dir: &Path) -> String {
    use kubemedic_archive::{
        Batch, CrashRecord, EventOccurrence, ObjectRef, Origin, SqliteStore, Store, WorkloadRef,
    };
    let t = |s: i64| jiff::Timestamp::now() - jiff::SignedDuration::from_secs(s);
    let path = dir.join("archive.db");
    let store = SqliteStore::open(&path, "c").unwrap();
    store
        .write(&Batch {
            events: vec![EventOccurrence {
                uid: "e1".into(),
                count: 3,
                time: t(60),
                first_time: t(600),
                origin: Origin::Event,
                api: "v1".into(),
                object: ObjectRef {
                    kind: "Pod".into(),
                    namespace: "shop".into(),
                    name: format!("api-{HOSTILE}"),
                    uid: Some("uid-1".into()),
                },
                workload: None,
                reason: format!("BackOff{HOSTILE}"),
                type_: "Warning".into(),
                message: format!("Back-off restarting failed container {HOSTILE}"),
                component: "kubelet".into(),
                host: "node-1".into(),
            }],
            crashes: vec![CrashRecord {
                namespace: "shop".into(),
                pod: format!("api-{HOSTILE}"),
                pod_uid: "uid-1".into(),
                container: format!("app{HOSTILE}"),
                init_container: false,
                instance: "containerd://1".into(),
                node: Some(format!("node-{HOSTILE}")),
                workload: Some(WorkloadRef {
                    kind: "Deployment".into(),
                    name: "api".into(),
                }),
                restart_count: 4,
                exit_code: 2,
                signal: None,
                reason: Some(format!("Error{HOSTILE}")),
                message: Some(format!("panic: {HOSTILE}")),
                started_at: Some(t(120)),
                finished_at: Some(t(100)),
                captured_at: t(99),
                logs: Some(format!("starting\npanic: runtime error: {HOSTILE}\n").into_bytes()),
                logs_truncated: false,
                logs_error: None,
                node_memory: None,
            }],
            checkpoints: Vec::new(),
        })
        .unwrap();
    format!("sqlite:{}", path.display())
}

#[test]
fn archived_crashes_and_events_show_control_characters_and_json_keeps_them() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = hostile_archive(tmp.path());
    for cmd in ["crashes", "events"] {
        let (code, stdout, stderr) = support::kubemedic(&[cmd, "-A", "--archive", &archive]);
        assert_eq!(code, 0, "{cmd}: {stderr}");
        let bad = dangerous(&stdout);
        assert!(
            bad.is_empty(),
            "{cmd}: raw control characters {bad:?} in:\n{stdout}"
        );
        assert!(
            stdout.contains("\\x1b]0;pwned\\x07"),
            "{cmd}: the planted text is not shown escaped:\n{stdout}"
        );
        let (code, stdout, stderr) =
            support::kubemedic(&[cmd, "-A", "--archive", &archive, "-o", "json"]);
        assert_eq!(code, 0, "{cmd}: {stderr}");
        let v: Value = serde_json::from_str(&stdout).unwrap();
        assert!(
            v.to_string().contains("\\u001b]0;pwned\\u0007"),
            "{cmd}: JSON must carry the exact text: {v}"
        );
    }
}

#[test]
fn heal_plan_and_runbooks_show_control_characters() {
    // The crash-loop dump with hostile text in a panic line and a pod name: the pod-crashloop
    // runbook matches the findings, whose summaries quote both.
    let tmp = hostile_dump();
    let (code, stdout, stderr) =
        support::kubemedic(&["heal", "plan", "--dump", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("matched:"), "nothing matched:\n{stdout}");
    let bad = dangerous(&stdout);
    assert!(
        bad.is_empty(),
        "raw control characters {bad:?} in:\n{stdout}"
    );

    // A runbook file is the user's, but may come from a ConfigMap someone else wrote.
    let json_hostile = serde_json::to_string(HOSTILE).unwrap();
    let rb = tmp.path().join("runbooks");
    std::fs::create_dir(&rb).unwrap();
    std::fs::write(
        rb.join("evil.yaml"),
        format!(
            "name: evil\ndescription: \"{}\"\n",
            json_hostile.trim_matches('"')
        ),
    )
    .unwrap();
    for args in [
        vec![
            "runbooks",
            "validate",
            rb.join("evil.yaml").to_str().unwrap(),
        ],
        vec!["runbooks", "list", "--runbooks", rb.to_str().unwrap()],
    ] {
        let (_, stdout, stderr) = support::kubemedic(&args);
        for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            let bad = dangerous(text);
            assert!(bad.is_empty(), "{args:?} {name}: {bad:?} in:\n{text}");
        }
    }
}
