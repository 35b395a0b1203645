//! The upkeep: after the writers' lock is let go, in this order, the
//! replicas taken in, the alert notes, the index, the Dashboard, and (when
//! due) retention, for every write since the last run, read back from the
//! day files through their cursors. One process runs it at a time; a writer
//! that finds it busy leaves (coalesced), and the daemon runs the same code
//! on a timer.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::AuditLogger;
use crate::alert::{self, Rules};
use crate::daily::{self, DayCursor, DayFileState};
use crate::dashboard;
use crate::fsutil::{at, IoFailure};
use crate::index::{self, Index};
use crate::retention;
use crate::vault::Vault;

/// The derived views after a write: the index updated from the days just
/// written (kept in `cache` between calls), then the Dashboard.
///
/// When an earlier refresh failed (a full disk, say), the views may be stale
/// for days not written now: a marker file says so, and the next refresh
/// rebuilds them whole, then removes it. Costs one `stat` otherwise.
pub fn refresh_views(
    vault: &Vault,
    written: &[DayFileState],
    now: DateTime<Utc>,
    cache: &mut index::Cache,
    settings: &dashboard::Settings,
) -> Result<Index, IoFailure> {
    let stale = vault.views_stale();
    let result = if stale.exists() {
        rebuild_views(vault, now, settings)
    } else {
        at(
            "write",
            &vault.index(),
            index::update(vault, written, now, cache),
        )
        .and_then(|index| refresh_dashboard(vault, &index, now, settings).map(|()| index))
    };
    if result.is_err() {
        // Best effort: if even this empty file cannot be made, the daily
        // rebuild with retention heals the views.
        let _ = crate::fsutil::open_no_follow(
            &stale,
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false),
        );
        *cache = index::Cache::default();
    }
    result
}

/// The derived views from scratch: the index rebuilt from the day files and
/// saved, then the Dashboard.
pub fn rebuild_views(
    vault: &Vault,
    now: DateTime<Utc>,
    settings: &dashboard::Settings,
) -> Result<Index, IoFailure> {
    let index = at("read", &vault.logs(), index::rebuild(vault, now))?;
    at("write", &vault.index(), index::save(vault, &index))?;
    refresh_dashboard(vault, &index, now, settings)?;
    let stale = vault.views_stale();
    match std::fs::remove_file(&stale) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(IoFailure::new("remove", &stale, e))
        }
        _ => Ok(index),
    }
}

fn refresh_dashboard(
    vault: &Vault,
    index: &Index,
    now: DateTime<Utc>,
    settings: &dashboard::Settings,
) -> Result<(), IoFailure> {
    let path = vault.dashboard();
    let last_alert = || alert::last_alert(vault);
    let refreshed = dashboard::refresh(vault, &index.dates(), now, settings, &last_alert, true);
    at("write", &path, refreshed).map(|_| ())
}

/// One thing an upkeep run could not do; the write itself stands.
#[derive(Debug, thiserror::Error)]
pub enum UpkeepProblem {
    /// Alert notes could not be raised (the alert state is kept as it was,
    /// so the next write raises them again).
    #[error("alerts: {0}")]
    Alerts(#[source] IoFailure),
    /// The index or the Dashboard could not be refreshed or rebuilt (the
    /// next write rebuilds them whole).
    #[error(transparent)]
    Views(#[from] IoFailure),
    /// Retention stopped part-way (its purge record resumes it next time).
    #[error("retention: {0}")]
    Retention(#[source] std::io::Error),
    /// The replicas' entries or a conflict copy could not be taken in (the
    /// next upkeep tries again).
    #[error("replicas: {0}")]
    Replicas(String),
    /// An expired day file could not be read, so it was kept.
    #[error("retention: Logs/{file} is expired but could not be read; kept")]
    KeptUnreadable {
        /// The day file's name.
        file: String,
    },
}

/// Everything an upkeep run could not do, in order (shown joined by `; `).
#[derive(Debug, thiserror::Error)]
#[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct UpkeepError {
    /// The problems, at least one.
    pub problems: Vec<UpkeepProblem>,
}

/// Index, Dashboard and retention after every write.
#[derive(Debug, Default)]
pub struct Upkeep {
    policy: retention::Policy,
    index: Mutex<index::Cache>,
    /// False on a replica: no index, no Dashboard, no alerts, nothing
    /// taken in.
    views: bool,
    /// The alert rules (none: no alert notes).
    alerts: Option<Rules>,
    /// How the Dashboard is drawn.
    dashboard: dashboard::Settings,
}

impl Upkeep {
    /// Upkeep keeping logs as `policy` says (a number of days is a policy
    /// without a cold archive).
    pub fn new(policy: impl Into<retention::Policy>) -> Self {
        Upkeep {
            policy: policy.into(),
            index: Mutex::default(),
            views: true,
            alerts: None,
            dashboard: dashboard::Settings::default(),
        }
    }

    /// Upkeep that draws the Dashboard as `settings` say.
    pub fn dashboard(mut self, settings: dashboard::Settings) -> Self {
        self.dashboard = settings;
        self
    }

    /// Upkeep that raises alert notes by `rules` (none: no alert notes).
    pub fn alerts(mut self, rules: Option<Rules>) -> Self {
        self.alerts = rules;
        self
    }

    /// Upkeep for a replica: retention of its own days only.
    pub fn without_views(mut self) -> Self {
        self.views = false;
        self
    }
}

/// The most of a day file the upkeep reads at once.
const CHUNK: daily::Limit = daily::Limit {
    bytes: 4 << 20,
    entries: 20_000,
};

/// The largest the due marks may grow before the upkeep empties them.
const MAX_DUE_BYTES: u64 = 64 << 10;

/// How far the upkeep has brought the views: the due marks read, and where
/// it stands in each day file ([`DayCursor`]). `Logs/.audit/upkeep.json`,
/// overwritten in place and not synced: after a crash, the marks after the
/// offset it had are read again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct CaughtUp {
    /// Bytes of `Logs/.audit/upkeep-due` read.
    due_offset: u64,
    /// Per day file, how far it has been read.
    days: BTreeMap<NaiveDate, DayCursor>,
}

impl CaughtUp {
    fn load(vault: &Vault) -> CaughtUp {
        crate::fsutil::read_no_follow(&vault.upkeep_state())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn save(&self, vault: &Vault) -> Result<(), IoFailure> {
        let path = vault.upkeep_state();
        let json = serde_json::to_vec(self)
            .map_err(|e| IoFailure::new("write", &path, io::Error::other(e)))?;
        at(
            "write",
            &path,
            crate::fsutil::overwrite_in_place(&path, &json),
        )
    }
}

/// The days the due marks name after `offset`, each with the smallest
/// count it had before a write, and the offset after the last mark.
fn read_marks(vault: &Vault, offset: u64) -> io::Result<(BTreeMap<NaiveDate, u64>, u64)> {
    let path = vault.upkeep_due();
    let mut file = match crate::fsutil::open_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((BTreeMap::new(), 0)),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    // Emptied since (by an upkeep whose state was lost): read it all.
    let offset = if offset > len { 0 } else { offset };
    let bytes = crate::fsutil::read_range(&mut file, offset, len - offset)?;
    // Only whole lines: a mark being written is read next time.
    let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let mut marks = BTreeMap::new();
    for line in bytes[..whole].split(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(line);
        let mut parts = text.split(' ');
        let day = parts.next().and_then(crate::time::parse_day);
        let before = parts.next().and_then(|n| n.trim().parse::<u64>().ok());
        if let (Some(day), Some(before)) = (day, before) {
            let min = marks.entry(day).or_insert(before);
            *min = (*min).min(before);
        }
    }
    Ok((marks, offset + whole as u64))
}

/// What one day file holds after the upkeep's cursor: its entries and state.
fn read_day(
    vault: &Vault,
    date: NaiveDate,
    cursor: Option<&DayCursor>,
    before: Option<u64>,
) -> io::Result<Option<(daily::Lines, DayFileState)>> {
    let path = vault.day_file(date);
    // No cursor yet: from where the first marked write began.
    let start = |count: Option<u64>| -> io::Result<DayCursor> {
        match count {
            Some(n) => Ok(daily::seek(&path, date, n)?.unwrap_or_default()),
            None => daily::end_of(&path, date),
        }
    };
    let mut at = match cursor {
        Some(c) => c.clone(),
        None => start(before)?,
    };
    for _ in 0..2 {
        match daily::read_after(&path, date, &at, CHUNK)? {
            daily::After::Lines(read) => {
                let state = DayFileState {
                    date,
                    path: path.clone(),
                    total_entries: read.trailer.total_entries,
                    size_bytes: read.size,
                    summary: read.trailer.summary,
                };
                return Ok(Some((read, state)));
            }
            // Rewritten (a repair, a merge): from the first marked write, or
            // its end.
            daily::After::Moved { .. } => at = start(before)?,
            daily::After::Unchanged | daily::After::Missing | daily::After::NotOurs => {
                return Ok(None)
            }
        }
    }
    Ok(None)
}

impl Upkeep {
    /// Brings the views up to date with every write so far, unless another
    /// process is doing it: then it marks nothing and leaves at once (the
    /// one running it sees this write's mark, and loops until no mark is
    /// left). Never holds the writers' lock except to take replicas in, to
    /// run retention, or to empty the due marks. Returns what is worth
    /// saying.
    pub(crate) fn settle(&self, logger: &AuditLogger) -> Result<Vec<String>, UpkeepError> {
        let vault = logger.vault();
        let mut notes = Vec::new();
        let mut problems = Vec::new();
        loop {
            let held = match crate::lock::HeldLock::try_hold(&vault.upkeep_lock()) {
                Ok(Some(held)) => held,
                Ok(None) => break,
                Err(e) => {
                    problems.push(UpkeepProblem::Views(IoFailure::new(
                        "lock",
                        &vault.upkeep_lock(),
                        e,
                    )));
                    break;
                }
            };
            let mut caught = CaughtUp::load(vault);
            let mut first = true;
            while self.run_once(logger, &mut caught, first, &mut notes, &mut problems) {
                first = false;
            }
            drop(held);
            // A mark made while the lock was being let go: run again.
            let waiting =
                std::fs::metadata(vault.upkeep_due()).is_ok_and(|m| m.len() > caught.due_offset);
            if !waiting {
                break;
            }
        }
        match problems.is_empty() {
            true => Ok(notes),
            false => Err(UpkeepError { problems }),
        }
    }

    /// One pass over the marks made since the last; whether it found any.
    fn run_once(
        &self,
        logger: &AuditLogger,
        caught: &mut CaughtUp,
        first: bool,
        notes: &mut Vec<String>,
        problems: &mut Vec<UpkeepProblem>,
    ) -> bool {
        let vault = logger.vault();
        let now = logger.now();
        let today = now.date_naive();
        if self.views && first {
            self.take_replicas_in(logger, notes, problems);
        }
        let (marks, end) = match read_marks(vault, caught.due_offset) {
            Ok(found) => found,
            Err(e) => {
                problems.push(UpkeepProblem::Views(IoFailure::new(
                    "read",
                    &vault.upkeep_due(),
                    e,
                )));
                return false;
            }
        };
        if marks.is_empty() && !first {
            return false;
        }
        let mut dates: BTreeSet<NaiveDate> = marks.keys().copied().collect();
        dates.insert(today);
        let mut written = Vec::new();
        for date in dates {
            let marked = marks.get(&date).copied();
            match self.read_day_through(logger, caught, date, marked, notes, problems) {
                Ok(Some(state)) => written.push(state),
                Ok(None) => {}
                Err(e) => problems.push(UpkeepProblem::Views(IoFailure::new(
                    "read",
                    &vault.day_file(date),
                    e,
                ))),
            }
        }
        if self.views {
            let mut cache = self.index.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = refresh_views(vault, &written, now, &mut cache, &self.dashboard) {
                problems.push(UpkeepProblem::Views(e));
            }
        }
        let spare: Vec<NaiveDate> = marks.keys().copied().collect();
        self.retain(logger, &spare, notes, problems);
        let cutoff = retention::cutoff(today, self.policy.days);
        caught.days.retain(|d, _| *d >= cutoff);
        caught.due_offset = end;
        self.empty_marks(logger, caught);
        if let Err(e) = caught.save(vault) {
            problems.push(UpkeepProblem::Views(e));
        }
        !marks.is_empty()
    }

    /// Reads a day file after the upkeep's cursor in bounded chunks, raising
    /// the alerts each chunk calls for; returns its state when it was
    /// written since (for the index).
    fn read_day_through(
        &self,
        logger: &AuditLogger,
        caught: &mut CaughtUp,
        date: NaiveDate,
        marked: Option<u64>,
        notes: &mut Vec<String>,
        problems: &mut Vec<UpkeepProblem>,
    ) -> io::Result<Option<DayFileState>> {
        let vault = logger.vault();
        let mut last = None;
        loop {
            let cursor = caught.days.get(&date);
            let Some((read, state)) = read_day(vault, date, cursor, marked)? else {
                return Ok(last);
            };
            if self.views && !read.lines.is_empty() {
                let entries: Vec<_> = (read.lines.iter())
                    .filter_map(|l| logger.entry_from_json(l).ok())
                    .collect();
                self.raise_alerts(vault, &entries, logger.now(), notes, problems);
            }
            let more = !read.lines.is_empty() && read.next.count < read.total;
            if !read.lines.is_empty() || marked.is_some() {
                last = Some(state);
            }
            caught.days.insert(date, read.next);
            if !more {
                return Ok(last);
            }
        }
    }

    /// Empties the due marks once they are all read and grown past
    /// [`MAX_DUE_BYTES`], under the writers' lock (writers mark under it).
    fn empty_marks(&self, logger: &AuditLogger, caught: &mut CaughtUp) {
        if caught.due_offset < MAX_DUE_BYTES {
            return;
        }
        let path = logger.vault().upkeep_due();
        let offset = caught.due_offset;
        let emptied = logger.with_writer_lock(|| {
            let file =
                crate::fsutil::open_no_follow(&path, std::fs::OpenOptions::new().write(true))?;
            if file.metadata()?.len() != offset {
                return Ok(false);
            }
            file.set_len(0)?;
            Ok(true)
        });
        if let Ok(true) = emptied {
            caught.due_offset = 0;
        }
    }

    /// On the primary, the replicas' new entries and the sync tools'
    /// conflict copies, under the writers' lock (their appends mark the
    /// upkeep due like any other).
    fn take_replicas_in(
        &self,
        logger: &AuditLogger,
        notes: &mut Vec<String>,
        problems: &mut Vec<UpkeepProblem>,
    ) {
        match logger.sync_replicas() {
            Ok(synced) => notes.extend(synced.notes),
            Err(e) => problems.push(UpkeepProblem::Replicas(e.to_string())),
        }
    }

    /// The alert notes the entries call for.
    fn raise_alerts(
        &self,
        vault: &Vault,
        entries: &[crate::entry::Entry],
        now: DateTime<Utc>,
        notes: &mut Vec<String>,
        errors: &mut Vec<UpkeepProblem>,
    ) {
        let Some(rules) = &self.alerts else {
            return;
        };
        let entries: Vec<_> = entries
            .iter()
            .filter(|e| rules.matters(e))
            .cloned()
            .collect();
        match alert::raise(vault, rules, &entries, now) {
            Ok(raised) => notes.extend(raised.iter().map(|n| format!("alert: wrote {n}"))),
            Err(e) => errors.push(UpkeepProblem::Alerts(e)),
        }
    }

    /// Retention: once a day (one small read otherwise), or at once when a
    /// write landed on a day that is already expired; under the writers'
    /// lock. Never a day file just written (`spare`).
    fn retain(
        &self,
        logger: &AuditLogger,
        spare: &[NaiveDate],
        notes: &mut Vec<String>,
        errors: &mut Vec<UpkeepProblem>,
    ) {
        let (vault, now) = (logger.vault(), logger.now());
        let today = now.date_naive();
        let cutoff = retention::cutoff(today, self.policy.days);
        let expired_write = spare.iter().any(|d| *d < cutoff);
        if !expired_write && !retention::due(vault, today, self.policy.days) {
            return;
        }
        let ran = logger.with_writer_lock(|| {
            let append = |entries| {
                logger
                    .append_locked(entries)
                    .map(|_| ())
                    .map_err(retention::AppendError::from)
            };
            retention::run(
                vault,
                logger.chain_key(),
                now,
                self.policy,
                logger.session_id(),
                false,
                spare,
                &append,
            )
        });
        match ran {
            Ok(report) => {
                for p in &report.files {
                    notes.push(format!(
                        "retention: deleted Logs/{} ({} CRITICAL entries archived)",
                        p.file, p.critical
                    ));
                }
                for file in report.kept_unreadable {
                    errors.push(UpkeepProblem::KeptUnreadable { file });
                }
                // Once a day the index is checked against the files on disk
                // (a file removed or added by hand is caught here).
                if self.views {
                    if let Err(e) = rebuild_views(vault, now, &self.dashboard) {
                        errors.push(UpkeepProblem::Views(e));
                    }
                }
            }
            Err(e) => errors.push(UpkeepProblem::Retention(io::Error::other(e.to_string()))),
        }
    }
}
