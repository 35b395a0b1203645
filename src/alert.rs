//! Alert notes in `Needs_Action/`: one per CRITICAL entry, one per burst of
//! ERROR entries, so the human sees them in Obsidian.
//!
//! Raised after every write by whichever process wrote (the logger's
//! upkeep, the daemon for what it takes in), with the writers' lock held.
//! What the burst rule has seen so far lives in `Logs/.audit/alerts.json`,
//! so a burst raises one note however many processes wrote its entries.
//! Planning ([`plan`]) is pure; [`raise`] reads the state, writes the notes,
//! then saves the state.

use std::collections::VecDeque;
use std::io;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::dashboard::cell;
use crate::entry::{Entry, LogLevel};
use crate::fsutil::{at, read_no_follow, write_atomic, IoFailure};
use crate::time::format_timestamp;
use crate::vault::{day_file_name, Vault};

/// Entries stamped this long before the write raise no alert: an import or
/// a late replay of old history is not news.
pub const STALE: Duration = Duration::hours(24);

/// The alert rules' settings (the CLI resolves `AUDIT_ALERT_ERRORS`,
/// `AUDIT_ALERT_WINDOW` and `AUDIT_FOLDER_NEEDS_ACTION`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// This many ERROR entries ...
    pub errors: usize,
    /// ... within this window make a burst.
    pub window: Duration,
    /// The folder alert notes are written to, relative to the vault.
    pub folder: String,
}

impl Default for Rules {
    /// 10 ERROR entries within 15 minutes; notes in `Needs_Action`.
    fn default() -> Self {
        Rules {
            errors: 10,
            window: Duration::minutes(15),
            folder: "Needs_Action".to_owned(),
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

/// What the burst rule has seen: the latest ERROR entries (at most the
/// threshold, all within the window of the newest), and whether they
/// already raised their note. Kept in `Logs/.audit/alerts.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The latest ERROR entries, oldest first.
    #[serde(default)]
    pub recent: VecDeque<Row>,
    /// True while the burst in `recent` has had its note.
    #[serde(default)]
    pub in_burst: bool,
}

/// Which rule an alert is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A CRITICAL entry.
    Critical,
    /// A burst of ERROR entries.
    ErrorBurst,
}

impl Rule {
    /// The level the note's name and front matter carry.
    pub fn level(self) -> &'static str {
        match self {
            Rule::Critical => "CRITICAL",
            Rule::ErrorBurst => "ERROR",
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

/// Whether an entry may make an alert (what a caller holding entries for
/// later keeps).
pub fn matters(e: &Entry) -> bool {
    e.log_level >= LogLevel::Error
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
        match e.log_level {
            LogLevel::Critical => alerts.push(Alert {
                rule: Rule::Critical,
                at: ts,
                rows: vec![Row::of(e, ts)],
            }),
            LogLevel::Error => alerts.extend(burst(rules, state, Row::of(e, ts))),
            _ => {}
        }
    }
    alerts
}

/// Adds one ERROR entry to the burst rule's state; the alert, if this one
/// makes a burst that has had no note yet.
fn burst(rules: &Rules, state: &mut State, row: Row) -> Option<Alert> {
    // In time order, whichever process wrote first.
    let at = state.recent.partition_point(|r| r.time <= row.time);
    state.recent.insert(at, row);
    let newest = state.recent.back().map(|r| r.time)?;
    while state
        .recent
        .front()
        .is_some_and(|f| newest - f.time > rules.window)
    {
        state.recent.pop_front();
    }
    // Only the latest `errors` matter: there are that many within the
    // window exactly when the latest that many are.
    while state.recent.len() > rules.errors.max(1) {
        state.recent.pop_front();
    }
    if state.recent.len() < rules.errors {
        // The window has thinned out: the next burst is a new one.
        state.in_burst = false;
        return None;
    }
    if state.in_burst {
        return None;
    }
    state.in_burst = true;
    Some(Alert {
        rule: Rule::ErrorBurst,
        at: newest,
        rows: state.recent.iter().cloned().collect(),
    })
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
    if !entries.iter().any(matters) {
        return Ok(Vec::new());
    }
    let path = vault.alert_state();
    let before = load(&path)?;
    let mut state = before.clone();
    let alerts = plan(rules, &mut state, entries, now);
    let mut written = Vec::new();
    for alert in &alerts {
        written.push(write_note(vault, rules, alert)?);
    }
    if state != before {
        let bytes = serde_json::to_vec(&state).unwrap_or_default();
        at("write", &path, write_atomic(&path, &bytes))?;
    }
    Ok(written)
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

/// The note's text.
pub fn render(rules: &Rules, alert: &Alert) -> String {
    let level = alert.rule.level();
    let title = match alert.rule {
        Rule::Critical => "A CRITICAL entry was logged".to_owned(),
        Rule::ErrorBurst => format!(
            "{} ERROR entries within {} minutes",
            alert.rows.len(),
            rules.window.num_minutes()
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
            cell(&r.target),
            cell(r.error.as_deref().unwrap_or("")),
        ));
        let day = r.time.date_naive();
        if !days.contains(&day) {
            days.push(day);
        }
    }
    let links: Vec<String> = days
        .iter()
        .map(|d| format!("[[Logs/{}]]", day_file_name(*d)))
        .collect();
    text.push_str(&format!(
        "\nThe entries are in {}. Move this note to `Done/` once handled.\n",
        links.join(", ")
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
    at(
        "write",
        &path,
        write_atomic(&path, render(rules, alert).as_bytes()),
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
        assert!(text.contains("[[Logs/2026-11-22.json]]"));
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

    #[test]
    fn old_entries_raise_nothing() {
        let mut state = State::default();
        let old = [at(LogLevel::Critical, 0)];
        let now = base() + STALE + Duration::seconds(1);
        assert!(plan(&rules(3), &mut state, &old, now).is_empty());
    }
}
