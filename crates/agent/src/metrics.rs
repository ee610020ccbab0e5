//! Prometheus metrics, read from the agent state at scrape time.
//!
//! Names and labels follow node-problem-detector so dashboards and alerts keep working:
//! `problem_counter{reason}`, `problem_gauge{type,reason}`, and the system-stats metrics under
//! NPD's display names with `/` replaced by `_` (`cpu_load_1m`, `disk_io_time{device_name}`...).
//! `problem_counter` is exposed without the `_total` suffix OpenMetrics adds to counters (NPD's
//! series name is `problem_counter`), so it is declared with type `unknown`.
//! The agent's own health: `kubemedic_agent_source_lines_total{source,kind}`,
//! `..._source_dropped_total`, `..._source_lost_total`, `..._source_errors_total`,
//! `kubemedic_agent_source_up{source,kind}`.

use crate::health::{HealthRegistry, SourceState};
use crate::state::AgentState;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use std::collections::BTreeMap;

/// Collects every metric of the agent on scrape.
#[derive(Debug)]
pub struct AgentCollector {
    state: AgentState,
    health: HealthRegistry,
}

impl AgentCollector {
    /// A collector over the agent state and source health.
    pub fn new(state: AgentState, health: HealthRegistry) -> Self {
        Self { state, health }
    }
}

type Labels = Vec<(String, String)>;

/// Name, help and reader of one self-metric counter family.
type CounterFamily = (
    &'static str,
    &'static str,
    fn(&crate::health::SourceHealth) -> u64,
);

impl Collector for AgentCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // Problem metrics summed over monitors (two monitors may share a reason).
        let (counters, gauges, stats) = self.state.read(|s| {
            let mut counters: BTreeMap<String, u64> = BTreeMap::new();
            let mut gauges: BTreeMap<(String, String), bool> = BTreeMap::new();
            for m in s.problem_metrics.values() {
                for (reason, n) in &m.counters {
                    *counters.entry(reason.clone()).or_default() += n;
                }
                for (key, on) in &m.gauges {
                    let e = gauges.entry(key.clone()).or_default();
                    *e = *e || *on;
                }
            }
            (counters, gauges, s.stats.clone())
        });
        {
            let mut m = encoder.encode_descriptor(
                "problem_counter",
                "Number of times a specific type of problem have occurred.",
                None,
                MetricType::Unknown,
            )?;
            for (reason, n) in &counters {
                let labels: Labels = vec![("reason".into(), reason.clone())];
                ConstGauge::new(*n as i64).encode(m.encode_family(&labels)?)?;
            }
        }
        {
            let mut m = encoder.encode_descriptor(
                "problem_gauge",
                "Whether a specific type of problem is affecting the node or not.",
                None,
                MetricType::Gauge,
            )?;
            for ((condition, reason), on) in &gauges {
                let labels: Labels = vec![
                    ("reason".into(), reason.clone()),
                    ("type".into(), condition.clone()),
                ];
                ConstGauge::new(i64::from(*on)).encode(m.encode_family(&labels)?)?;
            }
        }
        // System stats, grouped by name (one descriptor per name).
        let mut by_name: BTreeMap<&str, Vec<&crate::state::StatSample>> = BTreeMap::new();
        for sample in &stats {
            by_name
                .entry(sample.name.as_str())
                .or_default()
                .push(sample);
        }
        for (name, samples) in by_name {
            let first = samples[0];
            // Cumulative NPD metrics keep their NPD name: exposed as `unknown`, not as counters
            // (which would gain a `_total` suffix).
            let kind = if first.counter {
                MetricType::Unknown
            } else {
                MetricType::Gauge
            };
            let mut m = encoder.encode_descriptor(name, first.help, None, kind)?;
            for s in samples {
                ConstGauge::new(s.value).encode(m.encode_family(&s.labels)?)?;
            }
        }
        // The agent's own health.
        let sources = self.health.sources();
        let counter_families: [CounterFamily; 4] = [
            (
                "kubemedic_agent_source_lines",
                "Lines (or plugin results, or samples) read by a source.",
                |s| s.lines_total(),
            ),
            (
                "kubemedic_agent_source_dropped",
                "Lines read but dropped because the rule engine fell behind.",
                |s| s.dropped_total(),
            ),
            (
                "kubemedic_agent_source_lost",
                "Records lost before the agent could read them (kmsg ring buffer overruns).",
                |s| s.lost_total(),
            ),
            (
                "kubemedic_agent_source_errors",
                "Errors of a source (unreadable file, journalctl exits, ...).",
                |s| s.errors_total(),
            ),
        ];
        for (name, help, get) in counter_families {
            let mut m = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for s in &sources {
                let labels: Labels = vec![
                    ("source".into(), s.name().to_string()),
                    ("kind".into(), s.kind().to_string()),
                ];
                ConstCounter::new(get(s)).encode(m.encode_family(&labels)?)?;
            }
        }
        let mut m = encoder.encode_descriptor(
            "kubemedic_agent_source_up",
            "1 while a source is running (possibly degraded), 0 when it is dead.",
            None,
            MetricType::Gauge,
        )?;
        for s in &sources {
            let labels: Labels = vec![
                ("source".into(), s.name().to_string()),
                ("kind".into(), s.kind().to_string()),
            ];
            let up = !matches!(s.state(), SourceState::Dead(_));
            ConstGauge::new(i64::from(up)).encode(m.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
