//! Helpers for tests and benchmarks that write real lines to `/dev/kmsg`.
//!
//! By default the kernel rate-limits writes from user space (`printk_devkmsg=ratelimit`: about ten
//! lines per five seconds), so a test that writes more sets it to `on` and restores the previous
//! value afterwards. Several test binaries run in parallel, so the guard also holds an exclusive
//! file lock: only one holder changes the setting at a time and the restore cannot race.

use rustix::fs::{FlockOperation, flock};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

const SYSCTL: &str = "/proc/sys/kernel/printk_devkmsg";
const LOCK: &str = "/tmp/kubemedic-printk-devkmsg.lock";

/// Holds `printk_devkmsg=on` (and the lock) until dropped, then restores the previous value.
#[derive(Debug)]
pub struct DevKmsgGuard {
    previous: String,
    _lock: File,
}

impl DevKmsgGuard {
    /// Takes the lock (waiting for other holders) and turns rate limiting off.
    pub fn acquire() -> io::Result<Self> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(LOCK)?;
        flock(&lock, FlockOperation::LockExclusive)?;
        let previous = std::fs::read_to_string(SYSCTL)?.trim().to_string();
        std::fs::write(SYSCTL, "on\n")?;
        Ok(Self {
            previous,
            _lock: lock,
        })
    }
}

impl Drop for DevKmsgGuard {
    fn drop(&mut self) {
        if self.previous != "on"
            && let Err(err) = std::fs::write(SYSCTL, format!("{}\n", self.previous))
        {
            eprintln!("could not restore {SYSCTL} to {}: {err}", self.previous);
        }
    }
}

/// Whether this process may write /dev/kmsg and change printk_devkmsg (root on Linux).
pub fn available() -> bool {
    Path::new("/dev/kmsg").exists()
        && OpenOptions::new().write(true).open("/dev/kmsg").is_ok()
        && OpenOptions::new().write(true).open(SYSCTL).is_ok()
}

/// Writes one record (`<level>message`) to /dev/kmsg. One `write()` is one record.
pub fn write_line(level: u8, message: &str) -> io::Result<()> {
    let mut kmsg = OpenOptions::new().write(true).open("/dev/kmsg")?;
    kmsg.write_all(format!("<{level}>{message}\n").as_bytes())
}

/// Writes many records through one open file (for floods).
pub fn write_lines<'a>(level: u8, messages: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
    let mut kmsg = OpenOptions::new().write(true).open("/dev/kmsg")?;
    for message in messages {
        kmsg.write_all(format!("<{level}>{message}\n").as_bytes())?;
    }
    Ok(())
}

/// A marker unique to this process and call, to find one's own lines among others'.
pub fn unique_marker(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}
