//! Alert notes in `Needs_Action/`, so the human sees them in Obsidian: one
//! per CRITICAL entry, one per burst of ERROR entries, and the agent-audit
//! specification's three rules (sensitive data accessed, a failure spike of
//! one actor, unusual activity).
//!
//! Raised by the logger's upkeep over the entries
//! written since it last ran, whichever process wrote them, by the one
//! process running it at a time.
//! What the rules have seen so far lives in `Logs/.audit/alerts.json`, so a
//! burst raises one note however many processes wrote its entries.
//! Planning ([`plan`]) is pure; [`raise`] reads the state, writes the notes,
//! then saves the state.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::dashboard::LastAlert;
use crate::entry::{Entry, LogLevel, Outcome};
use crate::fsutil::{at, overwrite_in_place, read_no_follow, write_atomic, IoFailure};
use crate::markdown::cell;
use crate::redact::REDACTED;
use crate::time::format_timestamp;
use crate::vault::Vault;

/// Entries stamped this long before the write raise no alert: an import or
/// a late replay of old history is not news.
pub const STALE: Duration = Duration::hours(24);

/// The alert rules' settings (the CLI resolves `AUDIT_ALERT_*` and
/// `AUDIT_FOLDER_NEEDS_ACTION`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// This many ERROR entries ...
    pub errors: usize,
    /// ... within this window make a burst.
    pub window: Duration,
    /// The folder alert notes are written to, relative to the vault.
    pub folder: String,
    /// Sensitive data accessed (an entry that carries `[REDACTED]`, or
    /// `parameters.sensitive == true`): one note per actor per this window;
    /// `None` turns the rule off.
    pub sensitive: Option<Duration>,
    /// A failure spike: more than this many failures (ERROR, CRITICAL or
    /// `result: failure`) by one actor within [`Rules::actor_window`];
    /// `None` turns the rule off.
    pub actor_failures: Option<usize>,
    /// The failure spike's window.
    pub actor_window: Duration,
    /// Unusual activity: an actor's entries in the last hour above this
    /// many times its hourly average (`None` turns the rule off) ...
    pub unusual: Option<f64>,
    /// ... and at least this many of them (so that 3 entries against an
    /// average of 0.5 are not news).
    pub unusual_min: u32,
}

impl Default for Rules {
    /// The specification's thresholds: 10 ERROR entries within 15 minutes;
    /// sensitive data, one note per actor per 5 minutes; more than 10
    /// failures by one actor within 15 minutes; unusual activity, above 3x
    /// the hourly average (and at least 10 entries). Notes in
    /// `Needs_Action`.
    fn default() -> Self {
        Rules {
            errors: 10,
            window: Duration::minutes(15),
            folder: "Needs_Action".to_owned(),
            sensitive: Some(Duration::minutes(5)),
            actor_failures: Some(10),
            actor_window: Duration::minutes(15),
            unusual: Some(3.0),
            unusual_min: 10,
        }
    }
}

/// An entry as an alert note shows it (and as the state file keeps it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// When it happened.
    pub time: DateTime<Utc>,
    /// Its action type.
    pub action: String,
    /// Who did it.
    pub actor: String,
    /// What it was done to.
    pub target: String,
    /// Its error message, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Row {
    fn of(e: &Entry, time: DateTime<Utc>) -> Row {
        Row {
            time,
            action: e.action_type.as_str().to_owned(),
            actor: e.actor.clone(),
            target: e.target.clone(),
            error: e.error_message.clone(),
        }
    }
}

/// The latest entries of one burst (at most its threshold, all within
/// the window of the newest), and whether they already raised their note.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Burst {
    /// The latest entries, oldest first.
    #[serde(default)]
    pub recent: VecDeque<Row>,
    /// True while the burst in `recent` has had its note.
    #[serde(default)]
    pub in_burst: bool,
}

/// What the rules have seen so far, kept in `Logs/.audit/alerts.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The ERROR burst of all actors together.
    #[serde(default)]
    pub errors: Burst,
    /// Each actor's failures (actors with none in the window are dropped).
    #[serde(default)]
    pub actors: BTreeMap<String, Burst>,
    /// When each actor last raised a sensitive-data note (dropped once the
    /// window has passed).
    #[serde(default)]
    pub sensitive: BTreeMap<String, DateTime<Utc>>,
    /// Each actor's entries per hour over the last week.
    #[serde(default)]
    pub activity: BTreeMap<String, Activity>,
    /// The newest alert note raised (by the time of its entry): the
    /// Dashboard's "Last alert". None in a state saved before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Noted>,
}

/// An alert note as the state remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Noted {
    /// Its vault-relative path, `Needs_Action/ALERT_....md`.
    pub note: String,
    /// The time of the entry that raised it.
    pub at: DateTime<Utc>,
}

/// One actor's entries per hour (hours since the Unix epoch) over the last
/// [`WEEK`] hours and the one under way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "SavedActivity", into = "SavedActivity")]
pub struct Activity {
    /// The first hour the actor was seen in (while it stayed in the state).
    pub since: i64,
    /// Entries per hour (saved densely: the first hour and the counts).
    pub hours: BTreeMap<i64, u32>,
    /// When the actor last raised an unusual-activity note.
    pub noted: Option<DateTime<Utc>>,
}

/// The hours the unusual-activity rule averages over.
pub const WEEK: i64 = 7 * 24;

/// An [`Activity`] as saved: the hour counts dense, `"from": 493920,
/// "counts": [3, 0, 5]`, a fifth the size of a map keyed by hour and
/// quicker to read and write on every entry (`benches/alert_pair.rs`). A
/// map (`"hours"`, as saved before) is read too, and is what is saved for
/// hours too far apart to list densely (only a hand-edited state has them).
#[derive(Serialize, Deserialize)]
struct SavedActivity {
    since: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    counts: Vec<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    hours: BTreeMap<i64, u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    noted: Option<DateTime<Utc>>,
}

impl From<SavedActivity> for Activity {
    fn from(saved: SavedActivity) -> Activity {
        let mut hours = saved.hours;
        if let Some(from) = saved.from {
            let dense = saved
                .counts
                .into_iter()
                .zip(0_i64..)
                .filter(|(n, _)| *n > 0);
            hours.extend(dense.filter_map(|(n, i)| Some((from.checked_add(i)?, n))));
        }
        Activity {
            since: saved.since,
            hours,
            noted: saved.noted,
        }
    }
}

impl From<Activity> for SavedActivity {
    fn from(a: Activity) -> SavedActivity {
        let span = (a.hours.keys().next(), a.hours.keys().next_back());
        let mut saved = SavedActivity {
            since: a.since,
            from: None,
            counts: Vec::new(),
            hours: BTreeMap::new(),
            noted: a.noted,
        };
        match span {
            (Some(&from), Some(&to)) if to.saturating_sub(from) <= 2 * WEEK => {
                saved.from = Some(from);
                saved.counts = (from..=to)
                    .map(|h| a.hours.get(&h).copied().unwrap_or(0))
                    .collect();
            }
            _ => saved.hours = a.hours,
        }
        saved
    }
}

/// The most entries an unusual-activity note lists.
const UNUSUAL_ROWS: usize = 20;

/// The hours of history an actor needs before its activity can be unusual.
pub const HISTORY: i64 = 24;

/// Which rule an alert is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A CRITICAL entry.
    Critical,
    /// A burst of ERROR entries.
    ErrorBurst,
    /// Sensitive data accessed.
    Sensitive,
    /// A failure spike of one actor.
    ActorFailures,
    /// An actor far busier than usual.
    Unusual,
}

impl Rule {
    /// The word the note's name and front matter carry.
    pub fn level(self) -> &'static str {
        match self {
            Rule::Critical => "CRITICAL",
            Rule::ErrorBurst => "ERROR",
            Rule::Sensitive => "SENSITIVE",
            Rule::ActorFailures => "FAILURES",
            Rule::Unusual => "UNUSUAL",
        }
    }

    /// How a person turns the rule off (or up).
    pub fn silence(self) -> &'static str {
        match self {
            Rule::Critical => "CRITICAL entries always raise a note; log them at ERROR instead",
            Rule::ErrorBurst => {
                "raise the threshold with `AUDIT_ALERT_ERRORS` (and `AUDIT_ALERT_WINDOW`)"
            }
            Rule::Sensitive => "set `AUDIT_ALERT_SENSITIVE=off`",
            Rule::ActorFailures => "set `AUDIT_ALERT_ACTOR_FAILURES=off`, or a higher number",
            Rule::Unusual => "set `AUDIT_ALERT_UNUSUAL=off`, or a higher factor",
        }
    }
}

/// One alert to raise: its rule, when, and the entries behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The rule that fired.
    pub rule: Rule,
    /// The time of the entry that made it fire.
    pub at: DateTime<Utc>,
    /// The entries behind it, oldest first.
    pub rows: Vec<Row>,
}

impl Rules {
    /// Whether an entry may make an alert (what a caller holding entries
    /// for later keeps): with the unusual-activity rule on, every entry.
    pub fn matters(&self, e: &Entry) -> bool {
        self.unusual.is_some() || failed(e) || sensitive(e)
    }
}

/// A failure: ERROR, CRITICAL, or `result: failure`.
fn failed(e: &Entry) -> bool {
    e.log_level >= LogLevel::Error || e.result == Outcome::Failure
}

/// Sensitive data accessed: redaction fired (the stored entry carries
/// `[REDACTED]`), or the entry says `parameters.sensitive: true`.
pub fn sensitive(e: &Entry) -> bool {
    let marked = |s: &str| s.contains(REDACTED);
    e.parameters.get("sensitive") == Some(&serde_json::Value::Bool(true))
        || marked(&e.actor)
        || marked(&e.target)
        || e.error_message.as_deref().is_some_and(marked)
        || e.action_type.as_str() == "redacted"
        || e.parameters
            .values()
            .any(|v| v.to_string().contains(REDACTED))
}

/// The alerts `entries` (just written, in the order written) call for,
/// updating `state`. Entries stamped more than [`STALE`] before `now`, or
/// without a time, are left out.
pub fn plan(rules: &Rules, state: &mut State, entries: &[Entry], now: DateTime<Utc>) -> Vec<Alert> {
    let mut alerts = Vec::new();
    for e in entries {
        let Some(ts) = e.timestamp.filter(|t| now - *t <= STALE) else {
            continue;
        };
        let row = || Row::of(e, ts);
        if e.log_level == LogLevel::Critical {
            alerts.push(Alert {
                rule: Rule::Critical,
                at: ts,
                rows: vec![row()],
            });
        }
        if e.log_level == LogLevel::Error {
            let fired = state.errors.add(row(), rules.errors, rules.window);
            alerts.extend(fired.map(|rows| Alert {
                rule: Rule::ErrorBurst,
                at: ts,
                rows,
            }));
        }
        if let (Some(n), true) = (rules.actor_failures, failed(e)) {
            let burst = state.actors.entry(e.actor.clone()).or_default();
            let fired = burst.add(row(), n.saturating_add(1), rules.actor_window);
            alerts.extend(fired.map(|rows| Alert {
                rule: Rule::ActorFailures,
                at: ts,
                rows,
            }));
        }
        if let (Some(window), true) = (rules.sensitive, sensitive(e)) {
            let last = state.sensitive.get(&e.actor);
            if last.is_none_or(|t| (ts - *t).abs() > window) {
                state.sensitive.insert(e.actor.clone(), ts);
                alerts.push(Alert {
                    rule: Rule::Sensitive,
                    at: ts,
                    rows: vec![row()],
                });
            }
        }
    }
    if let Some(factor) = rules.unusual {
        alerts.extend(unusual(rules, factor, state, entries, now));
    }
    prune(rules, state, now);
    alerts
}

/// Counts `entries` per actor and hour; an alert for each actor whose
/// entries in the last hour are above `factor` times its hourly average
/// over the [`WEEK`] before the hour under way (once an hour per actor,
/// after [`HISTORY`] hours of history).
///
/// The last hour is the hour under way plus the part of the hour before it
/// that is still within 60 minutes (counted in proportion), so that the
/// state keeps counts per hour, never each entry.
fn unusual(
    rules: &Rules,
    factor: f64,
    state: &mut State,
    entries: &[Entry],
    now: DateTime<Utc>,
) -> Vec<Alert> {
    let hour = now.timestamp().div_euclid(3600);
    let mut touched: BTreeMap<&str, Vec<Row>> = BTreeMap::new();
    // Older entries (an import of last week, say) count toward the
    // average; only those of the last hour make an actor worth a look.
    for e in entries {
        let Some(ts) = e
            .timestamp
            .filter(|t| now - *t <= Duration::hours(WEEK + 1))
        else {
            continue;
        };
        let h = ts.timestamp().div_euclid(3600);
        let a = state.activity.entry(e.actor.clone()).or_insert(Activity {
            since: h,
            ..Activity::default()
        });
        a.since = a.since.min(h);
        *a.hours.entry(h).or_default() += 1;
        if now - ts <= Duration::hours(1) {
            touched.entry(&e.actor).or_default().push(Row::of(e, ts));
        }
    }
    let into = (now.timestamp().rem_euclid(3600)) as f64 / 3600.0;
    let mut alerts = Vec::new();
    for (actor, rows) in touched {
        let Some(a) = state.activity.get_mut(actor) else {
            continue;
        };
        let count = |h: i64| f64::from(a.hours.get(&h).copied().unwrap_or(0));
        let last_hour = count(hour) + count(hour - 1) * (1.0 - into);
        let span = (hour - a.since).min(WEEK);
        let recently = a.noted.is_some_and(|t| now - t < Duration::hours(1));
        if span < HISTORY || recently || last_hour < f64::from(rules.unusual_min) {
            continue;
        }
        let average = (1..=span).map(|back| count(hour - back)).sum::<f64>() / span as f64;
        if last_hour > factor * average {
            a.noted = Some(now);
            // The latest few are example enough.
            let rows = rows[rows.len().saturating_sub(UNUSUAL_ROWS)..].to_vec();
            alerts.push(Alert {
                rule: Rule::Unusual,
                at: now,
                rows,
            });
        }
    }
    alerts
}

/// Drops what no rule needs any more, so the state file stays small: an
/// actor's failures and last sensitive note once no entry that may still
/// raise an alert (stamped within [`STALE`] of now) could join them.
fn prune(rules: &Rules, state: &mut State, now: DateTime<Utc>) {
    let horizon = STALE + rules.actor_window;
    state
        .actors
        .retain(|_, b| b.recent.back().is_some_and(|r| now - r.time <= horizon));
    let horizon = STALE + rules.sensitive.unwrap_or_else(Duration::zero);
    state.sensitive.retain(|_, t| now - *t <= horizon);
    let oldest = now.timestamp().div_euclid(3600) - WEEK - 1;
    for a in state.activity.values_mut() {
        a.hours.retain(|h, _| *h >= oldest);
    }
    state.activity.retain(|_, a| !a.hours.is_empty());
}

impl Burst {
    /// Adds one entry; the burst's entries, if this one makes a burst of
    /// `threshold` within `window` that has had no note yet.
    fn add(&mut self, row: Row, threshold: usize, window: Duration) -> Option<Vec<Row>> {
        // In time order, whichever process wrote first.
        let at = self.recent.partition_point(|r| r.time <= row.time);
        self.recent.insert(at, row);
        let newest = self.recent.back().map(|r| r.time)?;
        while (self.recent.front()).is_some_and(|f| newest - f.time > window) {
            self.recent.pop_front();
        }
        // Only the latest `threshold` matter: there are that many within
        // the window exactly when the latest that many are.
        while self.recent.len() > threshold.max(1) {
            self.recent.pop_front();
        }
        if self.recent.len() < threshold {
            // The window has thinned out: the next burst is a new one.
            self.in_burst = false;
            return None;
        }
        if self.in_burst {
            return None;
        }
        self.in_burst = true;
        Some(self.recent.iter().cloned().collect())
    }
}

/// Raises the alerts `entries` call for: reads the state, writes one note
/// per alert, saves the state. Returns the notes' vault-relative paths. The
/// caller holds the writers' lock. A state file that cannot be parsed is
/// started afresh.
pub fn raise(
    vault: &Vault,
    rules: &Rules,
    entries: &[Entry],
    now: DateTime<Utc>,
) -> Result<Vec<String>, IoFailure> {
    if !entries.iter().any(|e| rules.matters(e)) {
        return Ok(Vec::new());
    }
    let path = vault.alert_state();
    let before = load(&path)?;
    let mut state = before.clone();
    let alerts = plan(rules, &mut state, entries, now);
    let mut written = Vec::new();
    for alert in &alerts {
        let note = write_note(vault, rules, alert)?;
        if state.last.as_ref().is_none_or(|last| alert.at >= last.at) {
            state.last = Some(Noted {
                note: note.clone(),
                at: alert.at,
            });
        }
        written.push(note);
    }
    if state != before {
        // Overwritten in place under the lock, not synced: after a crash
        // the state is the old one, the new one, or (cut, so not JSON) a
        // fresh start; never a torn one that is read.
        let bytes = serde_json::to_vec(&state).unwrap_or_default();
        at("write", &path, overwrite_in_place(&path, &bytes))?;
    }
    Ok(written)
}

/// The newest alert note the alert state knows (one small read; none when
/// the state is missing, unreadable, or from before it was kept).
pub fn last_alert(vault: &Vault) -> Option<LastAlert> {
    let last = load(&vault.alert_state()).ok()?.last?;
    Some(LastAlert {
        note: last.note,
        at: last.at,
    })
}

/// The alert state at `path`. None yet, one that is not JSON, or a
/// symbolic link planted there (never followed; the save replaces the link
/// itself) is a fresh start.
fn load(path: &Path) -> Result<State, IoFailure> {
    let planted = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if planted {
        return Ok(State::default());
    }
    match read_no_follow(path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(IoFailure::new("read", path, e)),
    }
}

/// Whether the vault-relative path `rel` names an alert note in `folder`
/// (`<folder>/ALERT_....md`), whichever writer raised it.
pub fn is_note(folder: &str, rel: &str) -> bool {
    rel.strip_prefix(folder)
        .and_then(|r| r.strip_prefix('/'))
        .is_some_and(|name| {
            name.starts_with("ALERT_") && name.ends_with(".md") && !name.contains('/')
        })
}

/// The targets of `alert`'s entries that name a note in the vault: a
/// relative `.md` path, with no `..`, no character that would break a
/// wiki-link or a table cell, and a regular file there (a symbolic link is
/// not followed).
fn existing_notes(vault: &Vault, alert: &Alert) -> BTreeSet<String> {
    let linkable = |t: &str| {
        t.ends_with(".md")
            && !t.starts_with('/')
            && !t.split('/').any(|part| part.is_empty() || part == "..")
            && !t.contains(['|', '[', ']', '#', '^', '\\', '\n', '\r'])
    };
    alert
        .rows
        .iter()
        .map(|r| r.target.as_str())
        .filter(|t| linkable(t))
        .filter(|t| std::fs::symlink_metadata(vault.root().join(t)).is_ok_and(|m| m.is_file()))
        .map(str::to_owned)
        .collect()
}

/// A target as a wiki-link when it is one of `notes`, else as text.
fn target_cell(target: &str, notes: &BTreeSet<String>) -> String {
    match notes.contains(target) {
        true => format!("[[{}]]", target.trim_end_matches(".md")),
        false => cell(target),
    }
}

/// The note's text; the targets in `notes` (notes that exist in the vault)
/// are wiki-linked. The day files are named as code (`Logs/2026-11-22.json`),
/// never linked: Obsidian does not open `.json` files, so a wiki-link to
/// one would show as unresolved.
pub fn render(vault: &Vault, rules: &Rules, alert: &Alert, notes: &BTreeSet<String>) -> String {
    let level = alert.rule.level();
    let title = match alert.rule {
        Rule::Critical => "A CRITICAL entry was logged".to_owned(),
        Rule::ErrorBurst => format!(
            "{} ERROR entries within {} minutes",
            alert.rows.len(),
            rules.window.num_minutes()
        ),
        Rule::Sensitive => "Sensitive data was accessed".to_owned(),
        Rule::ActorFailures => format!(
            "{} failures by one actor within {} minutes",
            alert.rows.len(),
            rules.actor_window.num_minutes()
        ),
        Rule::Unusual => format!(
            "Unusual activity: {} far busier than its hourly average",
            alert.rows.first().map_or("an actor", |r| r.actor.as_str())
        ),
    };
    let mut text = format!(
        "---\ntype: alert\nlevel: {level}\ncreated: {}\n---\n\n# {title}\n\n| Time | Action | Actor | Target | Error |\n|------|--------|-------|--------|-------|\n",
        format_timestamp(&alert.at)
    );
    let mut days = Vec::new();
    for r in &alert.rows {
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            cell(&format_timestamp(&r.time)),
            cell(&r.action),
            cell(&r.actor),
            target_cell(&r.target, notes),
            cell(r.error.as_deref().unwrap_or("")),
        ));
        let day = r.time.date_naive();
        if !days.contains(&day) {
            days.push(day);
        }
    }
    let files: Vec<String> = days
        .iter()
        .map(|d| format!("`{}`", vault.day_file_relative(*d)))
        .collect();
    text.push_str(&format!(
        "\nThe entries are in {}. Move this note to `Done/` once handled.\n\nTo silence this rule: {}.\n",
        files.join(", "),
        alert.rule.silence()
    ));
    text
}

/// Writes an alert's note under a name no other note has; returns its
/// vault-relative path.
fn write_note(vault: &Vault, rules: &Rules, alert: &Alert) -> Result<String, IoFailure> {
    let stamp = alert.at.format("%Y%m%dT%H%M%S%3fZ");
    let level = alert.rule.level();
    let mut rel = format!("{}/ALERT_{stamp}_{level}.md", rules.folder);
    let mut n = 1;
    while std::fs::symlink_metadata(vault.root().join(&rel)).is_ok() {
        n += 1;
        rel = format!("{}/ALERT_{stamp}_{level}_{n}.md", rules.folder);
    }
    let path = vault.root().join(&rel);
    if let Some(dir) = path.parent() {
        at("create folder", dir, crate::fsutil::ensure_dir(dir))?;
    }
    let notes = existing_notes(vault, alert);
    at(
        "write",
        &path,
        write_atomic(&path, render(vault, rules, alert, &notes).as_bytes()),
    )?;
    Ok(rel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::ActionType;

    fn base() -> DateTime<Utc> {
        crate::time::parse_timestamp("2026-11-22T10:00:00Z").expect("ts")
    }

    fn at(level: LogLevel, secs: i64) -> Entry {
        Entry::new(
            level,
            ActionType::new("tool_call").expect("a"),
            "agent | x",
            "t",
        )
        .at(base() + Duration::seconds(secs))
    }

    fn rules(errors: usize) -> Rules {
        Rules {
            errors,
            ..Rules::default()
        }
    }

    #[test]
    fn a_burst_raises_one_note_and_criticals_one_each() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Vault::new(dir.path());
        std::fs::create_dir_all(vault.state_dir()).expect("Logs/.audit");
        let rules = rules(3);
        let now = base() + Duration::hours(2);
        let errors: Vec<Entry> = (0..10).map(|i| at(LogLevel::Error, i)).collect();
        let notes = raise(&vault, &rules, &errors, now).expect("raise");
        assert_eq!(notes.len(), 1, "{notes:?}");
        let text = std::fs::read_to_string(dir.path().join(&notes[0])).expect("note");
        assert!(
            text.contains("# 3 ERROR entries within 15 minutes") && text.contains("agent \\| x"),
            "{text}"
        );
        assert!(
            text.contains("The entries are in `Logs/2026-11-22.json`.")
                && !text.contains("[[Logs/"),
            "{text}"
        );
        // Much later, a new burst is a new note; a CRITICAL is always one.
        let later: Vec<Entry> = (0..3).map(|i| at(LogLevel::Error, 3600 + i)).collect();
        assert_eq!(raise(&vault, &rules, &later, now).expect("raise").len(), 1);
        let crit = raise(
            &vault,
            &rules,
            &[at(LogLevel::Critical, 4000), at(LogLevel::Critical, 4000)],
            now,
        )
        .expect("raise");
        assert_eq!(crit.len(), 2);
        assert_ne!(crit[0], crit[1]);
        assert!(
            crit[0].starts_with("Needs_Action/ALERT_20261122T110640000Z_CRITICAL"),
            "{crit:?}"
        );
        // The Dashboard's "Last alert": the newest by its entry's time, even
        // when an older one is raised after it.
        let last = last_alert(&vault).expect("kept");
        assert_eq!(last.note, crit[1]);
        let older = raise(&vault, &rules, &[at(LogLevel::Critical, 3990)], now).expect("raise");
        assert_eq!(older.len(), 1);
        assert_eq!(last_alert(&vault).expect("kept").note, crit[1]);
    }

    #[test]
    fn a_burst_split_over_calls_raises_one_note_and_the_near_miss_none() {
        let rules = rules(3);
        let now = base() + Duration::minutes(30);
        let mut state = State::default();
        let first = plan(&rules, &mut state, &[at(LogLevel::Error, 0)], now);
        let second = plan(&rules, &mut state, &[at(LogLevel::Error, 60)], now);
        assert!(first.is_empty() && second.is_empty(), "a near miss");
        // Written out of order by another process: still one burst.
        let third = plan(&rules, &mut state, &[at(LogLevel::Error, 30)], now);
        assert_eq!(third.len(), 1);
        assert_eq!(third[0].rows.len(), 3);
        let more = plan(&rules, &mut state, &[at(LogLevel::Error, 90)], now);
        assert!(more.is_empty(), "the same burst: {more:?}");
        // Two errors more than a window apart never make a burst of two.
        let mut state = State::default();
        let apart = [at(LogLevel::Error, 0), at(LogLevel::Error, 16 * 60)];
        assert!(plan(&self::rules(2), &mut state, &apart, now).is_empty());
    }

    fn by(actor: &str, level: LogLevel, secs: i64) -> Entry {
        let mut e = at(level, secs);
        e.actor = actor.to_owned();
        e
    }

    #[test]
    fn more_than_n_failures_by_one_actor_raise_one_note_and_n_none() {
        let rules = Rules {
            errors: 1000,
            actor_failures: Some(3),
            ..Rules::default()
        };
        let now = base() + Duration::minutes(30);
        let mut state = State::default();
        // Three by one actor and three by another: a near miss each.
        let mut entries: Vec<Entry> = (0..3).map(|i| by("a", LogLevel::Error, i)).collect();
        entries.extend((0..3).map(|i| by("b", LogLevel::Error, i)));
        assert!(plan(&rules, &mut state, &entries, now).is_empty());
        let mut failed = by("a", LogLevel::Info, 10);
        failed.result = Outcome::Failure;
        let fired = plan(&rules, &mut state, &[failed], now);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].rule, Rule::ActorFailures);
        assert_eq!(fired[0].rows.len(), 4);
        let text = render(&Vault::new("v"), &rules, &fired[0], &BTreeSet::new());
        assert!(
            text.contains("# 4 failures by one actor within 15 minutes"),
            "{text}"
        );
        assert!(text.contains("AUDIT_ALERT_ACTOR_FAILURES=off"), "{text}");
        let more = plan(&rules, &mut state, &[by("a", LogLevel::Error, 11)], now);
        assert!(more.is_empty(), "the same spike: {more:?}");
        // Much later, the actors are forgotten.
        let later = base() + Duration::days(2);
        plan(&rules, &mut state, &[], later);
        assert!(state.actors.is_empty(), "{:?}", state.actors);
    }

    #[test]
    fn sensitive_entries_raise_one_note_per_actor_per_window() {
        let rules = Rules::default();
        let now = base() + Duration::hours(1);
        let mut state = State::default();
        let mut marked = at(LogLevel::Info, 0);
        marked
            .parameters
            .insert("sensitive".into(), serde_json::Value::Bool(true));
        let mut redacted = at(LogLevel::Info, 60);
        redacted.target = format!("token {REDACTED}");
        let plain = at(LogLevel::Info, 61);
        let fired = plan(&rules, &mut state, &[marked, redacted.clone(), plain], now);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].rule, Rule::Sensitive);
        let mut later = redacted;
        later.timestamp = Some(base() + Duration::minutes(6));
        assert_eq!(plan(&rules, &mut state, &[later.clone()], now).len(), 1);
        let off = Rules {
            sensitive: None,
            ..Rules::default()
        };
        assert!(plan(&off, &mut State::default(), &[later], now).is_empty());
    }

    /// An actor with `per_hour` entries in each of the 48 hours before
    /// 10:00, then `now_count` in the half hour since, planned at 10:30.
    fn busy(per_hour: u32, now_count: i64) -> Vec<Alert> {
        let rules = Rules {
            unusual_min: 1,
            ..Rules::default()
        };
        let mut state = State::default();
        let mut history = Vec::new();
        for back in 1..=48 {
            for k in 0..per_hour {
                let secs = -back * 3600 + i64::from(k) * 60;
                history.push(by("busy", LogLevel::Info, secs));
            }
        }
        let now = base() + Duration::minutes(30);
        assert!(plan(&rules, &mut state, &history, now).is_empty());
        let burst: Vec<Entry> = (0..now_count)
            .map(|i| by("busy", LogLevel::Info, i))
            .collect();
        plan(&rules, &mut state, &burst, now)
    }

    #[test]
    fn activity_above_three_times_the_hourly_average_raises_one_note_and_2_9_times_none() {
        // 10 an hour before; the last hour is 10:00-10:30 plus half of
        // 9:00-10:00 (5): 24 + 5 = 29 is 2.9 times, 26 + 5 = 31 is 3.1 times.
        assert!(busy(10, 24).is_empty());
        let fired = busy(10, 26);
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].rule, Rule::Unusual);
        assert_eq!(fired[0].rows.len(), UNUSUAL_ROWS);
        let text = render(
            &Vault::new("v"),
            &Rules::default(),
            &fired[0],
            &BTreeSet::new(),
        );
        assert!(text.contains("# Unusual activity: busy"), "{text}");
        assert!(text.contains("AUDIT_ALERT_UNUSUAL=off"), "{text}");
    }

    #[test]
    fn a_new_actor_is_never_unusual() {
        let rules = Rules {
            unusual_min: 1,
            ..Rules::default()
        };
        let mut state = State::default();
        let now = base() + Duration::minutes(30);
        let burst: Vec<Entry> = (0..100).map(|i| by("new", LogLevel::Info, i)).collect();
        assert!(plan(&rules, &mut state, &burst, now).is_empty());
        // A week later the counts are gone.
        plan(&rules, &mut state, &[], now + Duration::days(8));
        assert!(state.activity.is_empty());
    }

    #[test]
    fn alert_notes_are_known_by_folder_and_name() {
        assert!(is_note(
            "Needs_Action",
            "Needs_Action/ALERT_20261122T100000000Z_ERROR.md"
        ));
        assert!(!is_note("Needs_Action", "Needs_Action/task.md"));
        assert!(!is_note(
            "Needs_Action",
            "Done/ALERT_20261122T100000000Z_ERROR.md"
        ));
        assert!(!is_note("Needs_Action", "Needs_Action/x/ALERT_1.md"));
    }

    #[test]
    fn a_target_that_is_a_note_in_the_vault_is_wiki_linked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Vault::new(dir.path());
        std::fs::create_dir_all(vault.state_dir()).expect("Logs/.audit");
        std::fs::create_dir_all(dir.path().join("Plans")).expect("Plans");
        std::fs::write(dir.path().join("Plans/p.md"), "# plan").expect("note");
        let mut linked = at(LogLevel::Critical, 0);
        linked.target = "Plans/p.md".into();
        let mut missing = at(LogLevel::Critical, 1);
        missing.target = "Plans/gone.md".into();
        let mut escaping = at(LogLevel::Critical, 2);
        escaping.target = "../outside.md".into();
        let now = base() + Duration::minutes(1);
        let notes = raise(&vault, &rules(10), &[linked, missing, escaping], now).expect("raise");
        let read = |n: &String| std::fs::read_to_string(dir.path().join(n)).expect("note");
        assert!(
            read(&notes[0]).contains("| [[Plans/p]] |"),
            "{}",
            read(&notes[0])
        );
        assert!(
            read(&notes[1]).contains("| Plans/gone.md |"),
            "{}",
            read(&notes[1])
        );
        assert!(
            read(&notes[2]).contains("| ../outside.md |"),
            "{}",
            read(&notes[2])
        );
    }

    #[test]
    fn hour_counts_are_saved_densely_and_the_old_map_still_reads() {
        let mut a = Activity {
            since: 10,
            ..Activity::default()
        };
        a.hours.extend([(493_920, 3), (493_922, 5)]);
        let text = serde_json::to_string(&a).expect("json");
        assert!(text.contains(r#""from":493920,"counts":[3,0,5]"#), "{text}");
        assert_eq!(serde_json::from_str::<Activity>(&text).expect("back"), a);
        let old = r#"{"since":10,"hours":{"493920":3,"493922":5}}"#;
        assert_eq!(serde_json::from_str::<Activity>(old).expect("old"), a);
        let hostile = r#"{"since":0,"from":9223372036854775807,"counts":[1,2]}"#;
        let read = serde_json::from_str::<Activity>(hostile).expect("read");
        assert_eq!(read.hours.len(), 1);
        a.hours.insert(i64::MAX, 1);
        assert!(serde_json::to_string(&a)
            .expect("json")
            .contains(r#""hours":{"#));
    }

    #[test]
    fn old_entries_raise_nothing() {
        let mut state = State::default();
        let old = [at(LogLevel::Critical, 0)];
        let now = base() + STALE + Duration::seconds(1);
        assert!(plan(&rules(3), &mut state, &old, now).is_empty());
    }
}
