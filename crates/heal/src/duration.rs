//! Durations as people write them in runbooks and configs: `90s`, `5m`, `1h30m`, `500ms`, `2d`.

use std::fmt;
use std::time::Duration;

/// The text is not a duration; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad duration {text:?}: {why} (write e.g. 30s, 5m, 1h30m)")]
pub struct BadDuration {
    /// What was written.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// Parses `<number><unit>` groups (units `ms`, `s`, `m`, `h`, `d`); a bare number is refused
/// because `300` could mean seconds or minutes and a wrong guess acts at the wrong time.
pub fn parse(text: &str) -> Result<Duration, BadDuration> {
    let bad = |why| BadDuration {
        text: text.to_string(),
        why,
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(bad("empty"));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad("expected a number"));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| bad("number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let millis_per = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(bad("a number needs a unit")),
            _ => return Err(bad("unknown unit (use ms, s, m, h or d)")),
        };
        let part = number
            .checked_mul(millis_per)
            .ok_or_else(|| bad("too large"))?;
        total = total
            .checked_add(Duration::from_millis(part))
            .ok_or_else(|| bad("too large"))?;
    }
    Ok(total)
}

/// Formats a duration the way [`parse`] reads it: `5m`, `1h30m`, `90s` -> `1m30s`, `0s`.
pub fn format(d: Duration) -> String {
    Human(d).to_string()
}

/// Display adapter for [`format`].
#[derive(Debug, Clone, Copy)]
pub struct Human(pub Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        if !ms.is_multiple_of(1000) && ms < 1000 {
            return write!(f, "{ms}ms");
        }
        let mut secs = self.0.as_secs();
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        Ok(())
    }
}

/// Serde helpers for a `Duration` field written as text (`with = "crate::duration::serde_text"`).
pub mod serde_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    /// Writes the duration as `5m`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*d))
    }

    /// Reads `5m`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_groups() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse(" 0s "), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_what_could_be_misread() {
        assert_eq!(parse("300").unwrap_err().why, "a number needs a unit");
        assert_eq!(parse("5 minutes").unwrap_err().why, "a number needs a unit");
        assert_eq!(
            parse("5min").unwrap_err().why,
            "unknown unit (use ms, s, m, h or d)"
        );
        assert_eq!(parse("").unwrap_err().why, "empty");
        assert_eq!(parse("m5").unwrap_err().why, "expected a number");
        assert_eq!(parse("-5m").unwrap_err().why, "expected a number");
        assert!(parse("99999999999999999999s").is_err());
        assert!(
            parse("300")
                .unwrap_err()
                .to_string()
                .contains("write e.g. 30s")
        );
    }

    #[test]
    fn formats_round_trip() {
        for text in ["0s", "5m", "1h30m", "1m30s", "500ms", "2d", "1d2h3m4s"] {
            let d = parse(text).unwrap();
            assert_eq!(format(d), text);
            assert_eq!(parse(&format(d)), Ok(d));
        }
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
    }
}
