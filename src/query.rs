//! Reading the log back: filters over the day files, streamed day by day,
//! in time order.
//!
//! Only the day files the time range can touch are opened. Lines in our
//! layout are first checked as raw text against the filters (exact, since we
//! write every entry the same way), so most lines that do not match are never
//! parsed; the rest are parsed into [`Lite`], which borrows from the line.

mod filter;
pub mod output;

use std::borrow::Cow;
use std::io;
use std::ops::ControlFlow;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::archive;
use crate::daily;
use crate::time::{format_timestamp, parse_timestamp};
use crate::vault::Vault;
pub use filter::{Field, FieldError, FilterError, FilterSpec};

/// An entry as read back: every field borrowed from its line where it can
/// be, and optional, so entries of foreign or older layouts read too.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Lite<'a> {
    /// When.
    #[serde(borrow)]
    pub timestamp: Option<Cow<'a, str>>,
    /// Severity.
    #[serde(borrow)]
    pub log_level: Option<Cow<'a, str>>,
    /// Kind of action.
    #[serde(borrow)]
    pub action_type: Option<Cow<'a, str>>,
    /// Who.
    #[serde(borrow)]
    pub actor: Option<Cow<'a, str>>,
    /// On what.
    #[serde(borrow)]
    pub target: Option<Cow<'a, str>>,
    /// Details, unparsed.
    #[serde(borrow)]
    pub parameters: Option<&'a RawValue>,
    /// Approval workflow state.
    #[serde(borrow)]
    pub approval_status: Option<Cow<'a, str>>,
    /// Who approved.
    #[serde(borrow)]
    pub approved_by: Option<Cow<'a, str>>,
    /// Whether the action ran dry.
    pub dry_run: Option<bool>,
    /// How it ended.
    #[serde(borrow)]
    pub result: Option<Cow<'a, str>>,
    /// What went wrong.
    #[serde(borrow)]
    pub error_message: Option<Cow<'a, str>>,
    /// Session.
    #[serde(borrow)]
    pub session_id: Option<Cow<'a, str>>,
}

impl Lite<'_> {
    /// `parameters.duration_ms`, when it is a number.
    pub fn duration_ms(&self) -> Option<f64> {
        #[derive(Deserialize)]
        struct Duration {
            duration_ms: Option<f64>,
        }
        let raw = self.parameters?.get();
        if !raw.contains("\"duration_ms\"") {
            return None;
        }
        serde_json::from_str::<Duration>(raw).ok()?.duration_ms
    }

    fn text<'b>(field: &'b Option<Cow<'_, str>>) -> &'b str {
        field.as_deref().unwrap_or("")
    }
}

/// What to look for. Empty filters match everything. [`Filter::new`] makes
/// one from text, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Entries at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// Any of these levels (upper case).
    pub levels: Vec<String>,
    /// This action type.
    pub action: Option<String>,
    /// This actor, exactly.
    pub actor: Option<String>,
    /// Targets containing this text.
    pub target: Option<String>,
    /// This result.
    pub result: Option<String>,
    /// This session.
    pub session: Option<String>,
    /// This approval status.
    pub approval_status: Option<String>,
    /// This text anywhere in the entry.
    pub contains: Option<String>,
}

/// `text` as it appears inside a JSON string in a stored line.
fn escaped(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Raw-text checks for lines of our layout, worked out once per query.
struct Prefilter {
    /// Each group: at least one of its needles must occur.
    groups: Vec<Vec<memchr::memmem::Finder<'static>>>,
    since: Option<String>,
    until: Option<String>,
}

impl Prefilter {
    fn new(f: &Filter) -> Prefilter {
        let exact =
            |key: &str, value: &str| format!("\"{key}\":\"{}\"", escaped(value)).into_bytes();
        let mut groups = Vec::new();
        if !f.levels.is_empty() {
            groups.push(f.levels.iter().map(|l| exact("log_level", l)).collect());
        }
        for (key, value) in [
            ("action_type", &f.action),
            ("actor", &f.actor),
            ("result", &f.result),
            ("session_id", &f.session),
            ("approval_status", &f.approval_status),
        ] {
            if let Some(v) = value {
                groups.push(vec![exact(key, v)]);
            }
        }
        for text in [&f.target, &f.contains].into_iter().flatten() {
            groups.push(vec![escaped(text).into_bytes()]);
        }
        Prefilter {
            groups: groups
                .into_iter()
                .map(|g: Vec<Vec<u8>>| {
                    g.iter()
                        .map(|n| memchr::memmem::Finder::new(n).into_owned())
                        .collect()
                })
                .collect(),
            since: f.since.map(|t| format_timestamp(&t)),
            until: f.until.map(|t| format_timestamp(&t)),
        }
    }

    /// False when the line surely does not match.
    fn may_match(&self, line: &[u8]) -> bool {
        // Our lines start with the timestamp, in a form whose text order is time order.
        const LEAD: &[u8] = b"{\"timestamp\":\"";
        if let Some(ts) = line.strip_prefix(LEAD).and_then(|rest| rest.get(..24)) {
            if self.since.as_deref().is_some_and(|s| ts < s.as_bytes())
                || self.until.as_deref().is_some_and(|u| ts > u.as_bytes())
            {
                return false;
            }
        }
        self.groups
            .iter()
            .all(|group| group.iter().any(|needle| needle.find(line).is_some()))
    }
}

impl Filter {
    /// The days a query with this filter can touch.
    pub fn days(&self, all: Vec<NaiveDate>) -> Vec<NaiveDate> {
        all.into_iter()
            .filter(|d| self.since.is_none_or(|s| *d >= s.date_naive()))
            .filter(|d| self.until.is_none_or(|u| *d <= u.date_naive()))
            .collect()
    }

    /// Whether a parsed entry matches (the exact check).
    pub fn matches(&self, e: &Lite<'_>, raw: &str) -> bool {
        let time = e.timestamp.as_deref().and_then(|t| parse_timestamp(t).ok());
        if self.since.is_some_and(|s| time.is_none_or(|t| t < s))
            || self.until.is_some_and(|u| time.is_none_or(|t| t > u))
        {
            return false;
        }
        let level = Lite::text(&e.log_level);
        if !self.levels.is_empty() && !self.levels.iter().any(|l| l.eq_ignore_ascii_case(level)) {
            return false;
        }
        let same = |want: &Option<String>, got: &Option<Cow<'_, str>>| {
            want.as_deref().is_none_or(|w| w == Lite::text(got))
        };
        same(&self.action, &e.action_type)
            && same(&self.actor, &e.actor)
            && same(&self.result, &e.result)
            && same(&self.session, &e.session_id)
            && same(&self.approval_status, &e.approval_status)
            && self
                .target
                .as_deref()
                .is_none_or(|t| Lite::text(&e.target).contains(t))
            && self
                .contains
                .as_deref()
                .is_none_or(|c| raw.contains(c) || raw.contains(&escaped(c)))
    }
}

/// Calls `each` with every matching entry's stored line (and its parsed
/// form), day by day; `each` may stop the scan. With `ordered`, each day's
/// matches come in time order (at most one day's matches are held); without,
/// in the order stored, straight from the file (for counts and figures).
pub fn scan(
    vault: &Vault,
    filter: &Filter,
    ordered: bool,
    each: impl FnMut(&str, &Lite<'_>) -> ControlFlow<()>,
) -> io::Result<()> {
    let days = filter.days(vault.day_files()?);
    scan_days(vault, filter, &days, ordered, each)
}

/// Counts (and, with `stats`, figures) over the matching entries, the days
/// shared out over the machine's cores.
pub fn aggregate(vault: &Vault, filter: &Filter, stats: bool) -> io::Result<(u64, Stats)> {
    let days = filter.days(vault.day_files()?);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let per = days.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = days
            .chunks(per)
            .map(|chunk| {
                scope.spawn(move || {
                    let mut count = 0u64;
                    let mut figures = Stats::default();
                    scan_days(vault, filter, chunk, false, |_, e| {
                        count += 1;
                        if stats {
                            figures.add(e);
                        }
                        ControlFlow::Continue(())
                    })
                    .map(|()| (count, figures))
                })
            })
            .collect();
        let mut total = (0u64, Stats::default());
        for handle in handles {
            let (count, figures) = handle
                .join()
                .map_err(|_| io::Error::other("a query worker failed"))??;
            total.0 += count;
            total.1.merge(figures);
        }
        Ok(total)
    })
}

/// [`scan`] over the given days (the Python package's query reads one day
/// at a time with it).
pub fn scan_days(
    vault: &Vault,
    filter: &Filter,
    days: &[NaiveDate],
    ordered: bool,
    mut each: impl FnMut(&str, &Lite<'_>) -> ControlFlow<()>,
) -> io::Result<()> {
    let pre = Prefilter::new(filter);
    let mut day = DayScan::new(filter, ordered, &mut each);
    for &date in days {
        let path = vault.day_file(date);
        let mut file = match crate::fsutil::open_read(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if let Some(head) = daily::read_head(&mut file, date)? {
            let end = daily::scan_entries(&mut file, &head, |line| match line {
                daily::Scanned::Entry {
                    json: Some(json), ..
                } if json.first() == Some(&b'{') && pre.may_match(json) => {
                    match std::str::from_utf8(json) {
                        Ok(json) => day.visit(json),
                        Err(_) => ControlFlow::Continue(()),
                    }
                }
                _ => ControlFlow::Continue(()),
            })?;
            if end == daily::ScanEnd::Stopped {
                return Ok(());
            }
        } else {
            for entry in daily::read_entries(&path)?.entries {
                if day.visit(&entry.to_string()).is_break() {
                    return Ok(());
                }
            }
        }
        if day.flush().is_break() {
            return Ok(());
        }
    }
    Ok(())
}

/// [`scan`] over the cold archive (`Logs/archive/`, oldest month first):
/// the archived days the filter can touch. Returns what could not be read
/// (a member cut short, one that does not parse), for the caller to say.
pub fn scan_archive(
    vault: &Vault,
    filter: &Filter,
    ordered: bool,
    mut each: impl FnMut(&str, &Lite<'_>) -> ControlFlow<()>,
) -> io::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut scan = DayScan::new(filter, ordered, &mut each);
    for (month, path) in vault.archive_months()? {
        let next = month.checked_add_months(chrono::Months::new(1));
        let before_since = filter
            .since
            .is_some_and(|s| next.is_some_and(|n| n <= s.date_naive()));
        if before_since || filter.until.is_some_and(|u| month > u.date_naive()) {
            continue;
        }
        let mut read = archive::read(&path)?;
        let name = vault.relative(&path).into_owned();
        for (from, to) in &read.torn {
            problems.push(format!("{name}: bytes {from} to {to} are no whole archive member (cut short, or damaged); not read"));
        }
        for (at, why) in &read.unreadable {
            problems.push(format!(
                "{name}: the member at offset {at} is not read: {why}"
            ));
        }
        read.days.sort_by_key(|d| d.day);
        for day in read.days {
            if filter.days(vec![day.day]).is_empty() {
                continue;
            }
            for line in &day.lines {
                if scan.visit(line).is_break() {
                    return Ok(problems);
                }
            }
            if scan.flush().is_break() {
                return Ok(problems);
            }
        }
    }
    Ok(problems)
}

/// One day's matching lines: passed on at once, or (ordered) held and
/// sorted by time when the day ends.
struct DayScan<'f, F> {
    filter: &'f Filter,
    ordered: bool,
    each: F,
    held: Vec<(Option<DateTime<Utc>>, String)>,
}

impl<'f, F: FnMut(&str, &Lite<'_>) -> ControlFlow<()>> DayScan<'f, F> {
    fn new(filter: &'f Filter, ordered: bool, each: F) -> Self {
        DayScan {
            filter,
            ordered,
            each,
            held: Vec::new(),
        }
    }

    /// Checks one line; passes it on at once, or keeps it for sorting.
    fn visit(&mut self, line: &str) -> ControlFlow<()> {
        let Ok(e) = serde_json::from_str::<Lite>(line) else {
            return ControlFlow::Continue(());
        };
        if !self.filter.matches(&e, line) {
            return ControlFlow::Continue(());
        }
        if !self.ordered {
            return (self.each)(line, &e);
        }
        let t = e.timestamp.as_deref().and_then(|t| parse_timestamp(t).ok());
        self.held.push((t, line.to_owned()));
        ControlFlow::Continue(())
    }

    /// The day is over: its held lines in time order. Entries are stored in
    /// the order written; a back-dated one may sit after later ones (the
    /// sort is stable: ties keep write order).
    fn flush(&mut self) -> ControlFlow<()> {
        let mut held = std::mem::take(&mut self.held);
        if held.windows(2).any(|w| w[0].0 > w[1].0) {
            held.sort_by_key(|m| m.0);
        }
        for (_, line) in &held {
            let Ok(e) = serde_json::from_str::<Lite>(line) else {
                continue;
            };
            (self.each)(line, &e)?;
        }
        ControlFlow::Continue(())
    }
}

/// Counts and duration figures over the matching entries (`--stats`).
#[derive(Debug, Default)]
pub struct Stats {
    total: u64,
    by_level: std::collections::BTreeMap<String, u64>,
    by_action: std::collections::BTreeMap<String, u64>,
    by_actor: std::collections::BTreeMap<String, u64>,
    by_result: std::collections::BTreeMap<String, u64>,
    durations: std::collections::BTreeMap<String, Vec<f64>>,
}

impl Stats {
    /// Counts one entry.
    pub fn add(&mut self, e: &Lite<'_>) {
        self.total += 1;
        for (map, field) in [
            (&mut self.by_level, &e.log_level),
            (&mut self.by_action, &e.action_type),
            (&mut self.by_actor, &e.actor),
            (&mut self.by_result, &e.result),
        ] {
            *map.entry(Lite::text(field).to_owned()).or_default() += 1;
        }
        if let Some(ms) = e.duration_ms() {
            self.durations
                .entry(Lite::text(&e.actor).to_owned())
                .or_default()
                .push(ms);
        }
    }

    /// Adds another count's figures to these.
    pub fn merge(&mut self, other: Stats) {
        self.total += other.total;
        for (mine, theirs) in [
            (&mut self.by_level, other.by_level),
            (&mut self.by_action, other.by_action),
            (&mut self.by_actor, other.by_actor),
            (&mut self.by_result, other.by_result),
        ] {
            for (k, n) in theirs {
                *mine.entry(k).or_default() += n;
            }
        }
        for (actor, values) in other.durations {
            self.durations.entry(actor).or_default().extend(values);
        }
    }

    /// As JSON: counts by level, action, actor and result, and per actor the
    /// count, mean, p50, p95 and max of `parameters.duration_ms`.
    pub fn to_json(&mut self) -> Value {
        let mut durations = serde_json::Map::new();
        for (actor, values) in &mut self.durations {
            values.sort_by(f64::total_cmp);
            let n = values.len();
            let pick = |q: f64| values[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
            durations.insert(
                actor.clone(),
                serde_json::json!({
                    "count": n,
                    "mean": values.iter().sum::<f64>() / n as f64,
                    "p50": pick(0.50),
                    "p95": pick(0.95),
                    "max": values[n - 1],
                }),
            );
        }
        serde_json::json!({
            "total": self.total,
            "by_level": self.by_level,
            "by_action": self.by_action,
            "by_actor": self.by_actor,
            "by_result": self.by_result,
            "duration_ms_by_actor": durations,
        })
    }
}

/// The last `n` entries over all days, oldest first: read from the tails of
/// the newest day files only.
pub fn last(vault: &Vault, n: usize) -> io::Result<Vec<String>> {
    let mut found: Vec<String> = Vec::new();
    for date in vault.day_files()?.into_iter().rev() {
        if found.len() >= n {
            break;
        }
        let older = daily::tail_entries(&vault.day_file(date), date, n - found.len())?;
        let mut lines: Vec<String> = older.iter().map(Value::to_string).collect();
        lines.append(&mut found);
        found = lines;
    }
    Ok(found)
}

/// Where a follower stands: a day, and its cursor in that day's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The day.
    pub date: NaiveDate,
    /// The cursor in its file.
    pub at: daily::DayCursor,
}

/// The position at the end of `date`'s file now.
pub fn end_of(vault: &Vault, date: NaiveDate) -> io::Result<Position> {
    Ok(Position {
        date,
        at: daily::end_of(&vault.day_file(date), date)?,
    })
}

/// Entries appended to the position's day since it was taken, and the new
/// position. Reads only the new bytes.
pub fn since(vault: &Vault, at: Position) -> io::Result<(Vec<String>, Position)> {
    let path = vault.day_file(at.date);
    Ok(
        match daily::read_after(&path, at.date, &at.at, daily::Limit::ALL)? {
            daily::After::Lines(read) => (
                read.lines,
                Position {
                    date: at.date,
                    at: read.next,
                },
            ),
            // Repaired shorter or rewritten: go on from its end.
            daily::After::Moved { .. } => (Vec::new(), end_of(vault, at.date)?),
            daily::After::Unchanged | daily::After::Missing | daily::After::NotOurs => {
                (Vec::new(), at)
            }
        },
    )
}

/// One step of following: the entries written since `at`, and where to go
/// on from. After UTC midnight (`today` past the position's day), once the
/// old day has nothing more, it moves to the start of the new day's file.
pub fn follow(
    vault: &Vault,
    at: Position,
    today: NaiveDate,
) -> io::Result<(Vec<String>, Position)> {
    let (lines, next) = since(vault, at)?;
    if lines.is_empty() && today > next.date {
        let day = next.date.succ_opt().unwrap_or(today).min(today);
        let (more, moved) = since(
            vault,
            Position {
                date: day,
                at: daily::DayCursor::default(),
            },
        )?;
        return Ok((more, moved));
    }
    Ok((lines, next))
}
