//! The `## Recent Activity` table of `Dashboard.md`: the ten newest entries,
//! written into that section only, every other byte of the note untouched.
//! Times are shown in one zone ([`Settings::zone`], UTC unless the CLI's
//! `AUDIT_DASHBOARD_TZ` says otherwise), which the Time column's header names.
//! When the note has a `## Audit Summary` heading, that section is kept
//! current in the same write (see [`gather`]); it is never added.

mod section;
mod summary;

use std::fs;
use std::io;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde_json::Value;

pub use section::{has_section, replace_existing_section, replace_section};
pub use summary::{gather, summary_lines, Facts, LastAlert, SUMMARY_HEADING};

use crate::daily;
use crate::fsutil::replace_if_unchanged;
use crate::markdown::{cell, wiki_link};
use crate::time::{parse_timestamp, Zone};
use crate::vault::Vault;

/// The section's heading.
pub const HEADING: &str = "## Recent Activity";
/// How many entries the table shows.
pub const ROWS: usize = 10;
/// How often a refresh re-reads and redoes when the note changes under it.
const ATTEMPTS: usize = 5;

const RULE: &str = "|------|-------|--------|-------|--------|--------|";

/// How the Dashboard is drawn (the library never reads the environment:
/// the CLI resolves `AUDIT_DASHBOARD_TZ` and
/// `AUDIT_FOLDER_PENDING_APPROVAL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The zone times are shown in, and whose days "today" and "the last 7
    /// days" are (default UTC).
    pub zone: Zone,
    /// The folder, relative to the vault, whose notes wait for a person's
    /// approval: the Audit Summary counts them (default `Pending_Approval`).
    pub pending_folder: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            zone: Zone::utc(),
            pending_folder: "Pending_Approval".to_owned(),
        }
    }
}

/// How times are shown at one refresh: in one offset from UTC (the zone's
/// offset at the refresh, so the header is true of every row), with
/// "today" the date there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    offset: FixedOffset,
    today: NaiveDate,
}

impl Shown {
    /// Times in `zone` as it is at `now`.
    pub fn new(zone: Zone, now: DateTime<Utc>) -> Shown {
        let offset = zone.offset_at(now);
        Shown {
            offset,
            today: now.with_timezone(&offset).date_naive(),
        }
    }

    /// The offset times are shown in.
    pub fn offset(&self) -> FixedOffset {
        self.offset
    }

    /// Today's date in that offset.
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    /// The zone as the header names it: `UTC`, or `UTC+05:30`, `UTC-08:00`.
    pub fn label(&self) -> String {
        match self.offset.local_minus_utc() {
            0 => "UTC".to_owned(),
            _ => format!("UTC{}", self.offset),
        }
    }

    /// `HH:MM:SS` for a time today, else `YYYY-MM-DD HH:MM:SS`.
    pub fn time(&self, t: DateTime<Utc>) -> String {
        let local = t.with_timezone(&self.offset);
        match local.date_naive() == self.today {
            true => local.format("%H:%M:%S").to_string(),
            false => local.format("%Y-%m-%d %H:%M:%S").to_string(),
        }
    }

    /// `YYYY-MM-DD HH:MM:SS` whatever the day.
    pub fn stamp(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.offset)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// The table's header, naming the zone: `| Time (UTC) | Level | ...`.
    pub fn header(&self) -> String {
        format!(
            "| Time ({}) | Level | Action | Actor | Target | Result |",
            self.label()
        )
    }
}

/// The newest `n` entries over the given days (any order): read from the
/// tails of the newest day files only, returned newest first.
pub fn newest_entries(vault: &Vault, dates: &[NaiveDate], n: usize) -> io::Result<Vec<Value>> {
    let mut dates = dates.to_vec();
    dates.sort_unstable_by(|a, b| b.cmp(a));
    dates.dedup();
    let mut found: Vec<Value> = Vec::new();
    for date in dates {
        if found.len() >= n {
            break;
        }
        match daily::tail_entries(&vault.day_file(date), date, n - found.len()) {
            Ok(mut older) => {
                older.extend(found);
                found = older;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    // Newest first by time (ties: the later written first); entries whose
    // time does not parse go last.
    found.reverse();
    found.sort_by_cached_key(|e| {
        std::cmp::Reverse(
            e.get("timestamp")
                .and_then(Value::as_str)
                .and_then(|t| parse_timestamp(t).ok()),
        )
    });
    Ok(found)
}

fn text<'a>(entry: &'a Value, key: &str) -> &'a str {
    entry.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The table's lines (no line endings): header, rule, one row per entry.
pub fn table_lines(entries: &[Value], vault: &Vault, shown: &Shown) -> Vec<String> {
    let mut lines = vec![shown.header(), RULE.to_owned()];
    for e in entries {
        let raw_time = text(e, "timestamp");
        let time = match parse_timestamp(raw_time) {
            Ok(t) => shown.time(t),
            Err(_) => cell(raw_time),
        };
        let target = text(e, "target");
        let target = wiki_link(target, vault.root()).unwrap_or_else(|| cell(target));
        lines.push(format!(
            "| {time} | {} | {} | {} | {target} | {} |",
            cell(text(e, "log_level")),
            cell(text(e, "action_type")),
            cell(text(e, "actor")),
            cell(text(e, "result")),
        ));
    }
    lines
}

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// There is no `Dashboard.md`: nothing was done.
    NoDashboard,
    /// The table was already current: the file was not rewritten.
    Unchanged,
    /// The section was rewritten.
    Written,
    /// Dry run: this is what would be written.
    WouldWrite,
}

/// Refreshes the table from the given days' newest entries, as `settings`
/// say and the time is `now`, and the Audit Summary section when the note
/// has its heading (`last_alert` is asked only then), in one read and one
/// write of the note. With `write` false nothing is written. A change made
/// to the note between our read and our write makes us read again and
/// redo, never overwrite it.
pub fn refresh(
    vault: &Vault,
    dates: &[NaiveDate],
    now: DateTime<Utc>,
    settings: &Settings,
    last_alert: &dyn Fn() -> Option<LastAlert>,
    write: bool,
) -> io::Result<(Refresh, Vec<String>)> {
    let path = vault.dashboard();
    let linked = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
    if !linked && !path.is_file() {
        return Ok((Refresh::NoDashboard, Vec::new()));
    }
    let shown = Shown::new(settings.zone, now);
    let entries = newest_entries(vault, dates, ROWS)?;
    let table = table_lines(&entries, vault, &shown);
    if linked {
        // Never read through a link (it could point at a secret): the link
        // is replaced by a note holding just the table.
        if write {
            crate::fsutil::write_replace(&path, &replace_section(b"", HEADING, &table), true)?;
        }
        return Ok((Refresh::Written, table));
    }
    let mut summary: Option<Vec<String>> = None;
    for _ in 0..ATTEMPTS {
        let before = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok((Refresh::NoDashboard, table))
            }
            Err(e) => return Err(e),
        };
        let mut after = replace_section(&before, HEADING, &table);
        if has_section(&after, SUMMARY_HEADING) {
            // Gathered once, however many tries the note takes.
            let lines = summary.get_or_insert_with(|| {
                let facts = gather(vault, dates, &shown, settings, last_alert);
                summary_lines(&facts, &shown, settings)
            });
            after = replace_existing_section(&after, SUMMARY_HEADING, lines).unwrap_or(after);
        }
        if after == before {
            return Ok((Refresh::Unchanged, table));
        }
        if !write {
            return Ok((Refresh::WouldWrite, table));
        }
        if replace_if_unchanged(&path, &before, &after)? {
            return Ok((Refresh::Written, table));
        }
    }
    Err(io::Error::other(format!(
        "{} kept changing while the table was written ({ATTEMPTS} tries); it was left as the user has it",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "| Time (UTC) | Level | Action | Actor | Target | Result |";

    fn ts(text: &str) -> DateTime<Utc> {
        parse_timestamp(text).expect("ts")
    }

    #[test]
    fn times_are_shown_in_the_zone_and_today_is_its_date() {
        let now = ts("2026-11-22T20:00:05Z");
        let utc = Shown::new(Zone::utc(), now);
        assert_eq!(utc.header(), HEADER);
        assert_eq!(utc.time(ts("2026-11-22T20:00:00Z")), "20:00:00");
        // In Kolkata it is already the 23rd: the 22nd's evening (UTC) is
        // today there, its afternoon yesterday.
        let kolkata = Shown::new(Zone::parse("+05:30").expect("zone"), now);
        assert_eq!(kolkata.label(), "UTC+05:30");
        assert_eq!(
            kolkata.today(),
            NaiveDate::from_ymd_opt(2026, 11, 23).expect("d")
        );
        assert_eq!(kolkata.time(ts("2026-11-22T20:00:00Z")), "01:30:00");
        assert_eq!(
            kolkata.time(ts("2026-11-22T18:00:00Z")),
            "2026-11-22 23:30:00"
        );
        let west = Shown::new(Zone::parse("-08:00").expect("zone"), now);
        assert_eq!(west.label(), "UTC-08:00");
        assert_eq!(west.time(ts("2026-11-22T07:59:59Z")), "2026-11-21 23:59:59");
        assert_eq!(west.time(ts("2026-11-22T08:00:00Z")), "00:00:00");
        assert!(west.header().starts_with("| Time (UTC-08:00) | Level |"));
    }
}
