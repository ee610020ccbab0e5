//! How a run moves from step to step, as a pure function of its status and what is observed.
//!
//! The executor's loop is: ask [`next`], write the status change it implies (with the object's
//! resourceVersion, so a deposed leader's write fails), and only then act. Because the intent of
//! a step is written before its action, a process killed at any point resumes from the status:
//! a finished step is never repeated; a started step is carried out again only when its action
//! is replayable (doing it twice is doing it once); otherwise it is recorded as interrupted and
//! the run goes on to verification (a runtime restart or a reboot happens at most once).

use crate::crd::{CheckedStep, Phase, RemediationStatus, StepRecord, StepState, stamp};
use crate::runbook::{OnTimeout, Verify};
use jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;

/// What is known about the target at this moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observation {
    /// Now.
    pub now: Timestamp,
    /// The runbook no longer matches the target.
    pub healthy: bool,
    /// Why it counts as healthy (recorded when the run stops).
    pub healthy_reason: String,
    /// Results of the current step's checks other than `condition-cleared`.
    pub checks: BTreeMap<Verify, bool>,
    /// The pause switch.
    pub paused: bool,
}

/// The next thing to do for a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Record the start of step `index` (with the intent the executor fills in), then act.
    Start {
        /// Step index.
        index: usize,
    },
    /// Step `index` was started by an earlier leader and its action is replayable: act again.
    Replay {
        /// Step index.
        index: usize,
    },
    /// Step `index` was started by an earlier leader, its action is not replayable: record it
    /// as interrupted (not repeated), then verify.
    Interrupted {
        /// Step index.
        index: usize,
    },
    /// Step `index` is disabled: record it as skipped.
    Skip {
        /// Step index.
        index: usize,
    },
    /// The action of step `index` is done: wait for its checks until `deadline`.
    Verify {
        /// Step index.
        index: usize,
        /// When the step times out.
        deadline: Timestamp,
    },
    /// Step `index` verified: the run succeeded.
    Succeed {
        /// Step index.
        index: usize,
    },
    /// Step `index` timed out: record it and go on (or escalate, per the step).
    TimedOut {
        /// Step index.
        index: usize,
        /// Escalate rather than go on.
        escalate: bool,
    },
    /// The run ends in this phase.
    Finish {
        /// Final phase.
        phase: Phase,
        /// Why.
        message: String,
    },
    /// Nothing to do now (paused between steps).
    Wait {
        /// Why.
        reason: String,
    },
}

fn latest(status: &RemediationStatus, index: usize) -> Option<&StepRecord> {
    status
        .history
        .iter()
        .rev()
        .find(|r| r.index as usize == index)
}

fn parse(t: &str) -> Option<Timestamp> {
    t.parse().ok()
}

fn deadline(rec: &StepRecord, step: &CheckedStep) -> Timestamp {
    let start = parse(&rec.started_at).unwrap_or(Timestamp::MIN);
    SignedDuration::try_from(step.timeout)
        .ok()
        .and_then(|d| start.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// Whether the step's checks hold.
pub fn verified(step: &CheckedStep, obs: &Observation) -> bool {
    step.verify.iter().all(|v| match v {
        Verify::ConditionCleared => obs.healthy,
        other => obs.checks.get(other).copied().unwrap_or(false),
    })
}

/// Decides what to do next. `fresh_leader` is true on the first call after this process took
/// the run up (a step found Started was begun by someone else, or by us before a crash).
pub fn next(
    steps: &[CheckedStep],
    status: &RemediationStatus,
    obs: &Observation,
    fresh_leader: bool,
) -> Next {
    if status.phase.is_some_and(Phase::finished) {
        return Next::Wait {
            reason: "finished".into(),
        };
    }
    // Where the ladder is: the first step without a finished record.
    let mut index = 0;
    while index < steps.len() {
        match latest(status, index) {
            Some(r) if r.state.finished() => {
                if r.state == StepState::Succeeded && !steps[index].verify.is_empty() {
                    return Next::Finish {
                        phase: Phase::Succeeded,
                        message: format!("healed by step {} ({})", index + 1, r.name),
                    };
                }
                if r.state == StepState::TimedOut && steps[index].on_timeout == OnTimeout::Escalate
                {
                    return Next::Finish {
                        phase: Phase::Escalated,
                        message: format!(
                            "step {} ({}) did not finish within {}; escalated instead of going on",
                            index + 1,
                            r.name,
                            crate::duration::Human(steps[index].timeout)
                        ),
                    };
                }
                if r.state == StepState::Failed && steps[index].on_timeout == OnTimeout::Escalate {
                    return Next::Finish {
                        phase: Phase::Escalated,
                        message: format!("step {} ({}) failed: {}", index + 1, r.name, r.message),
                    };
                }
                index += 1;
            }
            Some(r) => {
                let step = &steps[index];
                if r.state == StepState::Started && fresh_leader {
                    return if step.action.kind().replayable() {
                        Next::Replay { index }
                    } else {
                        Next::Interrupted { index }
                    };
                }
                if r.state == StepState::Started {
                    // Our own action is in progress (a drain waiting on PDBs): it has the
                    // step's timeout like its verification.
                    if obs.now >= deadline(r, step) {
                        return Next::TimedOut {
                            index,
                            escalate: step.on_timeout == OnTimeout::Escalate,
                        };
                    }
                    return Next::Wait {
                        reason: format!("step {} in progress", index + 1),
                    };
                }
                // Acted: verify.
                if verified(step, obs) {
                    return Next::Succeed { index };
                }
                let dl = deadline(r, step);
                if obs.now >= dl {
                    return Next::TimedOut {
                        index,
                        escalate: step.on_timeout == OnTimeout::Escalate,
                    };
                }
                return Next::Verify {
                    index,
                    deadline: dl,
                };
            }
            None => break,
        }
    }
    // Between steps: the target may have healed on its own, or by the last step.
    if obs.healthy {
        let acted = status
            .history
            .iter()
            .any(|r| !matches!(r.state, StepState::Skipped));
        return Next::Finish {
            phase: if acted {
                Phase::Succeeded
            } else {
                Phase::Cancelled
            },
            message: if obs.healthy_reason.is_empty() {
                "target healthy again".into()
            } else {
                obs.healthy_reason.clone()
            },
        };
    }
    if index >= steps.len() {
        return Next::Finish {
            phase: Phase::Escalated,
            message: "every step was tried and the target is still unhealthy".into(),
        };
    }
    if obs.paused {
        return Next::Wait {
            reason: "healing is paused".into(),
        };
    }
    if !steps[index].enabled {
        return Next::Skip { index };
    }
    Next::Start { index }
}

/// The status change for starting step `index` (the executor adds its intent before writing).
pub fn begin(
    status: &mut RemediationStatus,
    steps: &[CheckedStep],
    index: usize,
    executor: &str,
    now: Timestamp,
) {
    let step = &steps[index];
    status.phase = Some(Phase::Running);
    status.started_at.get_or_insert_with(|| stamp(now));
    status.current_step = Some(index as u32);
    status.current_step_name = Some(step.name.clone());
    status.message = format!("step {} ({}) started", index + 1, step.name);
    status.history.push(StepRecord {
        index: index as u32,
        name: step.name.clone(),
        action: step.action.kind().as_str().to_string(),
        attempt: status.attempts.max(1),
        state: StepState::Started,
        executor: executor.to_string(),
        started_at: stamp(now),
        acted_at: None,
        finished_at: None,
        message: String::new(),
        intent: BTreeMap::new(),
    });
}

/// Sets the latest record of step `index` to `state` with a message.
pub fn record(
    status: &mut RemediationStatus,
    index: usize,
    state: StepState,
    message: &str,
    now: Timestamp,
) {
    if let Some(r) = status
        .history
        .iter_mut()
        .rev()
        .find(|r| r.index as usize == index)
    {
        r.state = state;
        if !message.is_empty() {
            r.message = message.to_string();
        }
        if state == StepState::Acted {
            r.acted_at = Some(stamp(now));
        } else if state.finished() {
            r.acted_at.get_or_insert_with(|| stamp(now));
            r.finished_at = Some(stamp(now));
        }
    }
}

/// A skipped step's record.
pub fn skip(
    status: &mut RemediationStatus,
    steps: &[CheckedStep],
    index: usize,
    why: &str,
    now: Timestamp,
) {
    begin(status, steps, index, "controller", now);
    record(status, index, StepState::Skipped, why, now);
}

/// Whether ending the run in `Escalated` should send the escalation alert: not when the last
/// step carried out was itself an alert (an alert-only ladder already told a person).
pub fn escalation_alert_needed(status: &RemediationStatus) -> bool {
    status
        .history
        .iter()
        .rev()
        .find(|r| r.state != StepState::Skipped)
        .is_none_or(|r| r.action != crate::action::ActionKind::Alert.as_str())
}

/// The status change for ending the run.
pub fn finish(status: &mut RemediationStatus, phase: Phase, message: &str, now: Timestamp) {
    status.phase = Some(phase);
    status.message = message.to_string();
    status.finished_at = Some(stamp(now));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::RemediationSpec;
    use crate::library::Library;
    use crate::view::TargetRef;

    fn steps(name: &str) -> Vec<CheckedStep> {
        let lib = Library::embedded();
        let rb = &lib.get(name).unwrap().runbook;
        RemediationSpec::new(rb, &TargetRef::node("n1"), Some("n1"), vec![], "")
            .check()
            .unwrap()
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    /// Drives a run to its end with a simulated executor that may "crash" after any status
    /// write; returns the actions carried out, in order, and the final status.
    fn drive(
        steps: &[CheckedStep],
        crash_after_write: Option<usize>,
        heals_after: Option<&str>,
        stuck: Option<&str>,
    ) -> (Vec<String>, RemediationStatus) {
        let mut status = RemediationStatus {
            attempts: 1,
            ..Default::default()
        };
        let mut acted: Vec<String> = Vec::new();
        let mut writes = 0usize;
        let mut fresh = true;
        let mut t = 0;
        let mut crashed = false;
        for _ in 0..1000 {
            t += 10;
            let healthy = heals_after.is_some_and(|h| acted.iter().any(|a| a == h));
            let obs = Observation {
                now: at(t),
                healthy,
                healthy_reason: "Ready=True".into(),
                checks: Verify::ALL.iter().map(|v| (*v, healthy)).collect(),
                paused: false,
            };
            let n = next(steps, &status, &obs, fresh);
            fresh = false;
            let before = status.clone();
            match n {
                Next::Start { index } => {
                    begin(&mut status, steps, index, "controller", at(t));
                    writes += 1;
                    if Some(writes) == crash_after_write && !crashed {
                        // Killed after writing the intent, before acting.
                        crashed = true;
                        fresh = true;
                        status.attempts += 1;
                        continue;
                    }
                    acted.push(steps[index].name.clone());
                    if stuck != Some(steps[index].name.as_str()) {
                        record(&mut status, index, StepState::Acted, "done", at(t));
                        writes += 1;
                    }
                }
                Next::Replay { index } => {
                    acted.push(steps[index].name.clone());
                    record(&mut status, index, StepState::Acted, "replayed", at(t));
                    writes += 1;
                }
                Next::Interrupted { index } => {
                    record(&mut status, index, StepState::Acted, "interrupted", at(t));
                    writes += 1;
                }
                Next::Skip { index } => {
                    skip(&mut status, steps, index, "disabled", at(t));
                    writes += 1;
                }
                Next::Verify { .. } | Next::Wait { .. } => {}
                Next::Succeed { index } => {
                    record(&mut status, index, StepState::Succeeded, "verified", at(t));
                    writes += 1;
                }
                Next::TimedOut { index, .. } => {
                    record(&mut status, index, StepState::TimedOut, "timed out", at(t));
                    writes += 1;
                }
                Next::Finish { phase, message } => {
                    finish(&mut status, phase, &message, at(t));
                    return (acted, status);
                }
            }
            if Some(writes) == crash_after_write && !crashed && status != before {
                crashed = true;
                fresh = true;
                status.attempts += 1;
            }
        }
        panic!("run did not finish: {status:?}");
    }

    #[test]
    fn the_cni_ladder_escalates_when_nothing_helps() {
        let s = steps("cni-failure");
        let (acted, status) = drive(&s, None, None, None);
        assert_eq!(acted, vec!["delete-cni-pod", "restart-runtime"]);
        assert_eq!(status.phase, Some(Phase::Escalated));
        assert_eq!(status.history.len(), 2);
        assert!(
            status
                .history
                .iter()
                .all(|r| r.state == StepState::TimedOut)
        );
    }

    #[test]
    fn the_ladder_stops_at_the_step_that_heals() {
        let s = steps("cni-failure");
        let (acted, status) = drive(&s, None, Some("delete-cni-pod"), None);
        assert_eq!(acted, vec!["delete-cni-pod"]);
        assert_eq!(status.phase, Some(Phase::Succeeded));
        assert_eq!(status.message, "healed by step 1 (delete-cni-pod)");
    }

    #[test]
    fn a_drain_that_times_out_escalates_and_never_reboots() {
        let mut s = steps("kernel-deadlock");
        s[2].enabled = true; // reboot enabled: still never reached after a stuck drain
        let (acted, status) = drive(&s, None, None, Some("drain"));
        assert_eq!(acted, vec!["cordon", "drain"]);
        assert_eq!(status.phase, Some(Phase::Escalated));
        assert!(status.message.contains("escalated instead of going on"));
    }

    #[test]
    fn disabled_steps_are_recorded_as_skipped() {
        let s = steps("kernel-deadlock");
        let s: Vec<CheckedStep> = s[..1].iter().chain(&s[2..]).cloned().collect();
        let (acted, status) = drive(&s, None, None, None);
        assert_eq!(acted, vec!["cordon"]);
        assert_eq!(status.history[1].state, StepState::Skipped);
        assert_eq!(status.phase, Some(Phase::Escalated));
    }

    #[test]
    fn a_crash_at_any_write_never_repeats_a_finished_step_nor_a_restart() {
        for name in ["cni-failure", "runtime-unresponsive", "node-disk-full"] {
            let s = steps(name);
            let (clean, _) = drive(&s, None, None, None);
            for crash in 1..=12 {
                let (acted, status) = drive(&s, Some(crash), None, None);
                assert!(status.phase.is_some_and(Phase::finished));
                for step in &s {
                    let n = acted.iter().filter(|a| **a == step.name).count();
                    let kind = step.action.kind();
                    if kind.replayable() {
                        // Replayable actions may run once more after a crash mid-step.
                        assert!(n <= 2, "{name} crash {crash}: {} ran {n} times", step.name);
                    } else {
                        assert!(n <= 1, "{name} crash {crash}: {} ran {n} times", step.name);
                    }
                }
                // No step runs again once a later step has started.
                let mut last_seen: BTreeMap<&str, usize> = BTreeMap::new();
                for (i, a) in acted.iter().enumerate() {
                    if let Some(prev) = last_seen.get(a.as_str()) {
                        assert_eq!(*prev + 1, i, "{name} crash {crash}: {acted:?}");
                    }
                    last_seen.insert(a, i);
                }
                assert!(acted.len() <= clean.len() + 1, "{acted:?} vs {clean:?}");
            }
        }
    }

    #[test]
    fn a_target_healthy_before_any_action_cancels() {
        let s = steps("node-not-ready");
        let status = RemediationStatus::default();
        let obs = Observation {
            now: at(0),
            healthy: true,
            healthy_reason: "node/n1 healthy again".into(),
            ..Default::default()
        };
        assert_eq!(
            next(&s, &status, &obs, true),
            Next::Finish {
                phase: Phase::Cancelled,
                message: "node/n1 healthy again".into()
            }
        );
    }
}
