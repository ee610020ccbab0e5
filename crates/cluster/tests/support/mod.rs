//! Set-up shared by this crate's testbed tests.

/// A control plane (etcd + kube-apiserver) without controllers or kwok nodes: enough to create,
/// list and watch objects. `None` when the testbed binaries are unavailable (see
/// [`kubemedic_testbed::Testbed::start`]).
pub async fn bare_testbed() -> Option<kubemedic_testbed::Testbed> {
    kubemedic_testbed::Testbed::start(kubemedic_testbed::Options {
        controllers: false,
        kwok_nodes: 0,
        ..Default::default()
    })
    .await
}
