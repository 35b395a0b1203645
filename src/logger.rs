//! The logger: validate, take the lock, append durably, then run the
//! post-write steps (index, Dashboard, retention) while the lock is held.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate};

use crate::daily::{self, Inspection, Line, Recovery, Summary};
use crate::entry::{Entry, EntryError};
use crate::error::Error;
use crate::fsutil::{append_durable, ensure_dir, sync_dir};
use crate::lock::{with_lock, LockFailure};
use crate::time::{new_session_id, Clock, SystemClock};
use crate::vault::Vault;

/// The default time to wait for the writers' lock.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// A day file as it stands after a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayFileState {
    /// Its date.
    pub date: NaiveDate,
    /// Its path.
    pub path: PathBuf,
    /// Entries it holds.
    pub total_entries: u64,
    /// Its size.
    pub size_bytes: u64,
    /// Entries by level.
    pub summary: Summary,
}

/// What a successful `log()` or `log_batch()` did.
#[derive(Debug, Clone, Default)]
pub struct Receipt {
    /// The entries as stored (timestamp and session filled in).
    pub entries: Vec<Entry>,
    /// The day files written, oldest date first (empty in dry run).
    pub files: Vec<DayFileState>,
    /// Damaged or foreign day files that were repaired on the way.
    pub recoveries: Vec<Recovery>,
    /// True when nothing was written because the logger runs dry.
    pub dry_run: bool,
    /// Post-write steps that failed, as `step: message`. The entries are
    /// written all the same.
    pub post_write_errors: Vec<String>,
}

/// A step run after every successful, durable append (not in dry run), while
/// the writers' lock is still held: index, Dashboard and retention plug in here.
pub trait PostWrite: Send + Sync {
    /// A short name, for error messages.
    fn name(&self) -> &str;
    /// Runs the step. An error is reported in the receipt and does not undo
    /// the write.
    fn run(&self, vault: &Vault, receipt: &Receipt) -> Result<(), String>;
}

/// Builds an [`AuditLogger`].
pub struct AuditLoggerBuilder {
    vault: PathBuf,
    dry_run: bool,
    session_id: Option<String>,
    lock_timeout: Duration,
    clock: Arc<dyn Clock>,
    steps: Vec<Box<dyn PostWrite>>,
    dry_run_output: Option<DryRunOutput>,
}

/// Where dry-run lines go when not to stdout.
type DryRunOutput = Mutex<Box<dyn Write + Send>>;

impl AuditLoggerBuilder {
    /// Runs dry: validate and print, write nothing (default false).
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// The session id given to entries that have none (default: a new
    /// `AI_EMP_YYYYMMDD_XXXXXX`).
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// How long to wait for the writers' lock before saving to
    /// `failed_writes.json` (default 5 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The clock (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Adds a step to run after every successful write.
    pub fn after_write(mut self, step: Box<dyn PostWrite>) -> Self {
        self.steps.push(step);
        self
    }

    /// Where dry run prints its `[DRY_RUN] Log Entry: {json}` lines
    /// (default stdout).
    pub fn dry_run_output(mut self, out: impl Write + Send + 'static) -> Self {
        self.dry_run_output = Some(Mutex::new(Box::new(out)));
        self
    }

    /// Checks the vault exists and builds the logger. Creates nothing.
    pub fn build(self) -> Result<AuditLogger, Error> {
        if !self.vault.is_dir() {
            return Err(Error::VaultNotFound { path: self.vault });
        }
        let session_id = match self.session_id {
            Some(id) if !id.trim().is_empty() => id,
            _ => new_session_id(self.clock.now()),
        };
        Ok(AuditLogger {
            vault: Vault::new(self.vault),
            dry_run: self.dry_run,
            session_id,
            lock_timeout: self.lock_timeout,
            clock: self.clock,
            steps: self.steps,
            dry_run_output: self.dry_run_output,
        })
    }
}

/// Appends audit entries to a vault's day files.
///
/// Cheap to keep for the life of a program; every call takes the
/// cross-process lock afresh, so any number of processes can log at once.
pub struct AuditLogger {
    vault: Vault,
    dry_run: bool,
    session_id: String,
    lock_timeout: Duration,
    clock: Arc<dyn Clock>,
    steps: Vec<Box<dyn PostWrite>>,
    dry_run_output: Option<DryRunOutput>,
}

/// An I/O failure with what was being done and where.
struct IoFailure {
    op: &'static str,
    path: PathBuf,
    source: io::Error,
}

fn at<T>(op: &'static str, path: &Path, r: io::Result<T>) -> Result<T, IoFailure> {
    r.map_err(|source| IoFailure {
        op,
        path: path.to_owned(),
        source,
    })
}

impl AuditLogger {
    /// A builder for the vault at `vault`.
    pub fn builder(vault: impl Into<PathBuf>) -> AuditLoggerBuilder {
        AuditLoggerBuilder {
            vault: vault.into(),
            dry_run: false,
            session_id: None,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            clock: Arc::new(SystemClock),
            steps: Vec::new(),
            dry_run_output: None,
        }
    }

    /// The vault.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The session id given to entries that carry none.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Whether the logger runs dry.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// Fills in a missing timestamp (now) and session id, then validates.
    pub fn prepare(&self, mut entry: Entry) -> Result<Entry, EntryError> {
        let now = self.clock.now();
        // Stored times carry milliseconds; the receipt shows what is stored.
        let ts = entry.timestamp.unwrap_or(now);
        entry.timestamp =
            Some(DateTime::from_timestamp_millis(ts.timestamp_millis()).unwrap_or(ts));
        if entry.session_id.is_none() {
            entry.session_id = Some(self.session_id.clone());
        }
        entry.validate(now)?;
        Ok(entry)
    }

    /// Validates and appends one entry.
    pub fn log(&self, entry: Entry) -> Result<Receipt, Error> {
        self.log_batch(vec![entry])
    }

    /// Validates every entry, then appends them all under one lock with one
    /// positioned write and one sync per day file. If any entry is invalid,
    /// nothing is written.
    pub fn log_batch(&self, entries: Vec<Entry>) -> Result<Receipt, Error> {
        let mut prepared = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            match self.prepare(entry.clone()) {
                Ok(e) => prepared.push(e),
                Err(source) => {
                    return Err(Error::Invalid {
                        position: i + 1,
                        source,
                        entries,
                    })
                }
            }
        }
        if self.dry_run {
            let lines: String = prepared
                .iter()
                .map(|e| format!("[DRY_RUN] Log Entry: {}\n", e.to_json_line()))
                .collect();
            // Printing is best effort: a closed stdout must not fail the call.
            let _ = match &self.dry_run_output {
                Some(out) => out
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .write_all(lines.as_bytes()),
                None => io::stdout().lock().write_all(lines.as_bytes()),
            };
            return Ok(Receipt {
                entries: prepared,
                dry_run: true,
                ..Receipt::default()
            });
        }
        self.write(prepared)
    }

    fn write(&self, entries: Vec<Entry>) -> Result<Receipt, Error> {
        let mut days: BTreeMap<NaiveDate, Vec<Line>> = BTreeMap::new();
        for e in &entries {
            // `prepare` filled every timestamp in.
            let date = e.date().unwrap_or_else(|| self.clock.now().date_naive());
            days.entry(date).or_default().push(Line {
                json: e.to_json_line(),
                level: e.log_level,
            });
        }
        let io_error = |f: IoFailure, entries: Vec<Entry>, written: Vec<DayFileState>| Error::Io {
            op: f.op,
            path: f.path,
            source: f.source,
            entries,
            written,
        };
        let state_dir = self.vault.state_dir();
        if let Err(f) = at("create folder", &state_dir, ensure_dir(&state_dir)) {
            return Err(io_error(f, entries, Vec::new()));
        }
        let lock = self.vault.lock_file();
        let outcome = with_lock(&lock, self.lock_timeout, || {
            let mut receipt = Receipt::default();
            for (date, lines) in &days {
                match self.write_day(*date, lines, &mut receipt.recoveries) {
                    Ok(state) => receipt.files.push(state),
                    Err(f) => return Err((f, *date, receipt.files)),
                }
            }
            receipt.entries = entries.clone();
            for step in &self.steps {
                if let Err(message) = step.run(&self.vault, &receipt) {
                    receipt
                        .post_write_errors
                        .push(format!("{}: {message}", step.name()));
                }
            }
            Ok(receipt)
        });
        match outcome {
            Ok(Ok(receipt)) => Ok(receipt),
            Ok(Err((f, failed_date, written))) => {
                let unwritten = entries
                    .into_iter()
                    .filter(|e| e.date().is_none_or(|d| d >= failed_date))
                    .collect();
                Err(io_error(f, unwritten, written))
            }
            Err(LockFailure::Io(source)) => Err(io_error(
                IoFailure {
                    op: "lock",
                    path: lock,
                    source,
                },
                entries,
                Vec::new(),
            )),
            Err(LockFailure::TimedOut(waited)) => {
                let fallback = self.vault.failed_writes();
                let mut bytes = String::new();
                for day in days.values() {
                    for line in day {
                        bytes.push_str(&line.json);
                        bytes.push('\n');
                    }
                }
                match at(
                    "append to",
                    &fallback,
                    append_durable(&fallback, bytes.as_bytes()),
                ) {
                    Ok(()) => Err(Error::LockTimeout {
                        lock,
                        waited,
                        limit: self.lock_timeout,
                        fallback,
                        entries,
                    }),
                    Err(f) => Err(io_error(f, entries, Vec::new())),
                }
            }
        }
    }

    /// Appends one day's lines and syncs; repairs the file first if needed.
    fn write_day(
        &self,
        date: NaiveDate,
        lines: &[Line],
        recoveries: &mut Vec<Recovery>,
    ) -> Result<DayFileState, IoFailure> {
        let path = self.vault.day_file(date);
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
        };
        let mut file: File = at("open", &path, open())?;
        let mut found = at("read", &path, daily::inspect(&mut file, date))?;
        if found == Inspection::NeedsRecovery {
            drop(file);
            let now = self.clock.now().timestamp();
            recoveries.push(at("recover", &path, daily::recover(&path, date, now))?);
            file = at("open", &path, open())?;
            found = at("read", &path, daily::inspect(&mut file, date))?;
            if found == Inspection::NeedsRecovery {
                let e = io::Error::new(io::ErrorKind::InvalidData, "still damaged after recovery");
                return at("recover", &path, Err(e));
            }
        }
        let state = at("write", &path, daily::append(&mut file, date, found, lines))?;
        at("sync", &path, file.sync_data())?;
        if found == Inspection::Empty {
            let logs = self.vault.logs();
            at("sync", &logs, sync_dir(&logs))?;
        }
        Ok(DayFileState {
            date,
            path,
            total_entries: state.trailer.total_entries,
            size_bytes: state.len,
            summary: state.trailer.summary,
        })
    }
}
