//! The fleet store: PostgreSQL, one database for many clusters (a `cluster` column), tables
//! partitioned by day so retention drops whole partitions, several controllers writing at once.
//!
//! The client is the synchronous `postgres` crate: every call blocks, so async callers go
//! through `spawn_blocking` (the controller's archive writer runs on its own thread anyway).

use crate::compress;
use crate::crash_row::{CRASH_COLUMNS, CrashColumns, crash_from_row};
use crate::filter;
use crate::pgtls;
use crate::query::{CrashQuery, EventQuery, grep_words};
use crate::record::{
    ArchivedEvent, CrashRecord, EventOccurrence, ObjectRef, WorkloadRef, fold_occurrences,
};
use crate::store::{
    Batch, FollowPage, PruneStats, Retention, Store, StoreError, StoreStats, WriteStats,
};
use jiff::Timestamp;
use postgres::types::ToSql;
use postgres::{Client, Config, NoTls};
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Schema version kept in `kubemedic_meta`.
pub const SCHEMA_VERSION: i64 = 1;

/// Advisory lock key serialising schema and partition DDL between controllers.
const DDL_LOCK: i64 = 0x4B4D_4544_0001;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS kubemedic_meta(key text PRIMARY KEY, value text NOT NULL);
CREATE SEQUENCE IF NOT EXISTS kubemedic_event_seq;
CREATE TABLE IF NOT EXISTS kubemedic_events(
    seq bigint NOT NULL DEFAULT nextval('kubemedic_event_seq'),
    cluster text NOT NULL,
    uid text NOT NULL,
    count bigint NOT NULL,
    time timestamptz NOT NULL,
    first_time timestamptz NOT NULL,
    archived_at timestamptz NOT NULL DEFAULT now(),
    origin text NOT NULL,
    api text NOT NULL,
    kind text NOT NULL,
    namespace text NOT NULL,
    name text NOT NULL,
    object_uid text,
    workload_kind text,
    workload_name text,
    reason text NOT NULL,
    type text NOT NULL,
    message text NOT NULL,
    component text NOT NULL,
    host text NOT NULL,
    PRIMARY KEY (cluster, uid, count, time)
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS kubemedic_events_object ON kubemedic_events(cluster, kind, name, time);
CREATE INDEX IF NOT EXISTS kubemedic_events_workload ON kubemedic_events(cluster, workload_kind, workload_name, time) WHERE workload_kind IS NOT NULL;
CREATE INDEX IF NOT EXISTS kubemedic_events_time ON kubemedic_events(cluster, time);
CREATE INDEX IF NOT EXISTS kubemedic_events_seq ON kubemedic_events(seq);
CREATE INDEX IF NOT EXISTS kubemedic_events_fts ON kubemedic_events USING gin (to_tsvector('simple', message));
CREATE SEQUENCE IF NOT EXISTS kubemedic_crash_seq;
CREATE TABLE IF NOT EXISTS kubemedic_crashes(
    id bigint NOT NULL DEFAULT nextval('kubemedic_crash_seq'),
    cluster text NOT NULL,
    namespace text NOT NULL,
    pod text NOT NULL,
    pod_uid text NOT NULL,
    container text NOT NULL,
    init_container boolean NOT NULL,
    instance text NOT NULL,
    node text,
    workload_kind text,
    workload_name text,
    restart_count bigint NOT NULL,
    exit_code integer NOT NULL,
    signal integer,
    reason text,
    message text,
    started_at timestamptz,
    finished_at timestamptz,
    captured_at timestamptz NOT NULL,
    time timestamptz NOT NULL,
    logs bytea,
    logs_len bigint NOT NULL,
    logs_truncated boolean NOT NULL,
    logs_error text,
    logs_tsv tsvector,
    node_memory jsonb,
    PRIMARY KEY (cluster, pod_uid, container, instance, time)
) PARTITION BY RANGE (time);
CREATE INDEX IF NOT EXISTS kubemedic_crashes_pod ON kubemedic_crashes(cluster, namespace, pod, time);
CREATE INDEX IF NOT EXISTS kubemedic_crashes_workload ON kubemedic_crashes(cluster, workload_kind, workload_name, time) WHERE workload_kind IS NOT NULL;
CREATE INDEX IF NOT EXISTS kubemedic_crashes_time ON kubemedic_crashes(cluster, time);
CREATE INDEX IF NOT EXISTS kubemedic_crashes_fts ON kubemedic_crashes USING gin (logs_tsv);
CREATE TABLE IF NOT EXISTS kubemedic_checkpoints(
    cluster text NOT NULL,
    name text NOT NULL,
    value text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cluster, name)
);
"#;

const EVENT_COLUMNS: &str = "seq, cluster, uid, count, time, first_time, origin, api, kind, namespace, name, object_uid, workload_kind, workload_name, reason, type, message, component, host";

/// The PostgreSQL archive.
pub struct PostgresStore {
    config: Config,
    /// `None` for `sslmode=disable`.
    tls: Option<pgtls::RustlsConnect>,
    tls_mode: pgtls::SslMode,
    location: String,
    /// The cluster written as; empty for a reader over every cluster.
    cluster: String,
    writer: Mutex<Option<Client>>,
    readers: Mutex<Vec<Client>>,
    partitions: Mutex<HashSet<(String, i64)>>,
    crashes_per_container: AtomicU32,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    /// A sync client's drop blocks on its own runtime, which panics on an async worker thread
    /// (where the last `Arc` of a store is often dropped): close the connections on a thread of
    /// their own.
    fn drop(&mut self) {
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let readers = std::mem::take(self.readers.get_mut().unwrap_or_else(|p| p.into_inner()));
        if writer.is_none() && readers.is_empty() {
            return;
        }
        let _ = std::thread::Builder::new()
            .name("kubemedic-pg-close".into())
            .spawn(move || {
                drop(writer);
                drop(readers);
            });
    }
}

/// host:port/db, never the password.
fn location_of(config: &Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(h) => h.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".to_string());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

impl PostgresStore {
    /// Connects, creates the schema if missing, and writes as `cluster`.
    pub fn connect(url: &str, cluster: &str) -> Result<Self, StoreError> {
        if cluster.is_empty() {
            return Err(StoreError::InvalidUrl {
                input: url.to_string(),
                reason: "the cluster name must not be empty".to_string(),
            });
        }
        let store = Self::new(url, cluster)?;
        store.with_writer(|c| store.init_schema(c))?;
        Ok(store)
    }

    /// Connects for queries over every cluster (the schema must exist).
    pub fn connect_reader(url: &str) -> Result<Self, StoreError> {
        let store = Self::new(url, "")?;
        store.ping()?;
        Ok(store)
    }

    fn new(url: &str, cluster: &str) -> Result<Self, StoreError> {
        let invalid = |reason: String| StoreError::InvalidUrl {
            input: redact(url),
            reason,
        };
        let (driver_url, tls_settings) = pgtls::split_url(url).map_err(invalid)?;
        let tls = pgtls::connector(&tls_settings).map_err(invalid)?;
        let mut config = Config::from_str(&driver_url).map_err(|e| invalid(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.keepalives(true);
        config.application_name("kubemedic");
        let location = location_of(&config);
        Ok(Self {
            config,
            tls,
            tls_mode: tls_settings.mode,
            location,
            cluster: cluster.to_string(),
            writer: Mutex::new(None),
            readers: Mutex::new(Vec::new()),
            partitions: Mutex::new(HashSet::new()),
            crashes_per_container: AtomicU32::new(Retention::default().crashes_per_container),
        })
    }

    /// Sets how many crashes per container writes keep.
    pub fn set_crashes_per_container(&self, n: u32) {
        self.crashes_per_container
            .store(n.max(1), Ordering::Relaxed);
    }

    fn err(&self, e: postgres::Error) -> StoreError {
        if let Some(db) = e.as_db_error() {
            let code = db.code().code();
            if code == "53100" {
                return StoreError::DiskFull {
                    location: self.location.clone(),
                };
            }
            // Class 08 (connection), 57P01-57P03 (server shutting down / not yet accepting).
            if code.starts_with("08") || code.starts_with("57P") {
                return StoreError::Unreachable {
                    location: self.location.clone(),
                    reason: db.message().to_string(),
                };
            }
            return StoreError::Database {
                location: self.location.clone(),
                reason: format!("{} ({code})", db.message()),
            };
        }
        if e.is_closed() || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>())
        {
            return StoreError::Unreachable {
                location: self.location.clone(),
                reason: e.to_string(),
            };
        }
        StoreError::Unreachable {
            location: self.location.clone(),
            reason: e.to_string(),
        }
    }

    fn connect_client(&self) -> Result<Client, StoreError> {
        let connected = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        };
        connected.map_err(|e| self.connect_err(e))
    }

    /// A connection error, with what to check when the TLS handshake was refused.
    fn connect_err(&self, e: postgres::Error) -> StoreError {
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        let lower = chain.to_lowercase();
        let hint = if lower.contains("not valid for name") || lower.contains("notvalidforname") {
            Some(
                "the server's certificate does not name the host in the URL; connect by a name the certificate holds, or use sslmode=verify-ca to check only the CA",
            )
        } else if lower.contains("unknownissuer")
            || lower.contains("unknown issuer")
            || lower.contains("badsignature")
            || lower.contains("bad signature")
        {
            Some(
                "the server's certificate is not signed by a CA in sslrootcert; point sslrootcert at the CA that signed it",
            )
        } else if lower.contains("server does not support tls") {
            Some("the server has ssl=off; enable TLS on it or use sslmode=prefer/disable")
        } else if lower.contains("tls") || lower.contains("certificate") {
            Some(
                "the TLS handshake failed; check the server's ssl settings and sslmode/sslrootcert",
            )
        } else {
            None
        };
        match hint {
            Some(hint) => StoreError::Unreachable {
                location: self.location.clone(),
                reason: format!("{chain} (sslmode={}: {hint})", self.tls_mode.as_str()),
            },
            None => self.err(e),
        }
    }

    /// Runs `f` on the writer connection, reconnecting first if it broke; a connection that
    /// fails is dropped so the next call reconnects.
    fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(self.connect_client()?);
        }
        let Some(client) = guard.as_mut() else {
            return Err(StoreError::Unreachable {
                location: self.location.clone(),
                reason: "no connection".to_string(),
            });
        };
        let out = f(client);
        if matches!(out, Err(StoreError::Unreachable { .. })) {
            *guard = None;
        }
        out
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut client = match pooled {
            Some(c) if !c.is_closed() => c,
            _ => self.connect_client()?,
        };
        let out = f(&mut client);
        if !matches!(out, Err(StoreError::Unreachable { .. })) {
            let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            if pool.len() < 4 {
                pool.push(client);
            }
        }
        out
    }

    fn init_schema(&self, c: &mut Client) -> Result<(), StoreError> {
        let mut tx = c.transaction().map_err(|e| self.err(e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
            .map_err(|e| self.err(e))?;
        tx.batch_execute(SCHEMA).map_err(|e| self.err(e))?;
        let found: Option<String> = tx
            .query_opt(
                "SELECT value FROM kubemedic_meta WHERE key = 'schema_version'",
                &[],
            )
            .map_err(|e| self.err(e))?
            .map(|r| r.get(0));
        match found.as_deref().map(str::parse::<i64>) {
            Some(Ok(v)) if v > SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema {
                    location: self.location.clone(),
                    found: v,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(_) => {}
            None => {
                tx.execute(
                    "INSERT INTO kubemedic_meta(key, value) VALUES ('schema_version', $1)",
                    &[&SCHEMA_VERSION.to_string()],
                )
                .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Creates the daily partitions `times` fall in (once per process and day).
    fn ensure_partitions(
        &self,
        c: &mut Client,
        table: &str,
        times: impl Iterator<Item = Timestamp>,
    ) -> Result<(), StoreError> {
        let days: HashSet<i64> = times.map(|t| t.as_second().div_euclid(86_400)).collect();
        let missing: Vec<i64> = {
            let known = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
            days.into_iter()
                .filter(|d| !known.contains(&(table.to_string(), *d)))
                .collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let mut tx = c.transaction().map_err(|e| self.err(e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
            .map_err(|e| self.err(e))?;
        for day in &missing {
            let (name, from, to) = partition_bounds(table, *day);
            tx.batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES FROM ('{from}') TO ('{to}')"
            ))
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        let mut known = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        for d in missing {
            known.insert((table.to_string(), d));
        }
        Ok(())
    }

    /// The cluster a query reads: the one asked, else the store's own (empty = all).
    fn query_cluster<'a>(&'a self, asked: &'a Option<String>) -> Option<&'a str> {
        match asked.as_deref() {
            Some("*") | Some("") => None,
            Some(c) => Some(c),
            None if self.cluster.is_empty() => None,
            None => Some(&self.cluster),
        }
    }

    fn partitions_of(&self, c: &mut Client, table: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = c
            .query(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY c.relname",
                &[&table],
            )
            .map_err(|e| self.err(e))?;
        let prefix = format!("{table}_p");
        let mut out = Vec::new();
        for r in rows {
            let name: String = r.get(0);
            if let Some(day) = name
                .strip_prefix(&prefix)
                .and_then(|d| {
                    d.parse::<jiff::civil::Date>()
                        .ok()
                        .or_else(|| parse_compact_date(d))
                })
                .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
                .map(|z| z.timestamp().as_second().div_euclid(86_400))
            {
                out.push((name, day));
            }
        }
        out.sort_by_key(|(_, d)| *d);
        Ok(out)
    }

    fn total_bytes(&self, c: &mut Client) -> Result<u64, StoreError> {
        let row = c
            .query_one(
                "SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0)::bigint FROM pg_inherits i WHERE i.inhparent IN ('kubemedic_events'::regclass, 'kubemedic_crashes'::regclass)",
                &[],
            )
            .map_err(|e| self.err(e))?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }
}

fn parse_compact_date(d: &str) -> Option<jiff::civil::Date> {
    if d.len() != 8 || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i16 = d[0..4].parse().ok()?;
    let m: i8 = d[4..6].parse().ok()?;
    let dd: i8 = d[6..8].parse().ok()?;
    jiff::civil::Date::new(y, m, dd).ok()
}

/// `kubemedic_events_p20261130`, and its [from, to) bounds as RFC 3339.
fn partition_bounds(table: &str, day: i64) -> (String, String, String) {
    let from = Timestamp::from_second(day * 86_400).unwrap_or(Timestamp::UNIX_EPOCH);
    let to = Timestamp::from_second((day + 1) * 86_400).unwrap_or(Timestamp::MAX);
    let date = from.to_zoned(jiff::tz::TimeZone::UTC).date();
    (
        format!(
            "{table}_p{:04}{:02}{:02}",
            date.year(),
            date.month(),
            date.day()
        ),
        from.to_string(),
        to.to_string(),
    )
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Builds `WHERE` clauses with numbered parameters.
struct Params {
    sql: String,
    args: Vec<Box<dyn ToSql + Sync>>,
}

impl Params {
    fn new(sql: String) -> Self {
        Self {
            sql,
            args: Vec::new(),
        }
    }

    fn push(&mut self, v: impl ToSql + Sync + 'static) -> String {
        self.args.push(Box::new(v));
        format!("${}", self.args.len())
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.args.iter().map(|b| b.as_ref()).collect()
    }
}

/// PostgreSQL's side of the shared filters: `$n` placeholders, times as timestamptz.
impl filter::ClauseSink for Params {
    fn bind(&mut self, value: filter::Param) -> String {
        match value {
            filter::Param::Text(t) => self.push(t),
            filter::Param::Time(t) => self.push(t),
        }
    }

    fn push_sql(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }
}

/// The tsquery for `--grep`: the words in order, the last one a prefix.
fn tsquery(text: &str) -> Option<String> {
    let words = grep_words(text);
    let n = words.len();
    if n == 0 {
        return None;
    }
    Some(
        words
            .into_iter()
            .enumerate()
            .map(|(i, w)| if i + 1 == n { format!("{w}:*") } else { w })
            .collect::<Vec<_>>()
            .join(" <-> "),
    )
}

fn invalid_grep(text: &str) -> StoreError {
    StoreError::Database {
        location: "query".to_string(),
        reason: format!("--grep {text:?} has no letters or digits to search for"),
    }
}

impl PostgresStore {
    fn event_filters(&self, q: &EventQuery, p: &mut Params) -> Result<(), StoreError> {
        if let Some(c) = self.query_cluster(&q.cluster) {
            let c = p.push(c.to_string());
            p.sql.push_str(&format!(" AND cluster = {c}"));
        }
        filter::events(p, q);
        if let Some(g) = &q.grep {
            let tq = tsquery(g).ok_or_else(|| invalid_grep(g))?;
            let tq = p.push(tq);
            p.sql.push_str(&format!(
                " AND to_tsvector('simple', message) @@ to_tsquery('simple', {tq})"
            ));
        }
        Ok(())
    }
}

fn row_to_occurrence(r: &postgres::Row) -> (i64, String, EventOccurrence) {
    let wk: Option<String> = r.get(12);
    let wn: Option<String> = r.get(13);
    let origin: String = r.get(6);
    (
        r.get(0),
        r.get(1),
        EventOccurrence {
            uid: r.get(2),
            count: r.get(3),
            time: r.get(4),
            first_time: r.get(5),
            origin: origin.parse().unwrap_or_default(),
            api: r.get(7),
            object: ObjectRef {
                kind: r.get(8),
                namespace: r.get(9),
                name: r.get(10),
                uid: r.get(11),
            },
            workload: match (wk, wn) {
                (Some(kind), Some(name)) => Some(WorkloadRef { kind, name }),
                _ => None,
            },
            reason: r.get(14),
            type_: r.get(15),
            message: r.get(16),
            component: r.get(17),
            host: r.get(18),
        },
    )
}

impl Store for PostgresStore {
    fn cluster(&self) -> &str {
        &self.cluster
    }

    fn describe(&self) -> String {
        format!("{} (cluster {:?})", self.location, self.cluster)
    }

    fn write(&self, batch: &Batch) -> Result<WriteStats, StoreError> {
        let mut stats = WriteStats::default();
        if batch.is_empty() {
            return Ok(stats);
        }
        if self.cluster.is_empty() {
            return Err(StoreError::Database {
                location: self.location.clone(),
                reason: "opened for reading only".to_string(),
            });
        }
        let keep = i64::from(self.crashes_per_container.load(Ordering::Relaxed));
        self.with_writer(|c| {
            self.ensure_partitions(c, "kubemedic_events", batch.events.iter().map(|e| e.time))?;
            self.ensure_partitions(c, "kubemedic_crashes", batch.crashes.iter().map(|e| e.time()))?;
            let mut tx = c.transaction().map_err(|e| self.err(e))?;
            if !batch.events.is_empty() {
                let ev = &batch.events;
                let col = |f: &dyn Fn(&EventOccurrence) -> String| ev.iter().map(f).collect::<Vec<String>>();
                let uids = col(&|e| e.uid.clone());
                let counts: Vec<i64> = ev.iter().map(|e| e.count).collect();
                let times: Vec<Timestamp> = ev.iter().map(|e| e.time).collect();
                let firsts: Vec<Timestamp> = ev.iter().map(|e| e.first_time).collect();
                let origins = col(&|e| e.origin.as_str().to_string());
                let apis = col(&|e| e.api.clone());
                let kinds = col(&|e| e.object.kind.clone());
                let nss = col(&|e| e.object.namespace.clone());
                let names = col(&|e| e.object.name.clone());
                let ouids: Vec<Option<String>> = ev.iter().map(|e| e.object.uid.clone()).collect();
                let wks: Vec<Option<String>> = ev.iter().map(|e| e.workload.as_ref().map(|w| w.kind.clone())).collect();
                let wns: Vec<Option<String>> = ev.iter().map(|e| e.workload.as_ref().map(|w| w.name.clone())).collect();
                let reasons = col(&|e| e.reason.clone());
                let types = col(&|e| e.type_.clone());
                let msgs = col(&|e| e.message.replace('\0', "\u{fffd}"));
                let comps = col(&|e| e.component.clone());
                let hosts = col(&|e| e.host.clone());
                let rows = tx
                    .query(
                        "INSERT INTO kubemedic_events(cluster, uid, count, time, first_time, origin, api, kind, namespace, name, object_uid, workload_kind, workload_name, reason, type, message, component, host) \
                         SELECT $1, * FROM unnest($2::text[], $3::int8[], $4::timestamptz[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[]) \
                         ON CONFLICT DO NOTHING RETURNING uid, count",
                        &[
                            &self.cluster, &uids, &counts, &times, &firsts, &origins, &apis, &kinds, &nss, &names,
                            &ouids, &wks, &wns, &reasons, &types, &msgs, &comps, &hosts,
                        ],
                    )
                    .map_err(|e| self.err(e))?;
                let mut inserted: HashSet<(String, i64)> =
                    rows.iter().map(|r| (r.get(0), r.get(1))).collect();
                for (i, e) in ev.iter().enumerate() {
                    if inserted.remove(&(e.uid.clone(), e.count)) {
                        stats.new_events.push(i);
                    }
                }
                stats.events_inserted = stats.new_events.len() as u64;
                stats.events_duplicate = ev.len() as u64 - stats.events_inserted;
            }
            for cr in &batch.crashes {
                let blob = match &cr.logs {
                    Some(l) => Some(compress::compress(l).map_err(|reason| StoreError::Database {
                        location: self.location.clone(),
                        reason,
                    })?),
                    None => None,
                };
                let len = cr.logs.as_ref().map(|l| l.len() as i64).unwrap_or(0);
                let text = format!(
                    "{} {}",
                    cr.message.clone().unwrap_or_default(),
                    cr.logs_text().unwrap_or_default()
                )
                .replace('\0', " ");
                let n = tx
                    .execute(
                        "INSERT INTO kubemedic_crashes(cluster, namespace, pod, pod_uid, container, init_container, instance, node, workload_kind, workload_name, restart_count, exit_code, signal, reason, message, started_at, finished_at, captured_at, time, logs, logs_len, logs_truncated, logs_error, logs_tsv, node_memory) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, to_tsvector('simple', left($24, 262144)), $25) \
                         ON CONFLICT DO NOTHING",
                        &[
                            &self.cluster, &cr.namespace, &cr.pod, &cr.pod_uid, &cr.container, &cr.init_container,
                            &cr.instance, &cr.node, &cr.workload.as_ref().map(|w| w.kind.clone()),
                            &cr.workload.as_ref().map(|w| w.name.clone()), &cr.restart_count, &cr.exit_code,
                            &cr.signal, &cr.reason, &cr.message.as_ref().map(|m| m.replace('\0', " ")), &cr.started_at, &cr.finished_at,
                            &cr.captured_at, &cr.time(), &blob, &len, &cr.logs_truncated, &cr.logs_error,
                            &text, &cr.node_memory,
                        ],
                    )
                    .map_err(|e| self.err(e))?;
                if n == 0 {
                    stats.crashes_duplicate += 1;
                    continue;
                }
                stats.crashes_inserted += 1;
                stats.crashes_rotated += tx
                    .execute(
                        "DELETE FROM kubemedic_crashes WHERE cluster = $1 AND pod_uid = $2 AND container = $3 AND id NOT IN (SELECT id FROM kubemedic_crashes WHERE cluster = $1 AND pod_uid = $2 AND container = $3 ORDER BY time DESC, id DESC LIMIT $4)",
                        &[&self.cluster, &cr.pod_uid, &cr.container, &keep],
                    )
                    .map_err(|e| self.err(e))?;
            }
            for (name, value) in &batch.checkpoints {
                tx.execute(
                    "INSERT INTO kubemedic_checkpoints(cluster, name, value) VALUES ($1, $2, $3) ON CONFLICT (cluster, name) DO UPDATE SET value = excluded.value, updated_at = now()",
                    &[&self.cluster, name, value],
                )
                .map_err(|e| self.err(e))?;
            }
            tx.commit().map_err(|e| self.err(e))?;
            Ok(stats)
        })
    }

    fn checkpoint(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.with_writer(|c| {
            Ok(c.query_opt(
                "SELECT value FROM kubemedic_checkpoints WHERE cluster = $1 AND name = $2",
                &[&self.cluster, &name],
            )
            .map_err(|e| self.err(e))?
            .map(|r| r.get(0)))
        })
    }

    fn events(&self, q: &EventQuery) -> Result<Vec<ArchivedEvent>, StoreError> {
        let mut p = Params::new(format!(
            "SELECT {EVENT_COLUMNS} FROM kubemedic_events WHERE true"
        ));
        self.event_filters(q, &mut p)?;
        let lim = p.push(q.effective_limit() as i64);
        p.sql
            .push_str(&format!(" ORDER BY time DESC, seq DESC LIMIT {lim}"));
        let rows = self.with_reader(|c| c.query(&p.sql, &p.refs()).map_err(|e| self.err(e)))?;
        let mut by_cluster: std::collections::BTreeMap<String, Vec<EventOccurrence>> =
            Default::default();
        for r in &rows {
            let (_, cluster, o) = row_to_occurrence(r);
            by_cluster.entry(cluster).or_default().push(o);
        }
        let mut out: Vec<ArchivedEvent> = by_cluster
            .into_iter()
            .flat_map(|(c, rows)| fold_occurrences(&c, rows))
            .collect();
        out.sort_by(|a, b| {
            a.last_timestamp
                .cmp(&b.last_timestamp)
                .then(a.uid.cmp(&b.uid))
        });
        Ok(out)
    }

    fn follow(&self, q: &EventQuery) -> Result<FollowPage, StoreError> {
        let mut p = Params::new(format!(
            "SELECT {EVENT_COLUMNS} FROM kubemedic_events WHERE true"
        ));
        self.event_filters(q, &mut p)?;
        let limit = q.effective_limit() as i64;
        match q.after {
            Some(after) => {
                let a = p.push(after);
                let l = p.push(limit);
                p.sql
                    .push_str(&format!(" AND seq > {a} ORDER BY seq LIMIT {l}"));
            }
            None => {
                let l = p.push(limit);
                p.sql.push_str(&format!(" ORDER BY seq DESC LIMIT {l}"));
            }
        }
        self.with_reader(|c| {
            let max_seq: i64 = c
                .query_one(
                    "SELECT coalesce(max(seq), 0)::bigint FROM kubemedic_events",
                    &[],
                )
                .map_err(|e| self.err(e))?
                .get(0);
            let mut rows: Vec<(i64, EventOccurrence)> = c
                .query(&p.sql, &p.refs())
                .map_err(|e| self.err(e))?
                .iter()
                .map(|r| {
                    let (s, _, o) = row_to_occurrence(r);
                    (s, o)
                })
                .collect();
            rows.sort_by_key(|(s, _)| *s);
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
        let logs_col = if q.without_logs {
            "NULL::bytea"
        } else {
            "logs"
        };
        let mut p = Params::new(format!(
            "SELECT {CRASH_COLUMNS}, {logs_col} FROM kubemedic_crashes WHERE true"
        ));
        if let Some(c) = self.query_cluster(&q.cluster) {
            let c = p.push(c.to_string());
            p.sql.push_str(&format!(" AND cluster = {c}"));
        }
        filter::crashes(&mut p, q);
        if let Some(g) = &q.grep {
            let tq = tsquery(g).ok_or_else(|| invalid_grep(g))?;
            let tq = p.push(tq);
            p.sql
                .push_str(&format!(" AND logs_tsv @@ to_tsquery('simple', {tq})"));
        }
        let lim = p.push(q.effective_limit() as i64);
        p.sql
            .push_str(&format!(" ORDER BY time DESC, id DESC LIMIT {lim}"));
        let rows = self.with_reader(|c| c.query(&p.sql, &p.refs()).map_err(|e| self.err(e)))?;
        rows.iter()
            .rev()
            .map(|r| crash_from_row(&PgRow(r)).map_err(|e| self.err(e)))
            .collect()
    }

    fn has_crash(
        &self,
        pod_uid: &str,
        container: &str,
        instance: &str,
    ) -> Result<bool, StoreError> {
        self.with_reader(|c| {
            Ok(c.query_opt(
                "SELECT 1 FROM kubemedic_crashes WHERE cluster = $1 AND pod_uid = $2 AND container = $3 AND instance = $4 LIMIT 1",
                &[&self.cluster, &pod_uid, &container, &instance],
            )
            .map_err(|e| self.err(e))?
            .is_some())
        })
    }

    fn prune(&self, retention: &Retention, now: Timestamp) -> Result<PruneStats, StoreError> {
        self.set_crashes_per_container(retention.crashes_per_container);
        let mut stats = PruneStats::default();
        self.with_writer(|c| {
            let today = now.as_second().div_euclid(86_400);
            let mut drop =
                |c: &mut Client, name: &str, table: &str, day: i64| -> Result<(), StoreError> {
                    let mut tx = c.transaction().map_err(|e| self.err(e))?;
                    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
                        .map_err(|e| self.err(e))?;
                    tx.batch_execute(&format!("DROP TABLE IF EXISTS {name}"))
                        .map_err(|e| self.err(e))?;
                    tx.commit().map_err(|e| self.err(e))?;
                    self.partitions
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&(table.to_string(), day));
                    stats.partitions_dropped += 1;
                    Ok(())
                };
            if let Some(age) = retention.max_age {
                let cutoff = now.as_second() - age.as_secs() as i64;
                for table in ["kubemedic_events", "kubemedic_crashes"] {
                    for (name, day) in self.partitions_of(c, table)? {
                        // A partition goes once its whole day is older than the cutoff.
                        if (day + 1) * 86_400 <= cutoff {
                            drop(c, &name, table, day)?;
                        }
                    }
                }
            }
            if let Some(max) = retention.max_bytes {
                while self.total_bytes(c)? > max {
                    let ev = self.partitions_of(c, "kubemedic_events")?;
                    let cr = self.partitions_of(c, "kubemedic_crashes")?;
                    let oldest = ev.iter().chain(cr.iter()).map(|(_, d)| *d).min();
                    // Today's partitions stay: dropping them would lose what is being written.
                    let Some(day) = oldest.filter(|d| *d < today) else {
                        break;
                    };
                    for (table, parts) in [("kubemedic_events", &ev), ("kubemedic_crashes", &cr)] {
                        for (name, d) in parts.iter().filter(|(_, d)| *d == day) {
                            drop(c, name, table, *d)?;
                        }
                    }
                }
            }
            stats.bytes_after = self.total_bytes(c)?;
            Ok(())
        })?;
        Ok(stats)
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        self.with_reader(|c| {
            let cluster = (!self.cluster.is_empty()).then(|| self.cluster.clone());
            let row = c
                .query_one(
                    "SELECT (SELECT count(*) FROM kubemedic_events WHERE $1::text IS NULL OR cluster = $1), \
                            (SELECT count(*) FROM kubemedic_crashes WHERE $1::text IS NULL OR cluster = $1), \
                            (SELECT min(time) FROM kubemedic_events WHERE $1::text IS NULL OR cluster = $1), \
                            (SELECT max(time) FROM kubemedic_events WHERE $1::text IS NULL OR cluster = $1)",
                    &[&cluster],
                )
                .map_err(|e| self.err(e))?;
            let bytes = self.total_bytes(c)?;
            Ok(StoreStats {
                backend: "postgres".to_string(),
                location: self.location.clone(),
                bytes,
                events: row.get::<_, i64>(0) as u64,
                crashes: row.get::<_, i64>(1) as u64,
                oldest: row.get(2),
                newest: row.get(3),
            })
        })
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.with_reader(|c| {
            c.query_one("SELECT count(*) FROM kubemedic_meta", &[])
                .map(|_| ())
                .map_err(|e| self.err(e))
        })
    }
}

/// A result row of [`CRASH_COLUMNS`] as PostgreSQL types them.
struct PgRow<'a>(&'a postgres::Row);

impl CrashColumns for PgRow<'_> {
    type Error = postgres::Error;

    fn text(&self, i: usize) -> Result<Option<String>, postgres::Error> {
        self.0.try_get(i)
    }

    fn int64(&self, i: usize) -> Result<i64, postgres::Error> {
        self.0.try_get(i)
    }

    fn int32(&self, i: usize) -> Result<Option<i32>, postgres::Error> {
        self.0.try_get(i)
    }

    fn flag(&self, i: usize) -> Result<bool, postgres::Error> {
        self.0.try_get(i)
    }

    fn time(&self, i: usize) -> Result<Option<Timestamp>, postgres::Error> {
        self.0.try_get(i)
    }

    fn json(&self, i: usize) -> Result<Option<serde_json::Value>, postgres::Error> {
        self.0.try_get(i)
    }

    fn blob(&self, i: usize) -> Result<Option<Vec<u8>>, postgres::Error> {
        self.0.try_get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_and_bounds() {
        let day = "2026-11-30T15:00:00Z"
            .parse::<Timestamp>()
            .expect("valid")
            .as_second()
            .div_euclid(86_400);
        let (name, from, to) = partition_bounds("kubemedic_events", day);
        assert_eq!(name, "kubemedic_events_p20261130");
        assert_eq!(from, "2026-11-30T00:00:00Z");
        assert_eq!(to, "2026-12-01T00:00:00Z");
        assert_eq!(
            parse_compact_date("20261130").map(|d| d.to_string()),
            Some("2026-11-30".to_string())
        );
    }

    #[test]
    fn passwords_never_appear_in_messages() {
        assert_eq!(
            redact("postgres://km:s3cret@db:5432/archive"),
            "postgres://km:***@db:5432/archive"
        );
        let cfg = Config::from_str("postgres://km:s3cret@db:5433/archive").expect("parses");
        assert_eq!(location_of(&cfg), "postgres://km@db:5433/archive");
    }

    #[test]
    fn grep_becomes_a_phrase_with_a_prefix() {
        assert_eq!(
            tsquery("no such ho").as_deref(),
            Some("no <-> such <-> ho:*")
        );
        assert_eq!(tsquery("!!"), None);
    }
}
