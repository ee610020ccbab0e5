//! Real /dev/kmsg ring-buffer overrun: a reader that stops reading while more than the whole
//! kernel ring buffer is written gets `EPIPE`, counts the overwritten records from the sequence
//! gap, and keeps reading up to a line written after the flood.
//!
//! The agent's reader thread reads eagerly (it drops into a bounded channel rather than falling
//! behind), so "not consuming" is only possible one level down: this test drives
//! [`KmsgReader`], the type that does the `read()` calls for that thread.
#![allow(clippy::unwrap_used)]

use kubemedic_agent::devkmsg::{self, DevKmsgGuard};
use kubemedic_agent::kmsg::{KmsgRead, KmsgReader};
use rustix::event::{PollFd, PollFlags, poll};
use std::path::Path;
use std::time::{Duration, Instant};

/// Size of the kernel's log buffer in bytes (`SYSLOG_ACTION_SIZE_BUFFER`).
#[allow(unsafe_code)] // a plain libc call; no safe wrapper exists in libc or rustix
fn ring_buffer_size() -> usize {
    // SAFETY: action 10 only returns the size; the null buffer is not touched.
    let size = unsafe { libc::klogctl(10, std::ptr::null_mut(), 0) };
    assert!(size > 0, "klogctl(SYSLOG_ACTION_SIZE_BUFFER) failed");
    usize::try_from(size).unwrap()
}

#[test]
fn overrun_reports_lost_records_and_reader_continues() {
    if !devkmsg::available() {
        eprintln!("skipping: /dev/kmsg not writable (not root?)");
        return;
    }
    let _guard = DevKmsgGuard::acquire().unwrap();
    let ring = ring_buffer_size();
    // Positioned after the newest record; nothing is read until the flood is over.
    let mut reader = KmsgReader::open(Path::new("/dev/kmsg"), true).unwrap();

    let marker = devkmsg::unique_marker("kmsg-overrun");
    let padding = "x".repeat(160);
    let lines: Vec<String> = (0..)
        .map(|i| format!("overrun {marker} {i:06} {padding}"))
        .take(2 * ring / 200)
        .collect();
    let written = lines.len();
    let line_len = lines[0].len();
    assert!(
        written * line_len > ring,
        "the flood must exceed the ring buffer"
    );
    devkmsg::write_lines(6, lines.iter().map(String::as_str)).unwrap();
    let final_marker = devkmsg::unique_marker("kmsg-overrun-final");
    devkmsg::write_line(4, &format!("after overrun {final_marker}")).unwrap();

    let mut overruns = 0u32;
    let mut lost_total = 0u64;
    let mut first_index_read: Option<usize> = None;
    let mut flood_lines_read = 0usize;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "final line not read: {flood_lines_read} flood lines read, {lost_total} lost"
        );
        match reader.read().unwrap() {
            KmsgRead::Overrun => overruns += 1,
            KmsgRead::Record { record, lost } => {
                lost_total += lost.unwrap_or(0);
                if record.message.contains(&final_marker) {
                    break;
                }
                if let Some(rest) = record.message.strip_prefix(&format!("overrun {marker} ")) {
                    let index: usize = rest[..6].parse().unwrap();
                    first_index_read.get_or_insert(index);
                    flood_lines_read += 1;
                }
            }
            KmsgRead::Idle => {
                let mut fds = [PollFd::new(reader.file(), PollFlags::IN)];
                let timeout = rustix::time::Timespec {
                    tv_sec: 1,
                    tv_nsec: 0,
                };
                let _ = poll(&mut fds, Some(&timeout));
            }
            KmsgRead::Unparsable(err) => panic!("unparsable record: {err}"),
        }
    }

    eprintln!(
        "ring {ring} bytes; wrote {written} lines of {line_len} bytes; lost {lost_total}, read {flood_lines_read}"
    );
    assert_eq!(overruns, 1, "one EPIPE for one overrun");
    assert!(lost_total > 0, "the overrun must report lost records");
    let first = first_index_read.expect("some flood lines survive in the ring buffer") as u64;
    // Our lines are the only flood; records the kernel logs meanwhile may add a few to the gap.
    assert!(
        lost_total >= first && lost_total <= first + 50,
        "lost {lost_total}, but the oldest surviving flood line is #{first}"
    );
    // Everything after the gap is delivered: lost + read covers the whole flood.
    assert_eq!(
        first as usize + flood_lines_read,
        written,
        "flood lines after the gap must all be read"
    );
    assert!(
        (lost_total as usize) * line_len >= ring / 2,
        "lost {lost_total} lines of {line_len} bytes: less than the overflow of a {ring}-byte ring"
    );
}
