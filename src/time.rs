//! Time: the injectable clock, and the one timestamp format we store.

use std::sync::Mutex;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// What a timestamp must look like, for error messages.
pub const ACCEPTED: &str =
    "an RFC 3339 / ISO 8601 time with an offset or Z, e.g. 2026-11-22T10:00:00.123Z";

/// A source of the current time, injectable so tests control the date.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that shows a set time until it is moved.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    /// A clock stopped at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        FixedClock(Mutex::new(at))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Formats a time as stored: UTC, milliseconds, `Z`
/// (`2026-11-22T10:00:00.123Z`), so string order is time order.
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The longest duration [`parse_duration`] accepts, in days (`u64`
/// milliseconds).
const MAX_DURATION_DAYS: u64 = u64::MAX / 86_400_000;

/// A time or a duration that is not accepted. Each message quotes the text
/// and says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not a timestamp with an offset, or outside the range of times.
    #[error("timestamp {text:?} is not {ACCEPTED}")]
    Timestamp {
        /// The text given.
        text: String,
    },
    /// Not a number followed by a unit.
    #[error(
        "duration {text:?} is not a number followed by ms, s, m, h or d (e.g. 500ms, 2s, 30m)"
    )]
    Duration {
        /// The text given.
        text: String,
    },
    /// A well-formed duration too long to represent.
    #[error("duration {text:?} is too long; accepted: at most {MAX_DURATION_DAYS}d")]
    DurationTooLong {
        /// The text given.
        text: String,
    },
}

/// Parses an RFC 3339 / ISO 8601 time that carries an offset or `Z`, and
/// normalises it to UTC, truncated to milliseconds.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, TimeError> {
    let refused = || TimeError::Timestamp {
        text: text.to_owned(),
    };
    let parsed = DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::<FixedOffset>::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .or_else(|_| DateTime::<FixedOffset>::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%:z"))
        .map_err(|_| refused())?;
    let utc = parsed.with_timezone(&Utc);
    let millis = utc.timestamp_millis();
    DateTime::from_timestamp_millis(millis).ok_or_else(refused)
}

/// Parses a day file's name date, `YYYY-MM-DD` exactly (ASCII digits, a
/// real calendar date). Hand-rolled: it runs for every row of the index.
pub fn parse_day(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(5..7)?, number(8..10)?)
}

/// Parses a duration such as `500ms`, `2s`, `30m`, `1h` or `7d`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, TimeError> {
    let refused = || TimeError::Duration {
        text: text.to_owned(),
    };
    let too_long = || TimeError::DurationTooLong {
        text: text.to_owned(),
    };
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(refused)?;
    let (number, unit) = t.split_at(split);
    let ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(refused()),
    };
    if number.is_empty() {
        return Err(refused());
    }
    // Only ASCII digits are left: the number can fail only by being too large.
    let n: u64 = number.parse().map_err(|_| too_long())?;
    n.checked_mul(ms)
        .map(std::time::Duration::from_millis)
        .ok_or_else(too_long)
}

/// Makes a session id of the form `AI_EMP_YYYYMMDD_XXXXXX` (six random
/// upper-case letters and digits).
pub fn new_session_id(now: DateTime<Utc>) -> String {
    use rand::RngExt;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let suffix: String = (0..6)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect();
    format!("AI_EMP_{}_{suffix}", now.format("%Y%m%d"))
}

/// The zone a time without an offset (`2026-03-30T21:05:04.804678`) is read
/// in when another logger's entries are imported: the machine's local zone,
/// or a fixed offset from UTC. The library never reads the environment: the
/// CLI resolves `AUDIT_IMPORT_TZ` to one of these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Zone {
    /// The machine's local zone, daylight saving time included.
    #[default]
    Local,
    /// A fixed offset from UTC (`UTC` is `+00:00`).
    Fixed(FixedOffset),
}

/// What a zone may be written as, for error messages.
pub const ZONE_ACCEPTED: &str = "local, UTC, or an offset such as +02:00 or -0530";

impl Zone {
    /// Reads `local`, `UTC` (or `Z`), or an offset `+HH:MM`, `+HHMM`, `+HH`.
    pub fn parse(text: &str) -> Option<Zone> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("local") || t.is_empty() {
            return Some(Zone::Local);
        }
        if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") {
            return FixedOffset::east_opt(0).map(Zone::Fixed);
        }
        let (sign, rest) = match t.as_bytes().first()? {
            b'+' => (1, &t[1..]),
            b'-' => (-1, &t[1..]),
            _ => return None,
        };
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) || ![2, 4].contains(&digits.len()) {
            return None;
        }
        let hours: i32 = digits[..2].parse().ok()?;
        let minutes: i32 = match &digits[2..] {
            "" => 0,
            m => m.parse().ok()?,
        };
        if minutes >= 60 {
            return None;
        }
        FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).map(Zone::Fixed)
    }

    /// UTC itself (`+00:00`).
    pub fn utc() -> Zone {
        Zone::Fixed(chrono::Offset::fix(&Utc))
    }

    /// The offset from UTC this zone has at `at` (the machine's local zone:
    /// the one in force then, daylight saving time included).
    pub fn offset_at(self, at: DateTime<Utc>) -> FixedOffset {
        use chrono::TimeZone;
        match self {
            Zone::Fixed(offset) => offset,
            Zone::Local => chrono::Local.offset_from_utc_datetime(&at.naive_utc()),
        }
    }

    /// The UTC time of a wall-clock time in this zone (in a daylight saving
    /// change, the earlier of two, or the time an hour on for one that
    /// does not exist).
    pub fn to_utc(self, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
        use chrono::TimeZone;
        match self {
            Zone::Fixed(offset) => offset
                .from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc)),
            Zone::Local => chrono::Local
                .from_local_datetime(&naive)
                .earliest()
                .or_else(|| {
                    chrono::Local
                        .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                        .earliest()
                })
                .map(|t| t.with_timezone(&Utc)),
        }
    }
}

/// Reads a time another logger wrote: RFC 3339 with an offset, a time with
/// no offset (`T` or a space between date and time) read in `zone`, or
/// Unix seconds or milliseconds. Truncated to milliseconds, in UTC.
pub fn parse_foreign_time(value: &serde_json::Value, zone: Zone) -> Option<DateTime<Utc>> {
    let t = match value {
        serde_json::Value::String(text) => {
            let text = text.trim();
            match parse_timestamp(text) {
                Ok(t) => t,
                Err(_) => [
                    "%Y-%m-%dT%H:%M:%S%.f",
                    "%Y-%m-%d %H:%M:%S%.f",
                    "%Y-%m-%dT%H:%M",
                ]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
                .and_then(|naive| zone.to_utc(naive))?,
            }
        }
        serde_json::Value::Number(n) => {
            let n = n.as_f64()?;
            // Milliseconds from the size: seconds reach 1e12 only in 33658.
            let millis = if n.abs() >= 1e12 { n } else { n * 1000.0 };
            DateTime::from_timestamp_millis(millis as i64)?
        }
        _ => return None,
    };
    DateTime::from_timestamp_millis(t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_normalised_to_utc_milliseconds() {
        let cases = [
            ("2026-11-22T10:00:00Z", "2026-11-22T10:00:00.000Z"),
            (
                "2026-11-22T10:00:00.123456+00:00",
                "2026-11-22T10:00:00.123Z",
            ),
            ("2026-11-22T01:30:00.5+02:00", "2026-11-21T23:30:00.500Z"),
            ("2026-11-22T10:00:00-0500", "2026-11-22T15:00:00.000Z"),
        ];
        for (input, stored) in cases {
            let t = parse_timestamp(input).expect(input);
            assert_eq!(format_timestamp(&t), stored, "{input}");
        }
    }

    #[test]
    fn timestamps_without_offset_are_rejected() {
        for bad in ["2026-11-22T10:00:00", "2026-11-22", "yesterday", ""] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_have_a_unit() {
        assert_eq!(
            parse_duration("500ms"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert_eq!(parse_duration("2s"), Ok(std::time::Duration::from_secs(2)));
        assert_eq!(
            parse_duration("15m"),
            Ok(std::time::Duration::from_secs(900))
        );
        for bad in ["", "5", "m", "1.5s", "2 weeks", "-1s"] {
            assert_eq!(
                parse_duration(bad),
                Err(TimeError::Duration { text: bad.into() }),
                "{bad}"
            );
        }
        for long in ["213503982335d", "99999999999999999999ms"] {
            assert_eq!(
                parse_duration(long),
                Err(TimeError::DurationTooLong { text: long.into() }),
                "{long}"
            );
        }
        assert!(parse_duration("213503982334d").is_ok());
    }

    #[test]
    fn refusals_quote_the_text_and_say_what_is_accepted() {
        let e = parse_timestamp("yesterday").expect_err("refused");
        assert_eq!(
            e.to_string(),
            format!("timestamp \"yesterday\" is not {ACCEPTED}")
        );
        let e = parse_duration("2 weeks").expect_err("refused");
        assert_eq!(
            e.to_string(),
            "duration \"2 weeks\" is not a number followed by ms, s, m, h or d (e.g. 500ms, 2s, 30m)"
        );
    }

    #[test]
    fn day_names_match_exactly() {
        assert!(parse_day("2026-11-22").is_some());
        for bad in [
            "2026-1-22",
            "2026-11-22x",
            "2026-13-01",
            "２０２６-11-22",
            "index",
        ] {
            assert!(parse_day(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_fixed_zone_has_its_offset_at_any_time() {
        let at = parse_timestamp("2026-11-22T10:00:00Z").expect("ts");
        assert_eq!(Zone::utc().offset_at(at).local_minus_utc(), 0);
        assert_eq!(Zone::parse("utc"), Some(Zone::utc()));
        // `+HH` alone was refused although documented (regression).
        assert_eq!(Zone::parse("-08"), Zone::parse("-08:00"));
        assert!(Zone::parse("-08").is_some());
        let kolkata = Zone::parse("+05:30").expect("zone");
        assert_eq!(kolkata.offset_at(at).local_minus_utc(), 5 * 3600 + 1800);
    }

    #[test]
    fn session_ids_have_the_documented_shape() {
        let now = parse_timestamp("2026-11-22T10:00:00Z").expect("ts");
        let id = new_session_id(now);
        assert!(id.starts_with("AI_EMP_20261122_"), "{id}");
        assert_eq!(id.len(), "AI_EMP_20261122_XXXXXX".len());
        assert!(id[16..]
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    }
}
