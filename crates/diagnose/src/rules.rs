//! Rules users add in YAML: a regex on a named field (an event's reason or message, a container's
//! waiting or terminated message, a line of a container's or a node's log) mapped to a built-in
//! cause or to a cause of their own, with summary and fix templates.
//!
//! Parsing is pure (text in, rules or errors with file, line and reason out); reading the files
//! is the caller's job. The built-in message rules are listed in the same form
//! ([`builtin_rules`]) so users can see how each cause is recognised.

use crate::finding::{Cause, Severity};
use regex::Regex;
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::fmt;

/// Where a rule looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// An Event's reason (`FailedMount`), on a pod or node.
    EventReason,
    /// An Event's message, on a pod or node.
    EventMessage,
    /// A container's waiting message (`state.waiting.message`).
    ContainerWaiting,
    /// A container's terminated message (`state/lastState.terminated.message`).
    ContainerTerminated,
    /// A line of a container's log (current or previous instance).
    ContainerLog,
    /// A line of a node log (kernel, kubelet, containerd, docker, kube-proxy, syslog).
    NodeLog,
}

impl Field {
    /// Every field, in the order they are documented.
    pub const ALL: [Field; 6] = [
        Field::EventReason,
        Field::EventMessage,
        Field::ContainerWaiting,
        Field::ContainerTerminated,
        Field::ContainerLog,
        Field::NodeLog,
    ];

    /// The name used in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::EventReason => "event.reason",
            Field::EventMessage => "event.message",
            Field::ContainerWaiting => "container.waiting",
            Field::ContainerTerminated => "container.terminated",
            Field::ContainerLog => "container.log",
            Field::NodeLog => "node.log",
        }
    }

    fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Placeholders a template may use for this field.
    fn placeholders(self) -> &'static [&'static str] {
        match self {
            Field::NodeLog => &["node", "object", "match", "line", "source"],
            Field::EventReason | Field::EventMessage => &[
                "namespace",
                "pod",
                "node",
                "object",
                "match",
                "line",
                "reason",
            ],
            Field::ContainerWaiting | Field::ContainerTerminated | Field::ContainerLog => &[
                "namespace",
                "pod",
                "container",
                "node",
                "object",
                "match",
                "line",
            ],
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cause declared in a rules file.
#[derive(Debug, Clone, PartialEq)]
pub struct UserCause {
    /// The cause (always [`Cause::User`]).
    pub id: Cause,
    /// Short human title.
    pub title: String,
    /// What it means.
    pub meaning: String,
    /// How to fix it.
    pub fix: Vec<String>,
    /// `file:line` where it was declared.
    pub origin: String,
}

/// One rule, validated.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique ID (`vendor-csi-stale-lock`; built-ins start with `builtin/`).
    pub id: String,
    /// Where it looks.
    pub fields: Vec<Field>,
    /// What it looks for.
    pub regex: Regex,
    /// Only events with this reason (event fields).
    pub reason: Option<String>,
    /// Only this node log source (`node.log`).
    pub source: Option<String>,
    /// Only this container (container fields).
    pub container: Option<String>,
    /// The cause it maps to.
    pub cause: Cause,
    /// Severity of the finding.
    pub severity: Severity,
    /// Confidence of the finding.
    pub confidence: f64,
    /// Summary template (`{pod}`, `{node}`, `{match}`, `{1}`...).
    pub summary: Option<String>,
    /// Fix templates.
    pub fix: Vec<String>,
    /// `file:line` where it was declared.
    pub origin: String,
}

/// A problem in a rules file: which file, where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The file (as given).
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: u64,
    /// 1-based column, 0 when unknown.
    pub column: u64,
    /// What is wrong and what to do.
    pub reason: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {}", self.file, self.reason),
            (l, 0) => write!(f, "{}:{l}: {}", self.file, self.reason),
            (l, c) => write!(f, "{}:{l}:{c}: {}", self.file, self.reason),
        }
    }
}

impl std::error::Error for RuleError {}

/// The rules and causes users added, checked as a whole (IDs unique across files).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Rules, in file order.
    pub rules: Vec<Rule>,
    /// User causes, in file order.
    pub causes: Vec<UserCause>,
}

// ---- the file format ------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    causes: Vec<CauseDoc>,
    #[serde(default)]
    rules: Vec<RuleDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CauseDoc {
    id: Spanned<String>,
    title: String,
    #[serde(default)]
    meaning: String,
    #[serde(default)]
    fix: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    id: Spanned<String>,
    #[serde(rename = "match")]
    matcher: MatchDoc,
    cause: Spanned<String>,
    #[serde(default)]
    severity: Option<Spanned<String>>,
    #[serde(default)]
    confidence: Option<Spanned<f64>>,
    #[serde(default)]
    summary: Option<Spanned<String>>,
    #[serde(default)]
    fix: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchDoc {
    field: Spanned<FieldList>,
    regex: Spanned<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    source: Option<Spanned<String>>,
    #[serde(default)]
    container: Option<String>,
}

/// `field: event.message` or `field: [event.message, container.waiting]`.
#[derive(Debug)]
struct FieldList(Vec<String>);

impl<'de> Deserialize<'de> for FieldList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = FieldList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name or a list of field names")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FieldList, E> {
                Ok(FieldList(vec![v.to_string()]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FieldList, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(FieldList(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Node log sources a `node.log` rule may name.
const SOURCES: [&str; 6] = [
    "kernel",
    "kubelet",
    "containerd",
    "docker",
    "kube-proxy",
    "syslog",
];

impl RuleSet {
    /// Parses one rules file and adds its causes and rules; on any problem nothing of the file is
    /// added and every problem found is returned (file, line, reason).
    pub fn add_file(&mut self, file: &str, text: &str) -> Result<(), Vec<RuleError>> {
        let err = |line: u64, column: u64, reason: String| RuleError {
            file: file.to_string(),
            line,
            column,
            reason,
        };
        let doc: FileDoc = match serde_saphyr::from_str(text) {
            Ok(d) => d,
            Err(e) => {
                let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                return Err(vec![err(line, column, first_line(&e.to_string()))]);
            }
        };
        let mut errors = Vec::new();
        let mut causes = Vec::new();
        for c in doc.causes {
            let (line, column) = (c.id.referenced.line(), c.id.referenced.column());
            let id = c.id.value.trim();
            if !valid_cause_id(id) {
                errors.push(err(line, column, format!("cause id {id:?} must start with a letter and use only letters, digits, '-' and '_'")));
                continue;
            }
            if Cause::ALL.iter().any(|b| b.as_str() == id) {
                errors.push(err(
                    line,
                    column,
                    format!("cause {id} is built in; rules can map to it without declaring it"),
                ));
                continue;
            }
            if self
                .causes
                .iter()
                .chain(causes.iter())
                .any(|u: &UserCause| u.id.as_str() == id)
            {
                errors.push(err(line, column, format!("cause {id} is declared twice")));
                continue;
            }
            if c.title.trim().is_empty() {
                errors.push(err(line, column, format!("cause {id} needs a title")));
                continue;
            }
            causes.push(UserCause {
                id: Cause::user(id),
                title: c.title,
                meaning: c.meaning,
                fix: c.fix,
                origin: format!("{file}:{line}"),
            });
        }
        let mut rules: Vec<Rule> = Vec::new();
        for r in doc.rules {
            let (line, column) = (r.id.referenced.line(), r.id.referenced.column());
            let id = r.id.value.trim().to_string();
            if id.is_empty() || id.starts_with("builtin/") {
                errors.push(err(
                    line,
                    column,
                    format!("rule id {id:?} must be non-empty and not start with builtin/"),
                ));
                continue;
            }
            if self.rules.iter().chain(rules.iter()).any(|x| x.id == id) {
                errors.push(err(line, column, format!("rule {id} is declared twice")));
                continue;
            }
            let mut fields = Vec::new();
            let fl = &r.matcher.field;
            for name in &fl.value.0 {
                match Field::parse(name) {
                    Some(f) => fields.push(f),
                    None => errors.push(err(
                        fl.referenced.line(),
                        fl.referenced.column(),
                        format!(
                            "rule {id}: unknown field {name:?} (expected one of {})",
                            Field::ALL.map(Field::as_str).join(", ")
                        ),
                    )),
                }
            }
            if fields.is_empty() {
                if fl.value.0.is_empty() {
                    errors.push(err(
                        fl.referenced.line(),
                        fl.referenced.column(),
                        format!("rule {id}: match.field is empty"),
                    ));
                }
                continue;
            }
            let rx = &r.matcher.regex;
            let regex = match Regex::new(&rx.value) {
                Ok(re) if rx.value.is_empty() => {
                    let _ = re;
                    errors.push(err(
                        rx.referenced.line(),
                        rx.referenced.column(),
                        format!("rule {id}: the regex is empty (it would match everything)"),
                    ));
                    continue;
                }
                Ok(re) => re,
                Err(e) => {
                    errors.push(err(
                        rx.referenced.line(),
                        rx.referenced.column(),
                        format!("rule {id}: invalid regex: {}", one_line(&e.to_string())),
                    ));
                    continue;
                }
            };
            if let Some(src) = &r.matcher.source {
                if !fields.contains(&Field::NodeLog) {
                    errors.push(err(
                        src.referenced.line(),
                        src.referenced.column(),
                        format!("rule {id}: match.source only applies to field node.log"),
                    ));
                    continue;
                }
                if !SOURCES.contains(&src.value.as_str()) {
                    errors.push(err(
                        src.referenced.line(),
                        src.referenced.column(),
                        format!(
                            "rule {id}: unknown node log source {:?} (expected one of {})",
                            src.value,
                            SOURCES.join(", ")
                        ),
                    ));
                    continue;
                }
            }
            let cause_name = r.cause.value.trim();
            let cause = match Cause::ALL.iter().find(|c| c.as_str() == cause_name) {
                Some(c) => *c,
                None => match self
                    .causes
                    .iter()
                    .chain(causes.iter())
                    .find(|u| u.id.as_str() == cause_name)
                {
                    Some(u) => u.id,
                    None => {
                        let hint = closest_cause(cause_name)
                            .map_or(String::new(), |c| format!("; did you mean {c}?"));
                        errors.push(err(
                            r.cause.referenced.line(),
                            r.cause.referenced.column(),
                            format!("rule {id}: unknown cause {cause_name:?}: neither built in (kubemedic explain cause) nor declared under causes:{hint}"),
                        ));
                        continue;
                    }
                },
            };
            let severity = match &r.severity {
                None => Severity::Warning,
                Some(s) => match s.value.parse::<Severity>() {
                    Ok(v) => v,
                    Err(e) => {
                        errors.push(err(
                            s.referenced.line(),
                            s.referenced.column(),
                            format!("rule {id}: {e}"),
                        ));
                        continue;
                    }
                },
            };
            let confidence = match &r.confidence {
                None => 0.7,
                Some(c) if (0.0..=1.0).contains(&c.value) => c.value,
                Some(c) => {
                    errors.push(err(
                        c.referenced.line(),
                        c.referenced.column(),
                        format!("rule {id}: confidence {} is outside 0.0..1.0", c.value),
                    ));
                    continue;
                }
            };
            // Templates may only use placeholders every one of the rule's fields can fill.
            let groups = regex.captures_len() - 1;
            let names: Vec<&str> = regex.capture_names().flatten().collect();
            let mut templates: Vec<&Spanned<String>> = r.summary.iter().collect();
            templates.extend(r.fix.iter());
            let mut bad = false;
            for t in templates {
                for ph in placeholders(&t.value) {
                    let known = fields
                        .iter()
                        .all(|f| f.placeholders().contains(&ph.as_str()))
                        || ph.parse::<usize>().is_ok_and(|n| (1..=groups).contains(&n))
                        || names.contains(&ph.as_str());
                    if !known {
                        let allowed: Vec<&str> = fields
                            .iter()
                            .map(|f| f.placeholders())
                            .reduce(|a, b| if a.len() <= b.len() { a } else { b })
                            .unwrap_or(&[])
                            .to_vec();
                        errors.push(err(
                            t.referenced.line(),
                            t.referenced.column(),
                            format!(
                                "rule {id}: unknown placeholder {{{ph}}} (this rule can use {}{})",
                                allowed
                                    .iter()
                                    .map(|a| format!("{{{a}}}"))
                                    .collect::<Vec<_>>()
                                    .join(" "),
                                if groups > 0 {
                                    format!(" and {{1}}..{{{groups}}}")
                                } else {
                                    String::new()
                                }
                            ),
                        ));
                        bad = true;
                    }
                }
            }
            if bad {
                continue;
            }
            rules.push(Rule {
                id,
                fields,
                regex,
                reason: r.matcher.reason,
                source: r.matcher.source.map(|s| s.value),
                container: r.matcher.container,
                cause,
                severity,
                confidence,
                summary: r.summary.map(|s| s.value),
                fix: r.fix.into_iter().map(|f| f.value).collect(),
                origin: format!("{file}:{line}"),
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.causes.extend(causes);
        self.rules.extend(rules);
        Ok(())
    }

    /// The user cause with this ID (case-insensitive), if declared.
    pub fn cause(&self, id: &str) -> Option<&UserCause> {
        self.causes
            .iter()
            .find(|c| c.id.as_str() == id)
            .or_else(|| {
                self.causes
                    .iter()
                    .find(|c| c.id.as_str().eq_ignore_ascii_case(id))
            })
    }

    /// Whether no rules and no causes were added.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.causes.is_empty()
    }
}

fn valid_cause_id(id: &str) -> bool {
    id.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The parser's message without its own `error: line N column M:` prefix (the position is
/// reported separately).
fn first_line(s: &str) -> String {
    let line = one_line(s.lines().next().unwrap_or(s));
    let line = line.strip_prefix("error: ").unwrap_or(&line).to_string();
    match POSITION_PREFIX.find(&line) {
        Some(m) => line[m.end()..].to_string(),
        None => line,
    }
}

static POSITION_PREFIX: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // constant pattern, checked by the tests
    Regex::new(r"^line \d+ column \d+: ").unwrap()
});

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn closest_cause(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    Cause::ALL
        .iter()
        .map(|c| c.as_str())
        .find(|c| c.to_ascii_lowercase() == lower)
}

/// The `{name}` placeholders of a template.
fn placeholders(t: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        match after.find('}') {
            Some(j) => {
                let name = &after[..j];
                if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    out.push(name.to_string());
                }
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// Fills `{name}` placeholders from `vars` and capture groups.
pub(crate) fn fill(
    template: &str,
    vars: &[(&str, &str)],
    caps: Option<&regex::Captures<'_>>,
) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(j) = after.find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let name = &after[..j];
        let value = vars
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
            .or_else(|| {
                let c = caps?;
                match name.parse::<usize>() {
                    Ok(n) => c.get(n).map(|m| m.as_str().to_string()),
                    Err(_) => c.name(name).map(|m| m.as_str().to_string()),
                }
            });
        match value {
            Some(v) => out.push_str(&v),
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        }
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    out
}

// ---- matching ---------------------------------------------------------------------------------

/// Node log lines older than this before the snapshot are history, as for the built-in analysers.
const NODE_LOG_WINDOW_SECS: i64 = 24 * 3600;
/// Lines of a container log read from its end.
const LOG_TAIL: usize = 200;

/// A pod worth matching: not finished, and not running healthy without a recent restart.
fn troubled(ctx: &crate::index::Ctx<'_>, pod: &kubemedic_model::objects::Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return true;
    };
    if status.phase.as_deref() == Some("Succeeded") {
        return false;
    }
    if pod.metadata.deletion_timestamp.is_some() || status.phase.as_deref() != Some("Running") {
        return true;
    }
    status.container_statuses.iter().flatten().any(|cs| {
        !cs.ready
            || cs
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .is_some_and(|t| {
                    ctx.age_secs(t.finished_at.as_ref().map(|t| t.0))
                        .is_none_or(|a| a <= 3600)
                })
    })
}

/// The findings the user rules produce on a snapshot (ranked with the built-in ones afterwards).
pub(crate) fn findings(ctx: &crate::index::Ctx<'_>, set: &RuleSet) -> Vec<crate::finding::Finding> {
    use crate::finding::{Evidence, ObjectRef};
    use crate::util::{clip, event_evidence, finding};
    let mut out = Vec::new();
    if set.rules.is_empty() {
        return out;
    }
    let mut emit = |rule: &Rule,
                    object: ObjectRef,
                    vars: &[(&str, &str)],
                    text: &str,
                    caps: &regex::Captures<'_>,
                    evidence: Evidence,
                    caused_by: Option<ObjectRef>| {
        let title = set
            .causes
            .iter()
            .find(|c| c.id == rule.cause)
            .map(|c| c.title.clone())
            .or_else(|| crate::catalog::info(rule.cause).map(|i| i.title.to_string()))
            .unwrap_or_default();
        let m = caps.get(0).map_or(text, |m| m.as_str());
        let mut vars: Vec<(&str, &str)> = vars.to_vec();
        vars.push(("match", m));
        vars.push(("line", text));
        let summary = match &rule.summary {
            Some(t) => fill(t, &vars, Some(caps)),
            None => format!("{title}: {}", clip(m)),
        };
        let mut f = finding(rule.cause, rule.severity, object, summary, rule.confidence);
        f.evidence = vec![
            evidence,
            Evidence::new("rule", format!("{} ({})", rule.id, rule.origin)),
        ];
        f.remediation = if rule.fix.is_empty() {
            set.causes
                .iter()
                .find(|c| c.id == rule.cause)
                .map(|c| c.fix.clone())
                .or_else(|| {
                    crate::catalog::info(rule.cause)
                        .map(|i| i.fix.iter().map(|s| s.to_string()).collect())
                })
                .unwrap_or_default()
        } else {
            rule.fix
                .iter()
                .map(|t| fill(t, &vars, Some(caps)))
                .collect()
        };
        f.caused_by = caused_by;
        out.push(f);
    };
    let wants = |rule: &Rule, f: Field| rule.fields.contains(&f);
    // Pods: events, container messages, container logs.
    for pod in &ctx.snap.pods {
        if !troubled(ctx, pod) {
            continue;
        }
        let (ns, name) = crate::util::pod_key(pod);
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or("");
        let object = ObjectRef::pod(ns, name);
        let display = object.to_string();
        for rule in &set.rules {
            let mut hit = false;
            for ev in ctx.events("Pod", ns, name) {
                if hit {
                    break;
                }
                let reason = ev.reason.as_deref().unwrap_or("");
                if rule.reason.as_deref().is_some_and(|r| r != reason) {
                    continue;
                }
                let msg = ev.message.as_deref().unwrap_or("");
                for (f, text) in [(Field::EventReason, reason), (Field::EventMessage, msg)] {
                    if !wants(rule, f) {
                        continue;
                    }
                    if let Some(c) = rule.regex.captures(text) {
                        let vars = [
                            ("namespace", ns),
                            ("pod", name),
                            ("node", node),
                            ("object", display.as_str()),
                            ("reason", reason),
                        ];
                        emit(
                            rule,
                            object.clone(),
                            &vars,
                            text,
                            &c,
                            event_evidence(ev),
                            None,
                        );
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                continue;
            }
            let statuses = pod.status.iter().flat_map(|s| {
                s.init_container_statuses
                    .iter()
                    .flatten()
                    .chain(s.container_statuses.iter().flatten())
            });
            'containers: for cs in statuses {
                if rule.container.as_deref().is_some_and(|c| c != cs.name) {
                    continue;
                }
                let waiting = cs
                    .state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .and_then(|w| w.message.as_deref());
                let terminated = [cs.state.as_ref(), cs.last_state.as_ref()]
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.terminated.as_ref().and_then(|t| t.message.as_deref()));
                let mut texts: Vec<(Field, &str, String)> = Vec::new();
                if let Some(w) = waiting {
                    texts.push((
                        Field::ContainerWaiting,
                        w,
                        format!("container {}: waiting message", cs.name),
                    ));
                }
                for t in terminated {
                    texts.push((
                        Field::ContainerTerminated,
                        t,
                        format!("container {}: terminated message", cs.name),
                    ));
                }
                for (f, text, source) in texts {
                    if !wants(rule, f) {
                        continue;
                    }
                    if let Some(c) = rule.regex.captures(text) {
                        let vars = [
                            ("namespace", ns),
                            ("pod", name),
                            ("container", cs.name.as_str()),
                            ("node", node),
                            ("object", display.as_str()),
                        ];
                        emit(
                            rule,
                            object.clone(),
                            &vars,
                            text,
                            &c,
                            Evidence::new("pod status", format!("{source}: {}", clip(text))),
                            None,
                        );
                        break 'containers;
                    }
                }
                if wants(rule, Field::ContainerLog)
                    && let Some(logs) = ctx.logs(ns, name, &cs.name)
                {
                    for (text, which) in [
                        (logs.previous.as_deref(), " (previous)"),
                        (logs.current.as_deref(), ""),
                    ] {
                        let Some(text) = text else { continue };
                        for l in crate::util::tail_lines(text, LOG_TAIL).iter().rev() {
                            if let Some(c) = rule.regex.captures(l.text) {
                                let vars = [
                                    ("namespace", ns),
                                    ("pod", name),
                                    ("container", cs.name.as_str()),
                                    ("node", node),
                                    ("object", display.as_str()),
                                ];
                                let ev = Evidence::new(
                                    format!("logs {}{which} line {}", cs.name, l.number),
                                    clip(l.text),
                                );
                                emit(rule, object.clone(), &vars, l.text, &c, ev, None);
                                break 'containers;
                            }
                        }
                    }
                }
            }
        }
    }
    // Nodes: events and node logs.
    let mut node_names: Vec<&str> = ctx.nodes.keys().copied().collect();
    for n in ctx.snap.node_logs.keys() {
        if !ctx.nodes.contains_key(n.as_str()) {
            node_names.push(n.as_str());
        }
    }
    node_names.sort_unstable();
    for node in node_names {
        let object = ObjectRef::node(node);
        let display = object.to_string();
        for rule in &set.rules {
            let mut hit = false;
            for ev in ctx.node_events(node) {
                let reason = ev.reason.as_deref().unwrap_or("");
                if rule.reason.as_deref().is_some_and(|r| r != reason) {
                    continue;
                }
                let msg = ev.message.as_deref().unwrap_or("");
                for (f, text) in [(Field::EventReason, reason), (Field::EventMessage, msg)] {
                    if wants(rule, f)
                        && let Some(c) = rule.regex.captures(text)
                    {
                        let vars = [
                            ("node", node),
                            ("object", display.as_str()),
                            ("reason", reason),
                        ];
                        emit(
                            rule,
                            object.clone(),
                            &vars,
                            text,
                            &c,
                            event_evidence(ev),
                            None,
                        );
                        hit = true;
                        break;
                    }
                }
                if hit {
                    break;
                }
            }
            if hit || !wants(rule, Field::NodeLog) {
                continue;
            }
            let Some(sources) = ctx.snap.node_logs.get(node) else {
                continue;
            };
            'sources: for (source, text) in sources {
                if rule.source.as_deref().is_some_and(|s| s != source.as_str()) {
                    continue;
                }
                for (i, line) in text.lines().enumerate() {
                    let Some(c) = rule.regex.captures(line) else {
                        continue;
                    };
                    if let Some(now) = ctx.now
                        && crate::logtime::line_time(line, now).is_some_and(|t| {
                            now.as_second() - t.at.as_second()
                                > NODE_LOG_WINDOW_SECS + if t.zoned { 0 } else { 14 * 3600 }
                        })
                    {
                        continue;
                    }
                    let src = source.as_str();
                    let vars = [
                        ("node", node),
                        ("object", display.as_str()),
                        ("source", src),
                    ];
                    let ev =
                        Evidence::new(format!("node {node} {src}.log line {}", i + 1), clip(line));
                    emit(rule, object.clone(), &vars, line, &c, ev, None);
                    break 'sources;
                }
            }
        }
    }
    out
}

// ---- built-in rules, in the same form ---------------------------------------------------------

/// A built-in message rule as users would write it.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltinRule {
    /// `builtin/<area>/<name>`.
    pub id: String,
    /// Fields it reads.
    pub fields: Vec<Field>,
    /// The regex (substring lists rendered as a case-insensitive alternation).
    pub regex: String,
    /// The cause.
    pub cause: Cause,
    /// Confidence of the verdict.
    pub confidence: f64,
    /// What else decides (order, exclusions, evidence from elsewhere).
    pub note: &'static str,
}

/// Every built-in message rule, in the order they are tried within an area.
pub fn builtin_rules() -> Vec<BuiltinRule> {
    crate::classify::builtin_rules()
}

/// Renders rules in the rule-file format (YAML), for `kubemedic explain rules`.
pub fn to_yaml(builtin: &[BuiltinRule], user: &RuleSet) -> String {
    let mut out = String::new();
    if !user.causes.is_empty() {
        out.push_str("causes:\n");
        for c in &user.causes {
            out.push_str(&format!("  - id: {}    # {}\n", c.id, c.origin));
            out.push_str(&format!("    title: {}\n", yaml_str(&c.title)));
            if !c.meaning.is_empty() {
                out.push_str(&format!("    meaning: {}\n", yaml_str(&c.meaning)));
            }
            if !c.fix.is_empty() {
                out.push_str("    fix:\n");
                for f in &c.fix {
                    out.push_str(&format!("      - {}\n", yaml_str(f)));
                }
            }
        }
    }
    out.push_str("rules:\n");
    for r in &user.rules {
        out.push_str(&format!("  - id: {}    # {}\n", r.id, r.origin));
        out.push_str("    match:\n");
        out.push_str(&format!("      field: {}\n", fields_yaml(&r.fields)));
        out.push_str(&format!("      regex: {}\n", yaml_str(r.regex.as_str())));
        if let Some(v) = &r.reason {
            out.push_str(&format!("      reason: {}\n", yaml_str(v)));
        }
        if let Some(v) = &r.source {
            out.push_str(&format!("      source: {v}\n"));
        }
        if let Some(v) = &r.container {
            out.push_str(&format!("      container: {}\n", yaml_str(v)));
        }
        out.push_str(&format!("    cause: {}\n", r.cause));
        out.push_str(&format!("    severity: {}\n", r.severity));
        out.push_str(&format!("    confidence: {:.2}\n", r.confidence));
        if let Some(s) = &r.summary {
            out.push_str(&format!("    summary: {}\n", yaml_str(s)));
        }
        if !r.fix.is_empty() {
            out.push_str("    fix:\n");
            for f in &r.fix {
                out.push_str(&format!("      - {}\n", yaml_str(f)));
            }
        }
    }
    for r in builtin {
        out.push_str(&format!("  - id: {}\n", r.id));
        out.push_str("    match:\n");
        out.push_str(&format!("      field: {}\n", fields_yaml(&r.fields)));
        out.push_str(&format!("      regex: {}\n", yaml_str(&r.regex)));
        out.push_str(&format!("    cause: {}\n", r.cause));
        out.push_str(&format!("    confidence: {:.2}\n", r.confidence));
        if !r.note.is_empty() {
            out.push_str(&format!("    # {}\n", r.note));
        }
    }
    out
}

fn fields_yaml(fields: &[Field]) -> String {
    match fields {
        [one] => one.as_str().to_string(),
        many => format!(
            "[{}]",
            many.iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A YAML single-quoted scalar (quotes doubled), safe for any text on one line.
fn yaml_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''").replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
causes:
  - id: VendorCSIStaleLock
    title: Stale vendor CSI volume lock
    meaning: The vendor's CSI driver left a lock behind after a node crash.
    fix: ["vendorctl unlock <volume>"]
rules:
  - id: vendor-csi-stale-lock
    match:
      field: event.message
      reason: FailedMount
      regex: 'csi-vendor: volume (?P<vol>\S+) lock held by (\S+)'
    cause: VendorCSIStaleLock
    severity: critical
    confidence: 0.9
    summary: 'pod {pod}: volume {vol} is locked by {2}'
    fix: ['vendorctl unlock {vol} --node {node}']
  - id: legacy-dns
    match: {field: [container.log, container.terminated], regex: 'cannot resolve (\S+)'}
    cause: DependencyDNSFailure
"#;

    #[test]
    fn a_good_file_loads() {
        let mut set = RuleSet::default();
        set.add_file("vendor.yaml", GOOD).unwrap();
        assert_eq!(set.causes.len(), 1);
        assert_eq!(set.rules.len(), 2);
        assert_eq!(set.rules[0].cause.as_str(), "VendorCSIStaleLock");
        assert_eq!(set.rules[0].origin, "vendor.yaml:8");
        assert_eq!(set.rules[1].cause, Cause::DependencyDNSFailure);
        assert_eq!(
            set.rules[1].fields,
            vec![Field::ContainerLog, Field::ContainerTerminated]
        );
        assert_eq!(set.rules[1].severity, Severity::Warning);
        // The same file twice: every ID is a duplicate.
        let errs = set.add_file("copy.yaml", GOOD).unwrap_err();
        assert!(
            errs.iter().any(|e| e.reason.contains("declared twice")),
            "{errs:?}"
        );
        assert_eq!(set.rules.len(), 2, "nothing of a bad file is added");
    }

    #[test]
    fn bad_files_name_file_line_and_reason() {
        let check = |text: &str, line: u64, needle: &str| {
            let errs = RuleSet::default().add_file("r.yaml", text).unwrap_err();
            assert!(
                errs.iter()
                    .any(|e| e.line == line && e.reason.contains(needle)),
                "want line {line} {needle:?}, got {errs:?}"
            );
            assert!(errs[0].to_string().starts_with("r.yaml:"), "{}", errs[0]);
        };
        check(
            "rules:\n  - id: x\n    match: {field: event.message, regex: '(unclosed'}\n    cause: OOMKilled\n",
            3,
            "invalid regex",
        );
        check(
            "rules:\n  - id: x\n    match: {field: event.mesage, regex: 'a'}\n    cause: OOMKilled\n",
            3,
            "unknown field \"event.mesage\"",
        );
        check(
            "rules:\n  - id: x\n    match: {field: event.message, regex: 'a'}\n    cause: OOMKiled\n",
            4,
            "unknown cause \"OOMKiled\"",
        );
        check(
            "rules:\n  - id: x\n    match: {field: event.message, regex: 'a'}\n    cause: oomkilled\n",
            4,
            "did you mean OOMKilled",
        );
        check(
            "rules:\n  - id: x\n    match: {field: node.log, regex: 'a'}\n    cause: OOMKilled\n    summary: 'pod {pod}'\n",
            5,
            "unknown placeholder {pod}",
        );
        check(
            "rules:\n  - id: x\n    match: {field: node.log, regex: 'a', source: dmesg}\n    cause: OOMKilled\n",
            3,
            "unknown node log source",
        );
        check(
            "rules:\n  - id: x\n    match: {field: event.message, regex: 'a'}\n    cause: OOMKilled\n    confidence: 1.5\n",
            5,
            "outside 0.0..1.0",
        );
        check(
            "rules:\n  - id: x\n    match: {field: event.message, regex: 'a'}\n    cause: OOMKilled\n    severity: urgent\n",
            5,
            "unknown severity",
        );
        check(
            "rules:\n  - id: x\n    match: {field: event.message, regex: 'a'}\n    cause: OOMKilled\n    colour: red\n",
            5,
            "colour",
        );
        check("causes:\n  - id: OOMKilled\n    title: t\n", 2, "built in");
        check("rules: [\n", 1, "unclosed bracket");
    }

    #[test]
    fn templates_fill_names_and_groups() {
        let re = Regex::new(r"volume (?P<vol>\S+) lock held by (\S+)").unwrap();
        let caps = re.captures("volume pvc-1 lock held by n7").unwrap();
        assert_eq!(
            fill(
                "pod {pod}: {vol} by {2} {unknown}",
                &[("pod", "api-1")],
                Some(&caps)
            ),
            "pod api-1: pvc-1 by n7 {unknown}"
        );
    }

    #[test]
    fn builtin_rules_have_unique_ids_and_valid_regexes() {
        let all = builtin_rules();
        assert!(all.len() >= 30, "{}", all.len());
        let mut ids = std::collections::BTreeSet::new();
        for r in &all {
            assert!(ids.insert(r.id.clone()), "duplicate {}", r.id);
            Regex::new(&r.regex).unwrap_or_else(|e| panic!("{}: {e}", r.id));
        }
        // The YAML form parses back as a rules file.
        let yaml = to_yaml(&all, &RuleSet::default());
        let reparsed = yaml.replace("builtin/", "b-");
        RuleSet::default()
            .add_file("builtin.yaml", &reparsed)
            .unwrap_or_else(|e| panic!("{e:?}"));
    }
}
