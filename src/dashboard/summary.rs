//! The optional `## Audit Summary` section: today and the last 7 days
//! (entries, ERROR, CRITICAL), the approvals waiting, and the last alert.
//! Kept only when the note already has the heading.
//!
//! What it costs does not grow with the log: the counts come from the
//! trailers of at most eight day files; in a zone other than UTC a zone's
//! day starts part-way through a UTC day file, so the file each period
//! starts in (at most two) is read line by line
//! ([`daily::count_levels`]). The waiting approvals are one listing of the
//! Pending_Approval folder; the last alert is read from the alert state.

use std::io;
use std::path::{Component, Path};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use super::{Settings, Shown};
use crate::daily::{self, Counts};
use crate::entry::LogLevel;
use crate::markdown::cell;
use crate::vault::Vault;

/// The section's heading.
pub const SUMMARY_HEADING: &str = "## Audit Summary";

/// The days the longer row covers, today included.
const WEEK_DAYS: i64 = 7;

/// The newest alert note: its vault-relative path, and the time of the
/// entry that raised it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastAlert {
    /// `Needs_Action/ALERT_....md`.
    pub note: String,
    /// When the entry behind it happened.
    pub at: DateTime<Utc>,
}

/// Why the waiting approvals were not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotCounted {
    /// The folder (or a folder above it) is a symbolic link: never followed.
    Link,
    /// It could not be listed.
    Unreadable,
}

/// What the section shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    today: Counts,
    week: Counts,
    pending: Result<u64, NotCounted>,
    last_alert: Option<LastAlert>,
    /// Day files in the period that could not be counted, vault-relative.
    uncounted: Vec<String>,
}

/// The UTC time a day starts at in the shown offset.
fn day_start(shown: &Shown, day: NaiveDate) -> DateTime<Utc> {
    let local = day.and_time(NaiveTime::MIN);
    (local - Duration::seconds(i64::from(shown.offset().local_minus_utc()))).and_utc()
}

/// Gathers the facts: `dates` are the day files there are (any order).
pub fn gather(
    vault: &Vault,
    dates: &[NaiveDate],
    shown: &Shown,
    settings: &Settings,
    last_alert: &dyn Fn() -> Option<LastAlert>,
) -> Facts {
    let today = shown.today();
    let today_start = day_start(shown, today);
    let week_start = day_start(shown, today - Duration::days(WEEK_DAYS - 1));
    let last_file =
        (day_start(shown, today + Duration::days(1)) - Duration::milliseconds(1)).date_naive();
    let mut facts = Facts {
        today: Counts::default(),
        week: Counts::default(),
        pending: pending_notes(vault.root(), &settings.pending_folder),
        last_alert: last_alert(),
        uncounted: Vec::new(),
    };
    let mut dates: Vec<NaiveDate> = dates
        .iter()
        .copied()
        .filter(|d| (week_start.date_naive()..=last_file).contains(d))
        .collect();
    dates.sort_unstable();
    dates.dedup();
    for date in dates {
        match count_day(vault, date, week_start, today_start) {
            Ok(Some((week, today))) => {
                facts.week += week;
                facts.today += today;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            _ => facts.uncounted.push(vault.day_file_relative(date)),
        }
    }
    facts
}

/// One day file's counts toward the last 7 days and toward today (`None`:
/// not in our layout). Only a file a period starts part-way through is
/// read line by line, from where the period starts.
fn count_day(
    vault: &Vault,
    date: NaiveDate,
    week_start: DateTime<Utc>,
    today_start: DateTime<Utc>,
) -> io::Result<Option<(Counts, Counts)>> {
    let path = vault.day_file(date);
    let part = |start: DateTime<Utc>| {
        (date == start.date_naive() && start.time() != NaiveTime::MIN).then_some(start)
    };
    // The week starts six days or more before today: a day before today's
    // starts is in the week alone.
    if date < today_start.date_naive() {
        let week = daily::count_levels(&path, date, part(week_start))?;
        return Ok(week.map(|w| (w, Counts::default())));
    }
    let Some(whole) = daily::count_levels(&path, date, None)? else {
        return Ok(None);
    };
    let today = match part(today_start) {
        Some(since) => daily::count_levels(&path, date, Some(since))?.unwrap_or_default(),
        None => whole,
    };
    Ok(Some((whole, today)))
}

/// The `.md` notes directly in `folder` (hidden ones left out), never
/// through a symbolic link: not at the folder, not at a folder above it,
/// not at a note (a link named `x.md` is not counted).
fn pending_notes(root: &Path, folder: &str) -> Result<u64, NotCounted> {
    let mut path = root.to_path_buf();
    for part in Path::new(folder).components() {
        let Component::Normal(part) = part else {
            return Err(NotCounted::Unreadable);
        };
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => return Err(NotCounted::Link),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(_) => return Err(NotCounted::Unreadable),
        }
    }
    if !path.is_dir() {
        return Ok(0);
    }
    let list = std::fs::read_dir(&path).map_err(|_| NotCounted::Unreadable)?;
    let mut n = 0;
    for item in list {
        let item = item.map_err(|_| NotCounted::Unreadable)?;
        let name = item.file_name();
        let name = name.to_string_lossy();
        let note = name.ends_with(".md") && !name.starts_with('.');
        if note && item.file_type().is_ok_and(|t| t.is_file()) {
            n += 1;
        }
    }
    Ok(n)
}

/// `[[ALERT_...]]` for a note name of ours (letters, digits, `_`, `-`):
/// linked by name, so the link still resolves once the note is moved to
/// `Done/`. Anything else is shown as escaped text, never as a link.
fn alert_link(note: &str) -> String {
    let name = note.rsplit('/').next().unwrap_or(note);
    match name.strip_suffix(".md") {
        Some(stem)
            if !stem.is_empty()
                && stem
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            format!("[[{stem}]]")
        }
        _ => cell(note),
    }
}

/// The section's lines (no line endings).
pub fn summary_lines(facts: &Facts, shown: &Shown, settings: &Settings) -> Vec<String> {
    let pending = match facts.pending {
        Ok(n) => n.to_string(),
        Err(_) => "n/a".to_owned(),
    };
    let row = |name: &str, c: &Counts| {
        format!(
            "| {name} | {} | {} | {} | {pending} |",
            c.entries,
            c.levels.get(LogLevel::Error),
            c.levels.get(LogLevel::Critical),
        )
    };
    let mut lines = vec![
        format!(
            "| Days ({}) | Entries | ERROR | CRITICAL | Pending approvals |",
            shown.label()
        ),
        "|------|---------|-------|----------|-------------------|".to_owned(),
        row("Today", &facts.today),
        row("Last 7 days", &facts.week),
        String::new(),
    ];
    lines.push(match &facts.last_alert {
        Some(last) => format!(
            "Last alert: {} ({} {})",
            alert_link(&last.note),
            shown.stamp(last.at),
            shown.label()
        ),
        None => "Last alert: none".to_owned(),
    });
    let folder = cell(&settings.pending_folder);
    let why = match facts.pending {
        Ok(_) => None,
        Err(NotCounted::Link) => Some("is a symbolic link, never followed"),
        Err(NotCounted::Unreadable) => Some("could not be read"),
    };
    if let Some(why) = why {
        lines.push(String::new());
        lines.push(format!("Pending approvals not counted: {folder} {why}."));
    }
    if !facts.uncounted.is_empty() {
        let files: Vec<String> = (facts.uncounted.iter()).map(|f| format!("`{f}`")).collect();
        lines.push(String::new());
        lines.push(format!(
            "Not counted: {} (damaged, or in another program's layout: `vault-audit repair` mends a damaged day, `vault-audit import` converts another layout).",
            files.join(", ")
        ));
    }
    lines
}
