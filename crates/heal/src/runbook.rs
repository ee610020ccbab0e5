//! The runbook format: parsing (YAML) and validation with origin, field path, line and reason.
//!
//! A file holds one runbook, or an override of an embedded one (only `name` plus `mode`,
//! `cooldown`, `enableSteps`, `disableSteps`). Validation collects every problem of a file at
//! once, so a user fixes them in one go.

use crate::action::{Action, ActionKind, AlertSeverity, TargetKind};
use crate::duration;
use crate::selector::LabelSelector;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

/// Whether a runbook acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Matched and planned, reported by `heal plan` and as a dry-run Event, nothing done.
    #[default]
    DryRun,
    /// Acts, within the safety gates.
    Enabled,
    /// Ignored entirely.
    Disabled,
}

impl Mode {
    /// The name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DryRun => "dry-run",
            Mode::Enabled => "enabled",
            Mode::Disabled => "disabled",
        }
    }

    fn parse(s: &str) -> Option<Mode> {
        [Mode::DryRun, Mode::Enabled, Mode::Disabled]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// What must hold for a step to count as having healed the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verify {
    /// The runbook's match no longer holds (the condition cleared, the finding is gone).
    ConditionCleared,
    /// The node's Ready condition is True.
    NodeReady,
    /// The target pod, or every pod on the target node, is Running and Ready.
    PodsReady,
    /// The pods a `delete-pod` step deleted have replacements on the node, Running and Ready.
    ReplacementReady,
}

impl Verify {
    /// Every check, in documentation order.
    pub const ALL: [Verify; 4] = [
        Verify::ConditionCleared,
        Verify::NodeReady,
        Verify::PodsReady,
        Verify::ReplacementReady,
    ];

    /// The name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Verify::ConditionCleared => "condition-cleared",
            Verify::NodeReady => "node-ready",
            Verify::PodsReady => "pods-ready",
            Verify::ReplacementReady => "replacement-ready",
        }
    }
}

/// What happens when a step's verification does not hold within its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnTimeout {
    /// Go on with the next step (the ladder).
    #[default]
    Next,
    /// Stop and alert a person (a drain that cannot finish must never lead to a reboot).
    Escalate,
}

/// One NodeCondition a runbook matches, held for at least `for_`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionMatch {
    /// Condition type (`Ready`, `KernelDeadlock`, `NetworkUnavailable`, ...).
    #[serde(rename = "type")]
    pub type_: String,
    /// Accepted statuses (`True`, `False`, `Unknown`).
    pub status: Vec<String>,
    /// Substring the condition's reason must contain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Substring the condition's message must contain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Minimum time in that state, counted from lastTransitionTime.
    #[serde(rename = "for", with = "duration::serde_text")]
    pub for_: Duration,
}

/// What a runbook matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Matcher {
    /// Cause IDs from the catalog; a finding with one of them on the target matches.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    /// NodeConditions (node targets only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ConditionMatch>,
    /// Causes that veto the match: a target with a finding of one of them is left alone (a
    /// runtime restart is the wrong cure for xtables lock contention).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unless_causes: Vec<String>,
    /// How long a cause finding must have been seen before acting.
    #[serde(rename = "for", with = "duration::serde_text")]
    pub for_: Duration,
    /// Nodes the runbook applies to (node targets: the node; pod targets: the pod's node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,
    /// Pods the runbook applies to (pod targets only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
}

/// One step of the ladder.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Unique within the runbook.
    pub name: String,
    /// The checked action.
    pub action: Action,
    /// Parameters as written (kept for the Remediation object, which re-checks them).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub with: BTreeMap<String, String>,
    /// How long the action plus its verification may take.
    #[serde(with = "duration::serde_text")]
    pub timeout: Duration,
    /// What must hold for the step to count as healing; empty: the action's own success.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<Verify>,
    /// What a timeout leads to.
    pub on_timeout: OnTimeout,
    /// A disabled step is skipped (recorded as skipped).
    pub enabled: bool,
}

/// The final alert when the ladder is exhausted or a step escalates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Escalation {
    /// Severity of the alert.
    pub severity: AlertSeverity,
    /// Message template (`{{runbook}}`, `{{target}}`, `{{reason}}`, `{{summary}}`).
    pub message: String,
}

/// A validated runbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Runbook {
    /// Unique name (`[a-z0-9-]`).
    pub name: String,
    /// One line: what problem it heals.
    pub description: String,
    /// Where the knowledge comes from (seed or handbook section).
    pub source: String,
    /// Whether it acts.
    pub mode: Mode,
    /// Node or pod.
    pub target: TargetKind,
    /// What it matches.
    #[serde(rename = "match")]
    pub matcher: Matcher,
    /// The ladder.
    pub steps: Vec<Step>,
    /// The final alert.
    pub escalate: Escalation,
    /// Cooldown after a run on a target (overrides the safety config's default).
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "opt_duration",
        default
    )]
    pub cooldown: Option<Duration>,
}

mod opt_duration {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&crate::duration::format(*d)),
            None => s.serialize_none(),
        }
    }
}

impl Runbook {
    /// Whether the escalation alert follows the ladder: not when the last enabled step is an
    /// alert (see `progress::escalation_alert_needed`, the same rule on a run's history).
    pub fn escalation_alert(&self) -> bool {
        self.steps
            .iter()
            .rev()
            .find(|s| s.enabled)
            .is_none_or(|s| s.action.kind() != ActionKind::Alert)
    }

    /// Whether any enabled step is disruptive (the budget and the per-node lock apply).
    pub fn disruptive(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.enabled && s.action.kind().disruptive())
    }
}

/// An override of an embedded runbook (a file with a name and no `match`/`steps`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Override {
    /// The runbook it changes.
    pub name: String,
    /// New mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// New cooldown.
    #[serde(skip)]
    pub cooldown: Option<Duration>,
    /// Steps to enable.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enable_steps: Vec<String>,
    /// Steps to disable.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disable_steps: Vec<String>,
}

/// What one file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum RunbookDoc {
    /// A complete runbook (replaces an embedded one of the same name).
    Runbook(Box<Runbook>),
    /// Changes to an existing runbook.
    Override(Override),
}

/// One problem in a runbook file: where (origin, line, field path) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunbookError {
    /// File path, `embedded:<file>` or `configmap <ns>/<name> key <key>`.
    pub origin: String,
    /// Line in the file, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Field path (`steps[1].action`); empty for the whole file.
    pub path: String,
    /// What is wrong and what is expected.
    pub reason: String,
}

impl fmt::Display for RunbookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// A YAML scalar of any type, kept as text (`with:` values).
#[derive(Debug, Clone)]
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `status: False` or `status: [False, Unknown]` (YAML may read the bare words as booleans).
#[derive(Debug, Clone, Default)]
struct StatusList(Vec<String>);

impl<'de> Deserialize<'de> for StatusList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("True, False, Unknown or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusList, E> {
                Ok(StatusList(vec![v.to_string()]))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<StatusList, E> {
                Ok(StatusList(vec![if v { "True" } else { "False" }.into()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<StatusList, A::Error> {
                let mut out = Vec::new();
                while let Some(Scalar(s)) = seq.next_element::<Scalar>()? {
                    out.push(match s.as_str() {
                        "true" => "True".to_string(),
                        "false" => "False".to_string(),
                        _ => s,
                    });
                }
                Ok(StatusList(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRunbook {
    name: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    mode: Option<Spanned<String>>,
    #[serde(default)]
    target: Option<Spanned<String>>,
    #[serde(default, rename = "match")]
    matcher: Option<Spanned<RawMatch>>,
    #[serde(default)]
    steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
    #[serde(default)]
    escalate: Option<RawEscalate>,
    #[serde(default)]
    cooldown: Option<Spanned<String>>,
    #[serde(default)]
    enable_steps: Vec<Spanned<String>>,
    #[serde(default)]
    disable_steps: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMatch {
    #[serde(default)]
    causes: Vec<Spanned<String>>,
    #[serde(default)]
    conditions: Vec<Spanned<RawCondition>>,
    #[serde(default)]
    unless_causes: Vec<Spanned<String>>,
    #[serde(default, rename = "for")]
    for_: Option<Spanned<String>>,
    #[serde(default)]
    node_selector: Option<Spanned<String>>,
    #[serde(default)]
    pod_selector: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCondition {
    #[serde(rename = "type")]
    type_: Option<Spanned<String>>,
    #[serde(default)]
    status: Option<StatusList>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "for")]
    for_: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawStep {
    #[serde(default)]
    name: Option<Spanned<String>>,
    action: Option<Spanned<String>>,
    #[serde(default)]
    with: BTreeMap<String, Scalar>,
    #[serde(default)]
    timeout: Option<Spanned<String>>,
    #[serde(default)]
    verify: Vec<Spanned<String>>,
    #[serde(default)]
    on_timeout: Option<Spanned<String>>,
    #[serde(default)]
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEscalate {
    #[serde(default)]
    severity: Option<Spanned<String>>,
    #[serde(default)]
    message: Option<String>,
}

/// The step timeout when a step gives none.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(300);

/// The escalation message when a runbook gives none.
pub const DEFAULT_ESCALATION: &str =
    "{{runbook}} could not heal {{target}}: {{reason}}. Diagnosis: {{summary}}";

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Whether the text is a cause ID from the catalog (exact spelling).
pub fn known_cause(id: &str) -> bool {
    kubemedic_diagnose::Cause::ALL
        .iter()
        .any(|c| c.as_str() == id)
}

struct Collector<'a> {
    origin: &'a str,
    errors: Vec<RunbookError>,
}

impl Collector<'_> {
    fn push(&mut self, line: Option<u64>, path: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(RunbookError {
            origin: self.origin.to_string(),
            line,
            path: path.into(),
            reason: reason.into(),
        });
    }

    fn duration(&mut self, s: &Spanned<String>, path: &str) -> Option<Duration> {
        match duration::parse(&s.value) {
            Ok(d) => Some(d),
            Err(e) => {
                self.push(Some(s.referenced.line()), path, e.to_string());
                None
            }
        }
    }
}

fn line_of<T>(s: &Spanned<T>) -> Option<u64> {
    Some(s.referenced.line())
}

/// Parses and validates one file. `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<RunbookDoc, Vec<RunbookError>> {
    let raw: RawRunbook = match serde_saphyr::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let line = e.location().map(|l| l.line());
            // The library renders a snippet over several lines; the first line says what is wrong.
            let msg = e.to_string();
            let reason = msg
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid YAML")
                .trim()
                .trim_start_matches("error: ")
                .to_string();
            return Err(vec![RunbookError {
                origin: origin.to_string(),
                line,
                path: String::new(),
                reason,
            }]);
        }
    };
    let mut c = Collector {
        origin,
        errors: Vec::new(),
    };
    let name = match &raw.name {
        Some(n) if valid_name(&n.value) => n.value.clone(),
        Some(n) => {
            c.push(
                line_of(n),
                "name",
                format!(
                    "{:?} is not a valid name (lower-case letters, digits and '-', at most 63)",
                    n.value
                ),
            );
            String::new()
        }
        None => {
            c.push(None, "name", "required");
            String::new()
        }
    };
    let mode = raw.mode.as_ref().and_then(|m| {
        let parsed = Mode::parse(&m.value);
        if parsed.is_none() {
            c.push(
                line_of(m),
                "mode",
                format!("{:?} is not dry-run, enabled or disabled", m.value),
            );
        }
        parsed
    });
    let cooldown = raw
        .cooldown
        .as_ref()
        .and_then(|s| c.duration(s, "cooldown"));

    if raw.matcher.is_none() && raw.steps.is_none() {
        // An override of an existing runbook.
        for (field, present) in [
            ("description", raw.description.is_some()),
            ("source", raw.source.is_some()),
            ("target", raw.target.is_some()),
            ("escalate", raw.escalate.is_some()),
        ] {
            if present {
                c.push(
                    None,
                    field,
                    "an override (a file without match and steps) may only set mode, cooldown, enableSteps and disableSteps",
                );
            }
        }
        if !c.errors.is_empty() {
            return Err(c.errors);
        }
        return Ok(RunbookDoc::Override(Override {
            name,
            mode,
            cooldown,
            enable_steps: raw.enable_steps.iter().map(|s| s.value.clone()).collect(),
            disable_steps: raw.disable_steps.iter().map(|s| s.value.clone()).collect(),
        }));
    }
    if !raw.enable_steps.is_empty() || !raw.disable_steps.is_empty() {
        c.push(
            None,
            "enableSteps",
            "enableSteps/disableSteps belong in an override; in a full runbook set each step's enabled",
        );
    }

    let target = match &raw.target {
        None => TargetKind::Node,
        Some(t) => match t.value.as_str() {
            "node" => TargetKind::Node,
            "pod" => TargetKind::Pod,
            other => {
                c.push(
                    line_of(t),
                    "target",
                    format!("{other:?} is not node or pod"),
                );
                TargetKind::Node
            }
        },
    };

    let matcher = match &raw.matcher {
        None => {
            c.push(None, "match", "required: causes and/or conditions to match");
            None
        }
        Some(m) => validate_match(&mut c, m, target),
    };

    let mut steps = Vec::new();
    match &raw.steps {
        None => c.push(None, "steps", "required: at least one step"),
        Some(list) if list.value.is_empty() => {
            c.push(line_of(list), "steps", "at least one step is required")
        }
        Some(list) => {
            let mut names = BTreeSet::new();
            for (i, step) in list.value.iter().enumerate() {
                if let Some(s) = validate_step(&mut c, step, i, target) {
                    if !names.insert(s.name.clone()) {
                        c.push(
                            line_of(step),
                            format!("steps[{i}].name"),
                            format!(
                                "{:?} is used by an earlier step; step names must be unique",
                                s.name
                            ),
                        );
                    }
                    steps.push(s);
                }
            }
        }
    }

    let escalate = {
        let severity = match raw.escalate.as_ref().and_then(|e| e.severity.as_ref()) {
            None => AlertSeverity::Critical,
            Some(s) => match s.value.as_str() {
                "critical" => AlertSeverity::Critical,
                "warning" => AlertSeverity::Warning,
                "info" => AlertSeverity::Info,
                other => {
                    c.push(
                        line_of(s),
                        "escalate.severity",
                        format!("{other:?} is not critical, warning or info"),
                    );
                    AlertSeverity::Critical
                }
            },
        };
        Escalation {
            severity,
            message: raw
                .escalate
                .as_ref()
                .and_then(|e| e.message.clone())
                .unwrap_or_else(|| DEFAULT_ESCALATION.to_string()),
        }
    };

    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    let Some(matcher) = matcher else {
        return Err(c.errors);
    };
    Ok(RunbookDoc::Runbook(Box::new(Runbook {
        name,
        description: raw.description.unwrap_or_default(),
        source: raw.source.unwrap_or_default(),
        mode: mode.unwrap_or_default(),
        target,
        matcher,
        steps,
        escalate,
        cooldown,
    })))
}

fn validate_match(
    c: &mut Collector<'_>,
    m: &Spanned<RawMatch>,
    target: TargetKind,
) -> Option<Matcher> {
    let before = c.errors.len();
    let raw = &m.value;
    if raw.causes.is_empty() && raw.conditions.is_empty() {
        c.push(
            line_of(m),
            "match",
            "give causes and/or conditions: a runbook that matches nothing never runs",
        );
    }
    let all_causes = raw
        .causes
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("match.causes[{i}]"), c))
        .chain(
            raw.unless_causes
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("match.unlessCauses[{i}]"), c)),
        );
    for (path, cause) in all_causes {
        if !known_cause(&cause.value) {
            let hint = kubemedic_diagnose::Cause::ALL
                .iter()
                .find(|k| k.as_str().eq_ignore_ascii_case(&cause.value))
                .map(|k| format!(" (did you mean {k}?)"))
                .unwrap_or_else(|| " (see `kubemedic explain cause` for the catalog)".into());
            c.push(
                line_of(cause),
                path,
                format!("unknown cause {:?}{hint}", cause.value),
            );
        }
    }
    if target == TargetKind::Pod && !raw.conditions.is_empty() {
        c.push(
            line_of(m),
            "match.conditions",
            "NodeConditions can only match node targets (target: node)",
        );
    }
    let mut conditions = Vec::new();
    for (i, cond) in raw.conditions.iter().enumerate() {
        let path = format!("match.conditions[{i}]");
        let type_ = match &cond.value.type_ {
            Some(t) if !t.value.is_empty() => t.value.clone(),
            _ => {
                c.push(line_of(cond), format!("{path}.type"), "required");
                continue;
            }
        };
        let status = cond
            .value
            .status
            .clone()
            .map(|s| s.0)
            .unwrap_or_else(|| vec!["True".to_string()]);
        for s in &status {
            if !matches!(s.as_str(), "True" | "False" | "Unknown") {
                c.push(
                    line_of(cond),
                    format!("{path}.status"),
                    format!("{s:?} is not True, False or Unknown"),
                );
            }
        }
        let for_ = match &cond.value.for_ {
            Some(f) => c
                .duration(f, &format!("{path}.for"))
                .unwrap_or(Duration::ZERO),
            None => Duration::ZERO,
        };
        conditions.push(ConditionMatch {
            type_,
            status,
            reason: cond.value.reason.clone(),
            message: cond.value.message.clone(),
            for_,
        });
    }
    let for_ = raw
        .for_
        .as_ref()
        .and_then(|f| c.duration(f, "match.for"))
        .unwrap_or(Duration::ZERO);
    let mut selector = |s: &Option<Spanned<String>>, path: &str| {
        s.as_ref()
            .and_then(|s| match LabelSelector::parse(&s.value) {
                Ok(sel) => Some(sel),
                Err(e) => {
                    c.push(line_of(s), path, e.to_string());
                    None
                }
            })
    };
    let node_selector = selector(&raw.node_selector, "match.nodeSelector");
    let pod_selector = selector(&raw.pod_selector, "match.podSelector");
    if target == TargetKind::Node && raw.pod_selector.is_some() {
        c.push(
            raw.pod_selector.as_ref().and_then(line_of),
            "match.podSelector",
            "podSelector narrows pod targets; for a node runbook use nodeSelector",
        );
    }
    (c.errors.len() == before).then(|| Matcher {
        causes: raw.causes.iter().map(|s| s.value.clone()).collect(),
        unless_causes: raw.unless_causes.iter().map(|s| s.value.clone()).collect(),
        conditions,
        for_,
        node_selector,
        pod_selector,
    })
}

fn validate_step(
    c: &mut Collector<'_>,
    step: &Spanned<RawStep>,
    i: usize,
    target: TargetKind,
) -> Option<Step> {
    let before = c.errors.len();
    let raw = &step.value;
    let path = format!("steps[{i}]");
    let kind = match &raw.action {
        None => {
            c.push(line_of(step), format!("{path}.action"), "required");
            None
        }
        Some(a) => {
            let k = ActionKind::from_name(&a.value);
            if k.is_none() {
                let names: Vec<&str> = ActionKind::ALL.iter().map(|k| k.as_str()).collect();
                c.push(
                    line_of(a),
                    format!("{path}.action"),
                    format!(
                        "unknown action {:?} (expected one of {})",
                        a.value,
                        names.join(", ")
                    ),
                );
            }
            k
        }
    };
    let with: BTreeMap<String, String> = raw
        .with
        .iter()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    let action = kind.and_then(|kind| match Action::build(kind, &with, target) {
        Ok(a) => Some(a),
        Err(errs) => {
            for e in errs {
                let p = if e.param.is_empty() {
                    format!("{path}.with")
                } else {
                    format!("{path}.with.{}", e.param)
                };
                c.push(line_of(step), p, e.reason);
            }
            None
        }
    });
    let name = match &raw.name {
        Some(n) if valid_name(&n.value) => n.value.clone(),
        Some(n) => {
            c.push(
                line_of(n),
                format!("{path}.name"),
                format!(
                    "{:?} is not a valid step name (lower-case letters, digits and '-')",
                    n.value
                ),
            );
            String::new()
        }
        None => kind.map(|k| k.as_str().to_string()).unwrap_or_default(),
    };
    let timeout = match &raw.timeout {
        None => DEFAULT_STEP_TIMEOUT,
        Some(t) => match c.duration(t, &format!("{path}.timeout")) {
            Some(d) if d.is_zero() => {
                c.push(line_of(t), format!("{path}.timeout"), "must be above 0s");
                d
            }
            Some(d) => d,
            None => DEFAULT_STEP_TIMEOUT,
        },
    };
    let mut verify = Vec::new();
    for (j, v) in raw.verify.iter().enumerate() {
        match Verify::ALL.iter().find(|k| k.as_str() == v.value) {
            Some(k) => {
                if target == TargetKind::Pod
                    && matches!(k, Verify::NodeReady | Verify::ReplacementReady)
                {
                    c.push(
                        line_of(v),
                        format!("{path}.verify[{j}]"),
                        format!("{} only applies to node targets", k.as_str()),
                    );
                }
                if *k == Verify::ReplacementReady && kind != Some(ActionKind::DeletePod) {
                    c.push(
                        line_of(v),
                        format!("{path}.verify[{j}]"),
                        "replacement-ready only follows a delete-pod step",
                    );
                }
                verify.push(*k);
            }
            None => {
                let names: Vec<&str> = Verify::ALL.iter().map(|k| k.as_str()).collect();
                c.push(
                    line_of(v),
                    format!("{path}.verify[{j}]"),
                    format!(
                        "unknown check {:?} (expected one of {})",
                        v.value,
                        names.join(", ")
                    ),
                );
            }
        }
    }
    let on_timeout = match &raw.on_timeout {
        None => OnTimeout::Next,
        Some(o) => match o.value.as_str() {
            "next" => OnTimeout::Next,
            "escalate" => OnTimeout::Escalate,
            other => {
                c.push(
                    line_of(o),
                    format!("{path}.onTimeout"),
                    format!("{other:?} is not next or escalate"),
                );
                OnTimeout::Next
            }
        },
    };
    if c.errors.len() != before {
        return None;
    }
    Some(Step {
        name,
        action: action?,
        with,
        timeout,
        verify,
        on_timeout,
        enabled: raw.enabled.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name: cni-failure
description: CNI down on a node
source: seed
mode: enabled
target: node
match:
  causes: [CNIFailure]
  conditions:
    - type: Ready
      status: "False"
      message: NetworkPluginNotReady
      for: 30s
steps:
  - name: delete-cni-pod
    action: delete-pod
    with: {namespace: kube-system, labelSelector: "app in (flannel, calico-node)"}
    timeout: 2m
    verify: [replacement-ready, condition-cleared]
  - action: restart-runtime
    timeout: 3m
    verify: [condition-cleared]
escalate:
  severity: critical
"#;

    fn runbook(doc: RunbookDoc) -> Runbook {
        match doc {
            RunbookDoc::Runbook(r) => *r,
            RunbookDoc::Override(_) => panic!("override"),
        }
    }

    #[test]
    fn parses_a_full_runbook() {
        let r = runbook(parse(GOOD, "t.yaml").unwrap());
        assert_eq!(r.name, "cni-failure");
        assert_eq!(r.mode, Mode::Enabled);
        assert_eq!(r.matcher.conditions[0].status, vec!["False"]);
        assert_eq!(r.matcher.conditions[0].for_, Duration::from_secs(30));
        assert_eq!(r.steps.len(), 2);
        assert_eq!(r.steps[1].name, "restart-runtime");
        assert_eq!(r.steps[1].timeout, Duration::from_secs(180));
        assert!(r.disruptive());
        assert_eq!(r.escalate.message, DEFAULT_ESCALATION);
    }

    #[test]
    fn bare_yaml_booleans_are_condition_statuses() {
        let text = GOOD.replace("status: \"False\"", "status: [False, Unknown]");
        let r = runbook(parse(&text, "t.yaml").unwrap());
        assert_eq!(r.matcher.conditions[0].status, vec!["False", "Unknown"]);
    }

    #[test]
    fn every_problem_is_reported_with_line_and_path() {
        let text = GOOD
            .replace("action: restart-runtime", "action: restar-runtime")
            .replace("[CNIFailure]", "[CniFailure]")
            .replace("for: 30s", "for: 30")
            .replace("timeout: 2m", "timeout: soon");
        let errs = parse(&text, "bad.yaml").unwrap_err();
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        let find = |p: &str| {
            errs.iter()
                .find(|e| e.path == p)
                .unwrap_or_else(|| panic!("no error at {p}: {shown:#?}"))
        };
        let a = find("steps[1].action");
        assert!(
            a.reason.contains("unknown action \"restar-runtime\""),
            "{a}"
        );
        assert_eq!(a.line, Some(20));
        assert!(a.to_string().starts_with("bad.yaml:20: steps[1].action: "));
        let c = find("match.causes[0]");
        assert!(c.reason.contains("did you mean CNIFailure?"), "{c}");
        assert_eq!(c.line, Some(8));
        assert!(
            find("match.conditions[0].for")
                .reason
                .contains("needs a unit")
        );
        assert!(find("steps[0].timeout").reason.contains("bad duration"));
    }

    #[test]
    fn unknown_fields_and_syntax_errors_name_the_line() {
        let errs = parse(
            "name: x\nmatch:\n  causes: [OOMKilled]\nsteps: []\nfoo: 1\n",
            "f.yaml",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].reason.contains("foo"), "{}", errs[0]);
        assert_eq!(errs[0].line, Some(5));

        let errs = parse("name: [unclosed\n", "g.yaml").unwrap_err();
        assert!(errs[0].line.is_some(), "{}", errs[0]);
    }

    #[test]
    fn overrides_are_only_name_and_switches() {
        let doc = parse(
            "name: cni-failure\nmode: enabled\nenableSteps: [restart-runtime]\n",
            "o.yaml",
        )
        .unwrap();
        assert_eq!(
            doc,
            RunbookDoc::Override(Override {
                name: "cni-failure".into(),
                mode: Some(Mode::Enabled),
                cooldown: None,
                enable_steps: vec!["restart-runtime".into()],
                disable_steps: vec![],
            })
        );
        let errs = parse("name: x\ndescription: y\n", "o.yaml").unwrap_err();
        assert_eq!(errs[0].path, "description");
    }

    #[test]
    fn pod_runbooks_cannot_match_conditions_or_drain() {
        let text = r#"
name: p
target: pod
match:
  causes: [OOMKilled]
  conditions: [{type: Ready, status: "False"}]
steps:
  - action: drain
"#;
        let errs = parse(text, "p.yaml").unwrap_err();
        assert!(
            errs.iter().any(|e| e.path == "match.conditions"),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.path == "steps[0].with" && e.reason.contains("pod target")),
            "{errs:?}"
        );
    }

    #[test]
    fn duplicate_step_names_are_refused() {
        let text = r#"
name: d
match: {causes: [NodeDiskFull]}
steps:
  - action: prune-images
  - action: prune-images
"#;
        let errs = parse(text, "d.yaml").unwrap_err();
        assert_eq!(errs[0].path, "steps[1].name");
    }
}
