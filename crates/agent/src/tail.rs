//! Polling file tailer for the `filelog` plugin.
//!
//! Polls on purpose (vector's file source does too): inotify misses rotations on some
//! filesystems and needs a watch per directory, while a stat every half second costs nothing.
//! Handles rename rotation (the path now names another inode: finish the old file, then read the
//! new one from its start), copytruncate (the file shrank below our offset: start again at 0),
//! a file that does not exist yet or disappears (warn once, keep polling), very long lines (cut at
//! [`TailOptions::max_line_bytes`], the rest of that line skipped) and invalid UTF-8 (replaced).

use crate::health::SourceHealth;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Settings of one tailer.
#[derive(Debug, Clone)]
pub struct TailOptions {
    /// File to follow.
    pub path: PathBuf,
    /// Read the existing content first (lookback; the caller filters by timestamp) instead of
    /// starting at the end.
    pub from_start: bool,
    /// How often to look for new data and rotations.
    pub poll_interval: Duration,
    /// Longest line handed on; longer lines are cut there.
    pub max_line_bytes: usize,
}

impl TailOptions {
    /// Defaults for a path: start at the end, poll every 500 ms, lines up to 1 MiB + 1 KiB.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            from_start: false,
            poll_interval: Duration::from_millis(500),
            max_line_bytes: (1 << 20) + 1024,
        }
    }
}

struct OpenFile {
    file: File,
    dev: u64,
    ino: u64,
    offset: u64,
}

/// Follows one file, sending complete lines (without the newline) to `tx` until the receiver is
/// dropped. Never fails: problems are logged, counted in `health` and retried.
pub async fn tail_file(options: TailOptions, tx: mpsc::Sender<String>, health: Arc<SourceHealth>) {
    let mut tailer = Tailer {
        options,
        current: None,
        partial: Vec::new(),
        skipping_long_line: false,
        warned_missing: false,
        first_open: true,
    };
    let mut interval = tokio::time::interval(tailer.options.poll_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if tx.is_closed() {
            return;
        }
        let lines = tailer.poll(&health);
        for line in lines {
            if tx.send(line).await.is_err() {
                return;
            }
            health.line();
        }
    }
}

struct Tailer {
    options: TailOptions,
    current: Option<OpenFile>,
    partial: Vec<u8>,
    skipping_long_line: bool,
    warned_missing: bool,
    first_open: bool,
}

impl Tailer {
    /// One polling round: returns the complete lines that appeared since the last round.
    fn poll(&mut self, health: &SourceHealth) -> Vec<String> {
        let mut lines = Vec::new();
        let path_meta = std::fs::metadata(&self.options.path);
        match (&path_meta, &self.current) {
            (Ok(meta), Some(open)) if meta.dev() == open.dev && meta.ino() == open.ino => {
                if meta.len() < open.offset {
                    tracing::info!(path = %self.options.path.display(), "file truncated (copytruncate); reading from its start");
                    if let Some(open) = self.current.as_mut() {
                        open.offset = 0;
                        let _ = open.file.seek(SeekFrom::Start(0));
                    }
                    self.partial.clear();
                    self.skipping_long_line = false;
                }
            }
            (Ok(_), Some(_)) => {
                // Renamed away and replaced: finish what was written to the old file first.
                self.drain(&mut lines, health);
                self.flush_partial(&mut lines);
                tracing::info!(path = %self.options.path.display(), "file rotated; following the new file");
                self.current = None;
                self.open(true, health);
            }
            (Ok(_), None) => {
                let from_start = !self.first_open || self.options.from_start;
                self.open(from_start, health);
            }
            (Err(err), current) => {
                if current.is_some() {
                    // Removed (or renamed with no replacement yet): read the rest of the old one.
                    self.drain(&mut lines, health);
                    self.flush_partial(&mut lines);
                    self.current = None;
                }
                if !self.warned_missing {
                    tracing::warn!(path = %self.options.path.display(), error = %err, "log file not readable; will keep polling for it");
                    health.error(format!("{}: {err}", self.options.path.display()));
                    self.warned_missing = true;
                }
                // A file that appears later is read from its start: nothing in it was seen yet.
                self.first_open = false;
                return lines;
            }
        }
        self.drain(&mut lines, health);
        lines
    }

    fn open(&mut self, from_start: bool, health: &SourceHealth) {
        match File::open(&self.options.path).and_then(|mut f| {
            let meta = f.metadata()?;
            let offset = if from_start {
                0
            } else {
                f.seek(SeekFrom::End(0))?
            };
            Ok(OpenFile {
                dev: meta.dev(),
                ino: meta.ino(),
                offset,
                file: f,
            })
        }) {
            Ok(open) => {
                self.current = Some(open);
                self.first_open = false;
                self.warned_missing = false;
                health.ok();
            }
            Err(err) => {
                if !self.warned_missing {
                    tracing::warn!(path = %self.options.path.display(), error = %err, "cannot open log file; will keep polling for it");
                    health.error(format!("{}: {err}", self.options.path.display()));
                    self.warned_missing = true;
                }
            }
        }
    }

    /// Reads everything available from the open file (bounded per round so a huge file does not
    /// hold the runtime thread; the rest comes next round).
    fn drain(&mut self, lines: &mut Vec<String>, health: &SourceHealth) {
        const MAX_PER_ROUND: u64 = 16 << 20;
        let Some(open) = self.current.as_mut() else {
            return;
        };
        let mut buf = vec![0u8; 64 * 1024];
        let mut read_this_round = 0u64;
        while read_this_round < MAX_PER_ROUND {
            match open.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    open.offset += n as u64;
                    read_this_round += n as u64;
                    split_lines(
                        &buf[..n],
                        &mut self.partial,
                        &mut self.skipping_long_line,
                        self.options.max_line_bytes,
                        lines,
                    );
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    tracing::warn!(path = %self.options.path.display(), error = %err, "reading log file failed");
                    health.error(format!("{}: {err}", self.options.path.display()));
                    break;
                }
            }
        }
    }

    /// A rotated-away file may end without a newline: its last line is complete anyway.
    fn flush_partial(&mut self, lines: &mut Vec<String>) {
        if !self.partial.is_empty() && !self.skipping_long_line {
            lines.push(String::from_utf8_lossy(&self.partial).into_owned());
        }
        self.partial.clear();
        self.skipping_long_line = false;
    }
}

/// Splits `data` at newlines, continuing the unfinished line in `partial`. Lines longer than
/// `max` are emitted cut at `max` bytes and the rest of them is skipped.
fn split_lines(
    data: &[u8],
    partial: &mut Vec<u8>,
    skipping: &mut bool,
    max: usize,
    lines: &mut Vec<String>,
) {
    let mut rest = data;
    while !rest.is_empty() {
        match rest.iter().position(|&b| b == b'\n') {
            Some(pos) => {
                if !*skipping {
                    let take = pos.min(max.saturating_sub(partial.len()));
                    partial.extend_from_slice(&rest[..take]);
                    lines.push(String::from_utf8_lossy(partial).into_owned());
                }
                partial.clear();
                *skipping = false;
                rest = &rest[pos + 1..];
            }
            None => {
                if !*skipping {
                    let take = rest.len().min(max.saturating_sub(partial.len()));
                    partial.extend_from_slice(&rest[..take]);
                    if partial.len() >= max {
                        tracing::warn!(
                            bytes = partial.len(),
                            "log line longer than the limit; cutting it"
                        );
                        lines.push(String::from_utf8_lossy(partial).into_owned());
                        partial.clear();
                        *skipping = true;
                    }
                }
                rest = &[];
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]], max: usize) -> Vec<String> {
        let mut partial = Vec::new();
        let mut skipping = false;
        let mut lines = Vec::new();
        for c in chunks {
            split_lines(c, &mut partial, &mut skipping, max, &mut lines);
        }
        lines
    }

    #[test]
    fn joins_lines_across_chunks() {
        assert_eq!(split(&[b"ab", b"c\nde", b"f\n"], 100), vec!["abc", "def"]);
    }

    #[test]
    fn cuts_long_lines_and_resumes_after_them() {
        assert_eq!(split(&[b"0123456789", b"abc\nok\n"], 4), vec!["0123", "ok"]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(split(&[b"a\xffb\n"], 100), vec!["a\u{fffd}b"]);
    }
}
