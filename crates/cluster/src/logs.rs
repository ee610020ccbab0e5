//! kubectl's container log blocks (`==== START logs for container C of pod NS/POD ====`) and
//! tail-limited buffering of large logs.

use std::io::BufRead;

const START: &str = "==== START logs for container ";
const END: &str = "==== END logs for container ";
const MARKER_TAIL: &str = " ====";

/// The START marker line kubectl writes before a container's logs.
pub fn start_marker(namespace: &str, pod: &str, container: &str) -> String {
    format!("{START}{container} of pod {namespace}/{pod}{MARKER_TAIL}\n")
}

/// The END marker line kubectl writes after a container's logs.
pub fn end_marker(namespace: &str, pod: &str, container: &str) -> String {
    format!("{END}{container} of pod {namespace}/{pod}{MARKER_TAIL}\n")
}

/// One container's block from a `logs.txt` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBlock {
    /// Namespace named by the START marker.
    pub namespace: String,
    /// Pod named by the START marker.
    pub pod: String,
    /// Container named by the START marker.
    pub container: String,
    /// The log text (tail when limited).
    pub text: String,
    /// 1-based line of the START marker.
    pub start_line: usize,
    /// Original size in bytes when the text was tail-limited.
    pub truncated_from: Option<usize>,
}

/// Everything read from one log file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogBlocks {
    /// The blocks in file order.
    pub blocks: Vec<LogBlock>,
    /// Problems found (stray text, unclosed blocks, log fetch errors kubectl recorded).
    pub notes: Vec<String>,
}

/// Keeps the last `max` bytes of a text given line by line: whole lines from the end, or the
/// end of the last line when that alone is longer than `max`.
///
/// Stores raw bytes (no allocation per line) and trims lazily, so a long log costs one copy.
#[derive(Debug)]
pub struct TailBuffer {
    max: usize,
    total: usize,
    buf: Vec<u8>,
}

impl TailBuffer {
    /// A buffer that keeps at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            total: 0,
            buf: Vec::new(),
        }
    }

    /// Appends one line (with its newline, if it had one).
    pub fn push(&mut self, line: &[u8]) {
        self.total += line.len();
        self.buf.extend_from_slice(line);
        // Trim only when well past the limit: each byte is moved at most a few times.
        if self.buf.len() > self.max.saturating_mul(2).max(64 << 10) {
            let cut = self.cut_point();
            self.buf.drain(..cut);
        }
    }

    /// Where the kept tail starts: the first line start at or after `len - max`, or exactly
    /// `len - max` when that is inside the last line.
    fn cut_point(&self) -> usize {
        let len = self.buf.len();
        if len <= self.max {
            return 0;
        }
        let start = len - self.max;
        if start > 0 && self.buf[start - 1] == b'\n' {
            return start;
        }
        match self.buf[start..].iter().position(|&b| b == b'\n') {
            Some(p) if start + p + 1 < len => start + p + 1,
            _ => start,
        }
    }

    /// Counts `n` bytes that came before and were not given (a file read from an offset).
    pub fn skipped(&mut self, n: usize) {
        self.total += n;
    }

    /// Bytes seen so far, kept or not.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The kept text (invalid UTF-8 replaced) and whether anything was dropped.
    pub fn finish(mut self) -> (String, bool) {
        let cut = self.cut_point();
        self.buf.drain(..cut);
        // A cut inside a line may split a character: skip its continuation bytes.
        let skip = self
            .buf
            .iter()
            .take(3)
            .take_while(|&&b| (b & 0xC0) == 0x80)
            .count();
        if skip > 0 && self.buf.len() < self.total {
            self.buf.drain(..skip);
        }
        let truncated = self.buf.len() < self.total;
        (bytes_to_string(self.buf), truncated)
    }
}

/// UTF-8 text of `bytes` without a copy when valid, invalid sequences replaced otherwise.
pub fn bytes_to_string(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

fn parse_header(rest: &str) -> Option<(String, String, String)> {
    let rest = rest
        .trim_end_matches(['\n', '\r'])
        .strip_suffix(MARKER_TAIL)?;
    let (container, pod_ref) = rest.split_once(" of pod ")?;
    let (ns, pod) = pod_ref.split_once('/')?;
    if container.is_empty() || ns.is_empty() || pod.is_empty() {
        return None;
    }
    Some((container.to_string(), ns.to_string(), pod.to_string()))
}

struct Open {
    namespace: String,
    pod: String,
    container: String,
    start_line: usize,
    tail: TailBuffer,
}

fn close(open: Open, out: &mut LogBlocks) {
    let total = open.tail.total();
    let (text, truncated) = open.tail.finish();
    let trimmed = text.trim();
    // kubectl writes these instead of logs when it could not fetch them.
    if (trimmed.starts_with("Request log error:")
        || trimmed.starts_with("Create log request error:"))
        && !trimmed.contains('\n')
    {
        // "is waiting to start" is the normal answer for a container that never ran: no logs
        // exist, nothing was lost. Other errors mean logs existed but were not fetched.
        if !trimmed.contains("is waiting to start") {
            out.notes.push(format!(
                "line {}: no logs for container {} of pod {}/{}: {trimmed}",
                open.start_line, open.container, open.namespace, open.pod
            ));
        }
        return;
    }
    out.blocks.push(LogBlock {
        namespace: open.namespace,
        pod: open.pod,
        container: open.container,
        text,
        start_line: open.start_line,
        truncated_from: truncated.then_some(total),
    });
}

/// Byte offset of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Splits a kubectl `logs.txt` into container blocks, decoding invalid UTF-8 lossily and
/// keeping at most `max_bytes` (the tail) per block.
pub fn parse_log_blocks<R: BufRead>(mut reader: R, max_bytes: usize) -> std::io::Result<LogBlocks> {
    let mut out = LogBlocks::default();
    let mut open: Option<Open> = None;
    let mut stray = 0usize;
    let mut first_stray = 0usize;
    let mut raw = Vec::new();
    let mut line_no = 0usize;
    loop {
        raw.clear();
        if reader.read_until(b'\n', &mut raw)? == 0 {
            break;
        }
        line_no += 1;
        let line = raw.as_slice();
        if let Some(rest) = line.strip_prefix(START.as_bytes())
            && let Some((container, namespace, pod)) = parse_header(&String::from_utf8_lossy(rest))
        {
            if let Some(prev) = open.take() {
                out.notes.push(format!(
                    "line {line_no}: block of container {} (line {}) has no END marker before the next START",
                    prev.container, prev.start_line
                ));
                close(prev, &mut out);
            }
            open = Some(Open {
                namespace,
                pod,
                container,
                start_line: line_no,
                tail: TailBuffer::new(max_bytes),
            });
            continue;
        }
        match open.as_mut() {
            Some(block) => {
                // kubectl writes the END marker right after the raw log bytes, so it ends the
                // last log line when the log had no trailing newline.
                if let Some(pos) = find(line, END.as_bytes())
                    && parse_header(&String::from_utf8_lossy(&line[pos + END.len()..])).is_some()
                {
                    if pos > 0 {
                        block.tail.push(&line[..pos]);
                    }
                    if let Some(b) = open.take() {
                        close(b, &mut out);
                    }
                } else {
                    block.tail.push(line);
                }
            }
            None => {
                if !line.trim_ascii().is_empty() {
                    if stray == 0 {
                        first_stray = line_no;
                    }
                    stray += 1;
                }
            }
        }
    }
    if let Some(b) = open.take() {
        out.notes.push(format!(
            "container {}: block starting at line {} has no END marker (file truncated?); kept what was there",
            b.container, b.start_line
        ));
        close(b, &mut out);
    }
    if stray > 0 {
        out.notes.push(format!(
            "{stray} line(s) outside any START/END block ignored, first at line {first_stray}"
        ));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_blocks_including_end_marker_glued_to_last_line() {
        let text = b"==== START logs for container app of pod shop/api-1 ====\nline one\nno newline at end==== END logs for container app of pod shop/api-1 ====\n==== START logs for container init of pod shop/api-1 ====\nRequest log error: Get \"https://10.0.0.21:10250/containerLogs/shop/api-1/init\": dial tcp 10.0.0.21:10250: i/o timeout\n==== END logs for container init of pod shop/api-1 ====\n";
        let b = parse_log_blocks(&text[..], 1 << 20).unwrap();
        assert_eq!(b.blocks.len(), 1);
        assert_eq!(b.blocks[0].container, "app");
        assert_eq!(b.blocks[0].text, "line one\nno newline at end");
        assert_eq!(b.notes.len(), 1, "{:?}", b.notes);
        assert!(b.notes[0].contains("Request log error"));
    }

    #[test]
    fn invalid_utf8_and_tail_limit() {
        let mut text = b"==== START logs for container c of pod ns/p ====\n".to_vec();
        text.extend_from_slice(b"bad \xff\xfe bytes\n");
        for i in 0..100 {
            text.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let b = parse_log_blocks(&text[..], 64).unwrap();
        let block = &b.blocks[0];
        assert!(block.text.len() <= 64);
        assert!(block.text.ends_with("line 99\n"));
        assert!(block.truncated_from.is_some());
        assert!(b.notes.iter().any(|n| n.contains("no END marker")));

        let b = parse_log_blocks(&text[..], 1 << 20).unwrap();
        assert!(b.blocks[0].text.starts_with("bad \u{fffd}\u{fffd} bytes\n"));
    }

    #[test]
    fn markers_round_trip() {
        let s = start_marker("kube-system", "coredns-1", "coredns");
        assert_eq!(
            s,
            "==== START logs for container coredns of pod kube-system/coredns-1 ====\n"
        );
        let e = end_marker("kube-system", "coredns-1", "coredns");
        let b = parse_log_blocks(format!("{s}x\n{e}").as_bytes(), 100).unwrap();
        assert_eq!(b.blocks[0].pod, "coredns-1");
        assert_eq!(b.blocks[0].text, "x\n");
    }
}
