//! Go compatibility: `time.ParseDuration` syntax and `time.Parse` reference layouts.

use std::time::Duration;

/// A Go duration string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Go duration {input:?}: {reason}")]
pub struct DurationError {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Parses a Go duration (`"5m"`, `"86400s"`, `"0"`, `"1h30m"`, `"500ms"`, `"1.5h"`).
///
/// Negative durations are refused: every duration in a monitor config is a length of time.
pub fn parse_go_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |reason: &str| DurationError {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let mut s = input;
    if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    } else if s.starts_with('-') {
        return Err(err("negative durations are not allowed here"));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(err("empty"));
    }
    let mut total: u128 = 0; // nanoseconds
    while !s.is_empty() {
        let int_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (int_part, rest) = s.split_at(int_end);
        let (frac_part, rest) = match rest.strip_prefix('.') {
            Some(r) => {
                let e = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
                r.split_at(e)
            }
            None => ("", rest),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(err("expected a number"));
        }
        let unit_end = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (unit, rest) = rest.split_at(unit_end);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(err("missing unit (one of ns, us, ms, s, m, h)")),
            _ => {
                return Err(err(&format!(
                    "unknown unit {unit:?} (one of ns, us, ms, s, m, h)"
                )));
            }
        };
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| err("number out of range"))?
        };
        let mut value = int.checked_mul(scale).ok_or_else(|| err("out of range"))?;
        // Fraction: digits beyond nanosecond precision are dropped, as Go does.
        let mut frac_scale = scale;
        for digit in frac_part.bytes() {
            frac_scale /= 10;
            if frac_scale == 0 {
                break;
            }
            value += u128::from(digit - b'0') * frac_scale;
        }
        total = total
            .checked_add(value)
            .ok_or_else(|| err("out of range"))?;
        if total > i64::MAX as u128 {
            return Err(err("out of range (more than about 292 years)"));
        }
        s = rest;
    }
    Ok(Duration::from_nanos(total as u64))
}

/// A Go `time.Parse` layout that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Go time layout {layout:?}: {reason}")]
pub struct LayoutError {
    /// The layout given.
    pub layout: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A timestamp that does not fit its layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse {input:?} as {layout:?}: {reason}")]
pub struct TimestampError {
    /// The timestamp text.
    pub input: String,
    /// The layout it was parsed with.
    pub layout: String,
    /// Why it does not fit.
    pub reason: String,
}

/// A compiled Go reference-time layout (`Mon Jan 2 15:04:05 MST 2006`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoLayout {
    layout: String,
}

impl GoLayout {
    /// Compiles a layout such as `Jan _2 15:04:05` or `2006-01-02T15:04:05Z07:00`.
    pub fn parse(layout: &str) -> Result<GoLayout, LayoutError> {
        Ok(GoLayout {
            layout: layout.to_string(),
        })
    }

    /// The layout text.
    pub fn as_str(&self) -> &str {
        &self.layout
    }

    /// Parses `text`; fields the layout lacks come from `context` (year, time zone), like NPD's
    /// filelog translator, which parses in the local zone and fills in the current year.
    pub fn parse_timestamp(
        &self,
        text: &str,
        _context: &TimeContext,
    ) -> Result<jiff::Timestamp, TimestampError> {
        Err(TimestampError {
            input: text.to_string(),
            layout: self.layout.clone(),
            reason: "not implemented yet".to_string(),
        })
    }
}

/// What a layout without a year or zone is completed with.
#[derive(Debug, Clone)]
pub struct TimeContext {
    /// Year used when the layout has none (syslog lines): the caller's current year.
    pub year: i16,
    /// Zone used when the text carries no offset (NPD uses the local zone).
    pub zone: jiff::tz::TimeZone,
}
