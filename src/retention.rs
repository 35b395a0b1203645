//! Retention: day files older than the retention period are purged, their
//! CRITICAL entries archived first, exactly once even across crashes.
//!
//! For each expired file, oldest first, a small journal under `Logs/.audit/`
//! records the step reached, so a rerun after a crash resumes instead of
//! repeating: archive CRITICAL entries (the archive's length before the append
//! is journalled, and an unfinished append is cut back to it and redone), log
//! the purge, delete the file.
//!
//! With a cold tier (`AUDIT_ARCHIVE_DAYS`), a day file that expires is also
//! appended, compressed, to its month's `Logs/archive/YYYY-MM.jsonl.gz`
//! (see [`crate::archive`]) in the same journalled step, after its CRITICAL
//! entries and before the file goes; the month archives older than the
//! archive days are deleted by the same run.

use std::fs::{self, OpenOptions};
use std::io;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::archive::{self, ArchivedDay};
use crate::chain::{self, head, ChainKey};
use crate::daily::{self, Inspection};
use crate::entry::{ActionType, ApprovalStatus, ApprovedBy, Entry, LogLevel};
use crate::fsutil::{append_durable, sync_dir, write_atomic, write_replace};
use crate::time::parse_day;
use crate::vault::{day_file_name, Vault};

/// The default retention period, in days.
pub const DEFAULT_DAYS: u32 = 90;

/// One expired day file and what was (or would be) done with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Purge {
    /// The file name, `YYYY-MM-DD.json`.
    pub file: String,
    /// CRITICAL entries archived from it (or to archive, in dry run).
    pub critical: u64,
    /// Whether its entries went to the cold archive (or would, in dry run);
    /// left out of the JSON when not.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cold: bool,
}

/// How long day files, and then their archive, are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Day files older than this many days are expired.
    pub days: u32,
    /// With a cold tier: expired day files younger than this many days go
    /// to `Logs/archive/` first, and month archives older than it are
    /// deleted. None: expired day files are only deleted.
    pub archive_days: Option<u32>,
}

impl Default for Policy {
    /// [`DEFAULT_DAYS`], no cold archive.
    fn default() -> Self {
        Policy::from(DEFAULT_DAYS)
    }
}

impl From<u32> for Policy {
    fn from(days: u32) -> Self {
        Policy {
            days,
            archive_days: None,
        }
    }
}

impl Policy {
    /// Checks the days are in [`DAYS_RANGE`] and the archive keeps longer
    /// than the day files; says what is accepted when not.
    pub fn check(&self) -> Result<(), String> {
        let (low, high) = DAYS_RANGE.into_inner();
        if !DAYS_RANGE.contains(&self.days) {
            return Err(format!(
                "retention days {} is out of range; accepted: {low} to {high} (AUDIT_RETENTION_DAYS, --retention-days)",
                self.days
            ));
        }
        match self.archive_days {
            Some(a) if !DAYS_RANGE.contains(&a) || a <= self.days => Err(format!(
                "archive days {a} must be more than the retention days ({}) and at most {high} (AUDIT_ARCHIVE_DAYS)",
                self.days
            )),
            _ => Ok(()),
        }
    }
}

/// What a retention run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The retention period.
    pub retention_days: u32,
    /// Day files dated before this are expired.
    pub cutoff: String,
    /// True when nothing was changed.
    pub dry_run: bool,
    /// Files deleted (in dry run, 0).
    pub deleted: u64,
    /// CRITICAL entries appended to the archive (in dry run, 0).
    pub critical_archived: u64,
    /// The expired files, with what each held.
    pub files: Vec<Purge>,
    /// Expired files that could not be read, and so were kept.
    pub kept_unreadable: Vec<String>,
    /// With a cold tier: the days kept in the archive, and no longer in `Logs/`.
    pub cold_archived: u64,
    /// Month archives deleted as older than the archive days (in dry run,
    /// to delete), as `archive/YYYY-MM.jsonl.gz`.
    pub archives_deleted: Vec<String>,
}

/// The step a purge has reached, kept in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    /// CRITICAL entries are being appended to the archive.
    Archiving,
    /// They are in the archive; the purge is not logged yet.
    Archived,
    /// The purge is logged; the file is not deleted yet.
    Logged,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PurgeRecord {
    file: String,
    archive_len: u64,
    critical: u64,
    phase: Phase,
    /// With a cold tier: the month archive's length before the day's
    /// member is appended (absent: the day is not cold archived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cold_len: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct LastRun {
    last_run: String,
    retention_days: u32,
}

/// The first day that is kept: files dated before it are expired.
pub fn cutoff(today: NaiveDate, days: u32) -> NaiveDate {
    today
        .checked_sub_signed(Duration::days(i64::from(days)))
        .unwrap_or(NaiveDate::MIN)
}

/// The retention periods accepted, in days (one day to a hundred years).
pub const DAYS_RANGE: std::ops::RangeInclusive<u32> = 1..=36_500;

/// Whether a run is due: not yet run today with this period, or a purge was
/// interrupted. Costs one small read.
pub fn due(vault: &Vault, today: NaiveDate, days: u32) -> bool {
    let last: Option<LastRun> = crate::fsutil::read_no_follow(&vault.retention_last_run())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let ran_today =
        last.is_some_and(|l| parse_day(&l.last_run) == Some(today) && l.retention_days == days);
    !ran_today || vault.retention_journal().exists()
}

/// Why an [`Append`] did not write: the caller's own error, boxed (the
/// logger's `Error` sits on retention's own floor, out of its reach).
pub type AppendError = Box<dyn std::error::Error + Send + Sync>;

/// Appends entries to the day files (the caller holds the writers' lock).
pub type Append<'a> = dyn Fn(Vec<Entry>) -> Result<(), AppendError> + 'a;

/// Runs retention over `Logs/`. `append` writes the purge entries; `session`
/// is their session id. Days in `spare` are never deleted (the call that
/// wrote them is still running). Each deletion is recorded in the ledger
/// (with `key`), so the day is not taken for one removed by hand. In dry
/// run, lists what would be done and changes nothing.
#[allow(clippy::too_many_arguments)]
pub fn run(
    vault: &Vault,
    key: &ChainKey,
    now: DateTime<Utc>,
    policy: impl Into<Policy>,
    session: &str,
    dry_run: bool,
    spare: &[NaiveDate],
    append: &Append<'_>,
) -> io::Result<Report> {
    let policy = policy.into();
    let days = policy.days;
    let today = now.date_naive();
    let cutoff = cutoff(today, days);
    // Days before this are too old even for the archive.
    let cold_cutoff = policy.archive_days.map(|a| self::cutoff(today, a));
    let cold = |d: NaiveDate| cold_cutoff.is_some_and(|c| d >= c);
    let mut report = Report {
        retention_days: days,
        cutoff: cutoff.format("%Y-%m-%d").to_string(),
        dry_run,
        deleted: 0,
        critical_archived: 0,
        files: Vec::new(),
        kept_unreadable: Vec::new(),
        cold_archived: 0,
        archives_deleted: Vec::new(),
    };
    let purge = Purging {
        vault,
        key,
        now,
        days,
        archive_days: policy.archive_days,
        session,
    };
    if !dry_run {
        purge.settle_record(cutoff, spare, append, &mut report)?;
    }
    let expired = |d: &NaiveDate| *d < cutoff && !spare.contains(d);
    for date in vault.day_files()?.into_iter().filter(expired) {
        let file = day_file_name(date);
        let Some(entries) = read_entries(&vault.day_file(date)) else {
            report.kept_unreadable.push(file);
            continue;
        };
        if dry_run {
            report.files.push(Purge {
                file,
                critical: critical_lines(&entries).len() as u64,
                cold: cold(date),
            });
            continue;
        }
        let month = vault.archive_month(date);
        let journal = PurgeRecord {
            file,
            archive_len: fs::metadata(vault.critical_archive()).map_or(0, |m| m.len()),
            critical: 0,
            phase: Phase::Archiving,
            cold_len: cold(date).then(|| fs::symlink_metadata(&month).map_or(0, |m| m.len())),
        };
        write_journal(vault, &journal)?;
        purge.finish(journal, append, &mut report)?;
    }
    // Before the run is recorded, so that a failure is retried next time.
    if let Some(cold_cutoff) = cold_cutoff {
        purge.expire_archives(cold_cutoff, dry_run, append, &mut report)?;
    }
    if !dry_run {
        let state = LastRun {
            last_run: today.format("%Y-%m-%d").to_string(),
            retention_days: days,
        };
        let bytes = serde_json::to_vec(&state).unwrap_or_default();
        write_replace(&vault.retention_last_run(), &bytes, false)?;
    }
    Ok(report)
}

/// One purge's settings.
struct Purging<'a> {
    vault: &'a Vault,
    key: &'a ChainKey,
    now: DateTime<Utc>,
    days: u32,
    archive_days: Option<u32>,
    session: &'a str,
}

impl Purging<'_> {
    /// Finishes a purge a crash interrupted. The record is a file in the
    /// vault, which anyone there can write: it may only ever name an expired
    /// day file, else it is dropped and nothing is deleted.
    fn settle_record(
        &self,
        cutoff: NaiveDate,
        spare: &[NaiveDate],
        append: &Append<'_>,
        report: &mut Report,
    ) -> io::Result<()> {
        let Some(journal) = read_purge_record(self.vault) else {
            return Ok(());
        };
        let named = journal.file.strip_suffix(".json").and_then(parse_day);
        match named {
            Some(d) if day_file_name(d) == journal.file && d < cutoff && !spare.contains(&d) => {
                self.finish(journal, append, report)
            }
            _ => {
                fs::remove_file(self.vault.retention_journal())?;
                report.kept_unreadable.push(journal.file);
                Ok(())
            }
        }
    }

    /// Takes a purge from its journalled phase to the end.
    fn finish(
        &self,
        mut journal: PurgeRecord,
        append: &Append<'_>,
        report: &mut Report,
    ) -> io::Result<()> {
        let Purging {
            vault,
            key,
            now,
            days,
            session,
            ..
        } = *self;
        let Some(day) = journal.file.strip_suffix(".json").and_then(parse_day) else {
            return Ok(());
        };
        let path = vault.day_file(day);
        if journal.phase == Phase::Archiving {
            // Cut back whatever an interrupted append left, then archive.
            let archive = vault.critical_archive();
            if fs::metadata(&archive).is_ok_and(|m| m.len() > journal.archive_len) {
                let f = crate::fsutil::open_no_follow(&archive, OpenOptions::new().write(true))?;
                f.set_len(journal.archive_len)?;
                f.sync_all()?;
            }
            // Unreadable now: keep it, never delete what we cannot archive.
            let read = read_entries(&path).zip(self.cold_member(&journal, &path, day));
            let Some((entries, member)) = read else {
                fs::remove_file(vault.retention_journal())?;
                report.kept_unreadable.push(journal.file);
                return Ok(());
            };
            let critical = critical_lines(&entries);
            if !critical.is_empty() {
                append_durable(&archive, (critical.join("\n") + "\n").as_bytes())?;
            }
            if let (Some(len), Some(member)) = (journal.cold_len, member) {
                self.append_cold(day, len, &member)?;
            }
            journal.critical = critical.len() as u64;
            journal.phase = Phase::Archived;
            write_journal(vault, &journal)?;
        }
        if journal.phase == Phase::Archived {
            let entry = purge_entry(&journal, now, days, session)?;
            append(vec![entry]).map_err(io::Error::other)?;
            journal.phase = Phase::Logged;
            write_journal(vault, &journal)?;
        }
        if let Some(date) = journal.file.strip_suffix(".json").and_then(parse_day) {
            keep_anchor(vault, date)?;
            record_purge(vault, key, date)?;
        }
        match fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(&vault.logs())?;
                chain::forget(&path);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        fs::remove_file(vault.retention_journal())?;
        report.deleted += 1;
        report.critical_archived += journal.critical;
        report.cold_archived += u64::from(journal.cold_len.is_some());
        report.files.push(Purge {
            file: journal.file,
            critical: journal.critical,
            cold: journal.cold_len.is_some(),
        });
        Ok(())
    }

    /// The cold archive's member for the day file at `path`: `Some(None)`
    /// when the purge is not cold archived, `None` when the file cannot be
    /// read as it must be (then it is kept).
    fn cold_member(
        &self,
        journal: &PurgeRecord,
        path: &std::path::Path,
        day: NaiveDate,
    ) -> Option<Option<Vec<u8>>> {
        if journal.cold_len.is_none() {
            return Some(None);
        }
        let archived = archived_day(path, day)?;
        archive::member(&archived).ok().map(Some)
    }

    /// Appends a day's member to its month archive, once: what a crash left
    /// past `len` is settled first (see [`archive::settle`]).
    fn append_cold(&self, day: NaiveDate, len: u64, member: &[u8]) -> io::Result<()> {
        let month = self.vault.archive_month(day);
        // A name not taken yet: an earlier crash's bytes are kept too.
        let aside = (1..=u32::MAX)
            .map(|n| self.vault.archive_torn(day, self.now.timestamp(), n))
            .find(|p| fs::symlink_metadata(p).is_err())
            .unwrap_or_else(|| self.vault.archive_torn(day, self.now.timestamp(), 0));
        if !archive::settle(&month, len, member, &aside)? {
            archive::append(&month, member)?;
        }
        Ok(())
    }

    /// Deletes the month archives whose every day is before `cold_cutoff`,
    /// each logged first (in dry run, only listed).
    fn expire_archives(
        &self,
        cold_cutoff: NaiveDate,
        dry_run: bool,
        append: &Append<'_>,
        report: &mut Report,
    ) -> io::Result<()> {
        let vault = self.vault;
        for (month, path) in vault.archive_months()? {
            let next = month.checked_add_months(chrono::Months::new(1));
            if next.is_none_or(|n| n > cold_cutoff) {
                continue;
            }
            let name = format!("archive/{}", month.format("%Y-%m.jsonl.gz"));
            if !dry_run {
                let action = ActionType::new("log_retention").map_err(io::Error::other)?;
                let entry = Entry::new(LogLevel::Info, action, "audit_logger", name.clone())
                    .at(self.now)
                    .param("archive_days", self.archive_days.unwrap_or_default())
                    .approval(ApprovalStatus::NotRequired, ApprovedBy::System)
                    .session(self.session);
                append(vec![entry]).map_err(io::Error::other)?;
                match fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => sync_dir(&vault.archive_dir())?,
                }
            }
            report.archives_deleted.push(name);
        }
        Ok(())
    }
}

/// A day file as the cold archive keeps it: in our layout, its stored lines
/// byte for byte with its chain values; in another layout that parses, its
/// entries as compact JSON, unchained. `None` when it does not parse.
fn archived_day(path: &std::path::Path, day: NaiveDate) -> Option<ArchivedDay> {
    if let Some((s, lines)) = daily::stored_lines(path, day).ok()? {
        return Some(ArchivedDay {
            day,
            start: s.head.start,
            end: s.trailer.chain,
            lines,
        });
    }
    Some(ArchivedDay {
        day,
        start: None,
        end: None,
        lines: read_entries(path)?.iter().map(Value::to_string).collect(),
    })
}

/// Before a day is deleted: a ledger line says retention deleted it, with
/// its last state, when the vault keeps a head record (a vault written
/// before there was one gets none, so its ledger does not start here).
fn record_purge(vault: &Vault, key: &ChainKey, date: NaiveDate) -> io::Result<()> {
    if !vault.head_record().exists() && !vault.ledger().exists() {
        return Ok(());
    }
    let path = vault.day_file(date);
    let Ok(mut file) = crate::fsutil::open_read(&path) else {
        return Ok(());
    };
    let state = match daily::inspect(&mut file, date)? {
        Inspection::Ours(s) => head::State {
            day: date,
            start: s.head.start,
            entries: s.trailer.total_entries,
            chain: s.trailer.chain,
        },
        _ => head::State {
            day: date,
            start: None,
            entries: read_entries(&path).map_or(0, |e| e.len() as u64),
            chain: None,
        },
    };
    head::note(vault, key, head::Event::Purged, &state, None).map(|_| ())
}

/// Before a chained day is deleted: records, in the anchors file, its chain
/// values at the counts later days start from, and its final value, so the
/// days that remain still verify. Recorded values are copied, not recomputed:
/// they are what later days link to.
fn keep_anchor(vault: &Vault, date: chrono::NaiveDate) -> io::Result<()> {
    let path = vault.day_file(date);
    let Ok(mut file) = crate::fsutil::open_read(&path) else {
        return Ok(());
    };
    let Inspection::Ours(state) = daily::inspect(&mut file, date)? else {
        return Ok(());
    };
    let (Some(_), Some(end)) = (state.head.start, state.trailer.chain) else {
        return Ok(());
    };
    let total = state.trailer.total_entries;
    let mut anchor = chain::Anchor {
        total_entries: total,
        chain_end: chain::to_hex(&end),
        at: Default::default(),
    };
    let wanted = daily::chain_references(&vault.logs())?;
    for &at in wanted.get(&date).into_iter().flatten() {
        let value = if at == total {
            Some(end)
        } else {
            chain::recorded_at(&path, at)
        };
        if let Some(value) = value {
            anchor.at.insert(at, chain::to_hex(&value));
        }
    }
    let logs = vault.logs();
    let mut anchors = chain::load_anchors(&logs);
    anchors.insert(date.format("%Y-%m-%d").to_string(), anchor);
    chain::save_anchors(&logs, &anchors)
}

/// The INFO `log_retention` entry that records a purge.
fn purge_entry(
    journal: &PurgeRecord,
    now: DateTime<Utc>,
    days: u32,
    session: &str,
) -> io::Result<Entry> {
    let action = ActionType::new("log_retention").map_err(io::Error::other)?;
    let entry = Entry::new(LogLevel::Info, action, "audit_logger", journal.file.clone())
        .at(now)
        .param("retention_days", days)
        .param("critical_archived", journal.critical);
    // Only a day moved to the cold archive says so: without a cold tier the
    // entry is as it always was.
    let entry = match journal.cold_len {
        Some(_) => entry.param("cold_archived", true),
        None => entry,
    };
    Ok(entry
        .approval(ApprovalStatus::NotRequired, ApprovedBy::System)
        .session(session))
}

/// The CRITICAL entries (every entry scanned, not the summary) as archive lines.
fn critical_lines(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| {
            e.get("log_level")
                .and_then(Value::as_str)
                .is_some_and(|l| l.eq_ignore_ascii_case("CRITICAL"))
        })
        .map(Value::to_string)
        .collect()
}

/// Every entry of a day file in a layout that parses; `None` if it does not
/// (a damaged expired file is kept, never purged on a guess).
fn read_entries(path: &std::path::Path) -> Option<Vec<Value>> {
    let read = daily::read_entries(path).ok()?;
    (read.layout != daily::Layout::Salvaged).then_some(read.entries)
}

fn read_purge_record(vault: &Vault) -> Option<PurgeRecord> {
    let bytes = crate::fsutil::read_no_follow(&vault.retention_journal()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn write_journal(vault: &Vault, journal: &PurgeRecord) -> io::Result<()> {
    let bytes = serde_json::to_vec(journal).map_err(io::Error::other)?;
    write_atomic(&vault.retention_journal(), &bytes)
}
