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

/// One element of a Go layout.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Chunk {
    Literal(String),
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TzAbbrev,
    /// Numeric offset: (accepts `Z` for UTC, has minutes, has seconds, colon-separated).
    Offset {
        z: bool,
        minutes: bool,
        seconds: bool,
        colon: bool,
    },
    /// `.000` (exact digit count) or `.999` (optional, any digits).
    Fraction {
        digits: usize,
        exact: bool,
    },
}

/// A compiled Go reference-time layout (`Mon Jan 2 15:04:05 MST 2006`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoLayout {
    layout: String,
    chunks: Vec<Chunk>,
}

/// What a layout without a year or zone is completed with.
#[derive(Debug, Clone)]
pub struct TimeContext {
    /// Year used when the layout has none (syslog lines): the caller's current year, as NPD's
    /// filelog translator does.
    pub year: i16,
    /// Zone used when the text carries no numeric offset (NPD parses in the local zone).
    pub zone: jiff::tz::TimeZone,
}

fn split_layout(layout: &str) -> Vec<Chunk> {
    let b = layout.as_bytes();
    let mut chunks = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let starts = |i: usize, p: &str| layout[i..].starts_with(p);
    while i < b.len() {
        let (chunk, len): (Option<Chunk>, usize) = match b[i] {
            b'J' if starts(i, "January") => (Some(Chunk::LongMonth), 7),
            b'J' if starts(i, "Jan") => (Some(Chunk::Month), 3),
            b'M' if starts(i, "Monday") => (Some(Chunk::LongWeekDay), 6),
            b'M' if starts(i, "Mon") => (Some(Chunk::WeekDay), 3),
            b'M' if starts(i, "MST") => (Some(Chunk::TzAbbrev), 3),
            b'0' if starts(i, "002") => (Some(Chunk::ZeroYearDay), 3),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => (
                Some(match b[i + 1] {
                    b'1' => Chunk::ZeroMonth,
                    b'2' => Chunk::ZeroDay,
                    b'3' => Chunk::ZeroHour12,
                    b'4' => Chunk::ZeroMinute,
                    b'5' => Chunk::ZeroSecond,
                    _ => Chunk::Year,
                }),
                2,
            ),
            b'1' if starts(i, "15") => (Some(Chunk::Hour), 2),
            b'1' => (Some(Chunk::NumMonth), 1),
            b'2' if starts(i, "2006") => (Some(Chunk::LongYear), 4),
            b'2' => (Some(Chunk::Day), 1),
            b'_' if starts(i, "_2006") => {
                // `_` followed by a long year is a literal underscore (Go).
                lit.push('_');
                i += 1;
                continue;
            }
            b'_' if starts(i, "__2") => (Some(Chunk::UnderYearDay), 3),
            b'_' if starts(i, "_2") => (Some(Chunk::UnderDay), 2),
            b'3' => (Some(Chunk::Hour12), 1),
            b'4' => (Some(Chunk::Minute), 1),
            b'5' => (Some(Chunk::Second), 1),
            b'P' if starts(i, "PM") => (Some(Chunk::PM), 2),
            b'p' if starts(i, "pm") => (Some(Chunk::Pm), 2),
            b'-' | b'Z' => {
                let z = b[i] == b'Z';
                let rest = &layout[i + 1..];
                let forms: [(&str, bool, bool, bool); 5] = [
                    ("070000", true, true, false),
                    ("07:00:00", true, true, true),
                    ("0700", true, false, false),
                    ("07:00", true, false, true),
                    ("07", false, false, false),
                ];
                match forms.iter().find(|f| rest.starts_with(f.0)) {
                    Some(&(text, minutes, seconds, colon)) => (
                        Some(Chunk::Offset {
                            z,
                            minutes,
                            seconds,
                            colon,
                        }),
                        1 + text.len(),
                    ),
                    None => (None, 0),
                }
            }
            b'.' | b',' if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let d = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == d {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    (None, 0)
                } else {
                    (
                        Some(Chunk::Fraction {
                            digits: j - i - 1,
                            exact: d == b'0',
                        }),
                        j - i,
                    )
                }
            }
            _ => (None, 0),
        };
        match chunk {
            Some(c) => {
                if !lit.is_empty() {
                    chunks.push(Chunk::Literal(std::mem::take(&mut lit)));
                }
                chunks.push(c);
                i += len;
            }
            None => {
                let ch = layout[i..].chars().next().unwrap_or(' ');
                lit.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    if !lit.is_empty() {
        chunks.push(Chunk::Literal(lit));
    }
    chunks
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's getnum: one or two digits (exactly two when `fixed`).
fn getnum(v: &str, fixed: bool) -> Option<(i64, &str)> {
    let b = v.as_bytes();
    if b.first().is_none_or(|c| !c.is_ascii_digit()) {
        return None;
    }
    if b.get(1).is_none_or(|c| !c.is_ascii_digit()) {
        if fixed {
            return None;
        }
        return Some((i64::from(b[0] - b'0'), &v[1..]));
    }
    Some((
        i64::from(b[0] - b'0') * 10 + i64::from(b[1] - b'0'),
        &v[2..],
    ))
}

fn getnum3(v: &str, fixed: bool) -> Option<(i64, &str)> {
    let n = v.bytes().take(3).take_while(u8::is_ascii_digit).count();
    if n == 0 || (fixed && n != 3) {
        return None;
    }
    Some((v[..n].parse().ok()?, &v[n..]))
}

fn lookup<'a>(v: &'a str, names: &[&str], len: Option<usize>) -> Option<(usize, &'a str)> {
    for (i, name) in names.iter().enumerate() {
        let name = len.map_or(*name, |l| &name[..l]);
        if v.len() >= name.len()
            && v.is_char_boundary(name.len())
            && v[..name.len()].eq_ignore_ascii_case(name)
        {
            return Some((i, &v[name.len()..]));
        }
    }
    None
}

impl GoLayout {
    /// Compiles a layout such as `Jan _2 15:04:05` or `2006-01-02T15:04:05Z07:00`.
    pub fn parse(layout: &str) -> Result<GoLayout, LayoutError> {
        let chunks = split_layout(layout);
        if !chunks.iter().any(|c| !matches!(c, Chunk::Literal(_))) {
            return Err(LayoutError {
                layout: layout.to_string(),
                reason:
                    "no date or time field (use Go's reference time Mon Jan 2 15:04:05 MST 2006)"
                        .to_string(),
            });
        }
        Ok(GoLayout {
            layout: layout.to_string(),
            chunks,
        })
    }

    /// The layout text.
    pub fn as_str(&self) -> &str {
        &self.layout
    }

    /// Parses `text` as Go's `time.ParseInLocation` does; a missing year is the context's year
    /// (NPD's `formalizeTimestamp`), a missing offset means the context's zone.
    pub fn parse_timestamp(
        &self,
        text: &str,
        context: &TimeContext,
    ) -> Result<jiff::Timestamp, TimestampError> {
        let err = |reason: &str| TimestampError {
            input: text.to_string(),
            layout: self.layout.clone(),
            reason: reason.to_string(),
        };
        let mut v = text;
        let (mut year, mut month, mut day, mut yday) =
            (None::<i64>, None::<i64>, None::<i64>, None::<i64>);
        let (mut hour, mut min, mut sec, mut nanos) = (0i64, 0i64, 0i64, 0i64);
        let mut pm: Option<bool> = None;
        let mut offset: Option<i32> = None;
        for (k, chunk) in self.chunks.iter().enumerate() {
            let next_is_fraction = matches!(self.chunks.get(k + 1), Some(Chunk::Fraction { .. }));
            match chunk {
                Chunk::Literal(l) => {
                    v = v
                        .strip_prefix(l.as_str())
                        .ok_or_else(|| err(&format!("expected {l:?}")))?;
                }
                Chunk::LongMonth | Chunk::Month => {
                    let (m, r) = lookup(v, &MONTHS, (*chunk == Chunk::Month).then_some(3))
                        .ok_or_else(|| err("bad month name"))?;
                    month = Some(m as i64 + 1);
                    v = r;
                }
                Chunk::NumMonth | Chunk::ZeroMonth => {
                    let (m, r) =
                        getnum(v, *chunk == Chunk::ZeroMonth).ok_or_else(|| err("bad month"))?;
                    if !(1..=12).contains(&m) {
                        return Err(err("month out of range"));
                    }
                    month = Some(m);
                    v = r;
                }
                Chunk::LongWeekDay | Chunk::WeekDay => {
                    let (_, r) = lookup(v, &DAYS, (*chunk == Chunk::WeekDay).then_some(3))
                        .ok_or_else(|| err("bad day name"))?;
                    v = r;
                }
                Chunk::Day | Chunk::UnderDay | Chunk::ZeroDay => {
                    if *chunk == Chunk::UnderDay {
                        v = v.strip_prefix(' ').unwrap_or(v);
                    }
                    let (d, r) =
                        getnum(v, *chunk == Chunk::ZeroDay).ok_or_else(|| err("bad day"))?;
                    day = Some(d);
                    v = r;
                }
                Chunk::UnderYearDay | Chunk::ZeroYearDay => {
                    if *chunk == Chunk::UnderYearDay {
                        v = v.trim_start_matches(' ');
                    }
                    let (d, r) = getnum3(v, *chunk == Chunk::ZeroYearDay)
                        .ok_or_else(|| err("bad day of year"))?;
                    yday = Some(d);
                    v = r;
                }
                Chunk::Hour => {
                    let (h, r) = getnum(v, false).ok_or_else(|| err("bad hour"))?;
                    if h >= 24 {
                        return Err(err("hour out of range"));
                    }
                    hour = h;
                    v = r;
                }
                Chunk::Hour12 | Chunk::ZeroHour12 => {
                    let (h, r) =
                        getnum(v, *chunk == Chunk::ZeroHour12).ok_or_else(|| err("bad hour"))?;
                    if h > 12 {
                        return Err(err("hour out of range"));
                    }
                    hour = h;
                    v = r;
                }
                Chunk::Minute | Chunk::ZeroMinute => {
                    let (m, r) =
                        getnum(v, *chunk == Chunk::ZeroMinute).ok_or_else(|| err("bad minute"))?;
                    if m >= 60 {
                        return Err(err("minute out of range"));
                    }
                    min = m;
                    v = r;
                }
                Chunk::Second | Chunk::ZeroSecond => {
                    let (s, r) =
                        getnum(v, *chunk == Chunk::ZeroSecond).ok_or_else(|| err("bad second"))?;
                    if s >= 60 {
                        return Err(err("second out of range"));
                    }
                    sec = s;
                    v = r;
                    // Go accepts a fractional second after the seconds even when the layout has none.
                    if !next_is_fraction
                        && (v.starts_with('.') || v.starts_with(','))
                        && v[1..].starts_with(|c: char| c.is_ascii_digit())
                    {
                        let n = v[1..].bytes().take_while(u8::is_ascii_digit).count();
                        nanos = frac_nanos(&v[1..1 + n]);
                        v = &v[1 + n..];
                    }
                }
                Chunk::LongYear => {
                    if v.len() < 4 || !v.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
                        return Err(err("bad year"));
                    }
                    year = Some(v[..4].parse().map_err(|_| err("bad year"))?);
                    v = &v[4..];
                }
                Chunk::Year => {
                    let (y, r) = getnum(v, true).ok_or_else(|| err("bad year"))?;
                    year = Some(if y >= 69 { 1900 + y } else { 2000 + y });
                    v = r;
                }
                Chunk::PM | Chunk::Pm => {
                    let p = v.get(..2).ok_or_else(|| err("bad AM/PM"))?;
                    pm = Some(match p.to_ascii_uppercase().as_str() {
                        "PM" => true,
                        "AM" => false,
                        _ => return Err(err("bad AM/PM")),
                    });
                    v = &v[2..];
                }
                Chunk::TzAbbrev => {
                    if let Some(r) = v.strip_prefix("UTC").or_else(|| v.strip_prefix("GMT")) {
                        offset = Some(0);
                        v = r;
                    } else {
                        // Go accepts 3-5 upper-case letters (zone abbreviations are ambiguous:
                        // like Go's ParseInLocation with an unknown abbreviation we keep the zone).
                        let n = v.bytes().take_while(u8::is_ascii_uppercase).count();
                        if !(3..=5).contains(&n) {
                            return Err(err("bad time zone abbreviation"));
                        }
                        v = &v[n..];
                    }
                }
                Chunk::Offset {
                    z,
                    minutes,
                    seconds,
                    colon,
                } => {
                    if *z && let Some(r) = v.strip_prefix('Z') {
                        offset = Some(0);
                        v = r;
                        continue;
                    }
                    let sign = match v.as_bytes().first() {
                        Some(b'+') => 1,
                        Some(b'-') => -1,
                        _ => return Err(err("bad offset sign")),
                    };
                    v = &v[1..];
                    let two = |v: &str| -> Option<i32> {
                        let b = v.as_bytes();
                        (b.len() >= 2 && b[0].is_ascii_digit() && b[1].is_ascii_digit())
                            .then(|| i32::from(b[0] - b'0') * 10 + i32::from(b[1] - b'0'))
                    };
                    let h = two(v).ok_or_else(|| err("bad offset"))?;
                    v = &v[2..];
                    let mut total = h * 3600;
                    for (present, scale) in [(*minutes, 60), (*seconds, 1)] {
                        if !present {
                            continue;
                        }
                        if *colon {
                            v = v.strip_prefix(':').ok_or_else(|| err("bad offset"))?;
                        }
                        total += two(v).ok_or_else(|| err("bad offset"))? * scale;
                        v = &v[2..];
                    }
                    offset = Some(sign * total);
                }
                Chunk::Fraction { digits, exact } => {
                    if *exact {
                        let ok = v.len() > *digits
                            && (v.starts_with('.') || v.starts_with(','))
                            && v.as_bytes()[1..=*digits].iter().all(u8::is_ascii_digit);
                        if !ok {
                            return Err(err("bad fractional second"));
                        }
                        nanos = frac_nanos(&v[1..=*digits]);
                        v = &v[1 + digits..];
                    } else if (v.starts_with('.') || v.starts_with(','))
                        && v[1..].starts_with(|c: char| c.is_ascii_digit())
                    {
                        let n = v[1..].bytes().take_while(u8::is_ascii_digit).count();
                        nanos = frac_nanos(&v[1..1 + n]);
                        v = &v[1 + n..];
                    }
                }
            }
        }
        if !v.is_empty() {
            return Err(err(&format!("extra text {v:?}")));
        }
        match pm {
            Some(true) if hour < 12 => hour += 12,
            Some(false) if hour == 12 => hour = 0,
            _ => {}
        }
        let year = year.unwrap_or(i64::from(context.year));
        let (month, day) = match (yday, month, day) {
            (Some(yd), None, None) => {
                let start =
                    jiff::civil::Date::new(year as i16, 1, 1).map_err(|e| err(&e.to_string()))?;
                let d = start
                    .checked_add(jiff::Span::new().days(yd - 1))
                    .map_err(|e| err(&e.to_string()))?;
                if d.year() as i64 != year {
                    return Err(err("day of year out of range"));
                }
                (i64::from(d.month()), i64::from(d.day()))
            }
            (_, m, d) => (m.unwrap_or(1), d.unwrap_or(1)),
        };
        let date =
            jiff::civil::Date::new(year as i16, month as i8, 1).map_err(|e| err(&e.to_string()))?;
        if day < 1 || day > i64::from(date.days_in_month()) {
            return Err(err("day out of range"));
        }
        let dt = jiff::civil::DateTime::new(
            year as i16,
            month as i8,
            day as i8,
            hour as i8,
            min as i8,
            sec as i8,
            nanos as i32,
        )
        .map_err(|e| err(&e.to_string()))?;
        match offset {
            Some(secs) => {
                let off = jiff::tz::Offset::from_seconds(secs).map_err(|e| err(&e.to_string()))?;
                off.to_timestamp(dt).map_err(|e| err(&e.to_string()))
            }
            None => dt
                .to_zoned(context.zone.clone())
                .map(|z| z.timestamp())
                .map_err(|e| err(&e.to_string())),
        }
    }
}

fn frac_nanos(digits: &str) -> i64 {
    let mut n = 0i64;
    for (i, d) in digits.bytes().take(9).enumerate() {
        n += i64::from(d - b'0') * 10i64.pow(8 - i as u32);
    }
    n
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations() {
        let d = |s: &str| parse_go_duration(s).unwrap();
        assert_eq!(d("0"), Duration::ZERO);
        assert_eq!(d("5m"), Duration::from_secs(300));
        assert_eq!(d("86400s"), Duration::from_secs(86400));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("1.5h"), Duration::from_secs(5400));
        assert_eq!(d(".5s"), Duration::from_millis(500));
        assert_eq!(d("1µs"), Duration::from_micros(1));
        assert_eq!(d("+3s"), Duration::from_secs(3));
        for bad in [
            "",
            "5",
            "5 m",
            "5d",
            "-5m",
            "m",
            ".s",
            "1.5",
            "9999999999999h",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

    /// Go's `Duration.String()` spelling of random durations parses back to the same value.
    #[test]
    fn durations_round_trip_go_spelling() {
        let mut state: u64 = 42;
        for _ in 0..10_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let nanos = (state >> 11) % 400_000_000_000_000; // up to ~4.6 days
            let (h, rem) = (nanos / 3_600_000_000_000, nanos % 3_600_000_000_000);
            let (m, rem) = (rem / 60_000_000_000, rem % 60_000_000_000);
            let (s, frac) = (rem / 1_000_000_000, rem % 1_000_000_000);
            let mut text = String::new();
            if h > 0 {
                text.push_str(&format!("{h}h"));
            }
            if h > 0 || m > 0 {
                text.push_str(&format!("{m}m"));
            }
            let frac = format!("{frac:09}");
            let frac = frac.trim_end_matches('0');
            text.push_str(&format!(
                "{s}{}{frac}s",
                if frac.is_empty() { "" } else { "." }
            ));
            assert_eq!(
                parse_go_duration(&text).unwrap(),
                Duration::from_nanos(nanos),
                "{text}"
            );
        }
    }

    fn ctx() -> TimeContext {
        TimeContext {
            year: 2026,
            zone: jiff::tz::TimeZone::UTC,
        }
    }

    fn ts(layout: &str, text: &str) -> String {
        GoLayout::parse(layout)
            .unwrap()
            .parse_timestamp(text, &ctx())
            .unwrap()
            .to_string()
    }

    #[test]
    fn layouts() {
        assert_eq!(
            ts("Jan _2 15:04:05", "May  3 10:27:47"),
            "2026-05-03T10:27:47Z"
        );
        assert_eq!(
            ts("Jan _2 15:04:05", "May 13 10:27:47"),
            "2026-05-13T10:27:47Z"
        );
        assert_eq!(
            ts("Jan 2 15:04:05", "Jan 23 14:15:31.317965"),
            "2026-01-23T14:15:31.317965Z"
        );
        assert_eq!(
            ts("2006-01-02T15:04:05Z07:00", "2019-01-23T14:15:31+08:00"),
            "2019-01-23T06:15:31Z"
        );
        assert_eq!(
            ts(
                "2006-01-02T15:04:05.999999999Z07:00",
                "2019-01-23T14:15:31.317965799Z"
            ),
            "2019-01-23T14:15:31.317965799Z"
        );
        assert_eq!(
            ts(
                "2006-01-02T15:04:05.000Z0700",
                "2019-01-23T14:15:31.317-0130"
            ),
            "2019-01-23T15:45:31.317Z"
        );
        assert_eq!(
            ts(
                "Mon Jan _2 15:04:05 MST 2006",
                "Mon Nov 23 09:10:45 UTC 2026"
            ),
            "2026-11-23T09:10:45Z"
        );
        assert_eq!(
            ts(
                "Mon, 02 Jan 2006 03:04:05 PM -0700",
                "Sun, 22 Nov 2026 01:02:03 PM +0000"
            ),
            "2026-11-22T13:02:03Z"
        );
        assert_eq!(
            ts("01/02/06 15:04", "11/23/26 09:10"),
            "2026-11-23T09:10:00Z"
        );
        assert_eq!(ts("2006.002", "2026.032"), "2026-02-01T00:00:00Z");
        let shanghai = TimeContext {
            year: 2026,
            zone: jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(8)),
        };
        let l = GoLayout::parse("Jan _2 15:04:05").unwrap();
        assert_eq!(
            l.parse_timestamp("Jan 23 14:15:31", &shanghai)
                .unwrap()
                .to_string(),
            "2026-01-23T06:15:31Z"
        );
        for (layout, bad) in [
            ("Jan _2 15:04:05", "Foo 23 14:15:31"),
            ("Jan _2 15:04:05", "Jan 32 14:15:31"),
            ("Jan _2 15:04:05", "Feb 30 14:15:31"),
            ("Jan _2 15:04:05", "Jan 23 24:15:31"),
            ("Jan _2 15:04:05", "Jan 23 14:15:31 extra"),
            ("2006-01-02", "26-01-02"),
            ("15:04:05.000", "10:00:00.12"),
        ] {
            assert!(
                GoLayout::parse(layout)
                    .unwrap()
                    .parse_timestamp(bad, &ctx())
                    .is_err(),
                "{bad}"
            );
        }
        assert!(GoLayout::parse("no fields here").is_err());
    }
}
