//! Stopping a real node leaves the host as it was: no process of the node, no mount, no link,
//! no iptables/nft rule, no cgroup, no network namespace, no changed sysctl. Checked by
//! looking at the host itself, not by asking the testbed: after a drop, and after the test
//! process holding the node is killed (SIGKILL, SIGTERM), once the next start has reaped it.
#![allow(clippy::unwrap_used)]

mod host;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kubemedic_testbed::{Options, Testbed, images};

const REPORT_ENV: &str = "KUBEMEDIC_TESTBED_NODE_KILL_REPORT";

async fn start() -> Option<Testbed> {
    let tb = Testbed::start(Options {
        real_nodes: 1,
        node_images: vec![images::busybox().unwrap()],
        ..Default::default()
    })
    .await?;
    // A running pod, so there are shims, a sandbox, a pod network namespace and a veth on
    // the node's bridge to clean up too.
    host::run_pod(&tb.client(), tb.real_node().name()).await;
    Some(tb)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_testbed_with_a_real_node_leaves_the_host_as_it_was() {
    let before = host::Snapshot::take();
    let Some(tb) = start().await else {
        return;
    };
    let traces = host::NodeTraces::of(&tb);
    traces.assert_present();
    let stopping = Instant::now();
    drop(tb);
    eprintln!("teardown took {:?}", stopping.elapsed());
    traces.assert_gone(false);
    host::Snapshot::take().assert_same_as(&before);
}

/// Run only as the child of `killed_test_with_a_real_node_leaves_nothing_behind`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process for killed_test_with_a_real_node_leaves_nothing_behind"]
async fn helper_holds_a_real_node_until_killed() {
    let Some(report) = std::env::var_os(REPORT_ENV) else {
        return;
    };
    let tb = start().await.unwrap();
    let text = host::NodeTraces::of(&tb).report();
    let tmp = PathBuf::from(&report).with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &report).unwrap();
    std::future::pending::<()>().await;
}

/// The helper process; killed if this test fails before it kills it on purpose, so a failed
/// run leaves no node behind either.
struct Helper(std::process::Child);

impl Helper {
    fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.0.try_wait()
    }
    fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn killed_test_with_a_real_node_leaves_nothing_behind() {
    let supported = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(Testbed::real_nodes_supported());
    if !supported {
        return;
    }
    let before = host::Snapshot::take();
    let scratch = tempfile::tempdir().unwrap();
    for signal in [libc::SIGKILL, libc::SIGTERM] {
        let report = scratch.path().join(format!("report-{signal}"));
        let mut helper = Command::new(std::env::current_exe().unwrap());
        helper
            .args([
                "--exact",
                "helper_holds_a_real_node_until_killed",
                "--ignored",
                "--nocapture",
            ])
            .env(REPORT_ENV, &report)
            .stdin(Stdio::null());
        // Dies from the signal whatever this test inherited, and with the test if it fails.
        kubemedic_testbed::child::die_with_test(kubemedic_testbed::child::reset_signals(
            &mut helper,
        ));
        let mut child = Helper(helper.spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(180);
        while !report.exists() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("helper exited early: {status}");
            }
            assert!(Instant::now() < deadline, "helper never reported");
            std::thread::sleep(Duration::from_millis(50));
        }
        let traces = host::NodeTraces::parse(&std::fs::read_to_string(&report).unwrap());
        traces.assert_present();

        #[allow(unsafe_code)]
        // SAFETY: kill takes plain integers.
        let sent = unsafe { libc::kill(i32::try_from(child.id()).unwrap(), signal) };
        assert_eq!(sent, 0);
        let status = kubemedic_testbed::child::wait(&mut child.0, Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("helper did not die from signal {signal}: {e}"));
        assert!(!status.success());

        // The killed process could not clean up: the node's processes die with it, the
        // link with the node's network namespace, and the next start reaps the rest.
        traces.assert_gone(true);
        eprintln!("signal {signal}: nothing left behind");
    }
    host::Snapshot::take().assert_same_as(&before);
}
