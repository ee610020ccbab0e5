//! The install artifacts on a real kube-apiserver (testbed, kwok nodes): the plain manifests
//! applied with strict field validation as `kubectl apply -f deploy/manifests/` would, the
//! agent DaemonSet scheduled on every node with the labels the CLI looks for, each role's
//! permissions checked by the apiserver's own authorizer (SubjectAccessReview) and the own-Node
//! admission policy exercised with a real pod-bound ServiceAccount token; and the chart through
//! `helm install`, `helm upgrade` and `helm uninstall`. The real-node end-to-end install (a real
//! kubelet running the image) is crates/testbed's and kubemedic's real-node tests.
#![allow(clippy::unwrap_used)]

#[path = "support/deploy.rs"]
mod deploy;

use deploy::{chart, helm, helm_run, plain_manifests};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::api::core::v1::{Event, Node, Pod, Secret, ServiceAccount};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Scope, pinned_kind};
use kube::{Client, Config};
use kubemedic_cluster::live::{DEFAULT_AGENT_PORT, DEFAULT_AGENT_SELECTOR};
use kubemedic_testbed::{Options, Testbed};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn cluster(nodes: usize) -> Option<Testbed> {
    Testbed::start(Options {
        controllers: true,
        kwok_nodes: nodes,
        ..Default::default()
    })
    .await
}

/// The API for the object `doc` describes (its kind resolved through discovery).
async fn api_for(client: &Client, doc: &Value) -> Api<DynamicObject> {
    let api_version = doc["apiVersion"].as_str().unwrap();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, doc["kind"].as_str().unwrap());
    let (resource, caps) = pinned_kind(client, &gvk)
        .await
        .unwrap_or_else(|e| panic!("the apiserver does not serve {gvk:?}: {e}"));
    match caps.scope {
        Scope::Cluster => Api::all_with(client.clone(), &resource),
        Scope::Namespaced => {
            let ns = doc["metadata"]["namespace"].as_str().unwrap_or_else(|| {
                panic!(
                    "{} {} has no namespace",
                    doc["kind"], doc["metadata"]["name"]
                )
            });
            Api::namespaced_with(client.clone(), ns, &resource)
        }
    }
}

/// Server-side apply of every document, in order, refusing unknown or duplicate fields (what
/// `kubectl apply` does by default).
async fn apply_all(client: &Client, docs: &[Value]) {
    let params = PatchParams::apply("kubemedic-deploy-test")
        .force()
        .validation_strict();
    for doc in docs {
        let name = doc["metadata"]["name"].as_str().unwrap();
        api_for(client, doc)
            .await
            .patch(name, &params, &Patch::Apply(doc))
            .await
            .unwrap_or_else(|e| panic!("apply {} {name}: {e}", doc["kind"]));
    }
}

/// The agent pods, once one runs on each of `nodes` nodes (kwok plays the kubelet).
async fn agent_pods(client: &Client, ns: &str, nodes: usize) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let list = pods
            .list(&ListParams::default().labels(DEFAULT_AGENT_SELECTOR))
            .await
            .unwrap();
        let running: Vec<Pod> = list
            .items
            .into_iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .collect();
        if running.len() == nodes {
            return running;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {nodes} agent pods running after 90 s",
            running.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Whether the apiserver's authorizer allows `user` (in `groups`) the request.
async fn allowed(
    client: &Client,
    user: &str,
    groups: &[&str],
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
) -> bool {
    let (group, resource) = resource
        .split_once('.')
        .map_or(("", resource), |(r, g)| (g, r));
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    let review: SubjectAccessReview = serde_json::from_value(json!({
        "spec": {
            "user": user,
            "groups": groups,
            "resourceAttributes": {
                "verb": verb, "group": group, "resource": resource,
                "subresource": subresource, "namespace": namespace.unwrap_or(""),
            }
        }
    }))
    .unwrap();
    let api: Api<SubjectAccessReview> = Api::all(client.clone());
    let reply = api.create(&PostParams::default(), &review).await.unwrap();
    reply.status.unwrap().allowed
}

/// A client authenticating with `token` against the testbed.
async fn token_client(tb: &Testbed, token: &str, dir: &std::path::Path) -> Client {
    let token_file = dir.join(format!("token-{}", token.len()));
    std::fs::write(&token_file, token).unwrap();
    let mut kubeconfig = kube::config::Kubeconfig::read_from(tb.kubeconfig_path()).unwrap();
    for user in &mut kubeconfig.auth_infos {
        user.auth_info = Some(kube::config::AuthInfo {
            token_file: Some(token_file.display().to_string()),
            ..Default::default()
        });
    }
    let config = Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// A token of the agent's ServiceAccount, bound to `pod` (as the kubelet mounts it) or unbound.
async fn agent_token(client: &Client, pod: Option<&Pod>) -> String {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "kubemedic");
    let mut spec = json!({"audiences": [], "expirationSeconds": 600});
    if let Some(pod) = pod {
        spec["boundObjectRef"] = json!({
            "apiVersion": "v1", "kind": "Pod",
            "name": pod.metadata.name, "uid": pod.metadata.uid,
        });
    }
    let request: TokenRequest = serde_json::from_value(json!({ "spec": spec })).unwrap();
    sas.create_token_request("kubemedic-agent", &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
        .expect("a token")
}

fn condition_patch(kind: &str) -> Value {
    json!({"status": {"conditions": [{
        "type": kind, "status": "False", "reason": "NoProblem", "message": "written by the agent's token",
        "lastTransitionTime": jiff::Timestamp::now().round(jiff::Unit::Second).unwrap().to_string(),
        "lastHeartbeatTime": jiff::Timestamp::now().round(jiff::Unit::Second).unwrap().to_string(),
    }]}})
}

#[tokio::test]
async fn plain_manifests_install_with_least_privilege_per_role() {
    let Some(tb) = cluster(2).await else { return };
    let client = tb.client();
    apply_all(&client, &plain_manifests()).await;

    // One agent per node, found the way `kubemedic diagnose` finds them.
    let pods = agent_pods(&client, "kubemedic", 2).await;
    let mut nodes: Vec<&str> = pods
        .iter()
        .map(|p| p.spec.as_ref().unwrap().node_name.as_deref().unwrap())
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["kwok-node-0", "kwok-node-1"]);
    let spec = pods[0].spec.as_ref().unwrap();
    assert_eq!(spec.host_network, Some(true));
    let port = &spec.containers[0].ports.as_ref().unwrap()[0];
    assert_eq!(port.container_port, i32::from(DEFAULT_AGENT_PORT));
    let ds: Api<DaemonSet> = Api::namespaced(client.clone(), "kubemedic");
    let status = ds.get("kubemedic-agent").await.unwrap().status.unwrap();
    assert_eq!(status.desired_number_scheduled, 2);

    // The agent's ServiceAccount: exactly what the agent calls, nothing else.
    let agent = "system:serviceaccount:kubemedic:kubemedic-agent";
    let sa_groups = [
        "system:serviceaccounts",
        "system:serviceaccounts:kubemedic",
        "system:authenticated",
    ];
    for (verb, resource, ns, expected) in [
        ("get", "nodes", None, true),
        ("patch", "nodes/status", None, true),
        ("create", "events", Some("default"), true),
        ("patch", "events", Some("default"), true),
        ("patch", "nodes", None, false),
        ("update", "nodes", None, false),
        ("delete", "nodes", None, false),
        ("list", "nodes", None, false),
        ("update", "nodes/status", None, false),
        ("get", "secrets", Some("kubemedic"), false),
        ("list", "secrets", None, false),
        ("get", "configmaps", Some("kubemedic"), false),
        ("list", "pods", None, false),
        ("create", "events", Some("kube-system"), false),
        ("create", "pods/eviction", Some("default"), false),
        ("create", "events.events.k8s.io", Some("default"), false),
    ] {
        assert_eq!(
            allowed(&client, agent, &sa_groups, verb, resource, ns).await,
            expected,
            "agent: {verb} {resource} in {ns:?}"
        );
    }

    // diagnose/collect: bind the roles to a group, as docs/install.md shows.
    apply_all(
        &client,
        &[
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "kubemedic-diagnose"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubemedic-diagnose"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "sre"}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "kubemedic-diagnose-agents", "namespace": "kubemedic"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kubemedic-diagnose-agents"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "sre"}]}),
        ],
    )
    .await;
    for (verb, resource, ns, expected) in [
        ("list", "pods", None, true),
        ("list", "nodes", None, true),
        ("list", "events", None, true),
        ("get", "pods/log", Some("shop"), true),
        ("list", "deployments.apps", None, true),
        ("list", "jobs.batch", None, true),
        ("list", "endpointslices.discovery.k8s.io", None, true),
        ("list", "persistentvolumes", None, true),
        ("get", "pods/proxy", Some("kubemedic"), true),
        ("get", "pods/proxy", Some("default"), false),
        ("get", "secrets", Some("shop"), false),
        ("list", "configmaps", None, false),
        ("delete", "pods", Some("shop"), false),
        ("patch", "nodes", None, false),
        ("create", "pods/exec", Some("kubemedic"), false),
    ] {
        assert_eq!(
            allowed(
                &client,
                "alice",
                &["sre", "system:authenticated"],
                verb,
                resource,
                ns
            )
            .await,
            expected,
            "diagnose: {verb} {resource} in {ns:?}"
        );
    }

    // The own-Node policy, with the token the kubelet would mount into the agent on kwok-node-0.
    let dir = tempfile::tempdir().unwrap();
    let on_node_0 = pods
        .iter()
        .find(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some("kwok-node-0"))
        .unwrap();
    let bound = token_client(
        &tb,
        &agent_token(&client, Some(on_node_0)).await,
        dir.path(),
    )
    .await;
    let nodes_as_agent: Api<Node> = Api::all(bound.clone());
    // The policy takes effect once the admission plugin has seen it: poll until it denies.
    let deadline = Instant::now() + Duration::from_secs(30);
    let denial = loop {
        match nodes_as_agent
            .patch_status(
                "kwok-node-1",
                &PatchParams::default(),
                &Patch::Strategic(condition_patch("KubemedicTest")),
            )
            .await
        {
            Err(kube::Error::Api(status)) => break status,
            Ok(_) => {
                assert!(
                    Instant::now() < deadline,
                    "the own-node policy never denied a write to another Node"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(other) => panic!("patch kwok-node-1: {other}"),
        }
    };
    assert_eq!(denial.code, 403, "{denial:?}");
    assert!(
        denial.message.contains(
            "may only write the status of the Node its pod runs on (kwok-node-0), not kwok-node-1"
        ),
        "{}",
        denial.message
    );
    // Its own Node's conditions: allowed, and written.
    nodes_as_agent
        .patch_status(
            "kwok-node-0",
            &PatchParams::default(),
            &Patch::Strategic(condition_patch("KubemedicTest")),
        )
        .await
        .unwrap();
    let node = Api::<Node>::all(client.clone())
        .get("kwok-node-0")
        .await
        .unwrap();
    assert!(
        node.status
            .unwrap()
            .conditions
            .unwrap()
            .iter()
            .any(|c| c.type_ == "KubemedicTest")
    );
    // Its own Node's capacity: denied.
    let err = nodes_as_agent
        .patch_status(
            "kwok-node-0",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"capacity": {"pods": "1"}}})),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NodeConditions only"), "{err}");
    // Events in default (real request), Secrets (denied by RBAC).
    let events: Api<Event> = Api::namespaced(bound.clone(), "default");
    let event: Event = serde_json::from_value(json!({
        "metadata": {"name": "kwok-node-0.kubemedic-test"},
        "involvedObject": {"kind": "Node", "name": "kwok-node-0", "uid": "kwok-node-0"},
        "reason": "KubemedicTest", "message": "m", "type": "Normal", "count": 1,
        "source": {"component": "kernel-monitor", "host": "kwok-node-0"},
    }))
    .unwrap();
    events.create(&PostParams::default(), &event).await.unwrap();
    let secrets: Api<Secret> = Api::namespaced(bound, "kubemedic");
    match secrets.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403),
        other => panic!("the agent listed Secrets: {other:?}"),
    }
    // A token not bound to a pod names no node: no Node's status at all.
    let unbound = token_client(&tb, &agent_token(&client, None).await, dir.path()).await;
    let err = Api::<Node>::all(unbound)
        .patch_status(
            "kwok-node-0",
            &PatchParams::default(),
            &Patch::Strategic(condition_patch("KubemedicTest")),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("its token names no node"), "{err}");
}

/// Objects the chart creates, by kind, that still exist.
async fn kubemedic_objects(client: &Client) -> Vec<String> {
    let mut left = Vec::new();
    for (api_version, kind, ns) in [
        ("v1", "ServiceAccount", Some("kubemedic")),
        ("v1", "Service", Some("kubemedic")),
        ("v1", "ConfigMap", Some("kubemedic")),
        ("apps/v1", "DaemonSet", Some("kubemedic")),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", None),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", None),
        ("rbac.authorization.k8s.io/v1", "Role", Some("default")),
        (
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            Some("default"),
        ),
        ("rbac.authorization.k8s.io/v1", "Role", Some("kubemedic")),
        (
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            Some("kubemedic"),
        ),
        (
            "admissionregistration.k8s.io/v1",
            "ValidatingAdmissionPolicy",
            None,
        ),
        (
            "admissionregistration.k8s.io/v1",
            "ValidatingAdmissionPolicyBinding",
            None,
        ),
    ] {
        let doc = json!({"apiVersion": api_version, "kind": kind, "metadata": {"namespace": ns}});
        let api = api_for(client, &doc).await;
        for obj in api
            .list(&ListParams::default().labels("app.kubernetes.io/part-of=kubemedic"))
            .await
            .unwrap()
        {
            left.push(format!("{kind} {}", obj.metadata.name.unwrap_or_default()));
        }
    }
    left
}

#[tokio::test]
async fn the_chart_installs_upgrades_and_uninstalls_cleanly() {
    let Some(helm) = helm().await else { return };
    let Some(tb) = cluster(1).await else { return };
    let client = tb.client();
    let kubeconfig = tb.kubeconfig_path().to_str().unwrap().to_string();
    let chart = chart();
    let chart = chart.to_str().unwrap();
    let common = [
        "--namespace",
        "kubemedic",
        "--kubeconfig",
        kubeconfig.as_str(),
    ];

    let mut args = vec!["install", "kubemedic", chart, "--create-namespace"];
    args.extend(common);
    let (code, out, err) = helm_run(&helm, &args);
    assert_eq!(code, 0, "helm install: {out}\n{err}");
    let pods = agent_pods(&client, "kubemedic", 1).await;
    assert_eq!(
        pods[0].spec.as_ref().unwrap().node_name.as_deref(),
        Some("kwok-node-0")
    );
    let installed = kubemedic_objects(&client).await;
    for expected in [
        "DaemonSet kubemedic-agent",
        "ClusterRole kubemedic-agent",
        "ClusterRole kubemedic-diagnose",
        "Role kubemedic-agent-events",
        "ValidatingAdmissionPolicy kubemedic-agent-own-node",
    ] {
        assert!(
            installed.iter().any(|o| o == expected),
            "{expected} in {installed:?}"
        );
    }

    // An upgrade changes the pod template; the release keeps the same objects.
    let mut args = vec![
        "upgrade",
        "kubemedic",
        chart,
        "--set",
        "agent.logLevel=debug",
    ];
    args.extend(common);
    let (code, out, err) = helm_run(&helm, &args);
    assert_eq!(code, 0, "helm upgrade: {out}\n{err}");
    let ds: Api<DaemonSet> = Api::namespaced(client.clone(), "kubemedic");
    let env = ds
        .get("kubemedic-agent")
        .await
        .unwrap()
        .spec
        .template
        .spec
        .unwrap()
        .containers[0]
        .env
        .clone()
        .unwrap();
    assert!(
        env.iter()
            .any(|e| e.name == "RUST_LOG" && e.value.as_deref() == Some("debug"))
    );
    assert_eq!(kubemedic_objects(&client).await, installed);

    // Uninstall leaves nothing of ours but the namespace `--create-namespace` made.
    let mut args = vec!["uninstall", "kubemedic"];
    args.extend(common);
    let (code, out, err) = helm_run(&helm, &args);
    assert_eq!(code, 0, "helm uninstall: {out}\n{err}");
    let left = kubemedic_objects(&client).await;
    assert!(left.is_empty(), "left after helm uninstall: {left:?}");
}
