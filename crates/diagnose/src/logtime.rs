//! When a node log line was written, read from the stamp it starts with.
//!
//! Node logs reach the snapshot in the shapes nodes write them: the agent's RFC 3339 prefix
//! (`2026-11-23T09:57:01.123Z kubelet: …`), syslog (`Nov 23 09:57:01 host prog[pid]: …`, no year,
//! the node's local zone) and bare klog headers (`E1123 09:57:01.123456 …`, no year, no zone).
//! Stamps without a zone are read as UTC and come back flagged, so a caller comparing them
//! against a window allows for the node's offset.

use jiff::civil::{Date, DateTime, Time};
use jiff::{SignedDuration, Timestamp};

/// A line's time as far as its stamp says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineTime {
    /// The instant (stamps without a zone read as UTC).
    pub at: Timestamp,
    /// Whether the stamp carried a zone or offset; when not, `at` may be off by up to ±14 h.
    pub zoned: bool,
}

/// Largest UTC offset in use (UTC+14, Line Islands): the uncertainty of a zone-less stamp.
pub(crate) const MAX_ZONE_OFFSET: SignedDuration = SignedDuration::from_hours(14);

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The time `line` was written, or `None` when it does not start with a stamp (continuation
/// lines, plain messages). `now` picks the year of year-less stamps: the latest year that does
/// not put the line after `now` (by more than a zone's offset).
pub(crate) fn line_time(line: &str, now: Timestamp) -> Option<LineTime> {
    let line = line.trim_start();
    rfc3339(line)
        .map(|at| LineTime { at, zoned: true })
        .or_else(|| {
            let (month, day, time) = syslog(line).or_else(|| klog(line))?;
            let at = with_year(month, day, time, now)?;
            Some(LineTime { at, zoned: false })
        })
}

/// `2026-11-23T09:57:01.123456789Z` or with an offset, up to the first space.
fn rfc3339(line: &str) -> Option<Timestamp> {
    let b = line.as_bytes();
    // Cheap shape check first: most lines are not RFC 3339.
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !b[0].is_ascii_digit() {
        return None;
    }
    let stamp = line.split(' ').next()?;
    stamp.parse().ok()
}

/// `Nov 23 09:57:01` (day may be space-padded).
fn syslog(line: &str) -> Option<(i8, i8, Time)> {
    let month = MONTHS.iter().position(|m| line.starts_with(m))?;
    let rest = line.get(3..)?.trim_start();
    let (day, rest) = rest.split_once(' ')?;
    let day: i8 = day.parse().ok()?;
    let time = clock(rest.get(..8)?)?;
    Some((i8::try_from(month + 1).ok()?, day, time))
}

/// `E1123 09:57:01.123456`: severity letter, month and day, then the clock.
fn klog(line: &str) -> Option<(i8, i8, Time)> {
    let b = line.as_bytes();
    if b.len() < 14 || !matches!(b[0], b'I' | b'W' | b'E' | b'F') || b[5] != b' ' {
        return None;
    }
    let month: i8 = line.get(1..3)?.parse().ok()?;
    let day: i8 = line.get(3..5)?.parse().ok()?;
    let time = clock(line.get(6..14)?)?;
    Some((month, day, time))
}

/// `HH:MM:SS`.
fn clock(s: &str) -> Option<Time> {
    let mut parts = s.split(':').map(|p| p.parse::<i8>().ok());
    let (h, m, sec) = (parts.next()??, parts.next()??, parts.next()??);
    Time::new(h, m, sec, 0).ok()
}

fn with_year(month: i8, day: i8, time: Time, now: Timestamp) -> Option<Timestamp> {
    let latest = now.checked_add(MAX_ZONE_OFFSET).ok()?;
    let year = now.to_zoned(jiff::tz::TimeZone::UTC).year();
    // Feb 29 exists only in leap years: look back far enough to find one.
    (0..8).find_map(|back| {
        let date = Date::new(year - back, month, day).ok()?;
        let at = DateTime::from_parts(date, time)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp();
        (at <= latest).then_some(at)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-23T10:00:00Z".parse().unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn agent_rfc3339_prefix_is_zoned() {
        let t = line_time(
            "2026-11-23T09:57:01.123456789Z kubelet: PLEG is not healthy",
            now(),
        );
        assert_eq!(
            t,
            Some(LineTime {
                at: at("2026-11-23T09:57:01.123456789Z"),
                zoned: true
            })
        );
        let t = line_time("2025-05-13T10:19:02+08:00 dockerd: x", now()).unwrap();
        assert_eq!(t.at, at("2025-05-13T02:19:02Z"));
    }

    #[test]
    fn syslog_stamp_takes_the_latest_year_not_after_now() {
        let t = line_time("Nov 23 09:57:01 n1 kernel: Out of memory", now()).unwrap();
        assert_eq!(t.at, at("2026-11-23T09:57:01Z"));
        assert!(!t.zoned);
        // A December line seen in November is last year's.
        let t = line_time("Dec  1 00:00:01 n1 kubelet[1]: x", now()).unwrap();
        assert_eq!(t.at, at("2025-12-01T00:00:01Z"));
        // Up to a zone's offset ahead of now is still this year (node clock east of UTC).
        let t = line_time("Nov 23 20:00:00 n1 kubelet[1]: x", now()).unwrap();
        assert_eq!(t.at, at("2026-11-23T20:00:00Z"));
        // Feb 29 goes back to the last leap year.
        let t = line_time("Feb 29 12:00:00 n1 kernel: x", now()).unwrap();
        assert_eq!(t.at, at("2024-02-29T12:00:00Z"));
    }

    #[test]
    fn klog_header() {
        let t = line_time(
            "E1123 09:21:40.120331 2214 kubelet.go:1242] Container GC failed",
            now(),
        )
        .unwrap();
        assert_eq!(t.at, at("2026-11-23T09:21:40Z"));
        assert!(!t.zoned);
    }

    #[test]
    fn lines_without_a_stamp() {
        for line in [
            "",
            ")",
            "kernel: Out of memory: Kill process 991 (td-agent)",
            "Novel 23 09:57:01 x",
            "Nov 32 09:57:01 n1 x",
            "Nov 23 25:00:00 n1 x",
            "E9999 09:21:40.1 x",
            "2026-13-45T00:00:00Z x",
            "I0513",
            "May",
            "é",
        ] {
            assert_eq!(line_time(line, now()), None, "{line:?}");
        }
    }
}
