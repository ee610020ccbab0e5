//! `testbed/up` / `testbed/down` logic: a detached serve process holds a ready cluster, and
//! `down` leaves no process and no working directory behind. The serve process is this test
//! binary re-run with only the ignored helper below (the `testbed` example does the same
//! with its own binary).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kubemedic_testbed::{Testbed, persistent};

const STATE_ENV: &str = "KUBEMEDIC_TESTBED_TEST_STATE_DIR";
const REAL_NODES_ENV: &str = "KUBEMEDIC_TESTBED_TEST_REAL_NODES";

#[tokio::test]
#[ignore = "helper process for up_serves_a_cluster_and_down_leaves_nothing"]
async fn helper_serve() {
    let Some(state) = std::env::var_os(STATE_ENV) else {
        return;
    };
    let real_nodes = std::env::var(REAL_NODES_ENV).map_or(0, |v| v.parse().unwrap());
    persistent::serve(Path::new(&state), 2, real_nodes)
        .await
        .unwrap();
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .next();
        !matches!(state, Some("Z") | Some("X"))
    })
}

#[tokio::test]
async fn up_serves_a_cluster_and_down_leaves_nothing() {
    if Testbed::binaries().await.is_none() {
        return;
    }
    up_and_down(0).await;
}

#[tokio::test]
async fn up_with_a_real_node_and_down_leave_nothing() {
    if !Testbed::real_nodes_supported().await {
        return;
    }
    up_and_down(1).await;
}

/// Stops the serve process if the test fails before `down` (a detached process would
/// otherwise hold its cluster, and real node, forever).
struct StopOnDrop(PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = persistent::running_pid(&self.0) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

async fn up_and_down(real_nodes: usize) {
    let state: PathBuf = std::env::temp_dir().join(format!(
        "kubemedic-testbed-up-test-{}-{real_nodes}",
        std::process::id()
    ));
    let mut serve = Command::new(std::env::current_exe().unwrap());
    serve
        .args(["--exact", "helper_serve", "--ignored", "--nocapture"])
        .env(STATE_ENV, &state)
        .env(REAL_NODES_ENV, real_nodes.to_string());
    // `down` stops it with SIGTERM: whatever this test inherited, the helper starts with the
    // default dispositions (it installs its own handlers).
    kubemedic_testbed::child::reset_signals(&mut serve);
    let kubeconfig = persistent::up(&state, serve).await.unwrap();
    let _stop_on_failure = StopOnDrop(state.clone());

    let serve_pid = persistent::running_pid(&state).expect("serve process running");
    let ready = std::fs::read_to_string(state.join("ready")).unwrap();
    let workdir = PathBuf::from(ready.lines().nth(1).unwrap());
    let component_pids: Vec<u32> = std::fs::read_to_string(workdir.join("pids"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    // etcd, apiserver, kcm, scheduler, kwok; per real node the namespace holder, its init
    // and containerd, kubelet, kube-proxy (each under nsenter).
    assert_eq!(
        component_pids.len(),
        5 + 5 * real_nodes,
        "{component_pids:?}"
    );
    let real: Vec<Vec<String>> = ready
        .lines()
        .filter_map(|l| l.strip_prefix("real-node "))
        .map(|l| l.split(' ').map(str::to_string).collect())
        .collect();
    assert_eq!(real.len(), real_nodes, "{ready}");
    for node in &real {
        assert!(Path::new("/sys/class/net").join(&node[1]).exists());
        assert!(Path::new("/sys/fs/cgroup/memory").join(&node[2]).exists());
    }
    assert!(component_pids.iter().all(|p| alive(*p)));

    // The kubeconfig it hands out works, and the nodes are Ready.
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    let nodes: Api<Node> = Api::all(kube::Client::try_from(config).unwrap());
    assert_eq!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2 + real_nodes
    );

    // A second `up` reuses the running cluster.
    let mut again = Command::new("/bin/false");
    again.env(STATE_ENV, &state);
    assert_eq!(persistent::up(&state, again).await.unwrap(), kubeconfig);
    assert_eq!(persistent::running_pid(&state), Some(serve_pid));

    assert!(persistent::down(&state).await.unwrap());
    assert!(!alive(serve_pid));
    for pid in &component_pids {
        // The serve process killed them before exiting; down waited for it.
        assert!(!alive(*pid), "component {pid} survived down");
    }
    assert!(!workdir.exists(), "{} left behind", workdir.display());
    for node in &real {
        // The node's link goes with its network namespace, its cgroups with the serve process.
        let link = Path::new("/sys/class/net").join(&node[1]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while link.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "{} left behind",
                link.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let cgroup = hierarchy.path().join(&node[2]);
            assert!(!cgroup.exists(), "{} left behind", cgroup.display());
        }
    }
    assert!(!kubeconfig.exists());
    assert!(
        !persistent::down(&state).await.unwrap(),
        "nothing left to stop"
    );
    let _ = std::fs::remove_dir_all(&state);
}
