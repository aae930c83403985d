//! Dates, instants and the policy time zone: the one place where wall-clock time becomes
//! an instant and back (SPEC "Time").
//!
//! Instants are `i64` microseconds since the Unix epoch (UTC), dates are `i32` days since
//! 1970-01-01 — the same encodings as Arrow's `Timestamp(Microsecond, "UTC")` and `Date32`,
//! so the hot loop compares plain integers and writers copy them as they are.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

/// The (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Whether (year, month, day) is a real calendar date.
pub fn is_valid_date(year: i32, month: u32, day: u32) -> bool {
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

/// SPEC: "`add_months(d, n)` is calendar arithmetic clamped to the month's last day
/// (2021-08-31 + 3 months = 2021-11-30)".
pub fn add_months(date: i32, months: u32) -> i32 {
    let (y, m, d) = civil_from_days(date);
    let total = i64::from(y) * 12 + i64::from(m - 1) + i64::from(months);
    let year = total.div_euclid(12) as i32;
    let month = total.rem_euclid(12) as u32 + 1;
    days_from_civil(year, month, d.min(days_in_month(year, month)))
}

/// `YYYY-MM-DD` of a day count.
pub fn format_date(days: i32) -> String {
    let mut s = String::with_capacity(10);
    push_date(&mut s, days);
    s
}

/// RFC 3339 in UTC with microseconds and `Z`, as the CSV outputs want it.
pub fn format_instant(micros: i64) -> String {
    let mut s = String::with_capacity(27);
    push_instant(&mut s, micros);
    s
}

/// Appends [`format_date`]'s text to `out`: the CSV writer formats a date or two per
/// row, and `format!` costs more than the rest of the row.
pub fn push_date(out: &mut String, days: i32) {
    let (y, m, d) = civil_from_days(days);
    if (0..=9999).contains(&y) {
        push_digits(out, y as u32, 4);
    } else {
        // Outside four digits: what `{y:04}` gives (a sign, then at least three digits).
        use std::fmt::Write as _;
        let _ = write!(out, "{y:04}");
    }
    out.push('-');
    push_digits(out, m, 2);
    out.push('-');
    push_digits(out, d, 2);
}

/// Appends [`format_instant`]'s text to `out`.
pub fn push_instant(out: &mut String, micros: i64) {
    let days = micros.div_euclid(MICROS_PER_DAY) as i32;
    let rem = micros.rem_euclid(MICROS_PER_DAY);
    let secs = (rem / MICROS_PER_SECOND) as u32;
    push_date(out, days);
    out.push('T');
    push_digits(out, secs / 3600, 2);
    out.push(':');
    push_digits(out, secs / 60 % 60, 2);
    out.push(':');
    push_digits(out, secs % 60, 2);
    out.push('.');
    push_digits(out, (rem % MICROS_PER_SECOND) as u32, 6);
    out.push('Z');
}

/// The last `width` decimal digits of `v`, zero-padded.
fn push_digits(out: &mut String, v: u32, width: u32) {
    let mut p = 10u32.pow(width - 1);
    while p > 0 {
        out.push(char::from(b'0' + (v / p % 10) as u8));
        p /= 10;
    }
}

/// Parses a strict `YYYY-MM-DD` (used for `--as-of` and the policy deadline).
pub fn parse_date(text: &str) -> Option<i32> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])? as i32;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    is_valid_date(year, month, day).then(|| days_from_civil(year, month, day))
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0')))
}

/// A value read from text: either a wall-clock time in the policy zone or an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextTime {
    /// Microseconds since 1970-01-01T00:00 of the local wall clock.
    Local(i64),
    /// Microseconds since the epoch, UTC.
    Instant(i64),
}

/// Parses SPEC's CSV date-time grammar: `YYYY-MM-DD`, optionally `T` or space then
/// `HH:MM[:SS[.fraction]]`, optionally `Z` or `±HH:MM`, `±HHMM`, `±HH`. Letters in any
/// case, offsets up to ±23:59, 1–9 fraction digits floored to microseconds.
pub fn parse_text_time(text: &str) -> Option<TextTime> {
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])? as i32;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    if !is_valid_date(year, month, day) {
        return None;
    }
    let date_micros = i64::from(days_from_civil(year, month, day)) * MICROS_PER_DAY;
    if b.len() == 10 {
        return Some(TextTime::Local(date_micros));
    }
    if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 16 || b[13] != b':' {
        return None;
    }
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let mut i = 16;
    let mut second = 0;
    let mut micros = 0i64;
    if b.get(i) == Some(&b':') {
        second = digits(b.get(i + 1..i + 3)?)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            let n = end - start;
            if !(1..=9).contains(&n) {
                return None;
            }
            for k in 0..6 {
                let d = if k < n { i64::from(b[start + k] - b'0') } else { 0 };
                micros = micros * 10 + d;
            }
            i = end;
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let local = date_micros + i64::from(hour * 3600 + minute * 60 + second) * MICROS_PER_SECOND + micros;
    let rest = &b[i..];
    if rest.is_empty() {
        return Some(TextTime::Local(local));
    }
    if rest == b"Z" || rest == b"z" {
        return Some(TextTime::Instant(local));
    }
    let sign = match rest[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (oh, om) = match rest.len() {
        3 => (digits(&rest[1..3])?, 0),
        5 => (digits(&rest[1..3])?, digits(&rest[3..5])?),
        6 if rest[3] == b':' => (digits(&rest[1..3])?, digits(&rest[4..6])?),
        _ => return None,
    };
    if oh > 23 || om > 59 {
        return None;
    }
    let offset = sign * i64::from(oh * 3600 + om * 60) * MICROS_PER_SECOND;
    Some(TextTime::Instant(local - offset))
}

/// The policy time zone with its transitions unpacked for fast lookups in the hot loop.
///
/// jiff's own lookups are correct but cost a binary search through its tzdb structures
/// and an error path; the sweep converts tens of millions of values, so the transitions
/// between 1800 and 2200 are copied into two flat vectors once. Outside that window we
/// ask jiff directly.
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    tz: TimeZone,
    /// UTC instants (µs) at which the offset changes, ascending.
    transitions: Vec<i64>,
    /// `offsets[i]` is in force before `transitions[i]`; the last one after the last.
    offsets: Vec<i64>,
    window: (i64, i64),
}

impl Zone {
    pub fn new(name: &str) -> Result<Zone, String> {
        let tz = TimeZone::get(name).map_err(|e| format!("unknown time zone {name:?}: {e}"))?;
        let start = Timestamp::from_second(-5_364_662_400).expect("1800 is in range"); // 1800-01-01
        let end = Timestamp::from_second(7_258_118_400).expect("2200 is in range"); // 2200-01-01
        let mut transitions = Vec::new();
        let mut offsets = vec![i64::from(tz.to_offset(start).seconds()) * MICROS_PER_SECOND];
        for t in tz.following(start) {
            if t.timestamp() >= end {
                break;
            }
            transitions.push(t.timestamp().as_microsecond());
            offsets.push(i64::from(t.offset().seconds()) * MICROS_PER_SECOND);
        }
        Ok(Zone {
            name: name.to_string(),
            tz,
            transitions,
            offsets,
            window: (start.as_microsecond(), end.as_microsecond()),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The UTC offset (µs) in force at an instant.
    pub fn offset_at(&self, instant: i64) -> i64 {
        if instant < self.window.0 || instant >= self.window.1 {
            return match Timestamp::from_microsecond(instant) {
                Ok(ts) => i64::from(self.tz.to_offset(ts).seconds()) * MICROS_PER_SECOND,
                Err(_) => self.offsets[0],
            };
        }
        self.offsets[self.transitions.partition_point(|&t| t <= instant)]
    }

    /// "The local date of x": x's calendar date in the zone, DST-aware.
    pub fn local_date(&self, instant: i64) -> i32 {
        (instant + self.offset_at(instant)).div_euclid(MICROS_PER_DAY) as i32
    }

    /// The instant of a wall-clock time. A time in a spring-forward gap takes the offset
    /// from before the gap, one that occurs twice is its first occurrence (RFC 5545,
    /// java.time, jiff's `Disambiguation::Compatible`).
    pub fn local_to_instant(&self, local: i64) -> i64 {
        // A day either side covers any transition that could touch this wall-clock time;
        // with none there, the one offset in force is the answer.
        let lo = self.transitions.partition_point(|&t| t <= local - MICROS_PER_DAY);
        let hi = self.transitions.partition_point(|&t| t <= local + MICROS_PER_DAY);
        let inside = local - MICROS_PER_DAY > self.window.0 && local + MICROS_PER_DAY < self.window.1;
        if inside && lo == hi {
            return local - self.offsets[lo];
        }
        self.local_to_instant_slow(local)
    }

    fn local_to_instant_slow(&self, local: i64) -> i64 {
        let days = local.div_euclid(MICROS_PER_DAY);
        let (y, m, d) = civil_from_days(days as i32);
        let rem = local.rem_euclid(MICROS_PER_DAY);
        let secs = rem / MICROS_PER_SECOND;
        let dt = DateTime::new(
            y as i16,
            m as i8,
            d as i8,
            (secs / 3600) as i8,
            (secs / 60 % 60) as i8,
            (secs % 60) as i8,
            ((rem % MICROS_PER_SECOND) * 1000) as i32,
        );
        match dt.and_then(|dt| self.tz.to_ambiguous_timestamp(dt).compatible()) {
            Ok(ts) => ts.as_microsecond(),
            // Beyond jiff's range (years outside ±9999): no zone rules apply there.
            Err(_) => local - self.offsets[0],
        }
    }

    /// The first instant of a local date (00:00 that day, or the end of a gap).
    pub fn start_of_day(&self, date: i32) -> i64 {
        self.local_to_instant(i64::from(date) * MICROS_PER_DAY)
    }

    /// Today's date in the zone.
    pub fn today(&self) -> i32 {
        self.local_date(Timestamp::now().as_microsecond())
    }
}

#[cfg(test)]
mod tests {
    /// The `format!` texts the pushing formatters replaced.
    fn date_by_format(days: i32) -> String {
        let (y, m, d) = civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02}")
    }

    fn instant_by_format(micros: i64) -> String {
        let days = micros.div_euclid(MICROS_PER_DAY) as i32;
        let rem = micros.rem_euclid(MICROS_PER_DAY);
        let secs = rem / MICROS_PER_SECOND;
        let frac = rem % MICROS_PER_SECOND;
        format!("{}T{:02}:{:02}:{:02}.{frac:06}Z", date_by_format(days), secs / 3600, secs / 60 % 60, secs % 60)
    }

    #[test]
    fn formatted_dates_and_instants_match_format() {
        assert_eq!(format_instant(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_instant(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(format_date(days_from_civil(2021, 11, 15)), "2021-11-15");
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let edges = [i32::MIN / 2, -719_529, -719_528, -1, 0, 1, 2_932_896, 2_932_897, i32::MAX / 2];
        for days in edges.into_iter().chain((0..20_000).map(|_| (next() % 6_000_000) as i32 - 3_000_000)) {
            assert_eq!(format_date(days), date_by_format(days), "{days}");
        }
        let span = 400 * 366 * MICROS_PER_DAY;
        for micros in [i64::MIN / 4, -1, 0, 1, MICROS_PER_DAY - 1, i64::MAX / 4]
            .into_iter()
            .chain((0..20_000).map(|_| (next() % (2 * span as u64)) as i64 - span))
        {
            assert_eq!(format_instant(micros), instant_by_format(micros), "{micros}");
        }
    }

    use super::*;

    fn d(s: &str) -> i32 {
        parse_date(s).unwrap()
    }

    fn utc(s: &str) -> i64 {
        match parse_text_time(s).unwrap() {
            TextTime::Instant(i) => i,
            TextTime::Local(_) => panic!("{s} is not an instant"),
        }
    }

    fn local(s: &str) -> i64 {
        match parse_text_time(s).unwrap() {
            TextTime::Local(l) => l,
            TextTime::Instant(_) => panic!("{s} is not local"),
        }
    }

    #[test]
    fn civil_round_trip() {
        for days in -800_000..800_000 {
            let (y, m, dd) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, dd), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(format_date(days_from_civil(2000, 2, 29)), "2000-02-29");
    }

    #[test]
    fn add_months_clamps_to_month_end() {
        assert_eq!(format_date(add_months(d("2021-08-31"), 3)), "2021-11-30");
        assert_eq!(format_date(add_months(d("2021-11-30"), 3)), "2022-02-28");
        assert_eq!(format_date(add_months(d("2019-11-29"), 3)), "2020-02-29");
        assert_eq!(format_date(add_months(d("2020-02-29"), 12)), "2021-02-28");
        assert_eq!(format_date(add_months(d("2021-10-15"), 3)), "2022-01-15");
        assert_eq!(format_date(add_months(d("2021-01-31"), 1)), "2021-02-28");
        assert_eq!(format_date(add_months(d("2021-05-31"), 0)), "2021-05-31");
    }

    #[test]
    fn text_time_grammar() {
        assert_eq!(parse_text_time("2021-02-03"), Some(TextTime::Local(i64::from(d("2021-02-03")) * MICROS_PER_DAY)));
        assert_eq!(utc("2021-12-08T23:30Z"), utc("2021-12-09T00:30:00+01:00"));
        assert_eq!(utc("2021-12-08t23:30z"), utc("2021-12-08T23:30:00.000Z"));
        assert_eq!(utc("2021-12-08 23:30:00+0100"), utc("2021-12-08T22:30Z"));
        assert_eq!(utc("2021-12-08 23:30:00-05"), utc("2021-12-09T04:30Z"));
        assert_eq!(utc("2021-01-01T00:00:00.123456789Z") % MICROS_PER_SECOND, 123_456);
        assert_eq!(utc("2021-01-01T00:00:00.5Z") % MICROS_PER_SECOND, 500_000);
        assert_eq!(local("2021-01-01 10:11") % MICROS_PER_DAY, (10 * 3600 + 11 * 60) * MICROS_PER_SECOND);
        assert_eq!(utc("2021-06-01T00:00+23:59"), utc("2021-05-31T00:01Z"));
        for bad in [
            "01/02/2021",
            "2021-02-30",
            "2021-13-01",
            "2021-1-01",
            "2021-01-01T24:00",
            "2021-01-01T23:60",
            "2021-01-01T23:59:60",
            "2021-01-01T10",
            "2021-01-01T10:00:00.",
            "2021-01-01T10:00:00.1234567890",
            "2021-01-01T10:00+24:00",
            "2021-01-01T10:00+01:60",
            "2021-01-01T10:00+1",
            "2021-01-01T10:00 +01:00",
            "2021-01-01X10:00",
            "20210101",
            " 2021-01-01",
            "2021-01-01T10:00:00Zx",
            "+2021-01-01",
            "2021-02-29",
        ] {
            assert_eq!(parse_text_time(bad), None, "{bad}");
        }
        assert!(parse_text_time("2020-02-29").is_some());
    }

    #[test]
    fn stockholm_dst_rules() {
        let z = Zone::new("Europe/Stockholm").unwrap();
        // Spring forward: 02:30 does not exist, takes the offset before the gap.
        assert_eq!(z.local_to_instant(local("2021-03-28T02:30")), utc("2021-03-28T01:30Z"));
        // Autumn: 02:30 happens twice, first occurrence.
        assert_eq!(z.local_to_instant(local("2021-10-31T02:30")), utc("2021-10-31T00:30Z"));
        assert_eq!(z.local_to_instant(local("2021-07-01T12:00")), utc("2021-07-01T10:00Z"));
        assert_eq!(z.local_to_instant(local("2021-12-09T00:00")), utc("2021-12-08T23:00Z"));
        // The deadline example of the issue: 23:30Z on 8 Dec is 9 Dec in Stockholm.
        assert_eq!(z.local_date(utc("2021-12-08T23:30Z")), d("2021-12-09"));
        assert_eq!(z.local_date(utc("2021-12-08T22:59:59.999999Z")), d("2021-12-08"));
        assert_eq!(z.local_date(utc("2021-06-30T22:00Z")), d("2021-07-01"));
        assert_eq!(z.local_date(utc("2021-06-30T21:59Z")), d("2021-06-30"));
        assert_eq!(z.start_of_day(d("2021-03-28")), utc("2021-03-27T23:00Z"));
        assert_eq!(z.start_of_day(d("2021-03-29")), utc("2021-03-28T22:00Z"));
    }

    #[test]
    fn fast_path_agrees_with_jiff_through_the_years() {
        let z = Zone::new("Europe/Stockholm").unwrap();
        let mut local = local("1890-01-01T00:00");
        let end = parse_text_time("2060-01-01").map(|t| match t {
            TextTime::Local(l) => l,
            TextTime::Instant(i) => i,
        });
        while local < end.unwrap() {
            assert_eq!(z.local_to_instant(local), z.local_to_instant_slow(local), "{local}");
            let i = z.local_to_instant(local);
            let ts = Timestamp::from_microsecond(i).unwrap();
            assert_eq!(z.offset_at(i), i64::from(z.tz.to_offset(ts).seconds()) * MICROS_PER_SECOND);
            local += 7 * 3600 * MICROS_PER_SECOND + 13 * 60 * MICROS_PER_SECOND;
        }
    }

    #[test]
    fn formats_for_csv() {
        assert_eq!(format_instant(utc("2021-12-08T23:30:00.000001Z")), "2021-12-08T23:30:00.000001Z");
        assert_eq!(format_instant(utc("1969-12-31T23:59:59.5Z")), "1969-12-31T23:59:59.500000Z");
    }
}
