//! On the primary, after a write: the replicas' new entries taken in (see
//! [`crate::replica`]) and the sync tools' conflict copies merged, both
//! through the one validating, redacting append path.

use std::io;

use serde_json::{json, Value};

use super::AuditLogger;
use crate::daily::{self, DayFileState, Recovery};
use crate::entry::{ActionType, Entry, LogLevel};
use crate::error::Error;
use crate::fsutil::IoFailure;
use crate::replica::{self, Refused, HOST_PARAM};

/// What taking in from the replicas and merging conflict copies did.
#[derive(Debug, Default)]
pub struct Synced {
    /// Main day files written.
    pub files: Vec<DayFileState>,
    /// What is worth saying, one line each.
    pub notes: Vec<String>,
    /// The replicas' entries taken in (for the daemon's alerts).
    pub entries: Vec<Entry>,
}

impl AuditLogger {
    /// The line this logger stores for an entry replica `host` wrote: the
    /// entry read as any entry given as JSON is, `parameters.host` set to
    /// the replica's name, redacted and validated; or why it is refused.
    pub fn replica_line(&self, host: &str, value: &Value) -> Result<String, String> {
        self.replica_entry(host, value)
            .and_then(|e| self.prepare_line(e).map_err(|e| e.to_string()))
            .map(|(_, line)| line)
    }

    fn replica_entry(&self, host: &str, value: &Value) -> Result<Entry, String> {
        let mut entry = self
            .entry_from_value(value.clone())
            .map_err(|e| e.to_string())?;
        entry.parameters.insert(HOST_PARAM.into(), host.into());
        Ok(entry)
    }

    /// Takes in the replicas' new entries and merges the conflict copies in
    /// `Logs/`, holding the writers' lock; a replica does nothing.
    pub fn sync_replicas(&self) -> Result<Synced, Error> {
        if self.vault.host().is_some() || self.dry_run {
            return Ok(Synced::default());
        }
        self.ensure_state_dir(&[])?;
        let lock = self.vault.lock_file();
        match crate::lock::with_lock(&lock, self.lock_timeout, || self.sync_locked()) {
            Ok(result) => result,
            Err(failure) => Err(Error::lock(lock, failure, Vec::new())),
        }
    }

    /// [`AuditLogger::sync_replicas`] with the lock held.
    pub(crate) fn sync_locked(&self) -> Result<Synced, Error> {
        let mut done = self.take_in_replicas()?;
        for merged in [self.merge_conflict_copies()?, self.merge_marked_days()?] {
            super::merge_states(&mut done.files, merged.files);
            done.notes.extend(merged.notes);
        }
        Ok(done)
    }

    fn take_in_replicas(&self) -> Result<Synced, Error> {
        let vault = &self.vault;
        let logs = vault.logs();
        let io_error = |op: &'static str| {
            let logs = logs.clone();
            move |e: io::Error| Error::io(IoFailure::new(op, &logs, e), Vec::new(), Vec::new())
        };
        let plan = replica::plan(vault, &|host, value| self.replica_line(host, value))
            .map_err(io_error("read the replicas in"))?;
        if plan.is_empty() {
            return Ok(Synced::default());
        }
        replica::mark_pending(vault, &plan).map_err(io_error("record a take-in in"))?;
        let mut entries: Vec<Entry> = plan
            .incoming
            .iter()
            .filter_map(|i| self.replica_entry(&i.host, &i.value).ok())
            .collect();
        let taken = entries.len();
        let kept = entries.clone();
        entries.extend(refused_warnings(&plan.refused));
        let files = match entries.is_empty() {
            true => Vec::new(),
            false => self.append_locked(entries)?.0,
        };
        replica::finish(vault, &plan).map_err(io_error("record a take-in in"))?;
        let mut notes = Vec::new();
        if taken > 0 {
            notes.push(format!("took in {taken} entries from the replicas"));
        }
        Ok(Synced {
            files,
            notes,
            entries: kept,
        })
    }

    /// Each conflict copy a sync tool left in `Logs/`: the entries the day
    /// file lacks taken in (with one WARNING naming the device), then the
    /// copy moved aside as `YYYY-MM-DD.conflict-<unix>.json`.
    fn merge_conflict_copies(&self) -> Result<Synced, Error> {
        let logs = self.vault.logs();
        let at = |op, path: &std::path::Path, e| {
            Error::io(IoFailure::new(op, path, e), Vec::new(), Vec::new())
        };
        let copies = crate::vault::conflict_copies_in(&logs).map_err(|e| at("read", &logs, e))?;
        let mut done = Synced::default();
        for copy in copies {
            let day = self.vault.day_file(copy.date);
            let now = self.now().timestamp();
            let merged = daily::copy_extras(&day, copy.date, &copy.path, &copy.device, now)
                .map_err(|e| at("read", &copy.path, e))?;
            let files = self.take_in_foreign(std::slice::from_ref(&merged))?;
            super::merge_states(&mut done.files, files);
            let Recovery::Merged { kept_at, .. } = &merged else {
                continue;
            };
            std::fs::rename(&copy.path, kept_at).map_err(|e| at("move aside", &copy.path, e))?;
            done.notes.push(merged.to_string());
        }
        Ok(done)
    }
}

impl AuditLogger {
    /// The day files in `Logs/` with Git conflict markers, merged (see
    /// [`daily::recover`]) and the other side's entries taken in. Only the
    /// files changed since the index was last written (with a margin) are
    /// looked at: a merge writes the files it changes, and every upkeep
    /// writes the index.
    fn merge_marked_days(&self) -> Result<Synced, Error> {
        let logs = self.vault.logs();
        let failed = |op, path: &std::path::Path, e| {
            Error::io(IoFailure::new(op, path, e), Vec::new(), Vec::new())
        };
        let since = modified(&self.vault.index()).map(|t| t.saturating_sub(MARGIN_NS));
        let mut recoveries = Vec::new();
        for date in self
            .vault
            .day_files()
            .map_err(|e| failed("read", &logs, e))?
        {
            let path = self.vault.day_file(date);
            let changed = match (since, modified(&path)) {
                (Some(since), Some(at)) => at >= since,
                _ => true,
            };
            if changed && has_markers(&path, date) {
                let now = self.now().timestamp();
                let done = daily::recover(&path, date, now, &self.chain_key)
                    .map_err(|e| failed("merge", &path, e))?;
                recoveries.push(done);
            }
        }
        let files = self.take_in_foreign(&recoveries)?;
        let notes = recoveries.iter().map(ToString::to_string).collect();
        Ok(Synced {
            files,
            notes,
            ..Synced::default()
        })
    }
}

/// How long before the index's last write a changed day file is looked at.
const MARGIN_NS: u128 = 5_000_000_000;

/// A file's modification time (never following a link), in nanoseconds.
fn modified(path: &std::path::Path) -> Option<u128> {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
}

/// Whether the day file at `path` is not intact and has Git conflict markers.
fn has_markers(path: &std::path::Path, date: chrono::NaiveDate) -> bool {
    let Ok(mut file) = crate::fsutil::open_read(path) else {
        return false;
    };
    if !matches!(
        daily::inspect(&mut file, date),
        Ok(daily::Inspection::NeedsRecovery)
    ) {
        return false;
    }
    crate::fsutil::read_no_follow(path).is_ok_and(|b| daily::conflict_sides(&b).is_some())
}

/// One WARNING per replica day file with entries the primary refused.
fn refused_warnings(refused: &[Refused]) -> Vec<Entry> {
    let mut files: Vec<(&str, &str, Vec<&Refused>)> = Vec::new();
    for r in refused {
        match files.iter_mut().find(|(_, f, _)| *f == r.file) {
            Some((_, _, list)) => list.push(r),
            None => files.push((&r.host, &r.file, vec![r])),
        }
    }
    files
        .into_iter()
        .map(|(host, file, list)| {
            let first = list[0];
            Entry::new(
                LogLevel::Warning,
                ActionType::system_event(),
                "audit_logger",
                file,
            )
            .param("event", "replica_entries_refused")
            .param("replica", host)
            .param("refused", list.len())
            .param("first_position", first.position)
            .param("first_reason", json!(first.reason))
        })
        .collect()
}
