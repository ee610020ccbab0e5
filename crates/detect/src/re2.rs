//! RE2 (Go `regexp`) patterns on Rust's `regex`: syntax translation with RE2's ASCII classes.
//!
//! Go's `\d`, `\w`, `\s` and `\b` are ASCII-only while Rust's are Unicode, and a few constructs
//! mean different things (`[a&&b]` is an intersection in Rust and three literals in Go, `\<` is a
//! word start in Rust and a literal `<` in Go, `a{` is a literal in Go and an error in Rust). The
//! translator rewrites those so the Rust regex matches exactly the strings Go's would:
//! `\d`→`[0-9]`, `\w`→`[0-9A-Za-z_]`, `\s`→`[\t\n\f\r ]` (RE2 has no `\v` in `\s`), the negations
//! likewise, inside and outside classes, and `\b`/`\B` → `(?-u:\b)`/`(?-u:\B)`. The rest of the
//! pattern stays Unicode-aware, so non-ASCII literals and `.` behave as in Go. Constructs RE2
//! refuses (look-around, back-references, `\Z`, `\C`, unknown escapes, flags other than `imsU`,
//! repeat counts above 1000) are refused with a clear reason.

/// A pattern RE2 would refuse, or that has no faithful Rust translation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid pattern {pattern:?}: {reason}")]
pub struct PatternError {
    /// The pattern given.
    pub pattern: String,
    /// Why it is refused.
    pub reason: String,
}

const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = r"\t\n\f\r ";

/// Characters that must be escaped to be literal in Rust regex syntax.
fn is_rust_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
}

fn push_literal(out: &mut String, c: char) {
    if is_rust_meta(c) {
        out.push('\\');
    }
    out.push(c);
}

/// Translates an RE2 pattern into Rust `regex` syntax with the same meaning.
pub fn translate(pattern: &str) -> Result<String, PatternError> {
    let err = |reason: String| PatternError {
        pattern: pattern.to_string(),
        reason,
    };
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        if in_class {
            match c {
                ']' => {
                    in_class = false;
                    out.push(']');
                    i += 1;
                }
                '\\' => {
                    i = class_escape(&chars, i, &mut out).map_err(err)?;
                }
                '[' => {
                    // `[:alpha:]` inside a class is a POSIX class in both; any other `[` is literal in Go
                    // but would open a nested class in Rust.
                    if let Some(end) = posix_class_end(&chars, i) {
                        out.extend(&chars[i..end]);
                        i = end;
                    } else {
                        out.push_str(r"\[");
                        i += 1;
                    }
                }
                '&' | '~' | '^' => {
                    out.push('\\');
                    out.push(c);
                    i += 1;
                }
                '-' => {
                    out.push('-');
                    i += 1;
                    // `--` is set difference in Rust; in Go the second `-` is a plain character.
                    if chars.get(i) == Some(&'-') {
                        out.push_str(r"\-");
                        i += 1;
                    }
                }
                _ => {
                    out.push(c);
                    i += 1;
                }
            }
            continue;
        }
        match c {
            '\\' => {
                i = top_escape(&chars, i, &mut out).map_err(err)?;
            }
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                // A `]` right after `[` or `[^` is a literal in both, but spell it out.
                if chars.get(i) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
            }
            '{' => match repeat_end(&chars, i) {
                Some((end, max)) => {
                    if max > 1000 {
                        return Err(err(format!(
                            "invalid repeat count {}: RE2 allows at most 1000",
                            chars[i..end].iter().collect::<String>()
                        )));
                    }
                    out.extend(&chars[i..end]);
                    i = end;
                }
                None => {
                    out.push_str(r"\{");
                    i += 1;
                }
            },
            '}' => {
                out.push_str(r"\}");
                i += 1;
            }
            '(' => {
                i = group_open(&chars, i, &mut out).map_err(err)?;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    if in_class {
        return Err(err("missing closing ]".to_string()));
    }
    Ok(out)
}

/// `[:name:]` / `[:^name:]` starting at `i`: returns the index after it.
fn posix_class_end(chars: &[char], i: usize) -> Option<usize> {
    const NAMES: &[&str] = &[
        "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
        "space", "upper", "word", "xdigit",
    ];
    if chars.get(i + 1) != Some(&':') {
        return None;
    }
    let mut j = i + 2;
    if chars.get(j) == Some(&'^') {
        j += 1;
    }
    let start = j;
    while j < chars.len() && chars[j].is_ascii_lowercase() {
        j += 1;
    }
    let name: String = chars[start..j].iter().collect();
    if chars.get(j) == Some(&':')
        && chars.get(j + 1) == Some(&']')
        && NAMES.contains(&name.as_str())
    {
        Some(j + 2)
    } else {
        None
    }
}

/// A valid `{n}`, `{n,}` or `{n,m}` at `i`: returns (end index, largest count).
fn repeat_end(chars: &[char], i: usize) -> Option<(usize, u64)> {
    let mut j = i + 1;
    let digits = |j: &mut usize| -> Option<u64> {
        let s = *j;
        while *j < chars.len() && chars[*j].is_ascii_digit() {
            *j += 1;
        }
        if *j == s {
            return None;
        }
        Some(
            chars[s..*j]
                .iter()
                .collect::<String>()
                .parse()
                .unwrap_or(u64::MAX),
        )
    };
    let n = digits(&mut j)?;
    let mut max = n;
    if chars.get(j) == Some(&',') {
        j += 1;
        if chars.get(j) != Some(&'}') {
            let m = digits(&mut j)?;
            if m < n {
                return Some((j + 1, u64::MAX)).filter(|_| chars.get(j) == Some(&'}'));
            }
            max = m;
        }
    }
    if chars.get(j) == Some(&'}') {
        Some((j + 1, max))
    } else {
        None
    }
}

/// `(` at `i`: validates RE2 group syntax, copies it, returns the index after the opener.
fn group_open(chars: &[char], i: usize, out: &mut String) -> Result<usize, String> {
    if chars.get(i + 1) != Some(&'?') {
        out.push('(');
        return Ok(i + 1);
    }
    let rest: String = chars[i + 2..].iter().take(3).collect();
    if rest.starts_with("P<")
        || (rest.starts_with('<') && !rest.starts_with("<=") && !rest.starts_with("<!"))
    {
        out.push_str("(?");
        return Ok(i + 2);
    }
    if rest.starts_with('=')
        || rest.starts_with('!')
        || rest.starts_with("<=")
        || rest.starts_with("<!")
    {
        return Err("look-around assertions are not supported by RE2".to_string());
    }
    if rest.starts_with("P=") || rest.starts_with("P>") {
        return Err("back-references are not supported by RE2".to_string());
    }
    let mut j = i + 2;
    while j < chars.len() && chars[j] != ')' && chars[j] != ':' {
        if !matches!(chars[j], 'i' | 'm' | 's' | 'U' | '-') {
            return Err(format!(
                "invalid or unsupported group flag {:?} (RE2 allows i, m, s, U)",
                chars[j]
            ));
        }
        j += 1;
    }
    if j == chars.len() {
        return Err("missing closing )".to_string());
    }
    out.push_str("(?");
    Ok(i + 2)
}

/// Go octal escape starting at the digit `chars[j]`: returns (code point, index after it).
fn octal(chars: &[char], j: usize) -> Result<(u32, usize), String> {
    let first = chars[j];
    // `\1`..`\7` alone would be a back-reference, which RE2 refuses; `\0` and `\1x`.. are octal.
    if first != '0' && !chars.get(j + 1).is_some_and(|c| ('0'..='7').contains(c)) {
        return Err(format!(
            "invalid escape \\{first}: back-references are not supported by RE2"
        ));
    }
    let mut k = j;
    let mut v = 0u32;
    while k < chars.len() && k < j + 3 && ('0'..='7').contains(&chars[k]) {
        v = v * 8 + (chars[k] as u32 - '0' as u32);
        k += 1;
    }
    Ok((v, k))
}

fn hex_escape(chars: &[char], i: usize, out: &mut String) -> Result<usize, String> {
    // Go: `\xFF` (exactly two hex digits) or `\x{10FFFF}`; Rust accepts the same spellings.
    let mut j = i + 2;
    if chars.get(j) == Some(&'{') {
        let s = j + 1;
        j = s;
        while j < chars.len() && chars[j].is_ascii_hexdigit() {
            j += 1;
        }
        if j == s || chars.get(j) != Some(&'}') {
            return Err("invalid escape \\x{...}".to_string());
        }
        j += 1;
    } else {
        if !(chars.get(j).is_some_and(char::is_ascii_hexdigit)
            && chars.get(j + 1).is_some_and(char::is_ascii_hexdigit))
        {
            return Err("invalid escape \\x: expected two hex digits".to_string());
        }
        j += 2;
    }
    out.extend(&chars[i..j]);
    Ok(j)
}

fn unicode_class(chars: &[char], i: usize, out: &mut String) -> Result<usize, String> {
    let mut j = i + 2;
    match chars.get(j) {
        Some('{') => {
            while j < chars.len() && chars[j] != '}' {
                j += 1;
            }
            if j == chars.len() {
                return Err("invalid escape: missing } in \\p{...}".to_string());
            }
            j += 1;
        }
        Some(c) if c.is_alphabetic() => j += 1,
        _ => return Err("invalid character class range after \\p".to_string()),
    }
    out.extend(&chars[i..j]);
    Ok(j)
}

/// An escape outside a class at `chars[i] == '\\'`.
fn top_escape(chars: &[char], i: usize, out: &mut String) -> Result<usize, String> {
    let Some(&c) = chars.get(i + 1) else {
        return Err("trailing backslash at end of expression".to_string());
    };
    match c {
        'd' => out.push_str("[0-9]"),
        'D' => out.push_str("[^0-9]"),
        'w' => out.push_str("[0-9A-Za-z_]"),
        'W' => out.push_str("[^0-9A-Za-z_]"),
        's' => out.push_str(r"[\t\n\f\r ]"),
        'S' => out.push_str(r"[^\t\n\f\r ]"),
        'b' => out.push_str(r"(?-u:\b)"),
        'B' => out.push_str(r"(?-u:\B)"),
        'A' | 'z' | 'f' | 't' | 'n' | 'r' | 'v' => {
            out.push('\\');
            out.push(c);
        }
        'a' => out.push_str(r"\x07"),
        'x' => return hex_escape(chars, i, out),
        'p' | 'P' => return unicode_class(chars, i, out),
        'Q' => {
            // Literal text up to `\E` or the end of the pattern.
            let mut j = i + 2;
            while j < chars.len() {
                if chars[j] == '\\' && chars.get(j + 1) == Some(&'E') {
                    return Ok(j + 2);
                }
                if chars[j] == '\\' && chars.get(j + 1) == Some(&'\\') {
                    push_literal(out, '\\');
                    j += 2;
                    continue;
                }
                push_literal(out, chars[j]);
                j += 1;
            }
            return Ok(j);
        }
        '0'..='7' => {
            let (v, end) = octal(chars, i + 1)?;
            out.push_str(&format!("\\x{{{v:X}}}"));
            return Ok(end);
        }
        c if c.is_ascii_punctuation() => push_literal(out, c),
        c => return Err(format!("invalid escape \\{c} (not supported by RE2)")),
    }
    Ok(i + 2)
}

/// An escape inside a class at `chars[i] == '\\'`.
fn class_escape(chars: &[char], i: usize, out: &mut String) -> Result<usize, String> {
    let Some(&c) = chars.get(i + 1) else {
        return Err("trailing backslash at end of expression".to_string());
    };
    match c {
        'd' => out.push_str(DIGIT),
        'w' => out.push_str(WORD),
        's' => out.push_str(SPACE),
        'D' => out.push_str("[^0-9]"),
        'W' => out.push_str("[^0-9A-Za-z_]"),
        'S' => out.push_str(r"[^\t\n\f\r ]"),
        'f' | 't' | 'n' | 'r' | 'v' => {
            out.push('\\');
            out.push(c);
        }
        'a' => out.push_str(r"\x07"),
        'x' => return hex_escape(chars, i, out),
        'p' | 'P' => return unicode_class(chars, i, out),
        '0'..='7' => {
            let (v, end) = octal(chars, i + 1)?;
            out.push_str(&format!("\\x{{{v:X}}}"));
            return Ok(end);
        }
        c if c.is_ascii_punctuation() => push_literal(out, c),
        c => {
            return Err(format!(
                "invalid escape \\{c} in character class (not supported by RE2)"
            ));
        }
    }
    Ok(i + 2)
}

/// Translates and compiles an RE2 pattern.
pub fn compile(pattern: &str) -> Result<regex::Regex, PatternError> {
    let translated = translate(pattern)?;
    regex::Regex::new(&translated).map_err(|e| PatternError {
        pattern: pattern.to_string(),
        reason: rust_error_reason(&e),
    })
}

/// Compiles a log rule pattern the way NPD does: `pattern + "\z"`, so a match must end at the end
/// of the buffer. (The concatenation is textual, as in NPD, so a top-level `a|b` anchors only `b`.)
pub fn compile_anchored(pattern: &str) -> Result<(String, regex::Regex), PatternError> {
    // NPD validates the bare pattern first; a trailing `\` would otherwise swallow the `\z`.
    compile(pattern)?;
    let translated = translate(&format!("{pattern}\\z"))?;
    let re = regex::Regex::new(&translated).map_err(|e| PatternError {
        pattern: pattern.to_string(),
        reason: rust_error_reason(&e),
    })?;
    Ok((translated, re))
}

fn rust_error_reason(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => {
            // The multi-line syntax error is about the translated text; keep its last line.
            s.lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or(s)
                .trim()
                .to_string()
        }
        regex::Error::CompiledTooBig(limit) => {
            format!("pattern too large (compiled size over {limit} bytes)")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        compile(p).unwrap().is_match(s)
    }

    #[test]
    fn ascii_classes() {
        assert!(m(r"^\d+$", "0123"));
        assert!(!m(r"^\d+$", "٣")); // ARABIC-INDIC DIGIT THREE is \d in Rust's Unicode mode, not in RE2
        assert!(!m(r"^\w$", "é"));
        assert!(m(r"^\W$", "é"));
        assert!(!m(r"^\s$", "\u{a0}"));
        assert!(!m(r"^\s$", "\u{b}")); // RE2's \s has no \v
        assert!(m(r"^[\d\s]+$", "1 2\t3"));
        assert!(m(r"^[\S ]+$", "task docker"));
        assert!(!m(r"^[\S ]+$", "a\tb"));
        assert!(m(r"^[^\D]$", "7"));
        assert!(m(r"\bfoo\b", "a foo b"));
        assert!(m(r"é\bx", "éx")); // ASCII \b: é is not a word char, x is
        assert!(m(r"^déjà vu.$", "déjà vu!"));
    }

    #[test]
    fn go_literals() {
        assert!(m(r"^[a&&b]+$", "a&&b"));
        assert!(m(r"^[a~~b]+$", "~"));
        assert!(m(r"^\<x\>$", "<x>"));
        assert!(m(r"^a{$", "a{"));
        assert!(m(r"^a{,3}$", "a{,3}"));
        assert!(m(r"^a{2}$", "aa"));
        assert!(m(r"^[a[b]+$", "[ab"));
        assert!(m(r"^[[:digit:]x]+$", "1x2"));
        assert!(m(r"^\Q.*+\E$", ".*+"));
        assert!(m(r"^\101$", "A"));
        assert!(m(r"^\x41\x{42}$", "AB"));
        assert!(m(r"^[]a]+$", "]a"));
        assert!(m(r"(?i)^kernel$", "KERNEL"));
        assert!(m(r"^#x y$", "#x y"));
    }

    #[test]
    fn refuses_what_re2_refuses() {
        for p in [
            r"a(?=b)", r"(?<=a)b", r"(a)\1", r"\Z", r"\C", r"(?x)a", r"a{1001}", r"[a", r"a\",
            r"\u0041", r"(?P=n)",
        ] {
            let e = compile(p).unwrap_err();
            assert_eq!(e.pattern, p);
            assert!(!e.reason.is_empty(), "{p}");
        }
    }
}
