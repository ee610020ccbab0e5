//! The event and crash archive: what kubemedic remembers after Kubernetes forgets.
//!
//! Record types ([`EventOccurrence`], [`ArchivedEvent`], [`CrashRecord`]), the [`Store`] trait,
//! the embedded SQLite store (default, one cluster) and the PostgreSQL store (a fleet, long
//! retention), retention and queries. No Kubernetes client here: the controller fills the
//! records, the CLI and the HTTP API read them, and all of it is testable without a cluster.

pub mod compress;
mod crash_row;
mod filter;
pub mod memory;
pub mod pgserver;
pub mod pgtls;
pub mod postgres;
pub mod query;
pub mod record;
pub mod sqlite;
pub mod store;

pub use query::{CrashQuery, EventQuery, ObjectSelector};
pub use record::{
    ArchivedEvent, CrashRecord, EventOccurrence, EventSource, ObjectRef, Origin, Repeat,
    WorkloadRef, fold_occurrences,
};
pub use sqlite::SqliteStore;
pub use store::{
    Batch, FollowPage, PruneStats, Retention, Store, StoreError, StoreStats, WriteStats,
};

use std::path::Path;
use std::sync::Arc;

/// Where an archive lives, parsed from `--archive`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveUrl {
    /// `sqlite:PATH` (or a bare path).
    Sqlite(std::path::PathBuf),
    /// `postgres://…` / `postgresql://…`.
    Postgres(String),
}

impl std::str::FromStr for ArchiveUrl {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| StoreError::InvalidUrl {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(ArchiveUrl::Postgres(s.to_string()));
        }
        let path = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"));
        match path {
            Some("") => Err(invalid("empty path")),
            Some(p) => Ok(ArchiveUrl::Sqlite(p.into())),
            None if s.contains("://") => Err(invalid("unknown scheme")),
            None if s.is_empty() => Err(invalid("empty")),
            None => Ok(ArchiveUrl::Sqlite(s.into())),
        }
    }
}

impl ArchiveUrl {
    /// Opens the store for writing as `cluster`.
    pub fn open(&self, cluster: &str) -> Result<Arc<dyn Store>, StoreError> {
        Ok(match self {
            ArchiveUrl::Sqlite(p) => Arc::new(SqliteStore::open(p, cluster)?),
            ArchiveUrl::Postgres(url) => Arc::new(postgres::PostgresStore::connect(url, cluster)?),
        })
    }

    /// Opens the store for queries only.
    pub fn open_read_only(&self) -> Result<Arc<dyn Store>, StoreError> {
        Ok(match self {
            ArchiveUrl::Sqlite(p) => Arc::new(SqliteStore::open_read_only(Path::new(p))?),
            ArchiveUrl::Postgres(url) => Arc::new(postgres::PostgresStore::connect_reader(url)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_urls() {
        assert_eq!(
            "sqlite:/var/lib/kubemedic/archive.db"
                .parse::<ArchiveUrl>()
                .ok(),
            Some(ArchiveUrl::Sqlite("/var/lib/kubemedic/archive.db".into()))
        );
        assert_eq!(
            "archive.db".parse::<ArchiveUrl>().ok(),
            Some(ArchiveUrl::Sqlite("archive.db".into()))
        );
        assert!(matches!(
            "postgres://km@db/kubemedic".parse::<ArchiveUrl>(),
            Ok(ArchiveUrl::Postgres(_))
        ));
        assert!("mysql://x".parse::<ArchiveUrl>().is_err());
        assert!("sqlite:".parse::<ArchiveUrl>().is_err());
    }
}
