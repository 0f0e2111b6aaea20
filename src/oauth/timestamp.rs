//! The UTC timestamps of `token.json`'s `expiry`, as Python's google-auth writes them.
//!
//! google-auth writes `expiry.isoformat() + "Z"` of a naive UTC `datetime`: `2025-01-02T03:04:05Z`
//! when the microseconds are zero, `2025-01-02T03:04:05.123456Z` otherwise. It reads the same text
//! with the `Z` and the fraction optional. Civil dates are converted with Howard Hinnant's
//! `days_from_civil` / `civil_from_days`, so no date crate is needed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECONDS_PER_DAY: i64 = 86_400;

/// Formats `time` exactly as google-auth writes `expiry`: whole microseconds (anything finer is
/// dropped, as Python's `datetime` holds microseconds), with the fraction left out when it is zero.
///
/// Years outside `0000..=9999` come out with more or fewer digits; they cannot occur for a real token.
pub fn format_expiry(time: SystemTime) -> String {
    let (seconds, nanos) = split(time);
    let micros = nanos / 1_000;
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
    let fraction = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    };
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z")
}

/// Parses an `expiry` as google-auth accepts it: `YYYY-MM-DDTHH:MM:SS`, an optional fraction of
/// one to nine digits, an optional `Z`. Returns `None` for anything else (including out-of-range
/// fields such as month 13 or second 60).
pub fn parse_expiry(text: &str) -> Option<SystemTime> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (main, fraction) = match text.split_once('.') {
        Some((main, fraction)) => (main, Some(fraction)),
        None => (text, None),
    };
    let b = main.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let nanos = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) => {
            let value = digits(f.as_bytes())?;
            let scale = 10_i64.pow(9 - u32::try_from(f.len()).ok()?);
            u32::try_from(value * scale).ok()?
        }
        Some(_) => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
    join(seconds, nanos)
}

/// Parses ASCII digits; `None` when any byte is not a digit.
fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0_i64, |acc, &byte| {
        byte.is_ascii_digit()
            .then(|| acc * 10 + i64::from(byte - b'0'))
    })
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Whole seconds (floored) and nanoseconds since the Unix epoch; saturates far outside `i64`.
fn split(time: SystemTime) -> (i64, u32) {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => (
            i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            after.subsec_nanos(),
        ),
        Err(before) => {
            let before = before.duration();
            let seconds = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            match before.subsec_nanos() {
                0 => (-seconds, 0),
                nanos => (-seconds - 1, 1_000_000_000 - nanos),
            }
        }
    }
}

fn join(seconds: i64, nanos: u32) -> Option<SystemTime> {
    if seconds >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(seconds.unsigned_abs(), nanos))
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(seconds.unsigned_abs()))?
            .checked_add(Duration::from_nanos(u64::from(nanos)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64, nanos: u32) -> SystemTime {
        join(seconds, nanos).unwrap()
    }

    #[test]
    fn formats_like_python_isoformat() {
        assert_eq!(format_expiry(at(0, 0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_expiry(at(1_735_787_045, 123_456_789)),
            "2025-01-02T03:04:05.123456Z"
        );
        assert_eq!(
            format_expiry(at(1_735_787_045, 999)),
            "2025-01-02T03:04:05Z"
        );
        assert_eq!(
            format_expiry(at(1_735_787_045, 1_000)),
            "2025-01-02T03:04:05.000001Z"
        );
        assert_eq!(format_expiry(at(951_782_400, 0)), "2000-02-29T00:00:00Z");
        assert_eq!(
            format_expiry(at(-1, 500_000_000)),
            "1969-12-31T23:59:59.500000Z"
        );
    }

    #[test]
    fn parses_what_google_auth_accepts() {
        assert_eq!(
            parse_expiry("2025-01-02T03:04:05Z"),
            Some(at(1_735_787_045, 0))
        );
        assert_eq!(
            parse_expiry("2025-01-02T03:04:05"),
            Some(at(1_735_787_045, 0))
        );
        assert_eq!(
            parse_expiry("2025-01-02T03:04:05.123456Z"),
            Some(at(1_735_787_045, 123_456_000))
        );
        assert_eq!(
            parse_expiry("2025-01-02T03:04:05.5Z"),
            Some(at(1_735_787_045, 500_000_000))
        );
        assert_eq!(
            parse_expiry("2000-02-29T00:00:00Z"),
            Some(at(951_782_400, 0))
        );
    }

    #[test]
    fn refuses_malformed_text() {
        for bad in [
            "",
            "Z",
            "2025-01-02",
            "2025-01-02 03:04:05Z",
            "2025-13-02T03:04:05Z",
            "2025-02-29T03:04:05Z",
            "2025-01-02T24:04:05Z",
            "2025-01-02T03:60:05Z",
            "2025-01-02T03:04:60Z",
            "2025-01-02T03:04:05.Z",
            "2025-01-02T03:04:05.1234567890Z",
            "2025-01-02T03:04:05+00:00",
            "+025-01-02T03:04:05Z",
            "2025-01-02T03:04:05.-1Z",
            "２０２５-01-02T03:04:05Z",
        ] {
            assert_eq!(parse_expiry(bad), None, "{bad}");
        }
    }

    #[test]
    fn civil_conversion_round_trips_over_centuries() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
