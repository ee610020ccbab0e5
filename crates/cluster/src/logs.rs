//! kubectl's container log blocks (`==== START logs for container C of pod NS/POD ====`) and
//! tail-limited buffering of large logs.

use std::collections::VecDeque;
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

/// Keeps the last `max` bytes of a text given line by line.
#[derive(Debug)]
pub struct TailBuffer {
    max: usize,
    kept: usize,
    total: usize,
    lines: VecDeque<String>,
}

impl TailBuffer {
    /// A buffer that keeps at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            kept: 0,
            total: 0,
            lines: VecDeque::new(),
        }
    }

    /// Appends one line (with its newline, if it had one).
    pub fn push(&mut self, line: &str) {
        self.total += line.len();
        self.kept += line.len();
        self.lines.push_back(line.to_string());
        while self.kept > self.max && self.lines.len() > 1 {
            if let Some(front) = self.lines.pop_front() {
                self.kept -= front.len();
            }
        }
        // A single line longer than the limit keeps its last `max` bytes.
        if self.kept > self.max
            && let Some(only) = self.lines.front_mut()
        {
            let mut cut = only.len() - self.max;
            while !only.is_char_boundary(cut) {
                cut += 1;
            }
            only.drain(..cut);
            self.kept = only.len();
        }
    }

    /// Bytes seen so far, kept or not.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The kept text and whether anything was dropped.
    pub fn finish(self) -> (String, bool) {
        let truncated = self.kept < self.total;
        let mut s = String::with_capacity(self.kept);
        for l in self.lines {
            s.push_str(&l);
        }
        (s, truncated)
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
        let line = String::from_utf8_lossy(&raw);
        if let Some(rest) = line.strip_prefix(START)
            && let Some((container, namespace, pod)) = parse_header(rest)
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
                if let Some(pos) = line.find(END)
                    && parse_header(&line[pos + END.len()..]).is_some()
                {
                    if pos > 0 {
                        block.tail.push(&line[..pos]);
                    }
                    if let Some(b) = open.take() {
                        close(b, &mut out);
                    }
                } else {
                    block.tail.push(&line);
                }
            }
            None => {
                if !line.trim().is_empty() {
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
