//! A testbed outlives the thread and runtime that started it: test harnesses run each test
//! on its own thread, and PR_SET_PDEATHSIG fires when the *spawning thread* exits, so this
//! guards the spawner-thread design.
#![allow(clippy::unwrap_used)]

use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kubemedic_testbed::{Options, Testbed};

#[test]
fn testbed_outlives_the_thread_and_runtime_that_started_it() {
    let started = std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(Testbed::start(Options::default()))
    })
    .join()
    .unwrap();
    let Some(tb) = started else {
        return;
    };
    // That thread and its runtime are gone now.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tb.check_running().unwrap();
        let namespaces: Api<Namespace> = Api::all(tb.client());
        namespaces.get("default").await.unwrap();
        // Restarting the apiserver from another thread keeps working as well.
        tb.stop_apiserver().await;
        tb.start_apiserver().await.unwrap();
        namespaces.get("kube-system").await.unwrap();
    });
}
