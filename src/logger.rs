//! The logger: validate, take the lock, append durably, then run the
//! post-write steps (index, Dashboard, retention) while the lock is held.

mod commands;
mod foreign;
mod replicas;
mod seal;
pub mod upkeep;
mod write;

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::alert::Rules;
use crate::chain::ChainKey;
use crate::daily::{DayFileState, Recovery};
use crate::dashboard;
use crate::entry::{Entry, EntryError, ParseMode};
use crate::error::Error;
use crate::fsutil::{append_durable, at, ensure_dir};
use crate::lock::{with_lock, LockFailure};
use crate::redact::Redactor;
use crate::retention;
use crate::time::{new_session_id, Clock, SystemClock, Zone};
use crate::vault::Vault;
pub use replicas::Synced;
pub use seal::{Accepted, Sealed};
use upkeep::Upkeep;
use write::{by_day, write_days, PartialWrite};

/// The default time to wait for the writers' lock.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// What post-write steps did that is worth saying (a purge, say).
    pub notes: Vec<String>,
    /// Post-write steps that failed, as `step: message`. The entries are
    /// written all the same.
    pub post_write_errors: Vec<String>,
}

/// What a post-write step gets: the vault, the receipt of the write, the
/// time, and a way to append entries of its own (the lock is held; appending
/// runs no post-write steps, so nothing can recurse).
pub struct StepContext<'a> {
    /// The vault.
    pub vault: &'a Vault,
    /// The write that just happened.
    pub receipt: &'a Receipt,
    /// The logger's clock, read once for the step.
    pub now: DateTime<Utc>,
    logger: &'a AuditLogger,
}

impl StepContext<'_> {
    /// The logger's session id.
    pub fn session_id(&self) -> &str {
        &self.logger.session_id
    }

    /// Validates and appends entries directly to their day files.
    pub fn append(&self, entries: Vec<Entry>) -> Result<Vec<DayFileState>, Error> {
        self.logger
            .append_locked(entries)
            .map(|(files, _, _)| files)
    }
}

/// Why a [`PostWrite`] step failed: the step's own error, boxed (a
/// `&str` or `String` converts with `.into()`).
pub type StepError = Box<dyn std::error::Error + Send + Sync>;

/// A step run after every successful, durable append (not in dry run), while
/// the writers' lock is still held.
pub trait PostWrite: Send + Sync {
    /// A short name, for error messages.
    fn name(&self) -> &str;
    /// Runs the step; returns notes worth reporting. An error is reported in
    /// the receipt (as `name: message`) and does not undo the write.
    fn run(&self, ctx: &StepContext<'_>) -> Result<Vec<String>, StepError>;
}

/// Where dry-run lines go when not to stdout.
type DryRunOutput = Mutex<Box<dyn Write + Send>>;

/// Builds an [`AuditLogger`].
pub struct AuditLoggerBuilder {
    vault: PathBuf,
    dry_run: bool,
    session_id: Option<String>,
    lock_timeout: Duration,
    retention_days: u32,
    archive_days: Option<u32>,
    upkeep: bool,
    clock: Arc<dyn Clock>,
    steps: Vec<Box<dyn PostWrite>>,
    dry_run_output: Option<DryRunOutput>,
    chain_key: ChainKey,
    signing_key: Option<crate::chain::sign::SigningKey>,
    redactor: Option<Redactor>,
    parse_mode: ParseMode,
    import_zone: Zone,
    replica: Option<String>,
    alerts: Option<Rules>,
    dashboard: dashboard::Settings,
}

impl AuditLoggerBuilder {
    /// Makes this logger a replica's (default: the primary's): it writes
    /// only its own day files, state and failed writes under
    /// `Logs/hosts/<host>/`, never the main day files, the index or the
    /// Dashboard, and takes nothing in. `host` is made a folder name with
    /// [`crate::vault::host_name`]; one that leaves nothing is refused by
    /// [`AuditLoggerBuilder::build`]. The CLI resolves `AUDIT_ROLE` and
    /// `AUDIT_HOST`.
    pub fn replica(mut self, host: Option<String>) -> Self {
        self.replica = host;
        self
    }

    /// The alert rules run after every write (default [`Rules::default`];
    /// `None` raises no alert notes). A replica never raises them: the
    /// primary does when it takes the replica's entries in. The logger
    /// never reads the environment: the CLI resolves `AUDIT_ALERT_*`.
    pub fn alerts(mut self, rules: Option<Rules>) -> Self {
        self.alerts = rules;
        self
    }

    /// How the Dashboard is drawn (default [`dashboard::Settings::default`]:
    /// times in UTC). The logger never reads the environment: the CLI
    /// resolves `AUDIT_DASHBOARD_TZ`.
    pub fn dashboard(mut self, settings: dashboard::Settings) -> Self {
        self.dashboard = settings;
        self
    }

    /// How entries are redacted and cut (default [`Redactor::default`]:
    /// the built-in patterns, strings cut at 2,000 characters). The logger
    /// never reads the environment; the configuration (`config::redactor`)
    /// builds one from the settings.
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = Some(redactor);
        self
    }

    /// How entries given as JSON are read (default
    /// [`ParseMode::Aliases`]; [`ParseMode::Strict`] accepts only the stored
    /// spellings). The logger never reads the environment: the CLI resolves
    /// `AUDIT_STRICT`.
    pub fn parse_mode(mut self, mode: ParseMode) -> Self {
        self.parse_mode = mode;
        self
    }

    /// The zone that times without an offset in other loggers' entries are
    /// read in, when they are imported or converted (default the machine's
    /// local zone; the CLI resolves `AUDIT_IMPORT_TZ`).
    pub fn import_zone(mut self, zone: Zone) -> Self {
        self.import_zone = zone;
        self
    }

    /// The key of the hash chain (default none: plain SHA-256 for new
    /// days). The logger never reads the environment.
    pub fn chain_key(mut self, key: ChainKey) -> Self {
        self.chain_key = key;
        self
    }

    /// The Ed25519 key that signs each day's final state and the head
    /// record (default none). With one, new days are chained with plain
    /// SHA-256, which anyone can recompute, and the signatures make the
    /// chain unforgeable: `verify --public-key` checks a vault with no secret.
    pub fn signing_key(mut self, key: Option<crate::chain::sign::SigningKey>) -> Self {
        self.signing_key = key;
        self
    }

    /// Runs dry: validate and print, write nothing (default false).
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// The session id given to entries that have none (default: a new
    /// `AI_EMP_YYYYMMDD_XXXXXX`), redacted like any text.
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

    /// Days of logs to keep (default 90).
    pub fn retention_days(mut self, days: u32) -> Self {
        self.retention_days = days;
        self
    }

    /// Days the cold archive keeps the entries of expired day files
    /// (default none: expired day files are deleted, their CRITICAL entries
    /// kept in `critical_archive.json`). Must be more than the retention
    /// days. The CLI resolves `AUDIT_ARCHIVE_DAYS`.
    pub fn archive_days(mut self, days: Option<u32>) -> Self {
        self.archive_days = days;
        self
    }

    /// Whether every write is followed by the upkeep (alerts, index,
    /// Dashboard, retention when due), run after the writers' lock is let
    /// go (default true). False leaves it to a later write or to
    /// [`AuditLogger::settle_upkeep`] (the daemon runs it on a timer).
    pub fn upkeep(mut self, on: bool) -> Self {
        self.upkeep = on;
        self
    }

    /// The clock (default the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Adds a step to run after every successful write (after the upkeep).
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
        let policy = retention::Policy {
            days: self.retention_days,
            archive_days: self.archive_days,
        };
        if let Err(message) = policy.check() {
            return Err(Error::Config { message });
        }
        let redactor = self.redactor.unwrap_or_default();
        // The session id is written into every entry that has none, and into
        // the logger's own system events: redacted once, here.
        let session_id = match self.session_id {
            Some(id) if !id.trim().is_empty() => redactor.text(&id).into_owned(),
            _ => new_session_id(self.clock.now()),
        };
        let vault = match &self.replica {
            None => Vault::new(self.vault),
            Some(raw) => match crate::vault::host_name(raw) {
                Some(host) => Vault::new(self.vault).replica(&host),
                None => {
                    return Err(Error::Config {
                        message: format!("host name {raw:?} has no letter or digit; accepted: letters, digits, '-' and '_' (AUDIT_HOST)"),
                    })
                }
            },
        };
        let upkeep = Upkeep::new(policy)
            .alerts(self.alerts.clone())
            .dashboard(self.dashboard.clone());
        // A replica's views and alerts are the primary's to make.
        let upkeep = match vault.host() {
            Some(_) => upkeep.without_views(),
            None => upkeep,
        };
        let steps = self.steps;
        Ok(AuditLogger {
            vault,
            dry_run: self.dry_run,
            session_id,
            lock_timeout: self.lock_timeout,
            retention_days: self.retention_days,
            archive_days: self.archive_days,
            clock: self.clock,
            steps,
            upkeep,
            upkeep_after_write: self.upkeep,
            dry_run_output: self.dry_run_output,
            chain_key: match self.signing_key {
                Some(key) => self.chain_key.with_signer(Some(key)),
                None => self.chain_key,
            },
            redactor,
            parse_mode: self.parse_mode,
            import_zone: self.import_zone,
            alerts: self.alerts,
            dashboard: self.dashboard,
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
    retention_days: u32,
    archive_days: Option<u32>,
    clock: Arc<dyn Clock>,
    steps: Vec<Box<dyn PostWrite>>,
    upkeep: Upkeep,
    upkeep_after_write: bool,
    dry_run_output: Option<DryRunOutput>,
    chain_key: ChainKey,
    redactor: Redactor,
    parse_mode: ParseMode,
    import_zone: Zone,
    alerts: Option<Rules>,
    dashboard: dashboard::Settings,
}

impl AuditLogger {
    /// A builder for the vault at `vault`.
    pub fn builder(vault: impl Into<PathBuf>) -> AuditLoggerBuilder {
        AuditLoggerBuilder {
            vault: vault.into(),
            dry_run: false,
            session_id: None,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            retention_days: retention::DEFAULT_DAYS,
            archive_days: None,
            upkeep: true,
            clock: Arc::new(SystemClock),
            steps: Vec::new(),
            dry_run_output: None,
            chain_key: ChainKey::none(),
            signing_key: None,
            redactor: None,
            parse_mode: ParseMode::Aliases,
            import_zone: Zone::Local,
            replica: None,
            alerts: Some(Rules::default()),
            dashboard: dashboard::Settings::default(),
        }
    }

    /// How the Dashboard is drawn.
    pub fn dashboard_settings(&self) -> &dashboard::Settings {
        &self.dashboard
    }

    /// The hash chain's key.
    pub fn chain_key(&self) -> &ChainKey {
        &self.chain_key
    }

    /// Days of logs kept.
    pub fn retention_days(&self) -> u32 {
        self.retention_days
    }

    /// Days the cold archive keeps, if there is one.
    pub fn archive_days(&self) -> Option<u32> {
        self.archive_days
    }

    /// The zone of times without an offset in imported entries.
    pub fn import_zone(&self) -> Zone {
        self.import_zone
    }

    /// How entries given as JSON are read.
    pub fn parse_mode(&self) -> ParseMode {
        self.parse_mode
    }

    /// Parses one entry from JSON text the way this logger reads values
    /// (see [`AuditLoggerBuilder::parse_mode`]).
    pub fn entry_from_json(&self, text: &str) -> Result<Entry, EntryError> {
        Entry::from_json_in(text, self.parse_mode)
    }

    /// Like [`AuditLogger::entry_from_json`], for a JSON value.
    pub fn entry_from_value(&self, value: serde_json::Value) -> Result<Entry, EntryError> {
        Entry::from_value_in(value, self.parse_mode)
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

    /// The logger's clock's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Fills in a missing timestamp (now) and session id, then validates.
    pub fn prepare(&self, entry: Entry) -> Result<Entry, EntryError> {
        self.prepare_line(entry).map(|(entry, _)| entry)
    }

    /// Like [`AuditLogger::prepare`], and also returns the line to store
    /// (serialized once).
    pub fn prepare_line(&self, mut entry: Entry) -> Result<(Entry, String), EntryError> {
        let line = self.prepare_in_place(&mut entry)?;
        Ok((entry, line))
    }

    /// How entries are redacted and cut.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    fn prepare_in_place(&self, entry: &mut Entry) -> Result<String, EntryError> {
        self.redactor.entry(entry);
        let now = self.clock.now();
        // Stored times carry milliseconds; the receipt shows what is stored.
        let ts = entry.timestamp.unwrap_or(now);
        entry.timestamp =
            Some(DateTime::from_timestamp_millis(ts.timestamp_millis()).unwrap_or(ts));
        if entry.session_id.is_none() {
            entry.session_id = Some(self.session_id.clone());
        }
        let line = entry.validated_line(now)?;
        let oldest = retention::cutoff(now.date_naive(), self.retention_days);
        if ts.date_naive() < oldest {
            return Err(EntryError::BeyondRetention {
                value: crate::time::format_timestamp(&ts),
                days: self.retention_days,
                oldest: oldest.format("%Y-%m-%d").to_string(),
            });
        }
        Ok(line)
    }

    /// Validates and appends one entry.
    pub fn log(&self, entry: Entry) -> Result<Receipt, Error> {
        self.log_batch(vec![entry])
    }

    /// Validates every entry, then appends them all under one lock with one
    /// positioned write and one sync per day file. If any entry is invalid,
    /// nothing is written.
    pub fn log_batch(&self, entries: Vec<Entry>) -> Result<Receipt, Error> {
        self.log_batch_then(entries, &|| Ok(()))
    }

    /// Like [`AuditLogger::log_batch`], running `record` under the same
    /// hold of the writers' lock right after the entries are durably
    /// written (before the post-write steps); its failure is reported in
    /// [`Receipt::post_write_errors`] as `record: ...`. `import` records
    /// what it imported so.
    pub fn log_batch_then(
        &self,
        entries: Vec<Entry>,
        record: &dyn Fn() -> io::Result<()>,
    ) -> Result<Receipt, Error> {
        let (prepared, lines) = self.prepare_all(entries)?;
        if self.dry_run {
            let printed: String = lines
                .iter()
                .map(|line| format!("[DRY_RUN] Log Entry: {line}\n"))
                .collect();
            // Printing is best effort: a closed stdout must not fail the call.
            let _ = match &self.dry_run_output {
                Some(out) => out
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .write_all(printed.as_bytes()),
                None => io::stdout().lock().write_all(printed.as_bytes()),
            };
            return Ok(Receipt {
                entries: prepared,
                dry_run: true,
                ..Receipt::default()
            });
        }
        self.ensure_state_dir(&prepared)?;
        let lock = self.vault.lock_file();
        // The entries move into the receipt if the lock is had; if not, they
        // are still here for the fallback.
        let mut held = Some(prepared);
        let outcome = with_lock(&lock, self.lock_timeout, || {
            let prepared = held.take().unwrap_or_default();
            let (mut files, recoveries, mut errors) = self.write_prepared(&prepared, &lines)?;
            if let Err(e) = record() {
                errors.push(format!("record: {e}"));
            }
            match self.take_in_foreign(&recoveries) {
                Ok(more) => merge_states(&mut files, more),
                Err(e) => errors.push(format!("foreign writes (kept aside, not taken in): {e}")),
            }
            let mut receipt = Receipt {
                entries: prepared,
                files,
                recoveries,
                ..Receipt::default()
            };
            let ctx = StepContext {
                vault: &self.vault,
                receipt: &receipt,
                now: self.clock.now(),
                logger: self,
            };
            let mut notes = Vec::new();
            for step in &self.steps {
                match step.run(&ctx) {
                    Ok(more) => notes.extend(more),
                    Err(e) => errors.push(format!("{}: {e}", step.name())),
                }
            }
            receipt.notes = notes;
            receipt.post_write_errors = errors;
            Ok(receipt)
        });
        match outcome {
            Ok(Ok(mut receipt)) => {
                if self.upkeep_after_write {
                    match self.upkeep.settle(self) {
                        Ok(notes) => receipt.notes.extend(notes),
                        Err(e) => receipt.post_write_errors.push(format!("upkeep: {e}")),
                    }
                }
                Ok(receipt)
            }
            Ok(Err(e)) => Err(e),
            Err(LockFailure::TimedOut(waited)) => {
                self.fall_back(held.unwrap_or_default(), &lines, waited)
            }
            Err(failure) => Err(Error::lock(lock, failure, held.unwrap_or_default())),
        }
    }

    /// Fills in and validates every entry; returns them with their lines.
    /// If one is invalid, all are handed back as they were given.
    fn prepare_all(&self, mut entries: Vec<Entry>) -> Result<(Vec<Entry>, Vec<String>), Error> {
        let mut lines = Vec::with_capacity(entries.len());
        let mut originals = Vec::with_capacity(entries.len());
        for i in 0..entries.len() {
            let entry = &mut entries[i];
            originals.push((entry.timestamp, entry.session_id.is_none()));
            match self.prepare_in_place(entry) {
                Ok(line) => lines.push(line),
                Err(source) => {
                    for (e, (timestamp, filled)) in entries.iter_mut().zip(originals) {
                        e.timestamp = timestamp;
                        if filled {
                            e.session_id = None;
                        }
                    }
                    return Err(Error::Invalid {
                        position: i + 1,
                        source,
                        entries,
                    });
                }
            }
        }
        Ok((entries, lines))
    }

    fn ensure_state_dir(&self, entries: &[Entry]) -> Result<(), Error> {
        // A vault folder removed (or unmounted) since the logger was built
        // is not made again here: `Logs/` is, the vault is not.
        if !self.vault.root().is_dir() {
            return Err(Error::VaultNotFound {
                path: self.vault.root().to_path_buf(),
            });
        }
        let dir = self.vault.state_dir();
        at("create folder", &dir, ensure_dir(&dir))
            .map_err(|f| Error::io(f, entries.to_vec(), Vec::new()))
    }

    /// Writes prepared entries; the caller holds the lock.
    fn write_prepared(&self, entries: &[Entry], lines: &[String]) -> Result<Written, Error> {
        let days = by_day(entries, lines, self.clock.now().date_naive());
        let mut recoveries = Vec::new();
        let mut head_failures = Vec::new();
        match write_days(
            &self.vault,
            &self.chain_key,
            &days,
            self.clock.now().timestamp(),
            &mut recoveries,
            &mut head_failures,
        ) {
            Ok(files) => Ok((files, recoveries, head_failures)),
            Err(PartialWrite {
                failure,
                failed_date,
                written,
            }) => {
                let unwritten = entries
                    .iter()
                    .filter(|e| e.date().is_none_or(|d| d >= failed_date))
                    .cloned()
                    .collect();
                Err(Error::io(failure, unwritten, written))
            }
        }
    }

    /// Brings the views up to date with every write so far (see
    /// [`upkeep`]): alerts, index, Dashboard, retention when due. Leaves at
    /// once when another process is running it. Nothing in dry run.
    pub fn settle_upkeep(&self) -> Result<Vec<String>, upkeep::UpkeepError> {
        if self.dry_run {
            return Ok(Vec::new());
        }
        self.upkeep.settle(self)
    }

    /// Validates and writes entries with the lock already held, running no
    /// post-write steps (for the steps themselves).
    pub(crate) fn append_locked(&self, entries: Vec<Entry>) -> Result<Written, Error> {
        let (prepared, lines) = self.prepare_all(entries)?;
        self.write_prepared(&prepared, &lines)
    }

    /// Saves entries (as handed back by an error: already prepared) to
    /// `Logs/failed_writes.json`, durably, for `vault-audit replay` or the
    /// daemon to write later. Returns that file's path.
    pub fn save_failed(&self, entries: &[Entry]) -> io::Result<PathBuf> {
        // Redacted again: an error may hand back entries it never prepared
        // (those after an invalid one). Redacting twice changes nothing.
        let lines: Vec<String> = entries
            .iter()
            .map(|e| {
                let mut e = e.clone();
                self.redactor.entry(&mut e);
                e.to_json_line()
            })
            .collect();
        self.save_lines(&lines)?;
        Ok(self.vault.failed_writes())
    }

    fn save_lines(&self, lines: &[String]) -> io::Result<()> {
        let bytes: String = lines.iter().map(|line| format!("{line}\n")).collect();
        append_durable(&self.vault.failed_writes(), bytes.as_bytes())
    }

    /// The lock was not had in time: save the entries to `failed_writes.json`.
    fn fall_back(
        &self,
        entries: Vec<Entry>,
        lines: &[String],
        waited: Duration,
    ) -> Result<Receipt, Error> {
        let fallback = self.vault.failed_writes();
        match at("append to", &fallback, self.save_lines(lines)) {
            Ok(()) => Err(Error::LockTimeout {
                lock: self.vault.lock_file(),
                waited,
                limit: self.lock_timeout,
                fallback,
                entries,
            }),
            Err(f) => Err(Error::io(f, entries, Vec::new())),
        }
    }
}

/// What a write did: the day files written, the repairs made on the way,
/// and failures to update the head record (the entries are written).
type Written = (Vec<DayFileState>, Vec<Recovery>, Vec<String>);

/// Day-file states after a second write: a later state of a day replaces its
/// earlier one; days stay in date order.
fn merge_states(files: &mut Vec<DayFileState>, later: Vec<DayFileState>) {
    for state in later {
        files.retain(|f| f.date != state.date);
        files.push(state);
    }
    files.sort_by_key(|f| f.date);
}
