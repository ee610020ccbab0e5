//! The embedded store: one SQLite file (WAL, FTS5), the default for a single cluster.
//!
//! One writer connection (the Lease holder writes), a small pool of read connections (WAL lets
//! readers run beside the writer). Occurrences are unique by `(uid, count)`, crashes by
//! `(pod_uid, container, instance)`, so replays after a restart or a relist are no-ops.

use crate::compress;
use crate::crash_row::{CRASH_COLUMNS, CrashColumns, crash_from_row};
use crate::filter;
use crate::query::{CrashQuery, EventQuery, grep_words};
use crate::record::{
    ArchivedEvent, CrashRecord, EventOccurrence, ObjectRef, WorkloadRef, fold_occurrences,
};
use crate::store::{
    Batch, FollowPage, PruneStats, Retention, Store, StoreError, StoreStats, WriteStats,
    from_micros, to_micros,
};
use jiff::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// `PRAGMA application_id` of a kubemedic archive ("KMED").
pub const APPLICATION_ID: i64 = 0x4B4D_4544;
/// Schema version (`PRAGMA user_version`). 2: event messages are indexed for `--grep` in
/// deferred batches (`meta.fts_seq`), no longer by a trigger per row. 3: the object, workload
/// and uniqueness indexes are keyed on 64-bit hashes (`okey`, `wkey`, `ukey`) instead of text.
pub const SCHEMA_VERSION: i64 = 3;

/// Occurrences indexed for full-text search in one go: one FTS5 segment per batch instead of
/// one per write transaction is what halves the ingest cost (FTS5 flushes and merges a segment
/// per transaction).
const FTS_BATCH: i64 = 50_000;
/// Occurrences wait at most this long for their full-text indexing (queries read the not yet
/// indexed tail directly, so nothing is missed meanwhile; this only bounds that tail).
const FTS_DELAY: std::time::Duration = std::time::Duration::from_secs(5);

/// The event indexes keyed on hashes ([`key_hash`]): an entry is two integers and a rowid, a
/// third of the text tuples' size, and compares as integers. A hash only narrows: every query
/// and the uniqueness check also compare the text columns, so a collision costs a row read,
/// never a wrong answer or a lost occurrence.
const EVENT_INDEXES: &str = r#"
CREATE INDEX events_key ON events(ukey);
CREATE INDEX events_object ON events(okey, time);
CREATE INDEX events_workload ON events(wkey, time) WHERE wkey IS NOT NULL;
"#;

const SCHEMA: &str = r#"
CREATE TABLE events(
    seq INTEGER PRIMARY KEY,
    uid TEXT NOT NULL,
    count INTEGER NOT NULL,
    time INTEGER NOT NULL,
    first_time INTEGER NOT NULL,
    archived_at INTEGER NOT NULL,
    origin TEXT NOT NULL,
    api TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    object_uid TEXT,
    workload_kind TEXT,
    workload_name TEXT,
    reason TEXT NOT NULL,
    type TEXT NOT NULL,
    message TEXT NOT NULL,
    component TEXT NOT NULL,
    host TEXT NOT NULL,
    ukey INTEGER NOT NULL,
    okey INTEGER NOT NULL,
    wkey INTEGER
);
CREATE INDEX events_time ON events(time);
CREATE VIRTUAL TABLE events_fts USING fts5(message, content='events', content_rowid='seq', columnsize=0, tokenize='unicode61 remove_diacritics 0');

CREATE TABLE crashes(
    id INTEGER PRIMARY KEY,
    namespace TEXT NOT NULL,
    pod TEXT NOT NULL,
    pod_uid TEXT NOT NULL,
    container TEXT NOT NULL,
    init_container INTEGER NOT NULL,
    instance TEXT NOT NULL,
    node TEXT,
    workload_kind TEXT,
    workload_name TEXT,
    restart_count INTEGER NOT NULL,
    exit_code INTEGER NOT NULL,
    signal INTEGER,
    reason TEXT,
    message TEXT,
    started_at INTEGER,
    finished_at INTEGER,
    captured_at INTEGER NOT NULL,
    time INTEGER NOT NULL,
    logs BLOB,
    logs_len INTEGER NOT NULL,
    logs_truncated INTEGER NOT NULL,
    logs_error TEXT,
    node_memory TEXT,
    UNIQUE(pod_uid, container, instance)
);
CREATE INDEX crashes_pod ON crashes(namespace, pod, time);
CREATE INDEX crashes_workload ON crashes(workload_kind, workload_name, time) WHERE workload_kind IS NOT NULL;
CREATE INDEX crashes_time ON crashes(time);
CREATE VIRTUAL TABLE crashes_fts USING fts5(logs, message, content='', contentless_delete=1);
CREATE TRIGGER crashes_fts_delete AFTER DELETE ON crashes BEGIN
    DELETE FROM crashes_fts WHERE rowid = old.id;
END;

CREATE TABLE checkpoints(name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta(key, value) VALUES ('fts_seq', '0');
"#;

/// Occurrences up to `meta.fts_seq` are in `events_fts`; only those may be deleted from it.
const FTS_DELETE_TRIGGER: &str = r#"
CREATE TRIGGER events_fts_delete AFTER DELETE ON events
WHEN old.seq <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fts_seq') BEGIN
    INSERT INTO events_fts(events_fts, rowid, message) VALUES ('delete', old.seq, old.message);
END;
"#;

/// Version 1 → 2: the per-row insert trigger goes; what it indexed is recorded as done.
const MIGRATE_1_TO_2: &str = r#"
DROP TRIGGER IF EXISTS events_fts_insert;
DROP TRIGGER IF EXISTS events_fts_delete;
INSERT OR REPLACE INTO meta(key, value) SELECT 'fts_seq', CAST(coalesce(max(seq), 0) AS TEXT) FROM events;
"#;

const EVENT_COLUMNS: &str = "seq, uid, count, time, first_time, origin, api, kind, namespace, name, object_uid, workload_kind, workload_name, reason, type, message, component, host";

/// The SQLite archive.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    cluster: String,
    writer: Option<Mutex<Connection>>,
    readers: Mutex<Vec<Connection>>,
    crashes_per_container: AtomicU32,
    /// When the writer last indexed pending messages.
    fts_indexed_at: Mutex<std::time::Instant>,
}

/// Maps a SQLite error to what the operator can act on.
fn map_err(path: &Path, e: rusqlite::Error) -> StoreError {
    let location = path.display().to_string();
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        match f.code {
            ErrorCode::DiskFull => return StoreError::DiskFull { location },
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                return StoreError::Corrupt {
                    path: location,
                    reason: msg.clone().unwrap_or_else(|| f.to_string()),
                };
            }
            _ => {}
        }
    }
    StoreError::Database {
        location,
        reason: e.to_string(),
    }
}

impl SqliteStore {
    /// Opens (or creates) the archive at `path` for writing as `cluster`.
    ///
    /// Refuses, without changing a byte, a file that is not SQLite, a SQLite database of another
    /// application, a damaged archive, or one written by a newer schema.
    pub fn open(path: &Path, cluster: &str) -> Result<Self, StoreError> {
        check_header(path)?;
        let conn = Connection::open(path).map_err(|e| map_err(path, e))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| map_err(path, e))?;
        let app_id: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| map_err(path, e))?;
        if app_id == APPLICATION_ID {
            check_version(path, &conn)?;
            quick_check(path, &conn)?;
            migrate(path, &conn)?;
        } else {
            let tables = user_tables(path, &conn)?;
            if !tables.is_empty() || app_id != 0 {
                return Err(StoreError::Foreign {
                    path: path.display().to_string(),
                    tables: if tables.is_empty() {
                        format!("none; application_id {app_id:#x}")
                    } else {
                        tables.join(", ")
                    },
                });
            }
            // A new (or empty) file: incremental auto-vacuum must be chosen before any table.
            conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")
                .map_err(|e| map_err(path, e))?;
        }
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| map_err(path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Database {
                location: path.display().to_string(),
                reason: format!(
                    "cannot switch to WAL journal mode (got {mode}); is the file on a filesystem without shared memory support?"
                ),
            });
        }
        // WAL + NORMAL: a killed process loses nothing committed; only a power loss may lose
        // the last transactions, which a resumed watch then re-reads. Checkpoints every 8,192
        // pages (32 MiB) instead of 1,000: index pages touched again between checkpoints are
        // copied into the database once; the WAL file is cut back to 64 MiB after each.
        // Reads through a memory map (up to 2 GiB, SQLite's own ceiling): an index page missing
        // from the 64 MiB cache costs a page fault on the kernel's cache, not a read() and a
        // copy; the mapped pages are the kernel's to reclaim, not the process's heap.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536; PRAGMA mmap_size = 2147418112; PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 8192; PRAGMA journal_size_limit = 67108864;",
        )
        .map_err(|e| map_err(path, e))?;
        if app_id != APPLICATION_ID {
            init_schema(path, &conn, cluster)?;
        }
        let stored_cluster: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'cluster'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| map_err(path, e))?;
        if let Some(stored) = stored_cluster
            && stored != cluster
        {
            tracing::warn!(
                path = %path.display(),
                stored = %stored,
                cluster = %cluster,
                "the archive was written as another cluster; records keep their origin, new ones are written as this cluster"
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
            cluster: cluster.to_string(),
            writer: Some(Mutex::new(conn)),
            readers: Mutex::new(Vec::new()),
            crashes_per_container: AtomicU32::new(Retention::default().crashes_per_container),
            fts_indexed_at: Mutex::new(std::time::Instant::now()),
        })
    }

    /// Opens an existing archive for reading only (`kubemedic events --archive sqlite:PATH`).
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Database {
                location: path.display().to_string(),
                reason:
                    "no such file (is this the path the controller writes, --archive sqlite:PATH?)"
                        .to_string(),
            });
        }
        check_header(path)?;
        let conn = open_reader(path)?;
        let app_id: i64 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| map_err(path, e))?;
        if app_id != APPLICATION_ID {
            return Err(StoreError::Foreign {
                path: path.display().to_string(),
                tables: user_tables(path, &conn)?.join(", "),
            });
        }
        check_version(path, &conn)?;
        let cluster: String = conn
            .query_row("SELECT value FROM meta WHERE key = 'cluster'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| map_err(path, e))?
            .unwrap_or_else(|| "default".to_string());
        Ok(Self {
            path: path.to_path_buf(),
            cluster,
            writer: None,
            readers: Mutex::new(vec![conn]),
            crashes_per_container: AtomicU32::new(Retention::default().crashes_per_container),
            fts_indexed_at: Mutex::new(std::time::Instant::now()),
        })
    }

    /// Indexes for `--grep` every message not indexed yet (normally done in batches of
    /// 50,000 or after 5 s; queries see the rest meanwhile). For shutdown and tests.
    pub fn flush_index(&self) -> Result<(), StoreError> {
        let mut conn = self.writer()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let mut indexed_at = self
            .fts_indexed_at
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        index_pending(&tx, &mut indexed_at, true).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Sets how many crashes per container writes keep.
    pub fn set_crashes_per_container(&self, n: u32) {
        self.crashes_per_container
            .store(n.max(1), Ordering::Relaxed);
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
        let w = self.writer.as_ref().ok_or_else(|| StoreError::Database {
            location: self.path.display().to_string(),
            reason: "opened read-only".to_string(),
        })?;
        Ok(w.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = {
            let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            pool.pop()
        };
        let conn = match conn {
            Some(c) => c,
            None => open_reader(&self.path)?,
        };
        let out = f(&conn);
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < 8 {
            pool.push(conn);
        }
        out
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        map_err(&self.path, e)
    }

    fn used_bytes(&self, conn: &Connection) -> Result<u64, StoreError> {
        let (pages, free, size): (i64, i64, i64) = conn
            .query_row(
                "SELECT (SELECT page_count FROM pragma_page_count()), (SELECT freelist_count FROM pragma_freelist_count()), (SELECT page_size FROM pragma_page_size())",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(|e| self.err(e))?;
        Ok(((pages - free).max(0) * size) as u64)
    }

    fn file_bytes(&self) -> u64 {
        let main = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        main + std::fs::metadata(PathBuf::from(wal))
            .map(|m| m.len())
            .unwrap_or(0)
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| map_err(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|e| map_err(path, e))?;
    // Rows a query reads (hundreds for a Deployment) come from the map, like the writer's.
    conn.execute_batch("PRAGMA mmap_size = 2147418112;")
        .map_err(|e| map_err(path, e))?;
    Ok(conn)
}

/// A non-empty file must start with SQLite's magic string.
fn check_header(path: &Path) -> Result<(), StoreError> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(StoreError::Database {
                location: path.display().to_string(),
                reason: e.to_string(),
            });
        }
    };
    let mut head = [0u8; 16];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => {
                return Err(StoreError::Database {
                    location: path.display().to_string(),
                    reason: e.to_string(),
                });
            }
        }
    }
    if n == 0 {
        return Ok(());
    }
    if n < 16 || &head != b"SQLite format 3\0" {
        let shown: String = head[..n]
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        return Err(StoreError::Corrupt {
            path: path.display().to_string(),
            reason: format!("not a SQLite database (it starts with {shown:?})"),
        });
    }
    Ok(())
}

fn user_tables(path: &Path, conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut st = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(|e| map_err(path, e))?;
    let rows = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| map_err(path, e))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| map_err(path, e))
}

fn check_version(path: &Path, conn: &Connection) -> Result<(), StoreError> {
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| map_err(path, e))?;
    if v > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            location: path.display().to_string(),
            found: v,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// `PRAGMA quick_check`: finds damaged pages and indexes (a few seconds per GiB).
fn quick_check(path: &Path, conn: &Connection) -> Result<(), StoreError> {
    let mut st = conn
        .prepare("PRAGMA quick_check(5)")
        .map_err(|e| map_err(path, e))?;
    let rows: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(|e| map_err(path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| map_err(path, e))?;
    if rows.len() == 1 && rows[0] == "ok" {
        return Ok(());
    }
    Err(StoreError::Corrupt {
        path: path.display().to_string(),
        reason: format!("integrity check failed: {}", rows.join("; ")),
    })
}

/// Version 2 → 3: the hash key columns (filled by [`fill_keys`]) and their indexes replace the
/// text-keyed ones. The `UNIQUE(uid, count)` index of a version 2 table cannot be dropped
/// without copying the table, so an upgraded archive keeps it (correct, only slower to write).
const MIGRATE_2_TO_3: &str = r#"
ALTER TABLE events ADD COLUMN ukey INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN okey INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN wkey INTEGER;
DROP INDEX IF EXISTS events_object;
DROP INDEX IF EXISTS events_workload;
"#;

/// Brings an archive written by an older kubemedic to this schema (in one transaction).
fn migrate(path: &Path, conn: &Connection) -> Result<(), StoreError> {
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| map_err(path, e))?;
    if v >= SCHEMA_VERSION {
        return Ok(());
    }
    let upgrade = || -> rusqlite::Result<()> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        if v < 2 {
            conn.execute_batch(&format!("{MIGRATE_1_TO_2} {FTS_DELETE_TRIGGER}"))?;
        }
        conn.execute_batch(MIGRATE_2_TO_3)?;
        fill_keys(conn)?;
        conn.execute_batch(&format!(
            "{EVENT_INDEXES} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        ))
    };
    upgrade().map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        map_err(path, e)
    })?;
    tracing::info!(path = %path.display(), from = v, to = SCHEMA_VERSION, "archive schema upgraded");
    Ok(())
}

/// Computes the hash keys of every stored occurrence (the version 3 upgrade), in chunks of
/// rows read before they are updated.
fn fill_keys(conn: &Connection) -> rusqlite::Result<()> {
    let mut after = i64::MIN;
    loop {
        let rows: Vec<(i64, i64, i64, Option<i64>)> = conn
            .prepare_cached(
                "SELECT seq, uid, count, kind, name, workload_kind, workload_name FROM events WHERE seq > ?1 ORDER BY seq LIMIT 10000",
            )?
            .query_map([after], |r| {
                let uid: String = r.get(1)?;
                let kind: String = r.get(3)?;
                let name: String = r.get(4)?;
                let wk: Option<String> = r.get(5)?;
                let wn: Option<String> = r.get(6)?;
                Ok((
                    r.get(0)?,
                    occurrence_key(&uid, r.get(2)?),
                    key_hash(&kind, &name),
                    wk.zip(wn).map(|(k, n)| key_hash(&k, &n)),
                ))
            })?
            .collect::<Result<_, _>>()?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.0;
        let mut st = conn
            .prepare_cached("UPDATE events SET ukey = ?2, okey = ?3, wkey = ?4 WHERE seq = ?1")?;
        for (seq, ukey, okey, wkey) in &rows {
            st.execute(params![seq, ukey, okey, wkey])?;
        }
    }
}

/// The 64-bit key of a `(kind, name)` pair in the object and workload indexes: FNV-1a, fixed
/// forever (it is stored), the two strings separated by a byte UTF-8 never contains.
pub(crate) fn key_hash(kind: &str, name: &str) -> i64 {
    fnv1a(&[kind.as_bytes(), &[0xff], name.as_bytes()])
}

/// The 64-bit key of an occurrence, `(uid, count)`, in the uniqueness index.
pub(crate) fn occurrence_key(uid: &str, count: i64) -> i64 {
    fnv1a(&[uid.as_bytes(), &[0xff], &count.to_le_bytes()])
}

fn fnv1a(parts: &[&[u8]]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

/// Indexes the messages not yet in `events_fts` when enough are pending, they waited long
/// enough, or `force`; inside the caller's transaction, so index and rows commit together.
fn index_pending(
    tx: &Connection,
    indexed_at: &mut std::time::Instant,
    force: bool,
) -> rusqlite::Result<()> {
    let (done, newest): (i64, i64) = tx.query_row(
        "SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fts_seq'), (SELECT coalesce(max(seq), 0) FROM events)",
        [],
        |r| Ok((r.get::<_, Option<i64>>(0)?.unwrap_or(i64::MAX), r.get(1)?)),
    )?;
    let pending = newest.saturating_sub(done);
    if pending <= 0 {
        *indexed_at = std::time::Instant::now();
        return Ok(());
    }
    if !force && pending < FTS_BATCH && indexed_at.elapsed() < FTS_DELAY {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO events_fts(rowid, message) SELECT seq, message FROM events WHERE seq > ?1 AND seq <= ?2",
    )?
    .execute(params![done, newest])?;
    tx.prepare_cached("UPDATE meta SET value = CAST(?1 AS TEXT) WHERE key = 'fts_seq'")?
        .execute(params![newest])?;
    *indexed_at = std::time::Instant::now();
    Ok(())
}

/// The newest occurrence whose message is in `events_fts` (`i64::MAX` for an archive indexed
/// by the version 1 trigger and not yet upgraded).
fn fts_seq(conn: &Connection) -> rusqlite::Result<i64> {
    Ok(conn
        .query_row(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'fts_seq'",
            [],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten()
        .unwrap_or(i64::MAX))
}

fn init_schema(path: &Path, conn: &Connection, cluster: &str) -> Result<(), StoreError> {
    let sql = format!(
        "BEGIN IMMEDIATE; {SCHEMA} {EVENT_INDEXES} {FTS_DELETE_TRIGGER} PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    );
    conn.execute_batch(&sql).map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        map_err(path, e)
    })?;
    conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('cluster', ?1), ('created', ?2)",
        params![cluster, Timestamp::now().to_string()],
    )
    .map_err(|e| map_err(path, e))?;
    Ok(())
}

fn row_to_occurrence(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, EventOccurrence)> {
    let origin: String = r.get(5)?;
    let wk: Option<String> = r.get(11)?;
    let wn: Option<String> = r.get(12)?;
    Ok((
        r.get(0)?,
        EventOccurrence {
            uid: r.get(1)?,
            count: r.get(2)?,
            time: from_micros(r.get(3)?),
            first_time: from_micros(r.get(4)?),
            origin: origin.parse().unwrap_or_default(),
            api: r.get(6)?,
            object: ObjectRef {
                kind: r.get(7)?,
                namespace: r.get(8)?,
                name: r.get(9)?,
                uid: r.get(10)?,
            },
            workload: match (wk, wn) {
                (Some(kind), Some(name)) => Some(WorkloadRef { kind, name }),
                _ => None,
            },
            reason: r.get(13)?,
            type_: r.get(14)?,
            message: r.get(15)?,
            component: r.get(16)?,
            host: r.get(17)?,
        },
    ))
}

/// SQLite's side of the shared filters: `?` placeholders, times as microseconds.
struct SqliteClauses<'a> {
    sql: &'a mut String,
    args: &'a mut Vec<Value>,
    /// The table has the hashed object keys (`events`; `crashes` has not).
    hashed: bool,
}

impl filter::ClauseSink for SqliteClauses<'_> {
    fn key(&mut self, column: filter::KeyColumn, kind: &str, name: &str) -> Option<String> {
        if !self.hashed {
            return None;
        }
        self.args.push(Value::Integer(key_hash(kind, name)));
        Some(match column {
            filter::KeyColumn::Object => "okey = ?".to_string(),
            filter::KeyColumn::Workload => "wkey = ?".to_string(),
        })
    }

    fn bind(&mut self, value: filter::Param) -> String {
        self.args.push(match value {
            filter::Param::Text(t) => Value::Text(t),
            filter::Param::Time(t) => Value::Integer(to_micros(t)),
        });
        "?".to_string()
    }

    fn push_sql(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }
}

/// The FTS5 expression for `--grep`: the words as a phrase, the last one a prefix.
pub(crate) fn fts_phrase(text: &str) -> Option<String> {
    let words = grep_words(text);
    if words.is_empty() {
        return None;
    }
    Some(format!("\"{}\" *", words.join(" ")))
}

fn invalid_grep(text: &str) -> StoreError {
    StoreError::Database {
        location: "query".to_string(),
        reason: format!("--grep {text:?} has no letters or digits to search for"),
    }
}

/// Every filter but `--grep` (answered by [`grep_events`] or the follow path).
fn event_filters(q: &EventQuery, sql: &mut String, args: &mut Vec<Value>) {
    filter::events(
        &mut SqliteClauses {
            sql,
            args,
            hashed: true,
        },
        q,
    );
}

/// `--grep` as a check on one message: the words as a phrase in order, the last one a prefix,
/// tokenized as the FTS5 table does (letters and digits, lowercased), for the rows it does
/// not index yet and for rows already narrowed down by an object.
struct PhraseMatcher {
    words: Vec<String>,
}

impl PhraseMatcher {
    fn new(text: &str) -> Result<Self, StoreError> {
        let words = grep_words(text);
        if words.is_empty() {
            return Err(invalid_grep(text));
        }
        Ok(Self { words })
    }

    fn matches(&self, message: &str) -> bool {
        let tokens = grep_words(message);
        let n = self.words.len();
        if tokens.len() < n {
            return false;
        }
        let (last, head) = self.words.split_last().unwrap_or((&self.words[0], &[]));
        tokens
            .windows(n)
            .any(|w| w[..n - 1] == *head && w[n - 1].starts_with(last.as_str()))
    }
}

/// Runs `f` inside one read transaction, so its statements see one snapshot (the indexed
/// boundary and the rows agree).
fn in_read_snapshot<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.execute_batch("BEGIN")?;
    let out = f(conn);
    let end = conn.execute_batch(if out.is_ok() { "COMMIT" } else { "ROLLBACK" });
    let out = out?;
    end?;
    Ok(out)
}

/// Runs an event query, keeping the rows `keep` accepts, until `limit` are kept.
fn collect_rows(
    conn: &Connection,
    sql: &str,
    args: &[Value],
    limit: usize,
    mut keep: impl FnMut(&EventOccurrence) -> bool,
) -> rusqlite::Result<Vec<(i64, EventOccurrence)>> {
    let mut st = conn.prepare_cached(sql)?;
    let mut rows = st.query(rusqlite::params_from_iter(args.iter()))?;
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = rows.next()? else { break };
        let (seq, occ) = row_to_occurrence(row)?;
        if keep(&occ) {
            out.push((seq, occ));
        }
    }
    Ok(out)
}

/// Events matching a query with `--grep`, newest first (by archive order: `seq`).
///
/// With an object, its rows (found through the object index) are checked one by one, so the
/// answer is the object's newest matches by time. Without one, FTS5 walks the matches from the
/// newest `seq` down, joined to their rows, and stops at the limit: a common word costs the
/// limit, not every match. Rows archived since the last indexing batch are checked directly.
fn grep_events(
    conn: &Connection,
    q: &EventQuery,
    grep: &str,
    limit: usize,
) -> Result<Vec<(i64, EventOccurrence)>, rusqlite::Error> {
    let matcher = match PhraseMatcher::new(grep) {
        Ok(m) => m,
        Err(_) => return Ok(Vec::new()),
    };
    let mut base = String::new();
    let mut args = Vec::new();
    event_filters(q, &mut base, &mut args);
    if q.object.is_some() {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE 1=1{base} ORDER BY time DESC, seq DESC"
        );
        return collect_rows(conn, &sql, &args, limit, |o| matcher.matches(&o.message));
    }
    let indexed = fts_seq(conn)?;
    let tail_sql =
        format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > ?{base} ORDER BY seq DESC");
    let mut tail_args = vec![Value::Integer(indexed)];
    tail_args.extend(args.iter().cloned());
    let mut out = collect_rows(conn, &tail_sql, &tail_args, limit, |o| {
        matcher.matches(&o.message)
    })?;
    if out.len() < limit {
        let phrase = fts_phrase(grep).unwrap_or_default();
        // CROSS JOIN keeps FTS5 the outer loop, which serves ORDER BY rowid DESC itself.
        let cols = EVENT_COLUMNS
            .split(", ")
            .map(|c| format!("e.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        // The other filters' columns exist only in `events`: no qualifier needed.
        let sql = format!(
            "SELECT {cols} FROM events_fts f CROSS JOIN events e ON e.seq = f.rowid WHERE events_fts MATCH ? AND f.rowid <= ?{base} ORDER BY f.rowid DESC LIMIT ?"
        );
        let mut fts_args = vec![Value::Text(phrase), Value::Integer(indexed)];
        fts_args.extend(args);
        fts_args.push(Value::Integer((limit - out.len()) as i64));
        out.extend(collect_rows(
            conn,
            &sql,
            &fts_args,
            limit - out.len(),
            |_| true,
        )?);
    }
    Ok(out)
}

fn crash_filters(
    q: &CrashQuery,
    sql: &mut String,
    args: &mut Vec<Value>,
) -> Result<(), StoreError> {
    filter::crashes(
        &mut SqliteClauses {
            sql,
            args,
            hashed: false,
        },
        q,
    );
    if let Some(g) = &q.grep {
        let phrase = fts_phrase(g).ok_or_else(|| invalid_grep(g))?;
        sql.push_str(" AND id IN (SELECT rowid FROM crashes_fts WHERE crashes_fts MATCH ?)");
        args.push(Value::Text(phrase));
    }
    Ok(())
}

impl Store for SqliteStore {
    fn cluster(&self) -> &str {
        &self.cluster
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    fn write(&self, batch: &Batch) -> Result<WriteStats, StoreError> {
        let mut stats = WriteStats::default();
        if batch.is_empty() {
            return Ok(stats);
        }
        let keep = self.crashes_per_container.load(Ordering::Relaxed);
        let now = to_micros(Timestamp::now());
        let mut conn = self.writer()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        {
            let mut ins = tx
                .prepare_cached(
                    // The uniqueness of (uid, count) is checked through the hashed key; OR
                    // IGNORE still covers the UNIQUE index of archives upgraded from version 2.
                    "INSERT OR IGNORE INTO events(uid, count, time, first_time, archived_at, origin, api, kind, namespace, name, object_uid, workload_kind, workload_name, reason, type, message, component, host, ukey, okey, wkey) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21 WHERE NOT EXISTS (SELECT 1 FROM events WHERE ukey = ?19 AND uid = ?1 AND count = ?2)",
                )
                .map_err(|e| self.err(e))?;
            for (i, e) in batch.events.iter().enumerate() {
                let n = ins
                    .execute(params![
                        e.uid,
                        e.count,
                        to_micros(e.time),
                        to_micros(e.first_time),
                        now,
                        e.origin.as_str(),
                        e.api,
                        e.object.kind,
                        e.object.namespace,
                        e.object.name,
                        e.object.uid,
                        e.workload.as_ref().map(|w| w.kind.as_str()),
                        e.workload.as_ref().map(|w| w.name.as_str()),
                        e.reason,
                        e.type_,
                        e.message,
                        e.component,
                        e.host,
                        occurrence_key(&e.uid, e.count),
                        key_hash(&e.object.kind, &e.object.name),
                        e.workload.as_ref().map(|w| key_hash(&w.kind, &w.name)),
                    ])
                    .map_err(|e| map_err(&self.path, e))?;
                if n == 1 {
                    stats.events_inserted += 1;
                    stats.new_events.push(i);
                } else {
                    stats.events_duplicate += 1;
                }
            }
        }
        {
            let mut indexed_at = self
                .fts_indexed_at
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            index_pending(&tx, &mut indexed_at, false).map_err(|e| self.err(e))?;
        }
        for c in &batch.crashes {
            let (blob, len) = match &c.logs {
                Some(l) => (
                    Some(
                        compress::compress(l).map_err(|reason| StoreError::Database {
                            location: self.path.display().to_string(),
                            reason,
                        })?,
                    ),
                    l.len() as i64,
                ),
                None => (None, 0),
            };
            let node_memory = c.node_memory.as_ref().map(|v| v.to_string());
            let n = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO crashes(namespace, pod, pod_uid, container, init_container, instance, node, workload_kind, workload_name, restart_count, exit_code, signal, reason, message, started_at, finished_at, captured_at, time, logs, logs_len, logs_truncated, logs_error, node_memory) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        c.namespace,
                        c.pod,
                        c.pod_uid,
                        c.container,
                        c.init_container,
                        c.instance,
                        c.node,
                        c.workload.as_ref().map(|w| w.kind.as_str()),
                        c.workload.as_ref().map(|w| w.name.as_str()),
                        c.restart_count,
                        c.exit_code,
                        c.signal,
                        c.reason,
                        c.message,
                        c.started_at.map(to_micros),
                        c.finished_at.map(to_micros),
                        to_micros(c.captured_at),
                        to_micros(c.time()),
                        blob,
                        len,
                        c.logs_truncated,
                        c.logs_error,
                        node_memory,
                    ])
                })
                .map_err(|e| self.err(e))?;
            if n == 0 {
                stats.crashes_duplicate += 1;
                continue;
            }
            stats.crashes_inserted += 1;
            let id = tx.last_insert_rowid();
            let text = c.logs_text().unwrap_or_default();
            tx.prepare_cached("INSERT INTO crashes_fts(rowid, logs, message) VALUES (?1, ?2, ?3)")
                .and_then(|mut st| {
                    st.execute(params![id, text, c.message.clone().unwrap_or_default()])
                })
                .map_err(|e| self.err(e))?;
            let rotated = tx
                .prepare_cached(
                    "DELETE FROM crashes WHERE pod_uid = ?1 AND container = ?2 AND id NOT IN (SELECT id FROM crashes WHERE pod_uid = ?1 AND container = ?2 ORDER BY time DESC, id DESC LIMIT ?3)",
                )
                .and_then(|mut st| st.execute(params![c.pod_uid, c.container, keep]))
                .map_err(|e| self.err(e))?;
            stats.crashes_rotated += rotated as u64;
        }
        for (name, value) in &batch.checkpoints {
            tx.prepare_cached(
                "INSERT INTO checkpoints(name, value, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .and_then(|mut st| st.execute(params![name, value, now]))
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(stats)
    }

    fn checkpoint(&self, name: &str) -> Result<Option<String>, StoreError> {
        let read = |conn: &Connection| {
            conn.query_row(
                "SELECT value FROM checkpoints WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
        };
        match &self.writer {
            Some(_) => {
                let conn = self.writer()?;
                read(&conn)
            }
            None => self.with_reader(read),
        }
    }

    fn events(&self, q: &EventQuery) -> Result<Vec<ArchivedEvent>, StoreError> {
        if let Some(g) = &q.grep {
            PhraseMatcher::new(g)?;
            let rows = self.with_reader(|conn| {
                in_read_snapshot(conn, |conn| grep_events(conn, q, g, q.effective_limit()))
                    .map_err(|e| self.err(e))
            })?;
            return Ok(fold_occurrences(
                &self.cluster,
                rows.into_iter().map(|(_, o)| o).collect(),
            ));
        }
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1=1");
        let mut args = Vec::new();
        event_filters(q, &mut sql, &mut args);
        sql.push_str(" ORDER BY time DESC, seq DESC LIMIT ?");
        args.push(Value::Integer(q.effective_limit() as i64));
        let rows = self.with_reader(|conn| {
            let mut st = conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
            let rows = st
                .query_map(rusqlite::params_from_iter(args.iter()), row_to_occurrence)
                .map_err(|e| self.err(e))?;
            rows.map(|r| r.map(|(_, o)| o))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.err(e))
        })?;
        Ok(fold_occurrences(&self.cluster, rows))
    }

    fn follow(&self, q: &EventQuery) -> Result<FollowPage, StoreError> {
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1=1");
        let mut args = Vec::new();
        event_filters(q, &mut sql, &mut args);
        let limit = q.effective_limit() as i64;
        if let Some(g) = &q.grep {
            let matcher = PhraseMatcher::new(g)?;
            return self.with_reader(|conn| {
                in_read_snapshot(conn, |conn| {
                    let max_seq: i64 =
                        conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| {
                            r.get(0)
                        })?;
                    let mut rows = match q.after {
                        // Newer than the cursor: checked row by row, in archive order (the
                        // newest rows may not be indexed yet).
                        Some(after) => {
                            sql.push_str(" AND seq > ? ORDER BY seq");
                            args.push(Value::Integer(after));
                            collect_rows(conn, &sql, &args, limit as usize, |o| {
                                matcher.matches(&o.message)
                            })?
                        }
                        None => grep_events(conn, q, g, limit as usize)?,
                    };
                    rows.sort_by_key(|(seq, _)| *seq);
                    let cursor = if q.after.is_some() && rows.len() as i64 == limit {
                        rows.last().map(|(s, _)| *s).unwrap_or(max_seq)
                    } else {
                        max_seq.max(q.after.unwrap_or(0))
                    };
                    Ok(FollowPage {
                        occurrences: rows.into_iter().map(|(_, o)| o).collect(),
                        cursor,
                    })
                })
                .map_err(|e| self.err(e))
            });
        }
        match q.after {
            Some(after) => {
                sql.push_str(" AND seq > ? ORDER BY seq LIMIT ?");
                args.push(Value::Integer(after));
            }
            None => sql.push_str(" ORDER BY seq DESC LIMIT ?"),
        }
        args.push(Value::Integer(limit));
        self.with_reader(|conn| {
            let max_seq: i64 = conn
                .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            let mut st = conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
            let mut rows: Vec<(i64, EventOccurrence)> = st
                .query_map(rusqlite::params_from_iter(args.iter()), row_to_occurrence)
                .map_err(|e| self.err(e))?
                .collect::<Result<_, _>>()
                .map_err(|e| self.err(e))?;
            rows.sort_by_key(|(seq, _)| *seq);
            // A full page continues from its last row; otherwise everything up to the newest
            // row seen is covered.
            let cursor = if q.after.is_some() && rows.len() as i64 == limit {
                rows.last().map(|(s, _)| *s).unwrap_or(max_seq)
            } else {
                max_seq.max(q.after.unwrap_or(0))
            };
            Ok(FollowPage {
                occurrences: rows.into_iter().map(|(_, o)| o).collect(),
                cursor,
            })
        })
    }

    fn crashes(&self, q: &CrashQuery) -> Result<Vec<CrashRecord>, StoreError> {
        let logs_col = if q.without_logs { "NULL" } else { "logs" };
        let mut sql = format!("SELECT {CRASH_COLUMNS}, {logs_col} FROM crashes WHERE 1=1");
        let mut args = Vec::new();
        crash_filters(q, &mut sql, &mut args)?;
        sql.push_str(" ORDER BY time DESC, id DESC LIMIT ?");
        args.push(Value::Integer(q.effective_limit() as i64));
        let mut out = self.with_reader(|conn| {
            let mut st = conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
            let rows = st
                .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                    crash_from_row(&SqliteRow(r))
                })
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
        })?;
        out.reverse();
        Ok(out)
    }

    fn has_crash(
        &self,
        pod_uid: &str,
        container: &str,
        instance: &str,
    ) -> Result<bool, StoreError> {
        self.with_reader(|conn| {
            conn.query_row(
                "SELECT 1 FROM crashes WHERE pod_uid = ?1 AND container = ?2 AND instance = ?3",
                params![pod_uid, container, instance],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| self.err(e))
        })
    }

    fn prune(&self, retention: &Retention, now: Timestamp) -> Result<PruneStats, StoreError> {
        self.set_crashes_per_container(retention.crashes_per_container);
        let mut stats = PruneStats::default();
        // Chunks keep each write transaction short so ingest is not held up.
        let chunk = |conn: &Connection, sql: &str, arg: i64| -> Result<u64, StoreError> {
            let mut total = 0;
            loop {
                let n = conn.execute(sql, params![arg]).map_err(|e| self.err(e))?;
                total += n as u64;
                if n < 5_000 {
                    return Ok(total);
                }
            }
        };
        if let Some(age) = retention.max_age {
            let cutoff = now
                .checked_sub(
                    jiff::SignedDuration::try_from(age).unwrap_or(jiff::SignedDuration::MAX),
                )
                .unwrap_or(Timestamp::MIN);
            let cutoff = to_micros(cutoff);
            let conn = self.writer()?;
            stats.events_removed += chunk(
                &conn,
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time < ?1 LIMIT 5000)",
                cutoff,
            )?;
            stats.crashes_removed += chunk(
                &conn,
                "DELETE FROM crashes WHERE id IN (SELECT id FROM crashes WHERE time < ?1 LIMIT 5000)",
                cutoff,
            )?;
        }
        if let Some(max) = retention.max_bytes {
            for _ in 0..100 {
                let conn = self.writer()?;
                let used = self.used_bytes(&conn)?;
                if used <= max {
                    break;
                }
                // Remove the oldest slice of the timeline, events and crashes alike, sized by how
                // far over the bound the store is (at least 1% of it).
                let over = (used - max) as f64 / used as f64;
                let frac = (over * 1.2).clamp(0.01, 1.0);
                let (n_events, n_crashes): (i64, i64) = conn
                    .query_row(
                        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM crashes)",
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .map_err(|e| self.err(e))?;
                if n_events == 0 && n_crashes == 0 {
                    break;
                }
                let ev_cut: Option<i64> = conn
                    .query_row(
                        "SELECT time FROM events ORDER BY time LIMIT 1 OFFSET ?1",
                        params![((n_events as f64 * frac) as i64).max(0)],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(|e| self.err(e))?;
                let cr_cut: Option<i64> = conn
                    .query_row(
                        "SELECT time FROM crashes ORDER BY time LIMIT 1 OFFSET ?1",
                        params![((n_crashes as f64 * frac) as i64).max(0)],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(|e| self.err(e))?;
                // The slice ends at the later of the two cut points, inclusive, so each round
                // removes at least one record.
                let cut = ev_cut.into_iter().chain(cr_cut).max().unwrap_or(i64::MAX);
                let cut = cut.saturating_add(1);
                stats.events_removed += chunk(
                    &conn,
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time < ?1 LIMIT 5000)",
                    cut,
                )?;
                stats.crashes_removed += chunk(
                    &conn,
                    "DELETE FROM crashes WHERE id IN (SELECT id FROM crashes WHERE time < ?1 LIMIT 5000)",
                    cut,
                )?;
            }
        }
        {
            let conn = self.writer()?;
            if stats.events_removed + stats.crashes_removed > 0 {
                // Merge the FTS segments the deletes left behind, hand free pages back to the
                // filesystem and fold the WAL into the main file.
                conn.execute_batch(
                    "INSERT INTO events_fts(events_fts, rank) VALUES ('merge', 500);",
                )
                .map_err(|e| self.err(e))?;
                // incremental_vacuum frees one page per step: step it to the end.
                let mut st = conn
                    .prepare("PRAGMA incremental_vacuum")
                    .map_err(|e| self.err(e))?;
                let mut rows = st.query([]).map_err(|e| self.err(e))?;
                while rows.next().map_err(|e| self.err(e))?.is_some() {}
            }
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(|e| self.err(e))?;
        }
        stats.bytes_after = self.file_bytes();
        Ok(stats)
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let (events, crashes, oldest, newest) = self.with_reader(|conn| {
            conn.query_row(
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM crashes), (SELECT min(time) FROM events), (SELECT max(time) FROM events)",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                },
            )
            .map_err(|e| self.err(e))
        })?;
        Ok(StoreStats {
            backend: "sqlite".to_string(),
            location: self.path.display().to_string(),
            bytes: self.file_bytes(),
            events: events as u64,
            crashes: crashes as u64,
            oldest: oldest.map(from_micros),
            newest: newest.map(from_micros),
        })
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.with_reader(|conn| {
            conn.query_row("SELECT count(*) FROM meta", [], |_| Ok(()))
                .map_err(|e| self.err(e))
        })
    }
}

/// A result row of [`CRASH_COLUMNS`] as SQLite stores them (times in microseconds, JSON as text).
struct SqliteRow<'a, 'b>(&'a rusqlite::Row<'b>);

impl CrashColumns for SqliteRow<'_, '_> {
    type Error = rusqlite::Error;

    fn text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.0.get(i)
    }

    fn int64(&self, i: usize) -> rusqlite::Result<i64> {
        self.0.get(i)
    }

    fn int32(&self, i: usize) -> rusqlite::Result<Option<i32>> {
        self.0.get(i)
    }

    fn flag(&self, i: usize) -> rusqlite::Result<bool> {
        self.0.get(i)
    }

    fn time(&self, i: usize) -> rusqlite::Result<Option<Timestamp>> {
        Ok(self.0.get::<_, Option<i64>>(i)?.map(from_micros))
    }

    fn json(&self, i: usize) -> rusqlite::Result<Option<serde_json::Value>> {
        let text: Option<String> = self.0.get(i)?;
        Ok(text.and_then(|s| serde_json::from_str(&s).ok()))
    }

    fn blob(&self, i: usize) -> rusqlite::Result<Option<Vec<u8>>> {
        self.0.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(i: u64, pod: &str, message: &str) -> EventOccurrence {
        let t = Timestamp::from_second(1_790_000_000 + i as i64).expect("valid");
        EventOccurrence {
            uid: format!("uid-{i}"),
            count: 1,
            time: t,
            first_time: t,
            origin: crate::record::Origin::Event,
            api: "events.k8s.io/v1".into(),
            object: ObjectRef {
                kind: "Pod".into(),
                namespace: "shop".into(),
                name: pod.into(),
                uid: None,
            },
            workload: Some(WorkloadRef {
                kind: "Deployment".into(),
                name: "api".into(),
            }),
            reason: "BackOff".into(),
            type_: "Warning".into(),
            message: message.into(),
            component: "kubelet".into(),
            host: "worker-1".into(),
        }
    }

    const MESSAGES: [&str; 4] = [
        "Back-off restarting failed container app",
        "Liveness probe failed: context deadline exceeded",
        "Readiness probe failed: connection refused",
        "Container image \"registry.local/app:17\" already present",
    ];

    fn fill(store: &SqliteStore, from: u64, to: u64) {
        let events = (from..to)
            .map(|i| {
                occ(
                    i,
                    if i % 2 == 0 { "api-1" } else { "api-2" },
                    MESSAGES[(i % 4) as usize],
                )
            })
            .collect();
        store
            .write(&Batch {
                events,
                ..Default::default()
            })
            .expect("write");
    }

    fn grep(store: &SqliteStore, text: &str, object: Option<&str>, limit: usize) -> Vec<String> {
        let q = EventQuery {
            grep: Some(text.into()),
            object: object.map(|o| o.parse().expect("selector")),
            limit,
            ..Default::default()
        };
        let mut uids: Vec<String> = store
            .events(&q)
            .expect("grep")
            .into_iter()
            .map(|e| e.uid)
            .collect();
        uids.sort();
        uids
    }

    const GREPS: [&str; 6] = [
        "back off",
        "Back-off restarting",
        "probe failed",
        "deadl",
        "registry local app 17",
        "refused connection",
    ];

    /// Every grep of [`GREPS`], over all events, one pod and one Deployment.
    fn every_grep(store: &SqliteStore) -> Vec<Vec<String>> {
        GREPS
            .iter()
            .flat_map(|g| {
                [
                    grep(store, g, None, 0),
                    grep(store, g, Some("pod/api-1"), 0),
                    grep(store, g, Some("deploy/api"), 0),
                ]
            })
            .collect()
    }

    /// The same answers whether the rows are indexed, waiting for their batch, or both.
    #[test]
    fn grep_answers_alike_before_and_after_indexing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("a.db"), "t").expect("open");
        fill(&store, 0, 200);
        let before = every_grep(&store);
        assert_eq!(before[0].len(), 50, "back off: every fourth of 200");
        assert!(before[15].is_empty(), "words out of order do not match");
        store.flush_index().expect("index");
        let conn = store.writer().expect("writer");
        assert_eq!(fts_seq(&conn).expect("fts_seq"), 200);
        drop(conn);
        let after = every_grep(&store);
        assert_eq!(before, after);
        // Half indexed, half waiting: still the same answers, and a limit takes the newest.
        fill(&store, 200, 400);
        assert_eq!(grep(&store, "back off", None, 0).len(), 100);
        let newest = grep(&store, "back off", None, 60);
        assert_eq!(newest.len(), 60);
        let mut expected: Vec<String> = (160..400)
            .filter(|i| i % 4 == 0)
            .map(|i| format!("uid-{i}"))
            .collect();
        expected.sort();
        assert_eq!(newest, expected);
        // Pruning removes indexed and waiting rows alike and leaves the index consistent.
        store
            .prune(
                &Retention {
                    max_age: Some(std::time::Duration::from_secs(1)),
                    ..Default::default()
                },
                Timestamp::from_second(1_790_000_000 + 301).expect("valid"),
            )
            .expect("prune");
        let conn = store.writer().expect("writer");
        conn.execute_batch("INSERT INTO events_fts(events_fts) VALUES ('integrity-check')")
            .expect("FTS index matches the rows");
        drop(conn);
        assert_eq!(grep(&store, "back off", None, 0).len(), 25);
        store.flush_index().expect("index");
        assert_eq!(grep(&store, "back off", None, 0).len(), 25);
    }

    /// Query by object and by Deployment never scan the table: an index answers them and
    /// serves the time order of the pod query.
    #[test]
    fn object_queries_use_their_indexes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("a.db"), "t").expect("open");
        fill(&store, 0, 10);
        // No ANALYZE: the store never runs it, so the planner's own estimates are what counts.
        let conn = store.writer().expect("writer");
        let plan = |object: &str| {
            let q = EventQuery {
                object: Some(object.parse().expect("selector")),
                ..Default::default()
            };
            let mut sql =
                format!("EXPLAIN QUERY PLAN SELECT {EVENT_COLUMNS} FROM events WHERE 1=1");
            let mut args = Vec::new();
            event_filters(&q, &mut sql, &mut args);
            sql.push_str(" ORDER BY time DESC, seq DESC LIMIT ?");
            args.push(Value::Integer(10));
            let mut st = conn.prepare(&sql).expect("prepare");
            let rows = st
                .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                    r.get::<_, String>(3)
                })
                .expect("plan");
            rows.collect::<Result<Vec<_>, _>>()
                .expect("plan")
                .join("; ")
        };
        let pod = plan("pod/shop/api-1");
        assert!(pod.contains("USING INDEX events_object"), "{pod}");
        assert!(
            !pod.contains("TEMP B-TREE"),
            "the index serves the order: {pod}"
        );
        let deploy = plan("deploy/api");
        assert!(deploy.contains("events_object"), "{deploy}");
        assert!(deploy.contains("events_workload"), "{deploy}");
        for p in [&pod, &deploy] {
            assert!(!p.contains("SCAN events"), "no full scan: {p}");
        }
    }

    /// Creates an archive as a version 2 kubemedic wrote it: no hash keys, a `UNIQUE(uid,
    /// count)` index and text-keyed object and workload indexes.
    fn version_2_archive(path: &Path) {
        let keys = "    ukey INTEGER NOT NULL,\n    okey INTEGER NOT NULL,\n    wkey INTEGER\n);";
        assert!(SCHEMA.contains(keys), "the version 3 key columns");
        let schema = SCHEMA.replace(keys, "    UNIQUE(uid, count)\n);");
        let conn = Connection::open(path).expect("open");
        conn.execute_batch(&format!(
            "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL; BEGIN; {schema}
             CREATE INDEX events_object ON events(kind, name, time);
             CREATE INDEX events_workload ON events(workload_kind, workload_name, time) WHERE workload_kind IS NOT NULL;
             {FTS_DELETE_TRIGGER} PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 2; INSERT INTO meta(key, value) VALUES ('cluster', 't'); COMMIT;"
        ))
        .expect("version 2 schema");
    }

    /// A row as a version 1 or 2 writer stored it (no hash keys).
    fn old_row(conn: &Connection, uid: &str, count: i64, time: i64, pod: &str, message: &str) {
        conn.execute(
            "INSERT INTO events(uid, count, time, first_time, archived_at, origin, api, kind, namespace, name, workload_kind, workload_name, reason, type, message, component, host)
             VALUES (?1, ?2, ?3, ?3, ?3, 'event', 'v1', 'Pod', 'shop', ?4, 'Deployment', 'api', 'BackOff', 'Warning', ?5, 'kubelet', 'w')",
            params![uid, count, time, pod, message],
        )
        .expect("old row");
    }

    fn uids(store: &SqliteStore, object: &str) -> Vec<(String, i64)> {
        let q = EventQuery {
            object: Some(object.parse().expect("selector")),
            ..Default::default()
        };
        let mut out: Vec<(String, i64)> = store
            .events(&q)
            .expect("query")
            .into_iter()
            .flat_map(|e| {
                let uid = e.uid.clone();
                e.repeats.into_iter().map(move |r| (uid.clone(), r.count))
            })
            .collect();
        out.sort();
        out
    }

    /// A version 1 archive (messages indexed by a trigger per row) is upgraded in place and
    /// its history stays searchable.
    #[test]
    fn version_1_archives_are_upgraded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v1.db");
        version_2_archive(&path);
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(
                "DROP TRIGGER events_fts_delete;
                 DELETE FROM meta WHERE key = 'fts_seq';
                 CREATE TRIGGER events_fts_insert AFTER INSERT ON events BEGIN
                     INSERT INTO events_fts(rowid, message) VALUES (new.seq, new.message);
                 END;
                 CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
                     INSERT INTO events_fts(events_fts, rowid, message) VALUES ('delete', old.seq, old.message);
                 END;
                 PRAGMA user_version = 1;",
            )
            .expect("make it version 1");
            // A row written by a version 1 writer.
            old_row(
                &conn,
                "old-1",
                1,
                1,
                "api-1",
                "Back-off restarting failed container",
            );
        }
        let store = SqliteStore::open(&path, "t").expect("upgrades");
        {
            let conn = store.writer().expect("writer");
            let v: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .expect("version");
            assert_eq!(v, SCHEMA_VERSION);
            assert_eq!(fts_seq(&conn).expect("fts_seq"), 1);
        }
        fill(&store, 0, 8);
        assert_eq!(grep(&store, "back off", None, 0).len(), 3);
        store.flush_index().expect("index");
        assert_eq!(grep(&store, "back off", None, 0).len(), 3);
        assert_eq!(grep(&store, "back off", Some("pod/api-1"), 0).len(), 3);
        assert_eq!(grep(&store, "back off", Some("deploy/api"), 0).len(), 3);
        let conn = store.writer().expect("writer");
        conn.execute_batch("INSERT INTO events_fts(events_fts) VALUES ('integrity-check')")
            .expect("FTS index matches the rows");
    }

    /// A version 2 archive (text-keyed indexes) gets its hash keys computed for every stored
    /// row: queries find the old rows through the new indexes, and a replay of an old
    /// occurrence is still recognised as a duplicate.
    #[test]
    fn version_2_archives_are_upgraded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v2.db");
        version_2_archive(&path);
        {
            let conn = Connection::open(&path).expect("open");
            // More rows than one chunk of the key computation.
            conn.execute_batch("BEGIN").expect("begin");
            for i in 0..25_000 {
                old_row(
                    &conn,
                    &format!("uid-{i}"),
                    1,
                    i,
                    if i % 2 == 0 { "api-1" } else { "api-2" },
                    "Back-off restarting failed container",
                );
            }
            conn.execute_batch(
                "COMMIT; UPDATE meta SET value = '25000' WHERE key = 'fts_seq';
                 INSERT INTO events_fts(rowid, message) SELECT seq, message FROM events;",
            )
            .expect("commit");
        }
        let store = SqliteStore::open(&path, "t").expect("upgrades");
        {
            let conn = store.writer().expect("writer");
            let (v, unkeyed): (i64, i64) = conn
                .query_row(
                    "SELECT (SELECT user_version FROM pragma_user_version()), (SELECT count(*) FROM events WHERE ukey = 0 OR okey = 0 OR wkey IS NULL)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .expect("version");
            assert_eq!((v, unkeyed), (SCHEMA_VERSION, 0));
        }
        assert_eq!(
            uids(&store, "pod/shop/api-1").len(),
            10_000,
            "default limit"
        );
        let q = EventQuery {
            object: Some("deploy/api".parse().expect("selector")),
            limit: 30_000,
            ..Default::default()
        };
        assert_eq!(store.events(&q).expect("query").len(), 25_000);
        // A replay of stored occurrences is a duplicate; a new count is not.
        let mut replay = occ(4, "api-1", "Back-off restarting failed container app");
        let stats = store
            .write(&Batch {
                events: vec![replay.clone()],
                ..Default::default()
            })
            .expect("write");
        assert_eq!((stats.events_inserted, stats.events_duplicate), (0, 1));
        replay.count = 2;
        let stats = store
            .write(&Batch {
                events: vec![replay.clone(), replay],
                ..Default::default()
            })
            .expect("write");
        assert_eq!((stats.events_inserted, stats.events_duplicate), (1, 1));
        let q = EventQuery {
            object: Some("pod/api-1".parse().expect("selector")),
            limit: 30_000,
            ..Default::default()
        };
        let found = store.events(&q).expect("query");
        assert_eq!(found.len(), 12_500);
        let uid4 = found.iter().find(|e| e.uid == "uid-4").expect("uid-4");
        let counts: Vec<i64> = uid4.repeats.iter().map(|r| r.count).collect();
        assert_eq!(counts, [1, 2]);
    }

    /// Occurrences whose keys collide are told apart by their text: a collision never drops
    /// an occurrence nor answers with another object's events.
    #[test]
    fn colliding_keys_stay_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("a.db"), "t").expect("open");
        fill(&store, 0, 4);
        let conn = store.writer().expect("writer");
        // Every stored row takes the keys of pod api-1 and of occurrence (uid-9, 1): the
        // worst collision there can be.
        conn.execute(
            "UPDATE events SET ukey = ?1, okey = ?2, wkey = ?2",
            params![occurrence_key("uid-9", 1), key_hash("Pod", "api-1")],
        )
        .expect("collide");
        drop(conn);
        assert_eq!(
            uids(&store, "pod/api-1"),
            vec![("uid-0".to_string(), 1), ("uid-2".to_string(), 1)]
        );
        assert!(uids(&store, "deploy/api-1").is_empty());
        let new = occ(9, "api-2", MESSAGES[0]);
        for expected in [(1, 0), (0, 1)] {
            let stats = store
                .write(&Batch {
                    events: vec![new.clone()],
                    ..Default::default()
                })
                .expect("write");
            assert_eq!((stats.events_inserted, stats.events_duplicate), expected);
        }
        assert_eq!(
            uids(&store, "pod/api-2").len(),
            1,
            "uid-9 (the others' keys were rewritten)"
        );
    }
}
