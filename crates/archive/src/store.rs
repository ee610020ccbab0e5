//! The store trait both backends implement, and what flows through it.

use crate::query::{CrashQuery, EventQuery};
use crate::record::{ArchivedEvent, CrashRecord, EventOccurrence};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// One atomic write: occurrences, crashes and the checkpoints that cover them commit together,
/// so a resumed watch never skips what was not stored nor stores twice what was.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Event occurrences (duplicates by uid + count are skipped).
    pub events: Vec<EventOccurrence>,
    /// Crashes (duplicates by pod uid + container + instance are skipped).
    pub crashes: Vec<CrashRecord>,
    /// Named checkpoints (e.g. the event watch's resourceVersion) written in the same transaction.
    pub checkpoints: Vec<(String, String)>,
}

impl Batch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.crashes.is_empty() && self.checkpoints.is_empty()
    }
}

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteStats {
    /// Occurrences newly stored.
    pub events_inserted: u64,
    /// Occurrences already present (same uid and count).
    pub events_duplicate: u64,
    /// Crashes newly stored.
    pub crashes_inserted: u64,
    /// Crashes already present.
    pub crashes_duplicate: u64,
    /// Older crashes of the same containers removed to keep the last N.
    pub crashes_rotated: u64,
    /// Indices (into the batch's events) of the occurrences newly stored, for exports: what
    /// was already archived is not sent again.
    #[serde(skip)]
    pub new_events: Vec<usize>,
}

impl std::ops::AddAssign for WriteStats {
    fn add_assign(&mut self, o: Self) {
        self.events_inserted += o.events_inserted;
        self.events_duplicate += o.events_duplicate;
        self.crashes_inserted += o.crashes_inserted;
        self.crashes_duplicate += o.crashes_duplicate;
        self.crashes_rotated += o.crashes_rotated;
        self.new_events.extend(o.new_events);
    }
}

/// How long and how much the archive keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Records older than this go (`None`: kept by age forever).
    pub max_age: Option<Duration>,
    /// The store is kept below this many bytes by removing the oldest records (`None`: no bound).
    pub max_bytes: Option<u64>,
    /// Crashes kept per container (pod uid + container); older ones go as new ones arrive.
    pub crashes_per_container: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_age: Some(Duration::from_secs(30 * 86_400)),
            max_bytes: None,
            crashes_per_container: 10,
        }
    }
}

/// What a prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneStats {
    /// Occurrences removed.
    pub events_removed: u64,
    /// Crashes removed.
    pub crashes_removed: u64,
    /// Time partitions dropped (PostgreSQL).
    pub partitions_dropped: u64,
    /// Store size after pruning, bytes.
    pub bytes_after: u64,
}

/// Size and content of the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreStats {
    /// Backend (`sqlite`, `postgres`).
    pub backend: String,
    /// Where it is (path, or the server without credentials).
    pub location: String,
    /// Bytes used.
    pub bytes: u64,
    /// Event occurrences stored.
    pub events: u64,
    /// Crashes stored.
    pub crashes: u64,
    /// Oldest occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest: Option<Timestamp>,
    /// Newest occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest: Option<Timestamp>,
}

/// One page of a follow query: occurrences archived after a cursor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FollowPage {
    /// New occurrences, in archive order.
    pub occurrences: Vec<EventOccurrence>,
    /// The cursor to ask from next time.
    pub cursor: i64,
}

/// Why a store operation failed. The variants say what the operator can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not a SQLite database, or is damaged.
    #[error(
        "{path}: {reason}; kubemedic will not write to it. Move it aside (the controller then starts a new archive) or point --archive at another file"
    )]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The file is a SQLite database of some other program.
    #[error(
        "{path} is a SQLite database of another application (tables: {tables}); kubemedic will not touch it. Point --archive at a new file"
    )]
    Foreign {
        /// The file.
        path: String,
        /// The tables it holds.
        tables: String,
    },
    /// The archive was written by a newer kubemedic.
    #[error(
        "{location} holds archive schema version {found}, newer than this kubemedic understands ({supported}); upgrade kubemedic"
    )]
    NewerSchema {
        /// Where.
        location: String,
        /// Version found.
        found: i64,
        /// Version supported.
        supported: i64,
    },
    /// No space left on the device holding the store; nothing of the failed write was stored.
    #[error("{location}: no space left on device; the write was rolled back and will be retried")]
    DiskFull {
        /// Where.
        location: String,
    },
    /// The database server cannot be reached (PostgreSQL).
    #[error("cannot reach {location}: {reason}")]
    Unreachable {
        /// Server, without credentials.
        location: String,
        /// Why.
        reason: String,
    },
    /// The archive URL cannot be understood.
    #[error(
        "invalid archive {input:?}: {reason} (expected sqlite:PATH or postgres://USER@HOST[:PORT]/DB)"
    )]
    InvalidUrl {
        /// What was given.
        input: String,
        /// Why.
        reason: String,
    },
    /// Any other database error.
    #[error("{location}: {reason}")]
    Database {
        /// Where.
        location: String,
        /// What the database said.
        reason: String,
    },
}

impl StoreError {
    /// A short label for metrics (`disk_full`, `unreachable`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Corrupt { .. } => "corrupt",
            StoreError::Foreign { .. } => "foreign",
            StoreError::NewerSchema { .. } => "newer_schema",
            StoreError::DiskFull { .. } => "disk_full",
            StoreError::Unreachable { .. } => "unreachable",
            StoreError::InvalidUrl { .. } => "invalid_url",
            StoreError::Database { .. } => "database",
        }
    }

    /// Whether retrying the same operation later may succeed (space freed, server back).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::DiskFull { .. }
                | StoreError::Unreachable { .. }
                | StoreError::Database { .. }
        )
    }
}

/// An event and crash archive. Implementations are safe to share between threads; writes are
/// expected from one writer per cluster at a time (the Lease holder), reads from anywhere.
pub trait Store: Send + Sync + fmt::Debug {
    /// The cluster this store writes as.
    fn cluster(&self) -> &str;
    /// Backend name and location, for logs and `/healthz`.
    fn describe(&self) -> String;
    /// Writes a batch atomically: all of it or (on error) none of it.
    fn write(&self, batch: &Batch) -> Result<WriteStats, StoreError>;
    /// A checkpoint written by [`Store::write`].
    fn checkpoint(&self, name: &str) -> Result<Option<String>, StoreError>;
    /// Events matching the query, folded by uid, oldest first.
    fn events(&self, q: &EventQuery) -> Result<Vec<ArchivedEvent>, StoreError>;
    /// Occurrences archived after `q.after` (or the newest ones when unset), for `--follow`.
    fn follow(&self, q: &EventQuery) -> Result<FollowPage, StoreError>;
    /// Crashes matching the query, oldest first.
    fn crashes(&self, q: &CrashQuery) -> Result<Vec<CrashRecord>, StoreError>;
    /// Whether this crash (pod uid, container, instance) is already stored.
    fn has_crash(&self, pod_uid: &str, container: &str, instance: &str)
    -> Result<bool, StoreError>;
    /// Applies the retention policy's age and size bounds.
    fn prune(&self, retention: &Retention, now: Timestamp) -> Result<PruneStats, StoreError>;
    /// Size and counts.
    fn stats(&self) -> Result<StoreStats, StoreError>;
    /// A cheap check that the store answers (for `/healthz`).
    fn ping(&self) -> Result<(), StoreError>;
}

/// Microseconds since the Unix epoch, the stored time unit.
pub(crate) fn to_micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// The inverse of [`to_micros`]; out-of-range values clamp.
pub(crate) fn from_micros(us: i64) -> Timestamp {
    Timestamp::from_microsecond(us).unwrap_or(if us < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}
