//! Entries another program left in a day file that a repair cut or moved
//! aside: validated like any entry and taken in, with one WARNING saying so.

use serde_json::{json, Value};

use super::AuditLogger;
use crate::daily::{DayFileState, Recovery};
use crate::entry::peer::{map_peer, Mapping};
use crate::entry::{ActionType, Entry, LogLevel};
use crate::error::Error;

impl AuditLogger {
    /// Takes in what other writers left in the day files that `recoveries`
    /// repaired: every object, mapped from its peer shape to ours (see
    /// [`crate::entry::peer`]), that validates as an entry is appended in
    /// time order, the rest stays in the file kept aside; one WARNING
    /// `system_event` (`foreign_write`) per such file tells the human. The
    /// caller holds the writers' lock. Returns the day files written.
    pub fn take_in_foreign(&self, recoveries: &[Recovery]) -> Result<Vec<DayFileState>, Error> {
        let mut entries = Vec::new();
        for recovery in recoveries.iter().filter(|r| worth_a_warning(r)) {
            let from = recovery.kept_at().unwrap_or(recovery.path());
            let name = from.file_name().map(|n| n.to_string_lossy().into_owned());
            let how = Mapping {
                zone: self.import_zone,
                imported_from: name.as_deref(),
            };
            // The other version of a merged day holds entries as stored:
            // taken as they are, so that each keeps its identity (its line).
            let merged = matches!(recovery, Recovery::Merged { .. });
            let mut valid: Vec<Entry> = recovery
                .foreign()
                .iter()
                .filter_map(|v| match merged {
                    true => self.entry_from_value(v.clone()).ok(),
                    false => Entry::from_value(map_peer(v.clone(), &how)).ok(),
                })
                .filter(|e| self.prepare(e.clone()).is_ok())
                .collect();
            valid.sort_by_key(|e| e.timestamp);
            entries.push(self.foreign_write_event(recovery, valid.len()));
            entries.extend(valid);
        }
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        self.append_locked(entries).map(|(files, _, _)| files)
    }

    /// The WARNING that says another program wrote into a day file.
    fn foreign_write_event(&self, recovery: &Recovery, taken_in: usize) -> Entry {
        let objects = recovery.foreign().len();
        let kept_at = recovery
            .kept_at()
            .map(|p| Value::from(self.vault.relative(p).into_owned()));
        let kind = match recovery {
            Recovery::TornTail { .. } => "appended_after_our_entries",
            Recovery::Converted { .. } => "rewritten_in_another_layout",
            Recovery::Merged { .. } => "sync_conflict",
            _ => "damaged",
        };

        let action = ActionType::system_event();
        let target = self.vault.relative(recovery.path()).into_owned();
        let event = Entry::new(LogLevel::Warning, action, "audit_logger", target)
            .param("event", "foreign_write")
            .param("how", kind)
            .param("objects", objects)
            .param("taken_in", taken_in)
            .param("not_valid_kept", objects - taken_in)
            .param("kept_at", kept_at.unwrap_or(Value::Null))
            .param("detail", json!(recovery.to_string()));
        match recovery {
            Recovery::Merged { device, .. } => event.param("device", device.as_str()),
            _ => event,
        }
    }
}

/// Whether a repair says another program touched the file (not a torn
/// write of our own, which leaves no complete object).
fn worth_a_warning(recovery: &Recovery) -> bool {
    match recovery {
        Recovery::Converted { .. } | Recovery::Quarantined { .. } | Recovery::Merged { .. } => true,
        Recovery::TornTail { foreign, .. } => !foreign.is_empty(),
        _ => false,
    }
}
