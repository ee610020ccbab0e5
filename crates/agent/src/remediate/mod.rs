//! The agent's side of healing: it acts on Remediations labelled for its node whose current
//! step is node-local (started by the controller with executor `agent/<node>`), from the
//! allow-list in [`local`], and reports into the status. It writes its intent before acting
//! (with the object's resourceVersion), so an agent restarted mid-action never repeats a runtime
//! restart or a reboot: the step is recorded as interrupted and verification decides.

pub mod local;
pub mod systemd;

pub use local::NodeActionConfig;

use jiff::Timestamp;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use kubemedic_heal::crd::{NODE_LABEL, Remediation, StepState};
use kubemedic_heal::{Executor, progress};
use std::time::Duration;

const AGENT_STARTED: &str = "agentStartedAt";

/// What one poll did, for tests and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Steps carried out (remediation, step, ok).
    pub acted: Vec<(String, String, bool)>,
    /// Steps found interrupted by an earlier agent and not repeated.
    pub interrupted: Vec<(String, String)>,
}

/// Acts on this node's Remediations.
#[derive(Clone)]
pub struct RemediationWorker {
    client: Client,
    node: String,
    config: NodeActionConfig,
}

impl std::fmt::Debug for RemediationWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemediationWorker")
            .field("node", &self.node)
            .finish()
    }
}

impl RemediationWorker {
    /// A worker for `node`.
    pub fn new(client: Client, node: String, config: NodeActionConfig) -> Self {
        Self {
            client,
            node,
            config,
        }
    }

    /// Polls every `interval` until `stop` resolves.
    pub async fn run(self, interval: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            match self.poll().await {
                Ok(rep) if !rep.acted.is_empty() || !rep.interrupted.is_empty() => {
                    tracing::info!(?rep, "remediation steps handled")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read Remediations for this node"),
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// One look at this node's Remediations.
    pub async fn poll(&self) -> Result<PollReport, kube::Error> {
        let api: Api<Remediation> = Api::all(self.client.clone());
        let lp = ListParams::default().labels(&format!("{NODE_LABEL}={}", self.node));
        let mut report = PollReport::default();
        let me = format!("agent/{}", self.node);
        for mut r in api.list(&lp).await?.items {
            let Some(status) = r.status.clone() else {
                continue;
            };
            if status.phase.is_some_and(kubemedic_heal::Phase::finished) {
                continue;
            }
            // The spec names this node, and every step passes the allow-list again.
            if r.spec.target.node.as_deref() != Some(self.node.as_str()) {
                continue;
            }
            let Ok(steps) = r.spec.check() else {
                continue; // the controller marks it Failed
            };
            let Some(rec) = status.history.last().cloned() else {
                continue;
            };
            if rec.state != StepState::Started || rec.executor != me {
                continue;
            }
            let index = rec.index as usize;
            let Some(step) = steps.get(index) else {
                continue;
            };
            if step.executor() != Executor::Agent {
                continue;
            }
            let name = r.name_any();
            let mut status = status;
            if rec.intent.contains_key(AGENT_STARTED) {
                // An earlier agent began it and did not report: not repeated.
                let (state, msg) = if step.verify.is_empty() {
                    (
                        StepState::Interrupted,
                        "the agent restarted during the action; not repeated",
                    )
                } else {
                    (
                        StepState::Acted,
                        "the agent restarted during the action; not repeated, verifying",
                    )
                };
                progress::record(&mut status, index, state, msg, Timestamp::now());
                if self.write(&api, &mut r, status).await {
                    report.interrupted.push((name, step.name.clone()));
                }
                continue;
            }
            if let Some(h) = status.history.last_mut() {
                h.intent
                    .insert(AGENT_STARTED.into(), Timestamp::now().to_string());
            }
            // Intent first: if this write loses a race, someone else has the step.
            if !self.write(&api, &mut r, status.clone()).await {
                continue;
            }
            let result = local::execute(&step.action, &self.config).await;
            let now = Timestamp::now();
            let (state, msg, ok) = match result {
                Ok(m) if step.verify.is_empty() => (StepState::Succeeded, m, true),
                Ok(m) => (StepState::Acted, m, true),
                Err(e) => (StepState::Failed, e, false),
            };
            let mut status = r.status.clone().unwrap_or(status);
            progress::record(&mut status, index, state, &msg, now);
            // The step is done on the node: retry the report until it lands (a conflict means
            // the controller wrote meanwhile; re-read and record again).
            for _ in 0..5 {
                if self.write(&api, &mut r, status.clone()).await {
                    break;
                }
                match api.get(&name).await {
                    Ok(fresh) => {
                        r = fresh;
                        status = r.status.clone().unwrap_or_default();
                        progress::record(&mut status, index, state, &msg, now);
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
            report.acted.push((name, step.name.clone(), ok));
        }
        Ok(report)
    }

    async fn write(
        &self,
        api: &Api<Remediation>,
        r: &mut Remediation,
        status: kubemedic_heal::RemediationStatus,
    ) -> bool {
        let mut next = r.clone();
        next.status = Some(status);
        match api
            .replace_status(&r.name_any(), &PostParams::default(), &next)
            .await
        {
            Ok(updated) => {
                *r = updated;
                true
            }
            Err(e) => {
                tracing::info!(remediation = %r.name_any(), error = %e, "status not written");
                false
            }
        }
    }
}
