//! `/dev/kmsg` reader.
//!
//! The kernel hands out one record per `read()`: `prio,seq,ts_usec,flags[,..];message\n` followed by
//! ` KEY=value\n` continuation lines. Reading happens in a dedicated thread (a blocking device read
//! must never stall the async runtime) that pushes parsed records into a bounded channel with
//! `try_send`: when the rule engine falls behind during a flood, records are counted as dropped
//! instead of blocking the reader, so the reader keeps up with the kernel ring buffer and is never
//! lost (node-problem-detector issues #1168, #1174). When the ring buffer overruns the reader
//! anyway, `read()` fails with `EPIPE` once; the sequence gap to the next record says how many
//! records were lost, which is logged and counted, and reading continues.

use crate::SourceLine;
use crate::health::SourceHealth;
use jiff::{SignedDuration, Timestamp};
use rustix::event::{PollFd, PollFlags, poll};
use rustix::time::{ClockId, clock_gettime};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Largest record the kernel emits (CONSOLE_EXT_LOG_MAX is 8 KiB); a bigger buffer is harmless.
const READ_BUFFER: usize = 16 * 1024;

/// One parsed kernel log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsgRecord {
    /// Syslog level (0 emerg .. 7 debug).
    pub level: u8,
    /// Syslog facility (0 kern, 1 user, ...).
    pub facility: u32,
    /// Kernel sequence number; gaps mean lost records.
    pub seq: u64,
    /// Microseconds since boot (the kernel's monotonic clock).
    pub monotonic_usec: u64,
    /// The message text (the kernel already escapes unprintable bytes as `\xNN`).
    pub message: String,
}

/// Why a record could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmsgParseError {
    /// No `;` between header and message.
    #[error("kmsg record has no ';' separating header and message")]
    NoSeparator,
    /// A header field is missing or not a number.
    #[error("kmsg record header field {field} is missing or not a number in {header:?}")]
    BadHeader {
        /// Field name (`prio`, `seq`, `ts_usec`).
        field: &'static str,
        /// The header text.
        header: String,
    },
}

/// Parses one record as returned by one `read()` of /dev/kmsg.
pub fn parse_record(raw: &[u8]) -> Result<KmsgRecord, KmsgParseError> {
    let text = String::from_utf8_lossy(raw);
    let (header, rest) = text.split_once(';').ok_or(KmsgParseError::NoSeparator)?;
    let mut fields = header.split(',');
    let mut number = |field: &'static str| {
        fields
            .next()
            .and_then(|f| f.trim().parse::<u64>().ok())
            .ok_or_else(|| KmsgParseError::BadHeader {
                field,
                header: header.to_string(),
            })
    };
    let prio = number("prio")?;
    let seq = number("seq")?;
    let monotonic_usec = number("ts_usec")?;
    // The message ends at the first newline; continuation lines (" KEY=value") follow it.
    let message = rest.split('\n').next().unwrap_or_default().to_string();
    Ok(KmsgRecord {
        level: (prio & 7) as u8,
        facility: (prio >> 3) as u32,
        seq,
        monotonic_usec,
        message,
    })
}

/// Wall-clock time of the boot, from CLOCK_REALTIME - CLOCK_MONOTONIC (sub-second precision,
/// unlike /proc/stat `btime`). Recomputed per record so NTP steps are followed.
pub fn boot_time() -> Timestamp {
    let real = clock_gettime(ClockId::Realtime);
    let mono = clock_gettime(ClockId::Monotonic);
    let real = SignedDuration::new(real.tv_sec, real.tv_nsec as i32);
    let mono = SignedDuration::new(mono.tv_sec, mono.tv_nsec as i32);
    Timestamp::from_duration(real - mono).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Wall-clock time of a record given the boot time.
pub fn record_time(boot: Timestamp, monotonic_usec: u64) -> Timestamp {
    let offset = SignedDuration::from_micros(i64::try_from(monotonic_usec).unwrap_or(i64::MAX));
    boot.checked_add(offset).unwrap_or(boot)
}

/// Records lost to an overrun: after `EPIPE` the next record read is the oldest one still in the
/// ring buffer, and the gap to the last sequence number read is what was overwritten.
pub fn lost_records(last_seq: Option<u64>, seq: u64, after_overrun: bool) -> Option<u64> {
    match last_seq {
        Some(prev) if after_overrun && seq > prev + 1 => Some(seq - prev - 1),
        _ => None,
    }
}

/// Settings of one kmsg reader.
#[derive(Debug, Clone)]
pub struct KmsgOptions {
    /// Device path (`/dev/kmsg`; a monitor's `logPath`).
    pub path: PathBuf,
    /// Records older than now minus this are skipped at start; `None` starts at the newest record.
    pub lookback: Option<Duration>,
}

/// Opens the device and starts the reader thread. Lines go to `tx`; the thread ends when the
/// receiver is dropped. Fails only when the device cannot be opened.
pub fn spawn_reader(
    options: KmsgOptions,
    tx: mpsc::Sender<SourceLine>,
    health: Arc<SourceHealth>,
) -> io::Result<std::thread::JoinHandle<()>> {
    let reader = KmsgReader::open(&options.path, options.lookback.is_none())?;
    let name = format!("kmsg-{}", health.name());
    std::thread::Builder::new()
        .name(name)
        .spawn(move || read_loop(reader, options, tx, health))
}

fn open(path: &Path, from_end: bool) -> io::Result<File> {
    // Non-blocking so the thread can wake up periodically (poll with a timeout) and notice that
    // the agent is shutting down, instead of sleeping in read() forever.
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    // Without lookback, start after the newest record (SEEK_END): comparing record times with the
    // start time is unreliable because the kernel's printk clock drifts from CLOCK_MONOTONIC.
    // With lookback, start at the oldest record (SEEK_SET 0) and skip by time.
    use std::io::Seek;
    let _ = file.seek(if from_end {
        io::SeekFrom::End(0)
    } else {
        io::SeekFrom::Start(0)
    });
    Ok(file)
}

/// What one non-blocking read of the device produced.
#[derive(Debug)]
pub enum KmsgRead {
    /// A record; `lost` is how many records an overrun just before it overwrote.
    Record {
        /// The parsed record.
        record: KmsgRecord,
        /// Records lost to the ring buffer overrun reported by the previous read, if any.
        lost: Option<u64>,
    },
    /// Nothing to read now (`EAGAIN`, or end of a regular file).
    Idle,
    /// The ring buffer overran the reader (`EPIPE`); the next record tells the loss.
    Overrun,
    /// A record that could not be parsed (skipped).
    Unparsable(KmsgParseError),
}

/// The lowest-level reader: one `read()` per call, with the overrun bookkeeping. The reader
/// thread drives it; tests use it directly to hold reading back while the kernel overwrites.
#[derive(Debug)]
pub struct KmsgReader {
    file: File,
    buf: Vec<u8>,
    last_seq: Option<u64>,
    overrun_pending: bool,
}

impl KmsgReader {
    /// Opens the device non-blocking, after the newest record (`from_end`) or at the oldest.
    pub fn open(path: &Path, from_end: bool) -> io::Result<Self> {
        let mut reader = Self {
            file: open(path, false)?,
            buf: vec![0u8; READ_BUFFER],
            last_seq: None,
            overrun_pending: false,
        };
        if from_end {
            reader.skip_to_end();
        }
        Ok(reader)
    }

    /// Positions after the newest record by reading up to it rather than seeking: `SEEK_END`
    /// hides the newest sequence number, so an overrun before the first record read could not be
    /// measured (found by the real-device overrun test: it reported 0 lost).
    fn skip_to_end(&mut self) {
        // More reads than any ring buffer holds records; reached only by a flood that never
        // pauses, where seeking is the fallback (and an early overrun goes unmeasured).
        const MAX_SKIP: usize = 1 << 20;
        for _ in 0..MAX_SKIP {
            match self.read() {
                Ok(KmsgRead::Idle) => {
                    self.overrun_pending = false;
                    return;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        use std::io::Seek;
        let _ = self.file.seek(io::SeekFrom::End(0));
        self.last_seq = None;
        self.overrun_pending = false;
    }

    /// Reads at most one record. I/O errors other than `EAGAIN`, `EINTR` and `EPIPE` are returned.
    pub fn read(&mut self) -> io::Result<KmsgRead> {
        loop {
            match self.file.read(&mut self.buf) {
                Ok(0) => return Ok(KmsgRead::Idle),
                Ok(n) => {
                    let record = match parse_record(&self.buf[..n]) {
                        Ok(r) => r,
                        Err(err) => return Ok(KmsgRead::Unparsable(err)),
                    };
                    let lost = lost_records(self.last_seq, record.seq, self.overrun_pending);
                    self.overrun_pending = false;
                    self.last_seq = Some(record.seq);
                    return Ok(KmsgRead::Record { record, lost });
                }
                Err(err) => match err.raw_os_error() {
                    Some(libc::EAGAIN) => return Ok(KmsgRead::Idle),
                    Some(libc::EINTR) => {}
                    Some(libc::EPIPE) => {
                        // The record we were about to read was overwritten; the next read returns
                        // the oldest record still available. The sequence gap tells the loss.
                        self.overrun_pending = true;
                        return Ok(KmsgRead::Overrun);
                    }
                    _ => return Err(err),
                },
            }
        }
    }

    /// Sequence number of the last record read.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// The open device, to poll it for readability.
    pub fn file(&self) -> &File {
        &self.file
    }
}

fn read_loop(
    mut reader: KmsgReader,
    options: KmsgOptions,
    tx: mpsc::Sender<SourceLine>,
    health: Arc<SourceHealth>,
) {
    let start = Timestamp::now();
    let cutoff = match options.lookback {
        Some(lookback) => start
            .checked_sub(SignedDuration::try_from(lookback).unwrap_or(SignedDuration::MAX))
            .unwrap_or(Timestamp::MIN),
        None => Timestamp::MIN,
    };
    let mut consecutive_errors = 0u32;
    health.ok();
    loop {
        match reader.read() {
            Ok(KmsgRead::Idle) => {
                if !wait_readable(reader.file(), &tx) {
                    return;
                }
            }
            Ok(KmsgRead::Unparsable(err)) => {
                consecutive_errors = 0;
                tracing::warn!(source = health.name(), error = %err, "skipping unparsable kmsg record");
                health.error(err.to_string());
            }
            Ok(KmsgRead::Overrun) => {
                if reader.last_seq().is_none() {
                    tracing::warn!(
                        source = health.name(),
                        "kernel ring buffer overran before the first read"
                    );
                }
            }
            Ok(KmsgRead::Record { record, lost }) => {
                consecutive_errors = 0;
                if let Some(lost) = lost {
                    tracing::warn!(
                        source = health.name(),
                        lost,
                        "kernel ring buffer overran the reader; records lost"
                    );
                    health.lost(lost);
                }
                let timestamp = record_time(boot_time(), record.monotonic_usec);
                if timestamp < cutoff {
                    continue;
                }
                let line = SourceLine {
                    timestamp,
                    message: record.message,
                };
                match tx.try_send(line) {
                    Ok(()) => health.line(),
                    Err(mpsc::error::TrySendError::Full(_)) => health.dropped(1),
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
            Err(err) if err.raw_os_error() == Some(libc::EINVAL) => {
                // Our buffer was too small for a record (cannot happen with 16 KiB); skip it.
                health.error("kmsg record larger than the read buffer");
            }
            Err(err) => {
                consecutive_errors += 1;
                tracing::warn!(source = health.name(), error = %err, "reading kmsg failed");
                health.error(format!("read {}: {err}", options.path.display()));
                if tx.is_closed() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(
                    (100u64 << consecutive_errors.min(6)).min(5_000),
                ));
                if let Ok(reopened) = KmsgReader::open(&options.path, true) {
                    reader = reopened;
                }
            }
        }
    }
}

/// Waits up to two seconds for data; the timeout only serves to notice that the agent is
/// stopping, so it is long to keep idle wake-ups rare. Returns false when the receiver is gone.
fn wait_readable(file: &File, tx: &mpsc::Sender<SourceLine>) -> bool {
    if tx.is_closed() {
        return false;
    }
    let mut fds = [PollFd::new(file, PollFlags::IN)];
    let timeout = rustix::time::Timespec {
        tv_sec: 2,
        tv_nsec: 0,
    };
    match poll(&mut fds, Some(&timeout)) {
        Ok(_) => {}
        Err(_) => std::thread::sleep(Duration::from_millis(100)),
    }
    // A regular file is always "readable" at EOF; avoid spinning on it.
    if fds[0].revents().contains(PollFlags::IN) && is_regular(file) {
        std::thread::sleep(Duration::from_millis(100));
    }
    !tx.is_closed()
}

fn is_regular(file: &File) -> bool {
    file.metadata().map(|m| m.is_file()).unwrap_or(false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_message_and_continuation() {
        let raw = b"6,1234,5678901,-,caller=T1;EXT4-fs error (device sda1): bad\n SUBSYSTEM=block\n DEVICE=b8:1\n";
        let r = parse_record(raw).unwrap();
        assert_eq!(r.level, 6);
        assert_eq!(r.facility, 0);
        assert_eq!(r.seq, 1234);
        assert_eq!(r.monotonic_usec, 5678901);
        assert_eq!(r.message, "EXT4-fs error (device sda1): bad");
    }

    #[test]
    fn overrun_loss_from_sequence_gap() {
        assert_eq!(lost_records(Some(10), 25, true), Some(14));
        assert_eq!(lost_records(Some(10), 11, true), None);
        assert_eq!(
            lost_records(Some(10), 25, false),
            None,
            "only an EPIPE reports a loss"
        );
        assert_eq!(lost_records(None, 25, true), None);
    }

    #[test]
    fn facility_from_priority() {
        let r = parse_record(b"14,1,2,-;hello\n").unwrap();
        assert_eq!((r.facility, r.level), (1, 6));
    }

    #[test]
    fn message_may_contain_semicolons_and_commas() {
        let r = parse_record(b"4,9,10,c;a;b,c\n").unwrap();
        assert_eq!(r.message, "a;b,c");
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(
            parse_record(b"no separator"),
            Err(KmsgParseError::NoSeparator)
        );
        assert!(matches!(
            parse_record(b"6,x,1,-;m"),
            Err(KmsgParseError::BadHeader { field: "seq", .. })
        ));
    }

    #[test]
    fn record_time_adds_monotonic_offset() {
        let boot: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t = record_time(boot, 1_500_000);
        assert_eq!(t.to_string(), "2026-01-01T00:00:01.5Z");
    }

    #[test]
    fn boot_time_is_in_the_past_and_consistent() {
        let a = boot_time();
        let b = boot_time();
        assert!(a < Timestamp::now());
        assert!(a.duration_since(b).abs() < SignedDuration::from_secs(1));
    }
}
