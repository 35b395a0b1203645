//! Alert notes in `Needs_Action/`: one per CRITICAL entry, one per burst of
//! ERROR entries, so the human sees them in Obsidian.

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};

use crate::dashboard::cell;
use crate::entry::{Entry, LogLevel};
use crate::fsutil::write_atomic;
use crate::time::format_timestamp;
use crate::vault::{day_file_name, Vault};

/// When ERROR entries make a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// This many ERROR entries ...
    pub errors: usize,
    /// ... within this window.
    pub window: Duration,
}

/// Watches the entries written for alerts.
#[derive(Debug)]
pub struct Alerts {
    thresholds: Thresholds,
    folder: String,
    recent: VecDeque<Entry>,
    in_burst: bool,
}

impl Alerts {
    /// Alerts written into `folder` (`Needs_Action`).
    pub fn new(thresholds: Thresholds, folder: impl Into<String>) -> Self {
        Alerts {
            thresholds,
            folder: folder.into(),
            recent: VecDeque::new(),
            in_burst: false,
        }
    }

    /// Looks at entries just written; writes the notes they call for and
    /// returns their vault-relative paths.
    pub fn observe(&mut self, vault: &Vault, entries: &[Entry]) -> io::Result<Vec<String>> {
        let mut written = Vec::new();
        for e in entries {
            let Some(ts) = e.timestamp else { continue };
            match e.log_level {
                LogLevel::Critical => {
                    written.push(self.note(vault, ts, "CRITICAL", std::slice::from_ref(e))?)
                }
                LogLevel::Error => {
                    self.recent.push_back(e.clone());
                    while self
                        .recent
                        .front()
                        .and_then(|f| f.timestamp)
                        .is_some_and(|t| ts - t > self.thresholds.window)
                    {
                        self.recent.pop_front();
                    }
                    if self.recent.len() >= self.thresholds.errors && !self.in_burst {
                        self.in_burst = true;
                        let burst: Vec<Entry> = self.recent.iter().cloned().collect();
                        written.push(self.note(vault, ts, "ERROR", &burst)?);
                    } else if self.recent.len() < self.thresholds.errors {
                        // The window has thinned out: the next burst is a new one.
                        self.in_burst = false;
                    }
                }
                _ => {}
            }
        }
        Ok(written)
    }

    fn note(
        &self,
        vault: &Vault,
        at: DateTime<Utc>,
        level: &str,
        entries: &[Entry],
    ) -> io::Result<String> {
        let stamp = at.format("%Y%m%dT%H%M%S%3fZ");
        let mut rel = format!("{}/ALERT_{stamp}_{level}.md", self.folder);
        let mut n = 1;
        while vault.root().join(&rel).exists() {
            n += 1;
            rel = format!("{}/ALERT_{stamp}_{level}_{n}.md", self.folder);
        }
        let title = if level == "CRITICAL" {
            "A CRITICAL entry was logged".to_owned()
        } else {
            format!(
                "{} ERROR entries within {} minutes",
                entries.len(),
                self.thresholds.window.num_minutes()
            )
        };
        let mut text = format!(
            "---\ntype: alert\nlevel: {level}\ncreated: {}\n---\n\n# {title}\n\n| Time | Action | Actor | Target | Error |\n|------|--------|-------|--------|-------|\n",
            format_timestamp(&at)
        );
        let mut days = Vec::new();
        for e in entries {
            let time = e
                .timestamp
                .map(|t| format_timestamp(&t))
                .unwrap_or_default();
            text.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                cell(&time),
                cell(e.action_type.as_str()),
                cell(&e.actor),
                cell(&e.target),
                cell(e.error_message.as_deref().unwrap_or("")),
            ));
            if let Some(d) = e.date() {
                if !days.contains(&d) {
                    days.push(d);
                }
            }
        }
        text.push_str("\nThe entries are in ");
        let links: Vec<String> = days
            .iter()
            .map(|d| format!("[[Logs/{}]]", day_file_name(*d)))
            .collect();
        text.push_str(&links.join(", "));
        text.push_str(". Move this note to `Done/` once handled.\n");
        let path: PathBuf = vault.root().join(&rel);
        if let Some(dir) = path.parent() {
            crate::fsutil::ensure_dir(dir)?;
        }
        write_atomic(&path, text.as_bytes())?;
        Ok(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::ActionType;

    fn at(level: LogLevel, secs: i64) -> Entry {
        let t = crate::time::parse_timestamp("2026-11-22T10:00:00Z").expect("ts")
            + Duration::seconds(secs);
        Entry::new(
            level,
            ActionType::new("tool_call").expect("a"),
            "agent | x",
            "t",
        )
        .at(t)
    }

    #[test]
    fn a_burst_raises_one_note_and_criticals_one_each() {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Vault::new(dir.path());
        let mut alerts = Alerts::new(
            Thresholds {
                errors: 3,
                window: Duration::minutes(15),
            },
            "Needs_Action",
        );
        let errors: Vec<Entry> = (0..10).map(|i| at(LogLevel::Error, i)).collect();
        let notes = alerts.observe(&vault, &errors).expect("observe");
        assert_eq!(notes.len(), 1, "{notes:?}");
        let text = std::fs::read_to_string(dir.path().join(&notes[0])).expect("note");
        assert!(
            text.contains("# 3 ERROR entries within 15 minutes") && text.contains("agent \\| x"),
            "{text}"
        );
        assert!(text.contains("[[Logs/2026-11-22.json]]"));
        // Much later, a new burst is a new note; a CRITICAL is always one.
        let later: Vec<Entry> = (0..3).map(|i| at(LogLevel::Error, 3600 + i)).collect();
        assert_eq!(alerts.observe(&vault, &later).expect("observe").len(), 1);
        let crit = alerts
            .observe(
                &vault,
                &[at(LogLevel::Critical, 4000), at(LogLevel::Critical, 4000)],
            )
            .expect("observe");
        assert_eq!(crit.len(), 2);
        assert_ne!(crit[0], crit[1]);
        assert!(
            crit[0].starts_with("Needs_Action/ALERT_20261122T110640000Z_CRITICAL"),
            "{crit:?}"
        );
    }
}
