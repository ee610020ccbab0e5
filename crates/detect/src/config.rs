//! node-problem-detector monitor configs: model, parsing and up-front validation.
//!
//! The three NPD formats are accepted as they are: `system-log-monitor` (plugins `kmsg`,
//! `journald`, `filelog`), `custom-plugin-monitor` and `system-stats-monitor`. Like Go's
//! `encoding/json`, object keys match case-insensitively (an exact match wins), unknown keys are
//! ignored and `null` means "absent". Durations use Go syntax (`"5m"`, `"86400s"`, `"0"`).
//!
//! kubemedic extensions (ignored by NPD, optional here), on a rule or on a condition:
//! - `recoveryPattern`: a log pattern (same buffer semantics as `pattern`) whose match sets the
//!   condition back to False with its default reason and message. On a rule it only clears the
//!   condition while the condition is True for that rule's reason; on a condition it always does.
//! - `quietPeriod`: a Go duration; a permanent condition that is True returns to False when no rule
//!   setting it has matched for this long. A rule's value wins over its condition's.
//!
//! Every error names the file, the JSON path of the offending value (e.g. `rules[3].pattern`)
//! and the reason; JSON syntax errors give line and column.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::golang::{GoLayout, parse_go_duration};
use crate::re2;

/// A config that could not be read, parsed or validated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{reason}", location(.json_path, .line_column))]
pub struct ConfigError {
    /// The file (or embedded config name) the error is in.
    pub file: String,
    /// JSON path of the offending value, e.g. `rules[3].pattern`; empty for the whole document.
    pub json_path: String,
    /// 1-based line and column, for JSON syntax errors.
    pub line_column: Option<(usize, usize)>,
    /// Why the value is refused.
    pub reason: String,
}

fn location(json_path: &str, line_column: &Option<(usize, usize)>) -> String {
    match (line_column, json_path.is_empty()) {
        (Some((l, c)), _) => format!("line {l} column {c}: "),
        (None, false) => format!("{json_path}: "),
        (None, true) => String::new(),
    }
}

/// Which log watcher a system-log-monitor uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogPlugin {
    /// `/dev/kmsg` kernel log; messages are whitespace-trimmed before matching.
    Kmsg,
    /// systemd journal; messages are whitespace-trimmed before matching.
    Journald,
    /// A text log file parsed with the `timestamp`/`message` regexes and `timestampFormat`.
    Filelog,
}

impl LogPlugin {
    /// NPD's name for the plugin.
    pub fn as_str(self) -> &'static str {
        match self {
            LogPlugin::Kmsg => "kmsg",
            LogPlugin::Journald => "journald",
            LogPlugin::Filelog => "filelog",
        }
    }

    /// Whether NPD's watcher trims whitespace around each message (kmsg and journald do).
    pub fn trims_messages(self) -> bool {
        matches!(self, LogPlugin::Kmsg | LogPlugin::Journald)
    }
}

/// Whether a rule reports a one-off event or drives a NodeCondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProblemType {
    /// `temporary`: each match is a Warning event.
    Temporary,
    /// `permanent`: a match sets the rule's condition True.
    Permanent,
}

/// A condition a monitor declares, with its healthy (False) reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionConfig {
    /// NodeCondition type, e.g. `KernelDeadlock`.
    pub condition_type: String,
    /// Reason while the condition is False.
    pub reason: String,
    /// Message while the condition is False.
    pub message: String,
    /// kubemedic extension: a log pattern that clears the condition whatever set it.
    pub recovery_pattern: Option<String>,
    /// kubemedic extension: clear the condition after this long without a new match.
    pub quiet_period: Option<Duration>,
}

/// One rule of a system-log-monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRuleConfig {
    /// Temporary (event) or permanent (condition).
    pub problem_type: ProblemType,
    /// The condition a permanent rule sets (empty for temporary rules).
    pub condition: String,
    /// Event / condition reason.
    pub reason: String,
    /// RE2 pattern; it must match up to the newest line of the buffer.
    pub pattern: String,
    /// `patternGeneratedMessageSuffix` (NPD since v1.31): appended to the matched text as
    /// `"<lines>; <suffix>"` in the event or condition message (a runbook link, say).
    pub message_suffix: Option<String>,
    /// kubemedic extension: a pattern that clears this rule's condition while it holds this reason.
    pub recovery_pattern: Option<String>,
    /// kubemedic extension: clear the condition after this long without a new match of this rule.
    pub quiet_period: Option<Duration>,
}

/// A `system-log-monitor` config (kmsg, journald or filelog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemLogMonitorConfig {
    /// The log watcher.
    pub plugin: LogPlugin,
    /// Watcher options as given (`source` for journald; `timestamp`, `message`, `timestampFormat` for filelog).
    pub plugin_config: BTreeMap<String, String>,
    /// Lines containing any of these strings are skipped (filelog).
    pub skip_list: Vec<String>,
    /// Path of the log (`/dev/kmsg`, a journal directory, a file); empty when not given.
    pub log_path: String,
    /// How far back to read at start (`lookback`, default 0).
    pub lookback: Duration,
    /// Ignore logs from the first `delay` after boot (NPD `delay`), if set.
    pub delay: Option<Duration>,
    /// Lines kept for matching (default 10).
    pub buffer_size: usize,
    /// Event source name, e.g. `kernel-monitor`.
    pub source: String,
    /// Whether to report `problem_counter` / `problem_gauge` (default true).
    pub metrics_reporting: bool,
    /// Declared conditions.
    pub conditions: Vec<ConditionConfig>,
    /// Rules, in order.
    pub rules: Vec<LogRuleConfig>,
}

impl SystemLogMonitorConfig {
    /// journald `SYSLOG_IDENTIFIER` filter (`pluginConfig.source`).
    pub fn journald_source(&self) -> Option<&str> {
        self.plugin_config.get("source").map(String::as_str)
    }
}

/// Global options of a custom-plugin-monitor (`pluginConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomPluginGlobalConfig {
    /// How often all rules run (default 30s).
    pub invoke_interval: Duration,
    /// Global per-run timeout (default 5s).
    pub timeout: Duration,
    /// Plugin stdout is trimmed and cut to this many bytes (default 80).
    pub max_output_length: usize,
    /// How many plugins may run at once (default 3).
    pub concurrency: usize,
    /// Re-report a True condition when only its message changed (default false).
    pub enable_message_change_based_condition_update: bool,
    /// Do not report the initial all-False status (default false).
    pub skip_initial_status: bool,
}

/// One rule of a custom-plugin-monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRuleConfig {
    /// Temporary (event) or permanent (condition).
    pub problem_type: ProblemType,
    /// The condition a permanent rule sets.
    pub condition: String,
    /// Event / condition reason.
    pub reason: String,
    /// Executable to run.
    pub path: String,
    /// Arguments.
    pub args: Vec<String>,
    /// Effective timeout: the rule's own, else the global one (a larger rule timeout is refused, as NPD does).
    pub timeout: Duration,
    /// Per-rule interval if given (newer NPD), else the global one applies.
    pub invoke_interval: Option<Duration>,
}

/// A `custom-plugin-monitor` config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomPluginMonitorConfig {
    /// Global plugin options.
    pub plugin_config: CustomPluginGlobalConfig,
    /// Event source name.
    pub source: String,
    /// Whether to report `problem_counter` / `problem_gauge` (default true).
    pub metrics_reporting: bool,
    /// Declared conditions.
    pub conditions: Vec<ConditionConfig>,
    /// Rules, in order.
    pub rules: Vec<PluginRuleConfig>,
}

/// One metric to collect (`metricsConfigs.<id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricConfig {
    /// Name the metric is exported under.
    pub display_name: String,
}

/// A group of metrics keyed by NPD metric id (e.g. `cpu/load_1m`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsGroup {
    /// Metric id → config.
    pub metrics_configs: BTreeMap<String, MetricConfig>,
}

/// Disk stats options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskStatsConfig {
    /// Metric id → config.
    pub metrics_configs: BTreeMap<String, MetricConfig>,
    /// Include the root block device.
    pub include_root_blk: bool,
    /// Include every attached block device.
    pub include_all_attached_blk: bool,
    /// Timeout of the `lsblk` call (default 5s).
    pub lsblk_timeout: Duration,
}

/// OS feature stats options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsFeatureStatsConfig {
    /// Metric id → config.
    pub metrics_configs: BTreeMap<String, MetricConfig>,
    /// Known kernel modules file (default `guestosconfig/known-modules.json`).
    pub known_modules_config_path: String,
}

/// Network stats options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetStatsConfig {
    /// Metric id → config.
    pub metrics_configs: BTreeMap<String, MetricConfig>,
    /// Interfaces to skip (RE2 pattern), if any.
    pub exclude_interface_regexp: Option<String>,
}

/// A `system-stats-monitor` config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemStatsMonitorConfig {
    /// CPU metrics.
    pub cpu: MetricsGroup,
    /// Disk metrics.
    pub disk: DiskStatsConfig,
    /// Host metrics.
    pub host: MetricsGroup,
    /// Memory metrics.
    pub memory: MetricsGroup,
    /// OS feature metrics.
    pub os_feature: OsFeatureStatsConfig,
    /// Network metrics.
    pub net: NetStatsConfig,
    /// Collection interval (default 60s).
    pub invoke_interval: Duration,
    /// The /proc to read (default `/proc`).
    pub proc_path: String,
}

/// Reads and parses a system-log-monitor config file (the only I/O in this crate).
pub fn load_system_log_monitor(path: &Path) -> Result<SystemLogMonitorConfig, ConfigError> {
    let (name, text) = read(path)?;
    parse_system_log_monitor(&name, &text)
}

/// Reads and parses a custom-plugin-monitor config file (the only I/O in this crate).
pub fn load_custom_plugin_monitor(path: &Path) -> Result<CustomPluginMonitorConfig, ConfigError> {
    let (name, text) = read(path)?;
    parse_custom_plugin_monitor(&name, &text)
}

/// Reads and parses a system-stats-monitor config file (the only I/O in this crate).
pub fn load_system_stats_monitor(path: &Path) -> Result<SystemStatsMonitorConfig, ConfigError> {
    let (name, text) = read(path)?;
    parse_system_stats_monitor(&name, &text)
}

fn read(path: &Path) -> Result<(String, String), ConfigError> {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Ok((name, text)),
            Err(e) => Err(ConfigError {
                file: name,
                json_path: String::new(),
                line_column: None,
                reason: format!("not UTF-8: {}", e.utf8_error()),
            }),
        },
        Err(e) => Err(ConfigError {
            file: name,
            json_path: String::new(),
            line_column: None,
            reason: format!("cannot read: {e}"),
        }),
    }
}

/// A JSON object together with its path in the document.
type Located<'v> = (String, &'v Map<String, Value>);

/// Walks a JSON document with Go `encoding/json` key semantics, collecting error context.
struct Doc<'a> {
    file: &'a str,
}

impl<'a> Doc<'a> {
    fn err(&self, path: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            json_path: path.to_string(),
            line_column: None,
            reason: reason.into(),
        }
    }

    fn parse(&self, text: &str) -> Result<Map<String, Value>, ConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|e| ConfigError {
            file: self.file.to_string(),
            json_path: String::new(),
            line_column: Some((e.line(), e.column())),
            reason: format!("invalid JSON: {e}"),
        })?;
        match value {
            Value::Object(map) => Ok(map),
            other => Err(self.err(
                "",
                format!("expected a JSON object, found {}", kind(&other)),
            )),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Looks `key` up like Go's encoding/json: exact match first, then ASCII case-insensitive.
/// `null` counts as absent. Returns the key as spelled in the document (for error paths).
fn get<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<(&'v str, &'v Value)> {
    let found = obj
        .get_key_value(key)
        .or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)));
    match found {
        Some((_, Value::Null)) | None => None,
        Some((k, v)) => Some((k.as_str(), v)),
    }
}

impl Doc<'_> {
    fn string(
        &self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Result<Option<String>, ConfigError> {
        match get(obj, key) {
            None => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s.clone())),
            Some((k, v)) => Err(self.err(
                &join(path, k),
                format!("expected a string, found {}", kind(v)),
            )),
        }
    }

    fn bool(
        &self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Result<Option<bool>, ConfigError> {
        match get(obj, key) {
            None => Ok(None),
            Some((_, Value::Bool(b))) => Ok(Some(*b)),
            Some((k, v)) => Err(self.err(
                &join(path, k),
                format!("expected true or false, found {}", kind(v)),
            )),
        }
    }

    fn int(
        &self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Result<Option<i64>, ConfigError> {
        match get(obj, key) {
            None => Ok(None),
            Some((k, Value::Number(n))) => match n.as_i64() {
                Some(i) => Ok(Some(i)),
                None => Err(self.err(&join(path, k), format!("expected an integer, found {n}"))),
            },
            Some((k, v)) => Err(self.err(
                &join(path, k),
                format!("expected an integer, found {}", kind(v)),
            )),
        }
    }

    fn duration(
        &self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Result<Option<Duration>, ConfigError> {
        match get(obj, key) {
            None => Ok(None),
            Some((k, Value::String(s))) => parse_go_duration(s)
                .map(Some)
                .map_err(|e| self.err(&join(path, k), e.to_string())),
            Some((k, v)) => Err(self.err(
                &join(path, k),
                format!(
                    "expected a Go duration string like \"5m\", found {}",
                    kind(v)
                ),
            )),
        }
    }

    fn array<'v>(
        &self,
        obj: &'v Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Result<(String, &'v [Value]), ConfigError> {
        match get(obj, key) {
            None => Ok((join(path, key), &[])),
            Some((k, Value::Array(a))) => Ok((join(path, k), a.as_slice())),
            Some((k, v)) => Err(self.err(
                &join(path, k),
                format!("expected an array, found {}", kind(v)),
            )),
        }
    }

    fn object<'v>(
        &self,
        obj: &'v Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Result<Option<Located<'v>>, ConfigError> {
        match get(obj, key) {
            None => Ok(None),
            Some((k, Value::Object(o))) => Ok(Some((join(path, k), o))),
            Some((k, v)) => Err(self.err(
                &join(path, k),
                format!("expected an object, found {}", kind(v)),
            )),
        }
    }

    fn strings(
        &self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Result<Vec<String>, ConfigError> {
        let (p, items) = self.array(obj, path, key)?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(self.err(
                    &format!("{p}[{i}]"),
                    format!("expected a string, found {}", kind(other)),
                )),
            })
            .collect()
    }

    fn string_map(
        &self,
        obj: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        let Some((p, o)) = self.object(obj, path, key)? else {
            return Ok(BTreeMap::new());
        };
        let mut out = BTreeMap::new();
        for (k, v) in o {
            match v {
                Value::String(s) => {
                    out.insert(k.clone(), s.clone());
                }
                Value::Null => {}
                other => {
                    return Err(self.err(
                        &join(&p, k),
                        format!("expected a string, found {}", kind(other)),
                    ));
                }
            }
        }
        Ok(out)
    }

    fn problem_type(
        &self,
        obj: &Map<String, Value>,
        path: &str,
    ) -> Result<ProblemType, ConfigError> {
        match self.string(obj, path, "type")?.as_deref() {
            Some("temporary") => Ok(ProblemType::Temporary),
            Some("permanent") => Ok(ProblemType::Permanent),
            Some(other) => Err(self.err(
                &join(path, "type"),
                format!("must be \"temporary\" or \"permanent\", found {other:?}"),
            )),
            None => Err(self.err(
                &join(path, "type"),
                "missing: must be \"temporary\" or \"permanent\"",
            )),
        }
    }

    fn pattern(&self, path: &str, pattern: &str) -> Result<(), ConfigError> {
        re2::compile(pattern)
            .map(|_| ())
            .map_err(|e| self.err(path, e.to_string()))
    }

    fn conditions(&self, root: &Map<String, Value>) -> Result<Vec<ConditionConfig>, ConfigError> {
        let (p, items) = self.array(root, "", "conditions")?;
        let mut out: Vec<ConditionConfig> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ip = format!("{p}[{i}]");
            let Value::Object(o) = item else {
                return Err(self.err(&ip, format!("expected an object, found {}", kind(item))));
            };
            let condition_type = self.string(o, &ip, "type")?.unwrap_or_default();
            if condition_type.is_empty() {
                return Err(self.err(&join(&ip, "type"), "missing condition type"));
            }
            if out.iter().any(|c| c.condition_type == condition_type) {
                return Err(self.err(
                    &join(&ip, "type"),
                    format!("condition {condition_type:?} is declared twice"),
                ));
            }
            let recovery_pattern = self.string(o, &ip, "recoveryPattern")?;
            if let Some(rp) = &recovery_pattern {
                self.pattern(&join(&ip, "recoveryPattern"), rp)?;
            }
            let quiet_period = self.duration(o, &ip, "quietPeriod")?;
            if quiet_period == Some(Duration::ZERO) {
                return Err(self.err(&join(&ip, "quietPeriod"), "must be greater than 0"));
            }
            out.push(ConditionConfig {
                condition_type,
                reason: self.string(o, &ip, "reason")?.unwrap_or_default(),
                message: self.string(o, &ip, "message")?.unwrap_or_default(),
                recovery_pattern,
                quiet_period,
            });
        }
        Ok(out)
    }

    fn rule_common(
        &self,
        o: &Map<String, Value>,
        ip: &str,
        conditions: &[ConditionConfig],
    ) -> Result<(ProblemType, String, String), ConfigError> {
        let problem_type = self.problem_type(o, ip)?;
        let reason = self.string(o, ip, "reason")?.unwrap_or_default();
        if reason.is_empty() {
            return Err(self.err(&join(ip, "reason"), "missing reason"));
        }
        let condition = self.string(o, ip, "condition")?.unwrap_or_default();
        if problem_type == ProblemType::Permanent {
            if condition.is_empty() {
                return Err(self.err(&join(ip, "condition"), "a permanent rule needs a condition"));
            }
            if !conditions.iter().any(|c| c.condition_type == condition) {
                return Err(self.err(
                    &join(ip, "condition"),
                    format!("condition {condition:?} is not declared in \"conditions\""),
                ));
            }
        }
        Ok((problem_type, condition, reason))
    }
}

/// Parses and validates a system-log-monitor config; `file` names it in errors.
pub fn parse_system_log_monitor(
    file: &str,
    text: &str,
) -> Result<SystemLogMonitorConfig, ConfigError> {
    let d = Doc { file };
    let root = d.parse(text)?;
    let plugin = match d.string(&root, "", "plugin")?.as_deref() {
        Some("kmsg") => LogPlugin::Kmsg,
        Some("journald") => LogPlugin::Journald,
        Some("filelog") => LogPlugin::Filelog,
        Some(other) => {
            return Err(d.err(
                "plugin",
                format!(
                    "unknown log plugin {other:?}: expected \"kmsg\", \"journald\" or \"filelog\""
                ),
            ));
        }
        None => {
            return Err(d.err(
                "plugin",
                "missing: expected \"kmsg\", \"journald\" or \"filelog\"",
            ));
        }
    };
    let plugin_config = d.string_map(&root, "", "pluginConfig")?;
    if plugin == LogPlugin::Filelog {
        for key in ["timestamp", "message", "timestampFormat"] {
            match plugin_config.get(key) {
                None => {
                    return Err(d.err(
                        &format!("pluginConfig.{key}"),
                        "required by the filelog plugin",
                    ));
                }
                Some(v) if v.is_empty() => {
                    return Err(d.err(&format!("pluginConfig.{key}"), "must not be empty"));
                }
                Some(v) if key == "timestampFormat" => {
                    GoLayout::parse(v)
                        .map_err(|e| d.err(&format!("pluginConfig.{key}"), e.to_string()))?;
                }
                Some(v) => d.pattern(&format!("pluginConfig.{key}"), v)?,
            }
        }
    }
    let log_path = d.string(&root, "", "logPath")?.unwrap_or_default();
    if plugin == LogPlugin::Filelog && log_path.trim().is_empty() {
        // There is no default file to follow (kmsg defaults to /dev/kmsg, journald to the
        // system journal); without this the agent would tail "" and report nothing forever.
        return Err(d.err(
            "logPath",
            if log_path.is_empty() {
                "required by the filelog plugin: the file to follow"
            } else {
                "must not be empty: the file to follow"
            },
        ));
    }
    let buffer_size = match d.int(&root, "", "bufferSize")? {
        None | Some(0) => 10,
        Some(n) if n < 0 => return Err(d.err("bufferSize", format!("must be positive, found {n}"))),
        Some(n) if n > 100_000 => {
            return Err(d.err(
                "bufferSize",
                format!("{n} lines is more than the limit of 100000"),
            ));
        }
        Some(n) => n as usize,
    };
    let conditions = d.conditions(&root)?;
    let (p, items) = d.array(&root, "", "rules")?;
    let mut rules = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{p}[{i}]");
        let Value::Object(o) = item else {
            return Err(d.err(&ip, format!("expected an object, found {}", kind(item))));
        };
        let (problem_type, condition, reason) = d.rule_common(o, &ip, &conditions)?;
        let Some(pattern) = d.string(o, &ip, "pattern")? else {
            return Err(d.err(&join(&ip, "pattern"), "missing pattern"));
        };
        d.pattern(&join(&ip, "pattern"), &pattern)?;
        let recovery_pattern = d.string(o, &ip, "recoveryPattern")?;
        let quiet_period = d.duration(o, &ip, "quietPeriod")?;
        if problem_type == ProblemType::Temporary
            && (recovery_pattern.is_some() || quiet_period.is_some())
        {
            return Err(d.err(
                &ip,
                "recoveryPattern and quietPeriod apply to permanent rules only",
            ));
        }
        if let Some(rp) = &recovery_pattern {
            d.pattern(&join(&ip, "recoveryPattern"), rp)?;
        }
        if quiet_period == Some(Duration::ZERO) {
            return Err(d.err(&join(&ip, "quietPeriod"), "must be greater than 0"));
        }
        let message_suffix = d
            .string(o, &ip, "patternGeneratedMessageSuffix")?
            .filter(|s| !s.is_empty());
        rules.push(LogRuleConfig {
            problem_type,
            condition,
            reason,
            pattern,
            message_suffix,
            recovery_pattern,
            quiet_period,
        });
    }
    Ok(SystemLogMonitorConfig {
        plugin,
        plugin_config,
        skip_list: d.strings(&root, "", "skipList")?,
        log_path,
        lookback: d.duration(&root, "", "lookback")?.unwrap_or(Duration::ZERO),
        delay: d.duration(&root, "", "delay")?,
        buffer_size,
        source: d.string(&root, "", "source")?.unwrap_or_default(),
        metrics_reporting: d.bool(&root, "", "metricsReporting")?.unwrap_or(true),
        conditions,
        rules,
    })
}

/// Parses and validates a custom-plugin-monitor config; `file` names it in errors.
///
/// Unlike NPD this does not check that each rule's `path` exists: that is I/O, left to the agent.
pub fn parse_custom_plugin_monitor(
    file: &str,
    text: &str,
) -> Result<CustomPluginMonitorConfig, ConfigError> {
    let d = Doc { file };
    let root = d.parse(text)?;
    match d.string(&root, "", "plugin")?.as_deref() {
        Some("custom") => {}
        Some(other) => {
            return Err(d.err(
                "plugin",
                format!("unknown plugin {other:?}: only \"custom\" is supported"),
            ));
        }
        None => return Err(d.err("plugin", "missing: expected \"custom\"")),
    }
    let empty = Map::new();
    let (gp, g) = d
        .object(&root, "", "pluginConfig")?
        .unwrap_or_else(|| ("pluginConfig".to_string(), &empty));
    let timeout = d
        .duration(g, &gp, "timeout")?
        .unwrap_or(Duration::from_secs(5));
    let invoke_interval = d
        .duration(g, &gp, "invoke_interval")?
        .unwrap_or(Duration::from_secs(30));
    if invoke_interval.is_zero() {
        return Err(d.err(&join(&gp, "invoke_interval"), "must be greater than 0"));
    }
    let max_output_length = match d.int(g, &gp, "max_output_length")? {
        None => 80,
        Some(n) if n < 0 => {
            return Err(d.err(
                &join(&gp, "max_output_length"),
                format!("must not be negative, found {n}"),
            ));
        }
        Some(n) => n as usize,
    };
    let concurrency = match d.int(g, &gp, "concurrency")? {
        None => 3,
        Some(n) if n <= 0 => {
            return Err(d.err(
                &join(&gp, "concurrency"),
                format!("must be positive, found {n}"),
            ));
        }
        Some(n) => n as usize,
    };
    let plugin_config = CustomPluginGlobalConfig {
        invoke_interval,
        timeout,
        max_output_length,
        concurrency,
        enable_message_change_based_condition_update: d
            .bool(g, &gp, "enable_message_change_based_condition_update")?
            .unwrap_or(false),
        skip_initial_status: d.bool(g, &gp, "skip_initial_status")?.unwrap_or(false),
    };
    let conditions = d.conditions(&root)?;
    let (p, items) = d.array(&root, "", "rules")?;
    let mut rules = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{p}[{i}]");
        let Value::Object(o) = item else {
            return Err(d.err(&ip, format!("expected an object, found {}", kind(item))));
        };
        let (problem_type, condition, reason) = d.rule_common(o, &ip, &conditions)?;
        let path = d.string(o, &ip, "path")?.unwrap_or_default();
        if path.is_empty() {
            return Err(d.err(&join(&ip, "path"), "missing plugin path"));
        }
        let rule_timeout = d.duration(o, &ip, "timeout")?;
        if let Some(t) = rule_timeout
            && t > timeout
        {
            return Err(d.err(
                &join(&ip, "timeout"),
                format!("{t:?} is greater than the global timeout {timeout:?}"),
            ));
        }
        let rule_interval = d.duration(o, &ip, "invoke_interval")?;
        if rule_interval == Some(Duration::ZERO) {
            return Err(d.err(&join(&ip, "invoke_interval"), "must be greater than 0"));
        }
        rules.push(PluginRuleConfig {
            problem_type,
            condition,
            reason,
            path,
            args: d.strings(o, &ip, "args")?,
            timeout: rule_timeout.unwrap_or(timeout),
            invoke_interval: rule_interval,
        });
    }
    Ok(CustomPluginMonitorConfig {
        plugin_config,
        source: d.string(&root, "", "source")?.unwrap_or_default(),
        metrics_reporting: d.bool(&root, "", "metricsReporting")?.unwrap_or(true),
        conditions,
        rules,
    })
}

impl Doc<'_> {
    fn metrics(
        &self,
        obj: &Map<String, Value>,
        path: &str,
    ) -> Result<BTreeMap<String, MetricConfig>, ConfigError> {
        let Some((p, m)) = self.object(obj, path, "metricsConfigs")? else {
            return Ok(BTreeMap::new());
        };
        let mut out = BTreeMap::new();
        for (id, v) in m {
            let ip = join(&p, id);
            let Value::Object(o) = v else {
                return Err(self.err(&ip, format!("expected an object, found {}", kind(v))));
            };
            let display_name = self.string(o, &ip, "displayName")?.unwrap_or_default();
            out.insert(id.clone(), MetricConfig { display_name });
        }
        Ok(out)
    }

    fn group(
        &self,
        root: &Map<String, Value>,
        key: &str,
    ) -> Result<(String, Map<String, Value>), ConfigError> {
        Ok(self
            .object(root, "", key)?
            .map(|(p, o)| (p, o.clone()))
            .unwrap_or_else(|| (key.to_string(), Map::new())))
    }
}

/// Parses and validates a system-stats-monitor config; `file` names it in errors.
pub fn parse_system_stats_monitor(
    file: &str,
    text: &str,
) -> Result<SystemStatsMonitorConfig, ConfigError> {
    let d = Doc { file };
    let root = d.parse(text)?;
    let invoke_interval = d
        .duration(&root, "", "invokeInterval")?
        .unwrap_or(Duration::from_secs(60));
    if invoke_interval.is_zero() {
        return Err(d.err("invokeInterval", "must be greater than 0"));
    }
    let (cp, cpu) = d.group(&root, "cpu")?;
    let (dp, disk) = d.group(&root, "disk")?;
    let (hp, host) = d.group(&root, "host")?;
    let (mp, memory) = d.group(&root, "memory")?;
    let (op, os) = d.group(&root, "osFeature")?;
    let (np, net) = d.group(&root, "net")?;
    let lsblk_timeout = d
        .duration(&disk, &dp, "lsblkTimeout")?
        .unwrap_or(Duration::from_secs(5));
    if lsblk_timeout.is_zero() {
        return Err(d.err(&join(&dp, "lsblkTimeout"), "must be greater than 0"));
    }
    if lsblk_timeout > invoke_interval {
        return Err(d.err(
            &join(&dp, "lsblkTimeout"),
            format!("{lsblk_timeout:?} must not be longer than invokeInterval {invoke_interval:?}"),
        ));
    }
    let exclude_interface_regexp = d
        .string(&net, &np, "excludeInterfaceRegexp")?
        .filter(|s| !s.is_empty());
    if let Some(re) = &exclude_interface_regexp {
        re2::translate(re)
            .map_err(|e| d.err(&join(&np, "excludeInterfaceRegexp"), e.to_string()))?;
    }
    Ok(SystemStatsMonitorConfig {
        cpu: MetricsGroup {
            metrics_configs: d.metrics(&cpu, &cp)?,
        },
        disk: DiskStatsConfig {
            metrics_configs: d.metrics(&disk, &dp)?,
            include_root_blk: d.bool(&disk, &dp, "includeRootBlk")?.unwrap_or(false),
            include_all_attached_blk: d
                .bool(&disk, &dp, "includeAllAttachedBlk")?
                .unwrap_or(false),
            lsblk_timeout,
        },
        host: MetricsGroup {
            metrics_configs: d.metrics(&host, &hp)?,
        },
        memory: MetricsGroup {
            metrics_configs: d.metrics(&memory, &mp)?,
        },
        os_feature: OsFeatureStatsConfig {
            metrics_configs: d.metrics(&os, &op)?,
            known_modules_config_path: d
                .string(&os, &op, "knownModulesConfigPath")?
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "guestosconfig/known-modules.json".to_string()),
        },
        net: NetStatsConfig {
            metrics_configs: d.metrics(&net, &np)?,
            exclude_interface_regexp,
        },
        invoke_interval,
        proc_path: d
            .string(&root, "", "procPath")?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/proc".to_string()),
    })
}
