//! Small helpers shared by the analysers: names, evidence formatting, log scanning, quantities.

use crate::finding::{Cause, Evidence, Finding, ObjectRef, Severity};
use crate::index::event_count;
use jiff::Timestamp;
use kubemedic_model::objects::{Event, Pod, PodCondition};

/// Longest quoted text kept in evidence; long kubelet lines are cut with an ellipsis.
const MAX_EVIDENCE_CHARS: usize = 400;

/// How much of the start of a cut line is kept: enough for the timestamp, host and component.
const HEAD_CHARS: usize = 120;

/// Cuts a long line for quoting, keeping its start and its end (on char boundaries).
///
/// The start says when and who; the telling part of a log line or event message (the error
/// after a long prefix, the "holding the xtables lock" after a docker request dump) is at its
/// end, so a head-only cut would quote the prefix and lose the reason.
/// `n` and the noun in the right number: `1 pod`, `2 pods` (never `pod(s)`).
pub(crate) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(crate) fn clip(text: &str) -> String {
    let text = text.trim();
    if text.len() <= MAX_EVIDENCE_CHARS {
        return text.to_string();
    }
    let mut head_end = HEAD_CHARS;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - (MAX_EVIDENCE_CHARS - HEAD_CHARS);
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    format!("{} … {}", &text[..head_end], &text[tail_start..])
}

/// Evidence quoting an event: `event <reason>` with the message and its repeat count.
pub(crate) fn event_evidence(ev: &Event) -> Evidence {
    let reason = ev.reason.as_deref().unwrap_or("?");
    let msg = ev.message.as_deref().unwrap_or("");
    let count = event_count(ev);
    let text = if count > 1 {
        format!("{} (x{count})", clip(msg))
    } else {
        clip(msg)
    };
    Evidence::new(format!("event {reason}"), text)
}

/// Namespace and name of a pod ("" when missing; the API always sets them).
pub(crate) fn pod_key(pod: &Pod) -> (&str, &str) {
    (
        pod.metadata.namespace.as_deref().unwrap_or(""),
        pod.metadata.name.as_deref().unwrap_or(""),
    )
}

/// A pod's status conditions (none when the status has not been written yet).
pub(crate) fn pod_conditions(pod: &Pod) -> &[PodCondition] {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or(&[])
}

/// Builds a finding with the common fields.
pub(crate) fn finding(
    cause: Cause,
    severity: Severity,
    object: ObjectRef,
    summary: String,
    confidence: f64,
) -> Finding {
    Finding {
        cause,
        severity,
        object,
        summary,
        evidence: Vec::new(),
        remediation: Vec::new(),
        confidence,
        affected: Vec::new(),
        caused_by: None,
        incident: None,
    }
}

/// One line of a log with its 1-based number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    /// 1-based line number.
    pub number: usize,
    /// The line text.
    pub text: &'a str,
}

/// The last `n` non-empty lines of a text, in order, with their line numbers.
pub(crate) fn tail_lines(text: &str, n: usize) -> Vec<Line<'_>> {
    let total = text.lines().count();
    let mut out: Vec<Line<'_>> = text
        .lines()
        .enumerate()
        .skip(total.saturating_sub(n * 2))
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Line {
            number: i + 1,
            text: l,
        })
        .collect();
    let drop = out.len().saturating_sub(n);
    out.drain(..drop);
    out
}

/// Formats a duration in seconds as `45s`, `12m`, `3h`, `2d`.
pub(crate) fn human_secs(secs: i64) -> String {
    let s = secs.max(0);
    if s < 120 {
        format!("{s}s")
    } else if s < 7200 {
        format!("{}m", s / 60)
    } else if s < 172_800 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// RFC 3339 text of a timestamp, or `?`.
pub(crate) fn ts(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "?".to_string(), |t| t.to_string())
}

/// Parses a Kubernetes memory quantity into bytes; `None` when it cannot be parsed.
/// `m` is milli (so `1024m` is 1.024 bytes), the mistake this exists to catch.
pub(crate) fn quantity_bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let value: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0_f64.powi(4),
        "Pi" => 1024.0_f64.powi(5),
        "Ei" => 1024.0_f64.powi(6),
        s if s.starts_with('e') || s.starts_with('E') => {
            let exp: i32 = s[1..].parse().ok()?;
            10f64.powi(exp)
        }
        _ => return None,
    };
    Some(value * mult)
}

/// A fast non-cryptographic hasher (the Fx hash of rustc) for the per-pass indexes: SipHash
/// dominated the profile of a 150,000-pod pass. Keys are object names from one cluster,
/// hashed once per pass; flooding resistance is not needed here.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

/// HashMap with [`FxHasher`].
pub(crate) type FxMap<K, V> =
    std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_start_and_the_reason_at_the_end() {
        let line = format!(
            "May 13 10:27:47 node dockerd: {} Another app is currently holding the xtables lock; waiting (57s) for it to exit...",
            "x".repeat(1000)
        );
        let c = clip(&line);
        assert!(c.len() < line.len());
        assert!(c.starts_with("May 13 10:27:47 node dockerd:"));
        assert!(c.ends_with("holding the xtables lock; waiting (57s) for it to exit..."));
        assert!(c.contains(" … "));
        assert_eq!(clip("short line "), "short line");
    }

    #[test]
    fn clip_never_splits_a_character() {
        let c = clip(&"é".repeat(600));
        assert!(c.contains(" … "));
        assert!(c.chars().all(|ch| ch == 'é' || ch == ' ' || ch == '…'));
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity_bytes("1024m"), Some(1.024));
        assert_eq!(quantity_bytes("512Mi"), Some(536_870_912.0));
        assert_eq!(quantity_bytes("1G"), Some(1e9));
        assert_eq!(quantity_bytes("128974848"), Some(128_974_848.0));
        assert_eq!(quantity_bytes("129e6"), Some(129e6));
        assert_eq!(quantity_bytes("lots"), None);
    }

    #[test]
    fn tails() {
        let t = "a\n\nb\nc\nd\n";
        let l = tail_lines(t, 2);
        assert_eq!(l.len(), 2);
        assert_eq!((l[0].number, l[0].text), (4, "c"));
        assert_eq!((l[1].number, l[1].text), (5, "d"));
    }
}
