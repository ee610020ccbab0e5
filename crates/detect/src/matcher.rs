//! NPD's log buffer and rule matching, compiled once per monitor with a `RegexSet` gate.
//!
//! NPD keeps the last `bufferSize` messages in a ring, joins them with `\n` (slots not yet filled
//! are empty strings), and for every rule runs `pattern + "\z"` over that text: a match must end at
//! the newest line, and the lines it covers (counted back from the newest until the match start)
//! become the event message. It rebuilds the joined text and recompiles the regex for every rule
//! on every line.
//!
//! Here every pattern is compiled once and classified:
//! - *line-local*: it can never match a `\n`, it has no start-of-text anchor (`^` without `m`,
//!   `\A`) and every match ends at `\z`. Such a match lies entirely inside the newest line, so
//!   matching that line alone gives the same answer and the same (one-line) message. All
//!   line-local patterns of a monitor go into one `RegexSet`: a line that matches nothing costs one
//!   DFA scan of the line, whatever the number of rules.
//! - *buffer*: everything else (multi-line patterns, `^`-anchored ones, top-level alternations
//!   that do not all end at `\z`). Only when a monitor has such patterns is the joined buffer
//!   built, once per line, and each of them run over it with NPD's exact semantics.

use jiff::Timestamp;
use regex::{Regex, RegexSet};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

use crate::re2::{self, PatternError};

/// One pattern that matched with the newest line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternMatch {
    /// Index of the pattern in the list given to [`LogMatcher::new`].
    pub pattern: usize,
    /// How many of the newest buffered lines the match covers (1 for line-local patterns).
    pub lines: usize,
}

/// A ring buffer of the last `bufferSize` lines plus a compiled set of patterns.
#[derive(Debug)]
pub struct LogMatcher {
    /// Per pattern (in the order given): whether it is line-local.
    line_local: Vec<bool>,
    /// Indices (into the patterns given) of the line-local patterns, in set order.
    set_members: Vec<usize>,
    set: Option<RegexSet>,
    /// The patterns that need the joined buffer, with their index. Only these keep a regex of
    /// their own: a line-local pattern lives in the set alone (a regex each, never run, held
    /// about 0.4 MiB of the idle agent's heap over the 35 default patterns).
    buffer_patterns: Vec<(usize, Regex)>,
    messages: Vec<String>,
    timestamps: Vec<Option<Timestamp>>,
    max: usize,
    current: usize,
    joined: String,
}

impl LogMatcher {
    /// Compiles RE2 `patterns` for a buffer of `buffer_size` (≥ 1) lines.
    pub fn new(patterns: &[&str], buffer_size: usize) -> Result<LogMatcher, PatternError> {
        let max = buffer_size.max(1);
        let mut line_locals = Vec::with_capacity(patterns.len());
        let mut set_members = Vec::new();
        let mut set_sources = Vec::new();
        let mut buffer_patterns = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            let (translated, regex) = re2::compile_anchored(p)?;
            // With a one-line buffer NPD's joined text is the line itself.
            let line_local = max == 1 || is_line_local(&translated);
            if line_local {
                set_members.push(i);
                set_sources.push(translated);
            } else {
                buffer_patterns.push((i, regex));
            }
            line_locals.push(line_local);
        }
        let set = if set_sources.is_empty() {
            None
        } else {
            Some(RegexSet::new(&set_sources).map_err(|e| PatternError {
                pattern: patterns.join(" | "),
                reason: format!("cannot build the rule set: {e}"),
            })?)
        };
        Ok(LogMatcher {
            line_local: line_locals,
            set_members,
            set,
            buffer_patterns,
            messages: vec![String::new(); max],
            timestamps: vec![None; max],
            max,
            current: 0,
            joined: String::new(),
        })
    }

    /// The buffer size in lines.
    pub fn buffer_size(&self) -> usize {
        self.max
    }

    /// Whether pattern `i` is matched against the newest line alone (see the module docs).
    pub fn is_line_local(&self, i: usize) -> bool {
        self.line_local.get(i).copied().unwrap_or(false)
    }

    /// Pushes a line and appends every pattern that now matches, in pattern order.
    pub fn push(&mut self, timestamp: Timestamp, message: &str, out: &mut Vec<PatternMatch>) {
        let slot = self.current % self.max;
        self.messages[slot].clear();
        self.messages[slot].push_str(message);
        self.timestamps[slot] = Some(timestamp);
        self.current += 1;
        let start = out.len();
        if let Some(set) = &self.set
            && set.is_match(message)
        {
            for member in set.matches(message).iter() {
                out.push(PatternMatch {
                    pattern: self.set_members[member],
                    lines: 1,
                });
            }
        }
        if !self.buffer_patterns.is_empty() {
            self.join();
            for (i, regex) in &self.buffer_patterns {
                if let Some(m) = regex.find(&self.joined) {
                    let lines = self.matched_lines(m.start());
                    out.push(PatternMatch { pattern: *i, lines });
                }
            }
            out[start..].sort_by_key(|m| m.pattern);
        }
    }

    /// The newest `n` lines (oldest first) with their timestamps.
    pub fn newest(&self, n: usize) -> impl Iterator<Item = (Timestamp, &str)> {
        let n = n.min(self.max).min(self.current);
        (0..n).rev().filter_map(move |back| {
            let slot = (self.current - 1 - back) % self.max;
            self.timestamps[slot].map(|t| (t, self.messages[slot].as_str()))
        })
    }

    /// Joins the ring oldest-first with `\n`, empty strings for unfilled slots, as NPD does.
    fn join(&mut self) {
        self.joined.clear();
        for k in 0..self.max {
            if k > 0 {
                self.joined.push('\n');
            }
            self.joined
                .push_str(&self.messages[(self.current + k) % self.max]);
        }
    }

    /// NPD's count of lines covered by a match starting at byte `start` of the joined buffer.
    fn matched_lines(&self, start: usize) -> usize {
        let s = self.joined.len() as i64 - start as i64 - 1;
        let mut total: i64 = 0;
        let mut n = 0;
        let mut i = self.current + self.max - 1;
        while i >= self.current {
            let slot = i % self.max;
            if self.timestamps[slot].is_none() {
                break;
            }
            n += 1;
            total += self.messages[slot].len() as i64 + 1;
            if total > s {
                break;
            }
            i -= 1;
        }
        n
    }
}

/// Whether a translated, `\z`-anchored pattern can only ever match inside the newest line.
fn is_line_local(translated: &str) -> bool {
    let Ok(hir) = regex_syntax::ParserBuilder::new().build().parse(translated) else {
        return false;
    };
    let props = hir.properties();
    props.look_set_suffix().contains(Look::End)
        && !props.look_set().contains(Look::Start)
        && !can_match_newline(&hir)
}

fn can_match_newline(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(lit) => lit.0.contains(&b'\n'),
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .any(|r| r.start() <= '\n' && '\n' <= r.end()),
        HirKind::Class(Class::Bytes(c)) => c
            .ranges()
            .iter()
            .any(|r| r.start() <= b'\n' && b'\n' <= r.end()),
        HirKind::Repetition(r) => can_match_newline(&r.sub),
        HirKind::Capture(c) => can_match_newline(&c.sub),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => subs.iter().any(can_match_newline),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ts(n: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + n).unwrap()
    }

    fn run(patterns: &[&str], size: usize, lines: &[&str]) -> Vec<Vec<PatternMatch>> {
        let mut m = LogMatcher::new(patterns, size).unwrap();
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut out = Vec::new();
                m.push(ts(i as i64), l, &mut out);
                out
            })
            .collect()
    }

    #[test]
    fn classification() {
        let m = LogMatcher::new(
            &[
                r"task [\S ]+:\w+ blocked for more than \w+ seconds\.",
                r".*\[Hardware Error\]: event severity: fatal$",
                r"first line\nsecond line",
                r"^anchored",
                r"a|b",
                r"(?m)^line start",
                r"[^x]*y",
            ],
            10,
        )
        .unwrap();
        let local: Vec<bool> = (0..7).map(|i| m.is_line_local(i)).collect();
        assert_eq!(local, [true, true, false, false, false, true, false]);
    }

    #[test]
    fn must_end_at_newest_line() {
        let r = run(&["foo"], 10, &["foo", "bar", "xfoo", "foo bar"]);
        assert_eq!(
            r[0],
            [PatternMatch {
                pattern: 0,
                lines: 1
            }]
        );
        assert!(r[1].is_empty());
        assert_eq!(r[2].len(), 1);
        assert!(r[3].is_empty());
    }

    #[test]
    fn multi_line_pattern_spans_lines() {
        let r = run(
            &[r"first line\nsecond line"],
            10,
            &["first line", "second line", "second line"],
        );
        assert!(r[0].is_empty());
        assert_eq!(
            r[1],
            [PatternMatch {
                pattern: 0,
                lines: 2
            }]
        );
        assert!(r[2].is_empty());
    }

    #[test]
    fn buffer_size_limits_multi_line_patterns() {
        let p = &[r"a\nb\nc"];
        assert_eq!(run(p, 3, &["a", "b", "c"])[2].len(), 1);
        assert!(run(p, 2, &["a", "b", "c"])[2].is_empty());
    }

    #[test]
    fn caret_means_start_of_buffer_as_in_npd() {
        // NPD joins all slots, so `^` only matches at the start of the oldest slot.
        let r = run(&["^foo"], 3, &["foo", "foo", "foo", "foo"]);
        assert!(r[0].is_empty() && r[1].is_empty() && r[2].is_empty() && r[3].is_empty());
        let r = run(&["^foo"], 1, &["foo", "xfoo"]);
        assert_eq!(r[0].len(), 1);
        assert!(r[1].is_empty());
    }

    #[test]
    fn top_level_alternation_keeps_npd_semantics() {
        // `a|b\z`: the `a` branch may match any buffered line, so it fires again on later lines.
        let r = run(&["alpha|beta"], 3, &["alpha", "x", "y", "z"]);
        assert_eq!(
            r[0],
            [PatternMatch {
                pattern: 0,
                lines: 1
            }]
        );
        assert_eq!(
            r[1],
            [PatternMatch {
                pattern: 0,
                lines: 2
            }]
        );
        assert_eq!(
            r[2],
            [PatternMatch {
                pattern: 0,
                lines: 3
            }]
        );
        assert!(r[3].is_empty());
    }

    #[test]
    fn several_rules_fire_on_one_line() {
        let r = run(
            &["blocked", "x\ny", "task .* blocked"],
            10,
            &["x", "y", "task a blocked"],
        );
        assert_eq!(
            r[1],
            [PatternMatch {
                pattern: 1,
                lines: 2
            }]
        );
        assert_eq!(
            r[2],
            [
                PatternMatch {
                    pattern: 0,
                    lines: 1
                },
                PatternMatch {
                    pattern: 2,
                    lines: 1
                }
            ]
        );
    }

    #[test]
    fn newest_lines() {
        let mut m = LogMatcher::new(&["z"], 2).unwrap();
        let mut out = Vec::new();
        for (i, l) in ["a", "b", "c"].iter().enumerate() {
            m.push(ts(i as i64), l, &mut out);
        }
        let got: Vec<&str> = m.newest(5).map(|(_, l)| l).collect();
        assert_eq!(got, ["b", "c"]);
    }

    /// NPD's algorithm written out literally (join every slot, run `pattern\z`, count lines back
    /// from the newest), used as the reference for the fast paths.
    fn npd_reference(patterns: &[&str], size: usize, lines: &[String]) -> Vec<Vec<PatternMatch>> {
        let regexes: Vec<Regex> = patterns
            .iter()
            .map(|p| re2::compile_anchored(p).unwrap().1)
            .collect();
        let mut ring: Vec<Option<String>> = vec![None; size];
        let mut current = 0usize;
        let mut all = Vec::new();
        for line in lines {
            ring[current % size] = Some(line.clone());
            current += 1;
            let joined: Vec<&str> = (0..size)
                .map(|k| ring[(current + k) % size].as_deref().unwrap_or(""))
                .collect();
            let joined = joined.join("\n");
            let mut out = Vec::new();
            for (i, re) in regexes.iter().enumerate() {
                let Some(m) = re.find(&joined) else { continue };
                let s = joined.len() as i64 - m.start() as i64 - 1;
                let (mut total, mut n) = (0i64, 0usize);
                let mut k = current + size - 1;
                while k >= current {
                    let Some(msg) = &ring[k % size] else { break };
                    n += 1;
                    total += msg.len() as i64 + 1;
                    if total > s {
                        break;
                    }
                    k -= 1;
                }
                out.push(PatternMatch {
                    pattern: i,
                    lines: n,
                });
            }
            all.push(out);
        }
        all
    }

    #[test]
    fn fast_paths_agree_with_npd_reference() {
        let patterns = [
            r"task [\S ]+:\w+ blocked for more than \w+ seconds\.",
            r"Killed process \d+ (.+) total-vm:\d+kB.*",
            r".*\[Hardware Error\]: event severity: fatal$",
            r"b\na",
            r"^a",
            r"a|b",
            r"(?m)^b+",
            r"[^x]*b",
            r"\bab\b",
            r"é\d",
        ];
        let alphabet = [
            "a",
            "b",
            "ab",
            "x",
            "é1",
            "é١",
            "task docker:1 blocked for more than 120 seconds.",
            "Killed process 12 (java) total-vm:5kB, anon-rss:1kB",
            "{1}[Hardware Error]: event severity: fatal",
            "",
        ];
        // A small LCG keeps the test deterministic without extra dependencies.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize
        };
        for size in [1, 2, 3, 10] {
            let lines: Vec<String> = (0..400)
                .map(|_| {
                    let parts = 1 + next() % 2;
                    (0..parts)
                        .map(|_| alphabet[next() % alphabet.len()])
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let reference = npd_reference(&patterns, size, &lines);
            let flat: Vec<&PatternMatch> = reference.iter().flatten().collect();
            assert!(flat.len() > 100, "the input exercises the rules");
            assert!(
                size == 1 || flat.iter().any(|m| m.lines > 1),
                "and multi-line matches"
            );
            assert_eq!(run(&patterns, size, &refs), reference, "buffer size {size}");
        }
    }
}
