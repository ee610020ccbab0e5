//! Reading a stored crash back, shared by the SQLite and PostgreSQL stores: the columns both
//! select, in one order, and the one place a row becomes a [`CrashRecord`] (the workload pair,
//! the logs decompressed or the reason they cannot be).

use crate::compress;
use crate::record::{CrashRecord, WorkloadRef};
use jiff::Timestamp;

/// The crash columns both stores select, in this order (the logs blob follows them).
pub(crate) const CRASH_COLUMNS: &str = "namespace, pod, pod_uid, container, init_container, instance, node, workload_kind, workload_name, restart_count, exit_code, signal, reason, message, started_at, finished_at, captured_at, logs_len, logs_truncated, logs_error, node_memory";

/// A result row as a store's driver reads it, column `i` counted from the first of
/// [`CRASH_COLUMNS`] (each store adds its own offset).
pub(crate) trait CrashColumns {
    /// The driver's error.
    type Error;
    /// A text column that may be NULL.
    fn text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    /// A 64-bit integer column.
    fn int64(&self, i: usize) -> Result<i64, Self::Error>;
    /// A 32-bit integer column that may be NULL.
    fn int32(&self, i: usize) -> Result<Option<i32>, Self::Error>;
    /// A boolean column.
    fn flag(&self, i: usize) -> Result<bool, Self::Error>;
    /// A time column that may be NULL.
    fn time(&self, i: usize) -> Result<Option<Timestamp>, Self::Error>;
    /// A JSON column that may be NULL (an unreadable value reads as NULL).
    fn json(&self, i: usize) -> Result<Option<serde_json::Value>, Self::Error>;
    /// A binary column that may be NULL.
    fn blob(&self, i: usize) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// The crash in a row of [`CRASH_COLUMNS`] followed by the compressed logs (NULL when the
/// query left them out). Logs that cannot be decompressed become `logs_error`, not a failure.
pub(crate) fn crash_from_row<R: CrashColumns>(r: &R) -> Result<CrashRecord, R::Error> {
    let required = |v: Option<String>| v.unwrap_or_default();
    let workload = match (r.text(7)?, r.text(8)?) {
        (Some(kind), Some(name)) => Some(WorkloadRef { kind, name }),
        _ => None,
    };
    let mut record = CrashRecord {
        namespace: required(r.text(0)?),
        pod: required(r.text(1)?),
        pod_uid: required(r.text(2)?),
        container: required(r.text(3)?),
        init_container: r.flag(4)?,
        instance: required(r.text(5)?),
        node: r.text(6)?,
        workload,
        restart_count: r.int64(9)?,
        exit_code: r.int32(10)?.unwrap_or_default(),
        signal: r.int32(11)?,
        reason: r.text(12)?,
        message: r.text(13)?,
        started_at: r.time(14)?,
        finished_at: r.time(15)?,
        captured_at: r.time(16)?.unwrap_or(Timestamp::UNIX_EPOCH),
        logs: None,
        logs_truncated: r.flag(18)?,
        logs_error: r.text(19)?,
        node_memory: r.json(20)?,
    };
    if let Some(blob) = r.blob(21)? {
        match compress::decompress(&blob, r.int64(17)?.max(0) as usize) {
            Ok(logs) => record.logs = Some(logs),
            Err(e) => record.logs_error = Some(e),
        }
    }
    Ok(record)
}
