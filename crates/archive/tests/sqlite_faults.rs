//! SQLite archive faults: files that are not ours, damage, retention, and a disk that fills up.

mod support;

use kubemedic_archive::{Batch, EventQuery, Retention, SqliteStore, Store, StoreError};
use std::io::{Seek, SeekFrom, Write};
use std::process::Command;
use std::time::Duration;
use support::{crash, pod_event, t};

fn events(n: usize, from: usize, at: i64, msg_len: usize) -> Batch {
    Batch {
        events: (from..from + n)
            .map(|i| {
                pod_event(
                    &format!("uid-{i:08}"),
                    1,
                    at + i as i64,
                    &format!("pod-{}", i % 50),
                    "BackOff",
                    &format!("{i} {}", "m".repeat(msg_len)),
                )
            })
            .collect(),
        ..Default::default()
    }
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "these are my notes, not a database\n").expect("write");
    let err = SqliteStore::open(&path, "c").expect_err("refused");
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{msg}");
    assert!(msg.contains("not a SQLite database"), "{msg}");
    assert!(msg.contains("notes.txt"), "{msg}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "these are my notes, not a database\n",
        "not a byte changed"
    );
}

#[test]
fn another_applications_database_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("grafana.db");
    {
        let c = rusqlite_conn(&path);
        c.execute_batch("CREATE TABLE dashboard(id INTEGER PRIMARY KEY, title TEXT); INSERT INTO dashboard(title) VALUES ('x');")
            .expect("create");
    }
    let before = std::fs::read(&path).expect("read");
    let err = SqliteStore::open(&path, "c").expect_err("refused");
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Foreign { .. }), "{msg}");
    assert!(
        msg.contains("dashboard"),
        "names the tables it found: {msg}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "not a byte changed"
    );
    assert!(SqliteStore::open_read_only(&path).is_err());
}

#[test]
fn a_damaged_archive_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("archive.db");
    {
        let store = SqliteStore::open(&path, "c").expect("opens");
        store.write(&events(5_000, 0, 0, 200)).expect("write");
        store
            .prune(
                &Retention {
                    max_age: None,
                    ..Default::default()
                },
                t(0),
            )
            .expect("checkpoints the WAL into the file");
    }
    // Scribble over a few pages in the middle of the file (a bad disk, a half-copied file).
    let len = std::fs::metadata(&path).expect("meta").len();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    f.seek(SeekFrom::Start(len / 2)).expect("seek");
    f.write_all(&vec![0xA5; 3 * 4096]).expect("scribble");
    drop(f);
    let err = SqliteStore::open(&path, "c").expect_err("refused");
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{msg}");
    assert!(msg.contains("archive.db"), "{msg}");
    assert!(msg.contains("Move it aside"), "says what to do: {msg}");
}

#[test]
fn an_archive_from_a_newer_kubemedic_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("archive.db");
    drop(SqliteStore::open(&path, "c").expect("opens"));
    rusqlite_conn(&path)
        .execute_batch("PRAGMA user_version = 99")
        .expect("bump");
    let msg = SqliteStore::open(&path, "c")
        .expect_err("refused")
        .to_string();
    assert!(
        msg.contains("99") && msg.contains("upgrade kubemedic"),
        "{msg}"
    );
}

#[test]
fn retention_by_age_and_by_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("archive.db");
    let store = SqliteStore::open(&path, "c").expect("opens");
    // 20,000 events spread over 20,000 s, plus crashes at 100-600 s.
    for k in 0..4 {
        store
            .write(&events(5_000, k * 5_000, 0, 300))
            .expect("write");
    }
    store
        .write(&Batch {
            crashes: (1..=5)
                .map(|n| crash("p", "c", n, &vec![b'x'; 100_000]))
                .collect(),
            ..Default::default()
        })
        .expect("crashes");
    // By age: everything before t(10_000) goes, events and crashes alike.
    let r = Retention {
        max_age: Some(Duration::from_secs(10_000)),
        max_bytes: None,
        crashes_per_container: 10,
    };
    let s = store.prune(&r, t(20_000)).expect("prune");
    assert_eq!(s.events_removed, 10_000);
    assert_eq!(s.crashes_removed, 5);
    let left = store
        .events(&EventQuery {
            limit: 1_000_000,
            ..Default::default()
        })
        .expect("query");
    assert_eq!(left.len(), 10_000);
    assert!(left.iter().all(|e| e.last_timestamp >= t(10_000)));
    // By size: the file shrinks below the bound, the newest records stay.
    let before = store.stats().expect("stats").bytes;
    let bound = before / 3;
    let r = Retention {
        max_age: None,
        max_bytes: Some(bound),
        crashes_per_container: 10,
    };
    let s = store.prune(&r, t(20_000)).expect("prune");
    assert!(s.events_removed > 0);
    assert!(s.bytes_after <= bound, "{} > {bound}", s.bytes_after);
    let stats = store.stats().expect("stats");
    assert_eq!(stats.newest, Some(t(19_999)), "the newest record stays");
    assert!(stats.oldest > Some(t(10_000)));
    // The FTS index follows the deletes: searching for a removed event finds nothing.
    let q = EventQuery {
        grep: Some("10000".into()),
        ..Default::default()
    };
    assert!(store.events(&q).expect("query").is_empty());
}

/// A small tmpfs, mounted for the test and unmounted however the test ends.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> Option<SmallFs> {
        let dir = tempfile::Builder::new()
            .prefix("kubemedic-fullfs-")
            .tempdir()
            .ok()?;
        let ok = kubemedic_testbed::child::output(
            Command::new("mount")
                .args([
                    "-t",
                    "tmpfs",
                    "-o",
                    &format!("size={size}"),
                    "kubemedic-fullfs",
                ])
                .arg(dir.path()),
            Duration::from_secs(30),
        )
        .map(|o| o.status.success())
        .unwrap_or(false);
        ok.then_some(SmallFs { dir })
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = kubemedic_testbed::child::output(
            Command::new("umount").arg("-l").arg(self.dir.path()),
            Duration::from_secs(30),
        );
    }
}

#[test]
fn a_full_disk_rolls_back_cleanly_and_ingest_resumes_when_space_returns() {
    let Some(fs) = SmallFs::mount("4m") else {
        if std::env::var("KUBEMEDIC_REQUIRE_TESTBED").as_deref() == Ok("1") {
            panic!("cannot mount a tmpfs (the test needs root)");
        }
        eprintln!("a_full_disk_...: skipped: cannot mount a tmpfs (needs root)");
        return;
    };
    let path = fs.dir.path().join("archive.db");
    let store = SqliteStore::open(&path, "c").expect("opens");
    store
        .write(&Batch {
            checkpoints: vec![("rv".into(), "0".into())],
            ..Default::default()
        })
        .expect("first write");
    // Another program fills most of the disk.
    let filler = fs.dir.path().join("filler");
    std::fs::write(&filler, vec![0u8; 2 * 1024 * 1024]).expect("filler");
    let mut stored = 0;
    let mut full = None;
    for k in 0..200 {
        let mut b = events(500, k * 500, 0, 400);
        b.checkpoints = vec![("rv".into(), format!("{}", k + 1))];
        match store.write(&b) {
            Ok(s) => stored += s.events_inserted,
            Err(e) => {
                full = Some((k, e));
                break;
            }
        }
    }
    let (k, err) = full.expect("the disk fills up");
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err}");
    assert!(err.to_string().contains("no space left"), "{err}");
    assert!(err.is_transient());
    // Nothing of the failed batch is in, the checkpoint still covers exactly what is stored.
    assert_eq!(store.stats().expect("stats").events, stored);
    assert_eq!(
        store.checkpoint("rv").expect("reads").as_deref(),
        Some(k.to_string().as_str())
    );
    // Space returns: the same batch goes in, and the database is sound.
    std::fs::remove_file(&filler).expect("free space");
    let mut b = events(500, k * 500, 0, 400);
    b.checkpoints = vec![("rv".into(), format!("{}", k + 1))];
    let s = store.write(&b).expect("ingest resumes");
    assert_eq!(s.events_inserted, 500);
    drop(store);
    let store = SqliteStore::open(&path, "c").expect("reopens: integrity check passes");
    assert_eq!(store.stats().expect("stats").events, stored + 500);
}

fn rusqlite_conn(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("opens")
}
