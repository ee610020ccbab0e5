//! Running the controller in-process against the testbed, and writing Events as components do.
#![allow(clippy::unwrap_used, dead_code)]

use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kubemedic_archive::{ArchiveUrl, Retention};
use kubemedic_controller::crash::CrashOptions;
use kubemedic_controller::ingest::WriterConfig;
use kubemedic_controller::lease::LeaseOptions;
use kubemedic_controller::{ControllerConfig, Running};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// etcd + kube-apiserver only, with extra apiserver flags.
pub async fn control_plane(apiserver_args: &[&str]) -> Option<kubemedic_testbed::Testbed> {
    kubemedic_testbed::Testbed::start(kubemedic_testbed::Options {
        controllers: false,
        kwok_nodes: 0,
        apiserver_args: apiserver_args.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .await
}

/// A control plane, a namespace for the test's objects, and a leading controller archiving into
/// SQLite in a temporary directory: (testbed, client, directory (deleted when dropped), SQLite
/// path, controller).
pub type Archiving = (
    kubemedic_testbed::Testbed,
    Client,
    tempfile::TempDir,
    std::path::PathBuf,
    Controller,
);

/// Starts [`Archiving`]: the apiserver with extra flags, namespace `ns`, the controller as
/// `identity`. None when the testbed is not available (the test skips).
pub async fn archiving(apiserver_args: &[&str], ns: &str, identity: &str) -> Option<Archiving> {
    let tb = control_plane(apiserver_args).await?;
    let client = tb.client();
    ensure_namespace(&client, ns).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("archive.db");
    let ctl = Controller::start_leading(&client, &db, identity).await;
    Some((tb, client, dir, db, ctl))
}

/// A controller config for tests: SQLite or PostgreSQL, port chosen by the OS, fast Lease.
pub fn config(archive: ArchiveUrl, identity: &str) -> ControllerConfig {
    ControllerConfig {
        archive,
        cluster: "test".into(),
        lease: LeaseOptions {
            namespace: "kubemedic".into(),
            name: "kubemedic-controller".into(),
            identity: identity.into(),
            duration_secs: 6,
            grace_secs: 2,
        },
        listen: "127.0.0.1:0".parse().unwrap(),
        retention: Retention::default(),
        prune_interval: Duration::from_secs(2),
        crash: CrashOptions {
            fetch_timeout: Duration::from_secs(5),
            ..Default::default()
        },
        exports: None,
        export_spool: None,
        writer: WriterConfig::default(),
        core_events: false,
        shutdown_timeout: Duration::from_secs(10),
        healing: None,
    }
}

/// A controller running in this process.
pub struct Controller {
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), kubemedic_controller::ControllerError>>,
}

impl Controller {
    /// Starts it and waits until it listens.
    pub async fn start(client: &Client, cfg: ControllerConfig) -> Controller {
        ensure_namespace(client, "kubemedic").await;
        let (tx, rx) = watch::channel(false);
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<Running>();
        let task = tokio::spawn(kubemedic_controller::run(
            client.clone(),
            cfg,
            rx,
            Some(started_tx),
        ));
        let running = tokio::time::timeout(Duration::from_secs(60), started_rx)
            .await
            .expect("controller listens within 60 s")
            .expect("controller started");
        Controller {
            addr: running.addr,
            shutdown: tx,
            task,
        }
    }

    /// Starts one archiving into the SQLite file `db` and waits until it is synced and leads.
    pub async fn start_leading(
        client: &Client,
        db: &std::path::Path,
        identity: &str,
    ) -> Controller {
        let ctl = Controller::start(
            client,
            config(ArchiveUrl::Sqlite(db.to_path_buf()), identity),
        )
        .await;
        ctl.wait_leading().await;
        ctl
    }

    /// GET a path of the controller's API as JSON.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = reqwest::get(format!("http://{}{path}", self.addr))
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Waits until the cache is synced and this replica leads.
    pub async fn wait_leading(&self) {
        poll(
            Duration::from_secs(60),
            "controller ready and leading",
            || async {
                let (_, s) = self.get("/api/v1/status").await;
                s["leader"] == true && s["synced"] == true
            },
        )
        .await;
    }

    /// Graceful stop (flush, release the Lease).
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        tokio::time::timeout(Duration::from_secs(40), self.task)
            .await
            .expect("controller stops within 40 s")
            .unwrap()
            .unwrap();
    }
}

/// Polls `f` every 100 ms until true or the deadline (then panics naming `what`).
pub async fn poll<F, Fut>(limit: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if f().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates a namespace if missing.
pub async fn ensure_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("creating namespace {name}: {e}"),
    }
}

/// An events.k8s.io/v1 Event about a pod, as a kubelet's recorder writes it; returns its uid.
pub async fn create_event(
    client: &Client,
    ns: &str,
    name: &str,
    pod: &str,
    reason: &str,
    note: &str,
) -> String {
    let api = events_api(client, ns);
    let now = jiff::Timestamp::now();
    let ev = json!({
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": ns},
        "eventTime": format_micro(now),
        "reportingController": "kubelet",
        "reportingInstance": "node-1",
        "action": "Restarting",
        "reason": reason,
        "type": "Warning",
        "note": note,
        "regarding": {"kind": "Pod", "namespace": ns, "name": pod, "apiVersion": "v1"},
    });
    let obj: DynamicObject = serde_json::from_value(ev).unwrap();
    let created = api.create(&PostParams::default(), &obj).await.unwrap();
    created.metadata.uid.unwrap()
}

/// Sets the Event's series count (a repeat), as the recorder does.
pub async fn repeat_event(client: &Client, ns: &str, name: &str, count: i32) {
    let api = events_api(client, ns);
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"series": {"count": count, "lastObservedTime": format_micro(jiff::Timestamp::now())}})),
    )
    .await
    .unwrap();
}

/// A dynamic Api for events.k8s.io/v1 Events (JSON values).
pub fn events_api(client: &Client, ns: &str) -> Api<DynamicObject> {
    let ar = kube::api::ApiResource {
        group: "events.k8s.io".into(),
        version: "v1".into(),
        api_version: "events.k8s.io/v1".into(),
        kind: "Event".into(),
        plural: "events".into(),
    };
    Api::namespaced_with(client.clone(), ns, &ar)
}

/// MicroTime format (RFC 3339 with microseconds).
pub fn format_micro(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}
