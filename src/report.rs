//! The audit report: a Markdown note over a period (a week by default) that
//! reads well in Obsidian. Front matter with the period and its counts, a
//! summary paragraph, Mermaid charts (entries per day by level, actions by
//! type, failures per actor, approvals, durations per skill), tables of the
//! failures and CRITICAL entries, and the alert notes raised.
//!
//! Counted in one pass over the period's day files ([`crate::query::scan`]),
//! so its cost grows with the period, never with the whole log.

mod chart;
mod facts;
mod note;

use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

pub use chart::label;
pub use facts::{Approvals, Facts, Newest, Row, LIST_MAX};

use crate::alert;
use crate::fsutil::IoFailure;
use crate::query::{self, Filter};
use crate::vault::Vault;

/// The folder reports go to when none is set (`AUDIT_FOLDER_BRIEFINGS`).
pub const DEFAULT_FOLDER: &str = "Briefings";

/// The longest period a report covers, in UTC days: it has a bar and a
/// table row for each.
pub const MAX_DAYS: i64 = 366;

/// Why a period cannot be reported on, if it cannot: longer than
/// [`MAX_DAYS`] UTC days.
pub fn period_problem(since: DateTime<Utc>, until: DateTime<Utc>) -> Option<String> {
    let days = (until.date_naive() - since.date_naive()).num_days() + 1;
    (days > MAX_DAYS)
        .then(|| format!("the period spans {days} days; a report covers at most {MAX_DAYS} days"))
}

/// Where reports go and when the daemon writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The vault-relative folder reports go to (`AUDIT_FOLDER_BRIEFINGS`).
    pub folder: String,
    /// The daemon writes a report every Monday at 07:00 local time, over
    /// the 7 days before (`AUDIT_REPORT_SCHEDULE=weekly`).
    pub weekly: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            folder: DEFAULT_FOLDER.to_owned(),
            weekly: false,
        }
    }
}

/// Whether `folder` can hold reports: a relative path inside the vault,
/// with no `..`, no `Logs` at its start (in any letter case: a
/// case-insensitive disk reads `logs` as `Logs`), and no control character.
pub fn folder_ok(folder: &str) -> bool {
    let path = Path::new(folder);
    !folder.trim().is_empty()
        && !folder.chars().any(char::is_control)
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        && path
            .components()
            .next()
            .is_some_and(|c| !c.as_os_str().eq_ignore_ascii_case("Logs"))
}

/// An alert note raised in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertNote {
    /// Its vault-relative path.
    pub note: String,
    /// When it was raised (from its name).
    pub at: DateTime<Utc>,
    /// Its level (from its name).
    pub level: String,
}

/// What a report covers and where its alert notes are looked for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The period's start.
    pub since: DateTime<Utc>,
    /// The period's end.
    pub until: DateTime<Utc>,
    /// When the report is made (its front matter says so).
    pub generated_at: DateTime<Utc>,
    /// The folders alert notes are in: where they are raised
    /// (`Needs_Action`) and where people move them once handled (`Done`).
    pub alert_folders: Vec<String>,
}

/// Where people move alert notes once handled (the alert notes say so).
pub const DONE_FOLDER: &str = "Done";

/// The folders a report looks for alert notes in: where they are raised,
/// and [`DONE_FOLDER`].
pub fn alert_folders(needs_action: &str) -> Vec<String> {
    vec![needs_action.to_owned(), DONE_FOLDER.to_owned()]
}

/// Counts the entries of the period.
pub fn gather(vault: &Vault, since: DateTime<Utc>, until: DateTime<Utc>) -> io::Result<Facts> {
    let filter = Filter {
        since: Some(since),
        until: Some(until),
        ..Filter::default()
    };
    let mut facts = Facts::new(since, until);
    query::scan(vault, &filter, true, |_, e| {
        facts.add(e);
        ControlFlow::Continue(())
    })?;
    Ok(facts)
}

/// When an alert note's name (`ALERT_20261122T110640000Z_CRITICAL.md`, or
/// `..._CRITICAL_2.md`) says it was raised, and its level. Only a name of
/// exactly that form counts: anyone can make a file in `Needs_Action/`, and
/// its name goes into the note as a link.
fn alert_stamp(name: &str) -> Option<(DateTime<Utc>, String)> {
    let rest = name.strip_prefix("ALERT_")?.strip_suffix(".md")?;
    let (stamp, rest) = rest.split_once('_')?;
    let at = NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%3fZ").ok()?;
    let (level, n) = rest.split_once('_').unwrap_or((rest, "2"));
    let numbered = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    (facts::LEVELS.contains(&level) && numbered).then(|| (at.and_utc(), level.to_owned()))
}

/// The alert notes in `folders` raised within the period, oldest first.
/// A folder that is a symbolic link, or missing, is passed over.
pub fn alert_notes(vault: &Vault, req: &Request) -> io::Result<Vec<AlertNote>> {
    let mut found = Vec::new();
    for folder in &req.alert_folders {
        let dir = vault.root().join(folder);
        if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        for item in std::fs::read_dir(&dir)? {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            let rel = format!("{folder}/{name}");
            if !alert::is_note(folder, &rel) || !item.file_type()?.is_file() {
                continue;
            }
            if let Some((at, level)) = alert_stamp(&name) {
                if at >= req.since && at <= req.until {
                    found.push(AlertNote {
                        note: rel,
                        at,
                        level,
                    });
                }
            }
        }
    }
    found.sort_by(|a, b| (a.at, &a.note).cmp(&(b.at, &b.note)));
    Ok(found)
}

/// The report's text: counted, then written out. A period longer than
/// [`MAX_DAYS`] is refused.
pub fn build(vault: &Vault, req: &Request) -> io::Result<String> {
    if let Some(problem) = period_problem(req.since, req.until) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, problem));
    }
    let facts = gather(vault, req.since, req.until)?;
    let alerts = alert_notes(vault, req)?;
    Ok(note::render(&note::Parts {
        facts: &facts,
        alerts: &alerts,
        generated_at: req.generated_at,
        vault: vault.root(),
    }))
}

/// The default note for a report made on `date`:
/// `<folder>/YYYY-MM-DD_Audit_Report.md`, vault-relative.
pub fn default_note(folder: &str, date: NaiveDate) -> String {
    format!("{folder}/{}_Audit_Report.md", date.format("%Y-%m-%d"))
}

/// A path like `path` that nothing is at yet: `path` itself, else
/// `<stem>_2.md`, `<stem>_3.md`, ... (a report never replaces a note).
pub fn free_path(path: &Path) -> PathBuf {
    let taken = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    if !taken(path) {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    (2..)
        .map(|n| path.with_file_name(format!("{stem}_{n}.md")))
        .find(|p| !taken(p))
        .unwrap_or_else(|| path.to_path_buf())
}

/// Whether `path` lands in the vault's `Logs/` folder, however it is
/// spelled: relative, with `..`, through a linked folder, or in another
/// letter case (which a case-insensitive disk reads as `Logs`). The bytes
/// under `Logs/` are the log's: a report never goes there.
pub fn in_logs(vault: &Vault, path: &Path) -> bool {
    use std::path::Component;
    let real = |p: &Path| std::fs::canonicalize(p).ok();
    let (Some(logs), Ok(path)) = (real(&vault.primary().logs()), std::path::absolute(path)) else {
        return false;
    };
    // The nearest folder that exists, resolved; the rest is made as named.
    let Some((mut at, base)) = path.ancestors().find_map(|a| real(a).map(|r| (r, a))) else {
        return false;
    };
    for part in path
        .strip_prefix(base)
        .map(Path::components)
        .into_iter()
        .flatten()
    {
        match part {
            Component::ParentDir => {
                at.pop();
            }
            Component::Normal(name) => at.push(name),
            _ => {}
        }
    }
    let fold = |p: &Path| p.to_string_lossy().to_lowercase();
    let (at, logs) = (fold(&at), fold(&logs));
    at == logs || at.starts_with(&format!("{logs}{}", std::path::MAIN_SEPARATOR))
}

/// Writes `text` at `path` (creating its folder), atomically: a symbolic
/// link at `path` is replaced, never followed, and one at a folder between
/// `root` and `path` is refused.
pub fn write(root: &Path, path: &Path, text: &str) -> Result<(), IoFailure> {
    let linked = crate::fsutil::refuse_linked_folders_below(root, path);
    crate::fsutil::at("write", path, linked)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::fsutil::at("create folder", dir, crate::fsutil::ensure_dir(dir))?;
    }
    crate::fsutil::at(
        "write",
        path,
        crate::fsutil::write_atomic(path, text.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_note_names_give_their_time_and_level() {
        let (at, level) = alert_stamp("ALERT_20261122T110640123Z_CRITICAL_2.md").expect("name");
        assert_eq!(
            crate::time::format_timestamp(&at),
            "2026-11-22T11:06:40.123Z"
        );
        assert_eq!(level, "CRITICAL");
        assert!(alert_stamp("ALERT_nope_ERROR.md").is_none());
    }

    #[test]
    fn alert_notes_with_hostile_names_are_not_listed() {
        for name in [
            "ALERT_20261122T110640123Z_<img src=x onerror=alert(1)>]]|[[evil.md",
            "ALERT_20261122T110640123Z_CRITICAL ]]![[Secret.md",
            "ALERT_20261122T110640123Z_%%hide.md",
            "ALERT_20261122T110640123Z_CRITICAL\n## Injected.md",
            "ALERT_20261122T110640123Z_CRITICAL_2]].md",
            "ALERT_20261122T110640123Z_CRITICAL_.md",
        ] {
            assert!(alert_stamp(name).is_none(), "{name}");
        }
        assert!(alert_stamp("ALERT_20261122T110640123Z_WARNING.md").is_some());
        assert!(alert_stamp("notes.md").is_none());
    }

    #[test]
    fn the_reports_folder_is_never_the_logs_folder_in_any_case() {
        for bad in [
            "Logs", "logs/x", "LOGS", "./x", "a/../b", "/abs", "x\ny", " ", "",
        ] {
            assert!(!folder_ok(bad), "{bad:?}");
        }
        for good in ["Briefings", "Reports/Audit", "Logbook", "x/Logs"] {
            assert!(folder_ok(good), "{good:?}");
        }
    }

    #[test]
    fn a_taken_name_gets_a_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("2026-11-23_Audit_Report.md");
        assert_eq!(free_path(&p), p);
        std::fs::write(&p, "mine").expect("write");
        let second = free_path(&p);
        assert_eq!(
            second.file_name().and_then(|n| n.to_str()),
            Some("2026-11-23_Audit_Report_2.md")
        );
    }
}
