//! Query filters → SQL `AND …` clauses, shared by the SQLite and PostgreSQL stores; each
//! dialect only says how a value is bound (`?` or `$n`, times as microseconds or timestamptz).

use crate::query::{CrashQuery, EventQuery, ObjectSelector};
use jiff::Timestamp;

/// A value a clause binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    /// A text column.
    Text(String),
    /// A time column.
    Time(Timestamp),
}

/// Which hashed key column narrows a `(kind, name)` test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyColumn {
    /// The object's own kind and name.
    Object,
    /// The owning workload's kind and name.
    Workload,
}

/// Where clauses are written: the SQL text and the dialect's parameter binding.
pub(crate) trait ClauseSink {
    /// Binds the store's hashed key of `(kind, name)` and returns its test (`okey = ?`), for a
    /// store whose index is keyed on it; `None` (the default) where the table has none.
    fn key(&mut self, _column: KeyColumn, _kind: &str, _name: &str) -> Option<String> {
        None
    }
    /// Binds a value and returns its placeholder.
    fn bind(&mut self, value: Param) -> String;
    /// Appends SQL text.
    fn push_sql(&mut self, sql: &str);
}

fn eq(sink: &mut dyn ClauseSink, column: &str, value: &str) {
    let p = sink.bind(Param::Text(value.to_string()));
    sink.push_sql(&format!(" AND {column} = {p}"));
}

fn time_range(sink: &mut dyn ClauseSink, since: Option<Timestamp>, until: Option<Timestamp>) {
    if let Some(s) = since {
        let p = sink.bind(Param::Time(s));
        sink.push_sql(&format!(" AND time >= {p}"));
    }
    if let Some(u) = until {
        let p = sink.bind(Param::Time(u));
        sink.push_sql(&format!(" AND time < {p}"));
    }
}

/// The object itself, and for workloads the objects it owns (`workload_kind`/`workload_name`).
pub(crate) fn object(
    sink: &mut dyn ClauseSink,
    sel: &ObjectSelector,
    kind_col: &str,
    name_col: &str,
) {
    // Values are bound in the order their placeholders appear, so `?` placeholders work too.
    let key = |sink: &mut dyn ClauseSink, column| {
        sink.key(column, &sel.kind, &sel.name)
            .map(|k| format!("{k} AND "))
            .unwrap_or_default()
    };
    let okey = key(sink, KeyColumn::Object);
    let kind = sink.bind(Param::Text(sel.kind.clone()));
    let name = sink.bind(Param::Text(sel.name.clone()));
    if sel.is_workload() {
        // Bound twice (not reused) for the same reason.
        let wkey = key(sink, KeyColumn::Workload);
        let wkind = sink.bind(Param::Text(sel.kind.clone()));
        let wname = sink.bind(Param::Text(sel.name.clone()));
        sink.push_sql(&format!(
            " AND (({okey}{kind_col} = {kind} AND {name_col} = {name}) OR ({wkey}workload_kind = {wkind} AND workload_name = {wname}))"
        ));
    } else {
        sink.push_sql(&format!(
            " AND {okey}{kind_col} = {kind} AND {name_col} = {name}"
        ));
    }
    if let Some(ns) = &sel.namespace {
        eq(sink, "namespace", ns);
    }
}

/// Every event filter but `--grep` and the cluster (the stores search and scope differently).
pub(crate) fn events(sink: &mut dyn ClauseSink, q: &EventQuery) {
    if let Some(sel) = &q.object {
        object(sink, sel, "kind", "name");
    }
    if let Some(ns) = &q.namespace {
        eq(sink, "namespace", ns);
    }
    if let Some(r) = &q.reason {
        eq(sink, "reason", r);
    }
    if let Some(t) = &q.type_ {
        eq(sink, "type", t);
    }
    time_range(sink, q.since, q.until);
}

/// Every crash filter but `--grep` and the cluster.
pub(crate) fn crashes(sink: &mut dyn ClauseSink, q: &CrashQuery) {
    if let Some(sel) = &q.object {
        object(sink, sel, "'Pod'", "pod");
    }
    if let Some(ns) = &q.namespace {
        eq(sink, "namespace", ns);
    }
    if let Some(c) = &q.container {
        eq(sink, "container", c);
    }
    time_range(sink, q.since, q.until);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Numbered(String, Vec<Param>);

    impl ClauseSink for Numbered {
        fn bind(&mut self, value: Param) -> String {
            self.1.push(value);
            format!("${}", self.1.len())
        }
        fn push_sql(&mut self, sql: &str) {
            self.0.push_str(sql);
        }
    }

    #[test]
    fn workloads_include_what_they_own() {
        let mut s = Numbered(String::new(), Vec::new());
        events(
            &mut s,
            &EventQuery {
                object: Some("deploy/shop/api".parse().expect("selector")),
                reason: Some("BackOff".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            s.0,
            " AND ((kind = $1 AND name = $2) OR (workload_kind = $3 AND workload_name = $4)) AND namespace = $5 AND reason = $6"
        );
        assert_eq!(s.1.len(), 6);
        let mut s = Numbered(String::new(), Vec::new());
        crashes(
            &mut s,
            &CrashQuery {
                object: Some("pod/api-1".parse().expect("selector")),
                container: Some("app".into()),
                ..Default::default()
            },
        );
        assert_eq!(s.0, " AND 'Pod' = $1 AND pod = $2 AND container = $3");
    }
}
