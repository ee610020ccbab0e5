//! Health and counters of every source, shared between the sources, `/healthz` and `/metrics`.
//!
//! A source reports what it does (lines read, lines dropped, errors) and whether it is alive.
//! `/healthz` answers 503 naming the dead sources; the counters become the agent's self metrics.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// How a source is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "detail", rename_all = "lowercase")]
pub enum SourceState {
    /// Started, no data yet.
    Starting,
    /// Reading normally.
    Ok,
    /// Running but with a problem that does not stop it (a missing file it keeps polling for,
    /// a journal it cannot read yet, lost records). Not a reason for /healthz to fail.
    Degraded(String),
    /// Stopped and not coming back by itself (its thread or task ended).
    Dead(String),
}

/// Counters and state of one source.
#[derive(Debug)]
pub struct SourceHealth {
    name: String,
    kind: &'static str,
    state: Mutex<SourceState>,
    lines: AtomicU64,
    dropped: AtomicU64,
    lost: AtomicU64,
    errors: AtomicU64,
}

impl SourceHealth {
    /// The monitor source name (`kernel-monitor`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin kind (`kmsg`, `journald`, `filelog`, `custom`, `system-stats`).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Counts one line (or plugin result, or stats sample) handed to the rules.
    pub fn line(&self) {
        self.lines.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts lines the agent read but had to drop because the rule engine fell behind.
    pub fn dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts records lost before the agent could read them (kmsg ring buffer overrun).
    pub fn lost(&self, n: u64) {
        self.lost.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one error and marks the source degraded with its text.
    pub fn error(&self, detail: impl Into<String>) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.set(SourceState::Degraded(detail.into()));
    }

    /// Sets the state.
    pub fn set(&self, state: SourceState) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }

    /// Marks the source running normally (clears a previous degradation).
    pub fn ok(&self) {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !matches!(*guard, SourceState::Dead(_)) {
            *guard = SourceState::Ok;
        }
    }

    /// The current state.
    pub fn state(&self) -> SourceState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Lines read so far.
    pub fn lines_total(&self) -> u64 {
        self.lines.load(Ordering::Relaxed)
    }

    /// Lines dropped so far.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records lost to overruns so far.
    pub fn lost_total(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Errors so far.
    pub fn errors_total(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// Snapshot of one source for `/healthz`.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    /// Monitor source name.
    pub source: String,
    /// Plugin kind.
    pub kind: &'static str,
    /// State and detail.
    #[serde(flatten)]
    pub state: SourceState,
    /// Lines read.
    pub lines: u64,
    /// Lines dropped.
    pub dropped: u64,
    /// Records lost before reading.
    pub lost: u64,
    /// Errors.
    pub errors: u64,
}

/// All sources of the agent.
#[derive(Debug, Default, Clone)]
pub struct HealthRegistry {
    sources: Arc<Mutex<BTreeMap<String, Arc<SourceHealth>>>>,
}

impl HealthRegistry {
    /// Registers a source (or returns the existing entry of that name).
    pub fn register(&self, name: &str, kind: &'static str) -> Arc<SourceHealth> {
        let mut map = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(SourceHealth {
                    name: name.to_string(),
                    kind,
                    state: Mutex::new(SourceState::Starting),
                    lines: AtomicU64::new(0),
                    dropped: AtomicU64::new(0),
                    lost: AtomicU64::new(0),
                    errors: AtomicU64::new(0),
                })
            })
            .clone()
    }

    /// Every source, sorted by name.
    pub fn sources(&self) -> Vec<Arc<SourceHealth>> {
        self.sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Reports of every source.
    pub fn reports(&self) -> Vec<SourceReport> {
        self.sources()
            .iter()
            .map(|s| SourceReport {
                source: s.name.clone(),
                kind: s.kind,
                state: s.state(),
                lines: s.lines_total(),
                dropped: s.dropped_total(),
                lost: s.lost_total(),
                errors: s.errors_total(),
            })
            .collect()
    }

    /// Names of degraded sources: running, but not doing all their work (a missing journal, a
    /// `--host-proc` that is not a /proc, a log file not there yet).
    pub fn degraded(&self) -> Vec<String> {
        self.names_where(|s| matches!(s, SourceState::Degraded(_)))
    }

    /// Names of dead sources; empty when the agent is healthy.
    pub fn dead(&self) -> Vec<String> {
        self.names_where(|s| matches!(s, SourceState::Dead(_)))
    }

    fn names_where(&self, state: impl Fn(&SourceState) -> bool) -> Vec<String> {
        self.sources()
            .iter()
            .filter(|s| state(&s.state()))
            .map(|s| s.name.clone())
            .collect()
    }
}
