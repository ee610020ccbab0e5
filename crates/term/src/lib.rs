//! Terminal-safe text: every string kubemedic did not write itself (container and node logs,
//! plugin output, event messages, object names and fields, file names from a dump) goes through
//! [`visible`] or [`visible_lines`] before a human output prints it.
//!
//! A container log can carry `ESC ] 0 ; title BEL` (sets the terminal's title), `ESC [ 2 J`
//! (clears the screen), cursor moves that overwrite earlier lines with a forged "No problems
//! found", or a carriage return that hides what came before it; some terminals act on the 8-bit
//! C1 forms (`U+009B` is CSI) too, and Unicode bidi overrides reorder what is shown so that a
//! displayed command differs from the one copied. None of it may reach the terminal as it is.
//! Each such character is replaced by an escape a person can read, in the notation
//! `tracing-subscriber` uses for the agent's logs: `\x1b` for C0 controls and DEL, `\u{9b}` for
//! C1 controls and invisible format characters. JSON output needs none of this: serde escapes
//! control characters already, and a JSON consumer must see the exact bytes.
//!
//! Deliberate choices:
//! - a tab becomes one space (harmless to a terminal, but it breaks wrapping and alignment);
//! - in one-line fields ([`visible`]) a line feed shows as `\n` and a carriage return as `\r`,
//!   so a quoted log line or name stays one line and cannot forge lines of the report;
//!   [`visible_lines`] keeps line feeds for text that has lines on purpose;
//! - a backslash stays as it is (log lines are full of them); so the text `\x1b` and a real
//!   ESC look alike, which is harmless: neither acts on the terminal;
//! - zero-width joiners and other invisible characters that do not reorder text stay (emoji
//!   and scripts need them).

use std::borrow::Cow;
use std::fmt::Write as _;

/// What to do with one character.
enum Shown {
    /// Print as it is.
    Keep,
    /// Print this instead.
    Text(&'static str),
    /// Print as a `\xHH` escape.
    Hex,
    /// Print as a `\u{H}` escape.
    Unicode,
}

fn classify(c: char, keep_newlines: bool) -> Shown {
    match c {
        '\n' if keep_newlines => Shown::Keep,
        '\n' => Shown::Text("\\n"),
        '\r' => Shown::Text("\\r"),
        '\t' => Shown::Text(" "),
        '\u{0}'..='\u{1f}' | '\u{7f}' => Shown::Hex,
        // C1 controls: `U+009B` is CSI and `U+009D` OSC to terminals that honour 8-bit controls.
        '\u{80}'..='\u{9f}' => Shown::Unicode,
        // Bidi marks, embeddings, overrides and isolates (the "Trojan Source" characters), and
        // the line and paragraph separators some terminals and viewers break lines at.
        '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            Shown::Unicode
        }
        '\u{2028}' | '\u{2029}' => Shown::Unicode,
        _ => Shown::Keep,
    }
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let Some(first) = s
        .char_indices()
        .find(|(_, c)| !matches!(classify(*c, keep_newlines), Shown::Keep))
        .map(|(i, _)| i)
    else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        match classify(c, keep_newlines) {
            Shown::Keep => out.push(c),
            Shown::Text(t) => out.push_str(t),
            Shown::Hex => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            Shown::Unicode => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

/// `s` safe to print on a terminal as one line: control characters (line breaks included),
/// C1 controls and bidi overrides shown as escapes, tabs as spaces. Borrowed when nothing
/// needed escaping.
pub fn visible(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Like [`visible`], but line feeds stay line breaks: for text with lines on purpose (a
/// multi-line error, a help text). A carriage return is still shown as `\r`.
pub fn visible_lines(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        let s = "node worker-1: no space left on device — 100% ✓";
        assert!(matches!(visible(s), Cow::Borrowed(_)));
        assert_eq!(visible(s), s);
    }

    #[test]
    fn escape_sequences_are_shown_not_sent() {
        // OSC title set, CSI clear screen + cursor home, BEL, NUL, backspace, DEL.
        let hostile = "a\x1b]0;pwned\x07b\x1b[2J\x1b[Hc\0d\x08e\x7f";
        let shown = visible(hostile);
        assert_eq!(
            shown,
            "a\\x1b]0;pwned\\x07b\\x1b[2J\\x1b[Hc\\x00d\\x08e\\x7f"
        );
        assert!(shown.chars().all(|c| !c.is_control()));
    }

    #[test]
    fn c1_controls_and_bidi_overrides_are_shown() {
        assert_eq!(visible("x\u{9b}31my"), "x\\u{9b}31my");
        assert_eq!(visible("\u{9d}0;t\u{9c}"), "\\u{9d}0;t\\u{9c}");
        assert_eq!(
            visible("rm -rf /tmp/\u{202e}gpj.exe"),
            "rm -rf /tmp/\\u{202e}gpj.exe"
        );
        assert_eq!(visible("a\u{2066}b\u{2069}"), "a\\u{2066}b\\u{2069}");
        assert_eq!(visible("a\u{2028}b"), "a\\u{2028}b");
    }

    #[test]
    fn line_breaks_and_tabs() {
        assert_eq!(visible("ok\rFAKE"), "ok\\rFAKE");
        assert_eq!(visible("one\ntwo"), "one\\ntwo");
        assert_eq!(visible("\tat main.go:12"), " at main.go:12");
        assert_eq!(visible_lines("one\ntwo\r\x1b[1A"), "one\ntwo\\r\\x1b[1A");
    }

    #[test]
    fn every_control_character_is_escaped() {
        for c in (0u32..0x20).chain([0x7f]).chain(0x80..0xa0) {
            let c = char::from_u32(c).unwrap_or('?');
            let s = format!("<{c}>");
            let shown = visible(&s);
            assert!(
                shown.chars().all(|c| !c.is_control()),
                "{:?} left a control character in {shown:?}",
                c
            );
        }
    }
}
