//! `vault-audit daemon`: takes in inbox files, records vault activity, keeps
//! the index and Dashboard current, runs retention and replays
//! `failed_writes.json` on schedule, and writes alert notes.

pub mod pidfile;
pub mod schedule;
pub mod systemd;
pub mod watch;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use chrono::NaiveDate;
use notify::Watcher;
use serde_json::json;
use tracing::Level;

use crate::daily::DayFileState;
use crate::entry::{ActionType, Entry, LogLevel};
use crate::error::Error;
use crate::forward::{Forwarder, Pace, Sink};
use crate::inbox::{self, Claim, Intake, Readiness, Reading};
use crate::journal::{self, Progress};
use crate::logger::AuditLogger;
use watch::{Folders, Snapshot};

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// Poll the vault at this interval instead of waiting for file events.
    pub poll: Option<Duration>,
    /// Record vault activity (notes created and moved).
    pub watch_vault: bool,
    /// The workflow folders' names.
    pub folders: Folders,
    /// How long an inbox file must be quiet (size and modification time
    /// unchanged) before it is claimed, and a claim before it is removed
    /// ([`inbox::DEFAULT_GRACE`] unless set).
    pub grace: Duration,
    /// Tell systemd when ready, alive and stopping (it gave `NOTIFY_SOCKET`).
    pub notify: bool,
    /// The weekly report, when scheduled (`AUDIT_REPORT_SCHEDULE=weekly`).
    pub weekly_report: Option<WeeklyReport>,
}

/// Where the weekly report goes and by which clock it is due.
#[derive(Debug, Clone)]
pub struct WeeklyReport {
    /// The vault-relative folder of reports (`AUDIT_FOLDER_BRIEFINGS`).
    pub folder: String,
    /// The folders alert notes are in (`Needs_Action`, `Done`).
    pub alert_folders: Vec<String>,
    /// The zone whose Monday 07:00 it is due at (the machine's).
    pub zone: crate::time::Zone,
}

/// The longest the vault goes without a full rescan, events or not.
const RESCAN: Duration = Duration::from_secs(30);
/// Vault events settle this long before a rescan (a move is two events).
const SETTLE: Duration = Duration::from_millis(300);
/// How often `failed_writes.json` is replayed.
const REPLAY: Duration = Duration::from_secs(300);
/// How often the weekly report's schedule is looked at.
const REPORT_CHECK: Duration = Duration::from_secs(60);
/// How often the primary looks for replicas' new entries and conflict copies.
const SYNC: Duration = Duration::from_secs(2);
/// The index and Dashboard are refreshed at most this often.
const REFRESH: Duration = Duration::from_secs(1);
/// The main loop turns this often (to see the stop flag and the inbox), and
/// no more often however many file events come.
const TICK: Duration = Duration::from_millis(100);
/// A warning that would come again every turn is repeated after this long,
/// then twice as long each time ...
const REPEAT_FIRST: Duration = Duration::from_secs(10);
/// ... up to this.
const REPEAT_MAX: Duration = Duration::from_secs(600);

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Another daemon runs for this vault.
    #[error("a daemon already runs for this vault (pid {pid})", pid = .0.map_or("unknown".to_owned(), |p| p.to_string()))]
    AlreadyRunning(Option<u32>),
    /// Something failed that the daemon cannot go on without.
    #[error("{0}")]
    Fatal(String),
}

struct Daemon<'a> {
    logger: AuditLogger,
    cfg: &'a DaemonConfig,
    progress: Progress,
    readiness: Readiness,
    reading: Reading,
    repeats: Repeats,
    snapshot: Option<Snapshot>,
    /// Files that vanished from a scan without turning up elsewhere yet.
    gone: std::collections::BTreeMap<watch::Identity, String>,
    own_notes: BTreeSet<String>,
    dirty: Vec<DayFileState>,
    last_refresh: Instant,
    day: NaiveDate,
    /// The week whose report this daemon wrote last.
    weekly_written: Option<chrono::DateTime<chrono::Utc>>,
}

/// Sinks the daemon forwards to, each in its own thread.
pub struct Forwarding {
    /// The sinks.
    pub sinks: Vec<Box<dyn Sink>>,
    /// Their batches and backoff.
    pub pace: Pace,
    /// A meter for each sink's first catch-up (a progress bar on a terminal).
    pub meter: crate::meter::NewMeter,
}

/// When the loop last did its timed jobs, and since when vault events wait.
struct Timers {
    last_scan: Instant,
    last_replay: Instant,
    last_sync: Instant,
    /// When the weekly report's schedule was last looked at (never yet:
    /// `None`, so a missed week is caught up at the start).
    last_report: Option<Instant>,
    pending_since: Option<Instant>,
}

/// Runs the daemon until `stop` is set (by SIGTERM or SIGINT), then finishes
/// the batch in hand, refreshes index and Dashboard, and returns.
pub fn run(
    logger: AuditLogger,
    cfg: &DaemonConfig,
    forwarding: Forwarding,
    stop: &AtomicBool,
) -> Result<(), DaemonError> {
    let vault = logger.vault().clone();
    let mut pid_file = pidfile::PidFile::acquire(&vault).map_err(|e| match e {
        pidfile::Taken::Running(pid) => DaemonError::AlreadyRunning(pid),
        pidfile::Taken::Io(e) => DaemonError::Fatal(format!(
            "could not write {}: {e}",
            vault.pid_file().display()
        )),
    })?;
    let mut d = Daemon::start(logger, cfg)?;
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let _watcher = if cfg.watch_vault { d.watcher(tx) } else { None };
    if cfg.watch_vault {
        d.snapshot = Snapshot::load(&vault);
        d.scan_vault();
    }
    let (events_tx, events) = mpsc::channel::<Entry>();
    let forwarder = d.start_forwarding(forwarding, events_tx);
    if let Err(e) = pid_file.ready() {
        let message = format!("could not mark the pid file ready: {e}");
        d.say(Level::WARN, &message);
    }
    let mut systemd = systemd::Notifier::new(cfg.notify);
    systemd.ready();
    let mut timers = Timers {
        last_scan: Instant::now(),
        last_replay: Instant::now(),
        last_sync: Instant::now(),
        last_report: None,
        pending_since: None,
    };
    while !stop.load(Ordering::SeqCst) {
        d.tick(stop, &rx, &events, &mut timers);
        systemd.alive();
    }
    systemd.stopping();
    d.shutdown(forwarder, &events);
    Ok(())
}

impl<'a> Daemon<'a> {
    /// Settles what a dead writer left, logs the start, runs retention and
    /// replays `failed_writes.json`.
    fn start(logger: AuditLogger, cfg: &'a DaemonConfig) -> Result<Daemon<'a>, DaemonError> {
        let vault = logger.vault().clone();
        logger
            .with_writer_lock(|| journal::resolve(&vault))
            .map_err(|e: Error| DaemonError::Fatal(e.to_string()))?;
        if let Err(e) = logger.ensure_inbox() {
            // The inbox is created again by the first file dropped there.
            tracing::warn!("{e}");
        }
        let today = logger.now().date_naive();
        let mut d = Daemon {
            progress: journal::load_progress(&vault),
            logger,
            cfg,
            readiness: Readiness::new(cfg.grace),
            reading: Reading::new(cfg.grace),
            repeats: Repeats::default(),
            snapshot: None,
            gone: Default::default(),
            own_notes: BTreeSet::new(),
            dirty: Vec::new(),
            last_refresh: Instant::now() - REFRESH,
            day: today,
            weekly_written: None,
        };
        let pid = std::process::id();
        d.say(
            Level::INFO,
            &format!("started for {} (pid {pid})", vault.root().display()),
        );
        d.event(LogLevel::Info, "daemon", json!({"event": "start", "pid": pid, "watch_vault": cfg.watch_vault, "poll_ms": cfg.poll.map(|p| p.as_millis() as u64), "inbox_grace_ms": cfg.grace.as_millis() as u64}));
        d.retention();
        d.replay();
        Ok(d)
    }

    /// Starts one thread per sink; their events come back on `events`.
    fn start_forwarding(
        &mut self,
        forwarding: Forwarding,
        events: mpsc::Sender<Entry>,
    ) -> Option<Forwarder> {
        if forwarding.sinks.is_empty() {
            return None;
        }
        let names: Vec<&str> = forwarding.sinks.iter().map(|s| s.name()).collect();
        let message = format!("forwarding to {}", names.join(", "));
        self.say(Level::INFO, &message);
        let vault = self.logger.vault();
        Some(Forwarder::start_metered(
            vault,
            forwarding.sinks,
            forwarding.pace,
            events,
            &forwarding.meter,
        ))
    }

    /// One turn of the loop: the inbox, vault events, the timed jobs, the
    /// sinks' events, and the views.
    fn tick(
        &mut self,
        stop: &AtomicBool,
        rx: &mpsc::Receiver<notify::Result<notify::Event>>,
        events: &mpsc::Receiver<Entry>,
        timers: &mut Timers,
    ) {
        self.drain_inbox(stop);
        self.wait_for_vault_events(rx, timers);
        self.timed_jobs(timers);
        let forwarded: Vec<Entry> = events.try_iter().collect();
        for e in &forwarded {
            let params = serde_json::Value::Object(e.parameters.clone());
            self.say(Level::INFO, &format!("sink: {params}"));
        }
        self.write(forwarded);
        self.refresh(false);
    }

    /// Waits out the tick, taking the file events that come meanwhile; one
    /// inside the vault (and not ignored) starts the settle time before a
    /// rescan. Events never shorten the tick: reading the inbox makes
    /// events of its own, which would otherwise keep the loop spinning.
    fn wait_for_vault_events(
        &mut self,
        rx: &mpsc::Receiver<notify::Result<notify::Event>>,
        timers: &mut Timers,
    ) {
        let deadline = Instant::now() + TICK;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Ok(event)) => {
                    let root = self.logger.vault().root().to_owned();
                    let touches_vault = event.paths.iter().any(|p| {
                        p.strip_prefix(&root).map_or(true, |rel| {
                            !watch::ignored(&rel.to_string_lossy().replace('\\', "/"))
                        })
                    });
                    if touches_vault {
                        timers.pending_since.get_or_insert_with(Instant::now);
                    }
                }
                Ok(Err(e)) => self.warn_repeating(
                    "events",
                    &format!("file events: {e}; rescanning on a timer"),
                ),
                Err(mpsc::RecvTimeoutError::Timeout) => return,
                Err(mpsc::RecvTimeoutError::Disconnected) => return std::thread::sleep(left),
            }
        }
    }

    /// The vault rescan, the replay of `failed_writes.json`, and retention
    /// after midnight, each when due.
    fn timed_jobs(&mut self, timers: &mut Timers) {
        let settled = timers.pending_since.is_some_and(|t| t.elapsed() >= SETTLE);
        if self.cfg.watch_vault && (settled || timers.last_scan.elapsed() >= RESCAN) {
            self.scan_vault();
            timers.pending_since = None;
            timers.last_scan = Instant::now();
        }
        if timers.last_replay.elapsed() >= REPLAY {
            self.replay();
            timers.last_replay = Instant::now();
        }
        if timers.last_sync.elapsed() >= SYNC {
            self.sync_replicas();
            timers.last_sync = Instant::now();
        }
        if timers
            .last_report
            .is_none_or(|t| t.elapsed() >= REPORT_CHECK)
        {
            self.weekly_report();
            timers.last_report = Some(Instant::now());
        }
        let today = self.logger.now().date_naive();
        if today != self.day {
            self.day = today;
            self.retention();
        }
    }

    /// Stops the sinks, logs what they reported last and the stop, and
    /// refreshes the views.
    fn shutdown(&mut self, forwarder: Option<Forwarder>, events: &mpsc::Receiver<Entry>) {
        if let Some(f) = forwarder {
            // A sink in the middle of a network call is not waited for: its
            // batch was not acknowledged, so its cursor did not move.
            f.stop(Duration::from_millis(500));
        }
        // Events the sinks sent while the loop was ending are logged too.
        let last: Vec<Entry> = events.try_iter().collect();
        self.write(last);
        let pid = std::process::id();
        self.event(
            LogLevel::Info,
            "daemon",
            json!({"event": "stop", "pid": pid}),
        );
        self.refresh(true);
        self.say(Level::INFO, "stopped");
    }
}

impl Daemon<'_> {
    /// An operational message (not an entry: those go to the audit log).
    fn say(&self, level: Level, message: &str) {
        // Messages may quote an inbox file's name or a refused line.
        let message = self.logger.redactor().text(message);
        match level {
            Level::ERROR => tracing::error!("{message}"),
            Level::WARN => tracing::warn!("{message}"),
            Level::INFO => tracing::info!("{message}"),
            Level::DEBUG => tracing::debug!("{message}"),
            _ => tracing::trace!("{message}"),
        }
    }

    /// Logs entries the daemon makes itself (no upkeep: it is throttled here).
    fn write(&mut self, entries: Vec<Entry>) {
        if entries.is_empty() {
            return;
        }
        match self.logger.log_batch(entries) {
            Ok(receipt) => self.dirty.extend(receipt.files),
            Err(e) => self.say(Level::WARN, &format!("{e}")),
        }
    }

    /// Writes the week's report when it is due and not written yet, and
    /// records it (a `system_event` entry, `Logs/.audit/report.json`). The
    /// primary's job: a replica, or a dry run, writes none.
    fn weekly_report(&mut self) {
        let Some(job) = &self.cfg.weekly_report else {
            return;
        };
        let vault = self.logger.vault().clone();
        let now = self.logger.now();
        if vault.host().is_some() || self.logger.is_dry_run() {
            return;
        }
        let Some(due) = schedule::pending(&vault, now, job.zone) else {
            return;
        };
        if self.weekly_written == Some(due) {
            // Written, but its record could not be saved (warned then):
            // never a second note for the week from this process.
            return;
        }
        let request = crate::report::Request {
            since: due - chrono::Duration::days(7),
            until: due - chrono::Duration::milliseconds(1),
            generated_at: now,
            alert_folders: job.alert_folders.clone(),
        };
        let day = (due.naive_utc() + job.zone.offset_at(due)).date();
        let path = crate::report::free_path(
            &vault
                .root()
                .join(crate::report::default_note(&job.folder, day)),
        );
        let written = crate::report::build(&vault, &request)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                crate::report::write(vault.root(), &path, &text).map_err(|e| e.to_string())
            });
        let rel = vault.relative(&path).into_owned();
        match written {
            Ok(()) => {
                self.weekly_written = Some(due);
                if let Err(e) = schedule::record(&vault, due) {
                    self.say(Level::WARN, &format!("could not record the weekly report in {}: {e}; this daemon writes no other for the week", vault.report_state().display()));
                }
                self.own_notes.insert(rel.clone());
                self.say(Level::INFO, &format!("report: wrote {rel}"));
                let params = serde_json::json!({
                    "event": "report_written",
                    "since": crate::time::format_timestamp(&request.since),
                    "until": crate::time::format_timestamp(&request.until),
                });
                self.event(LogLevel::Info, &rel, params);
            }
            Err(e) => self.warn_repeating(
                "report",
                &format!("could not write the weekly report {rel}: {e}"),
            ),
        }
    }

    /// A `system_event` entry about the daemon's own doings.
    fn event(&mut self, level: LogLevel, target: &str, params: serde_json::Value) {
        let Ok(action) = ActionType::new("system_event") else {
            return;
        };
        let mut e = Entry::new(level, action, "audit_daemon", target);
        if let serde_json::Value::Object(map) = params {
            e.parameters = map;
        }
        self.write(vec![e]);
    }

    /// Reports the alert notes written.
    fn noted(&mut self, notes: Result<Vec<String>, Error>) {
        match notes {
            Ok(notes) => {
                for note in notes {
                    self.say(Level::DEBUG, &format!("alert: wrote {note}"));
                    self.own_notes.insert(note);
                }
            }
            Err(e) => self.say(Level::WARN, &format!("could not write an alert note: {e}")),
        }
    }

    /// Says a warning that would come again every turn (the same trouble,
    /// unchanged) only now and then.
    fn warn_repeating(&mut self, key: &'static str, message: &str) {
        if self.repeats.due(key, Instant::now()) {
            self.say(Level::WARN, message);
        }
    }

    /// Takes in claims left from before, then every ready inbox file, all
    /// together (group commit).
    fn drain_inbox(&mut self, stop: &AtomicBool) {
        let vault = self.logger.vault().clone();
        let mut claims = match inbox::claims(&vault) {
            Ok(c) => {
                self.repeats.clear("claims");
                c
            }
            Err(e) => {
                let message = format!("{}: {e}", vault.inbox_processing().display());
                self.warn_repeating("claims", &message);
                Vec::new()
            }
        };
        claims.extend(self.claim_ready());
        if claims.is_empty() {
            return;
        }
        for intake in self.take_in(&claims, stop) {
            self.report(intake);
        }
    }

    /// Claims the inbox files that are ready; sets aside those that cannot
    /// be taken in. A claim that fails is warned about once and tried again
    /// later and later.
    fn claim_ready(&mut self) -> Vec<Claim> {
        let vault = self.logger.vault().clone();
        let now = SystemTime::now();
        let ready = match self.readiness.ready(&vault, now) {
            Ok(ready) => ready,
            Err(e) => {
                let message = format!("{}: {e}", vault.inbox().display());
                self.warn_repeating("inbox", &message);
                return Vec::new();
            }
        };
        self.repeats.clear("inbox");
        for (path, reason) in &ready.set_aside {
            self.set_aside(path, reason);
        }
        let now_ms = self.logger.now().timestamp_millis();
        let (claimed, failed) = inbox::claim_all(&vault, &ready.claim, now_ms);
        for (path, e) in failed {
            if inbox::name_too_long(&e) {
                let reason = format!(
                    "the file name is too long to claim ({e}): rename it shorter and drop it again"
                );
                self.set_aside(&path, &reason);
            } else if e.kind() != std::io::ErrorKind::NotFound && self.readiness.failed(&path, now)
            {
                let message = format!(
                    "could not claim {}: {e}; trying again later, less and less often",
                    path.display()
                );
                self.say(Level::WARN, &message);
            }
        }
        claimed
    }

    /// Moves an inbox file that cannot be taken in to `rejected/`, with a
    /// WARNING `system_event`; if even that fails, warns once and tries
    /// again later.
    fn set_aside(&mut self, path: &Path, reason: &str) {
        let vault = self.logger.vault().clone();
        let original = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let now_ms = self.logger.now().timestamp_millis();
        let red = self.logger.redactor();
        match inbox::set_aside(&vault, path, &original, reason, red, now_ms) {
            Ok(target) => {
                let rel = vault.relative(&target).into_owned();
                let message = format!("{original} set aside as {rel}: {reason}");
                self.say(Level::WARN, &message);
                let dropped = vault.relative(path).into_owned();
                self.event(
                    LogLevel::Warning,
                    &dropped,
                    json!({"event": "inbox_set_aside", "reason": reason, "rejected_file": rel}),
                );
            }
            Err(e) => {
                if self.readiness.failed(path, SystemTime::now()) {
                    let message = format!(
                        "could not set {} aside ({reason}): {e}; trying again later",
                        path.display()
                    );
                    self.say(Level::WARN, &message);
                }
            }
        }
    }

    /// Takes the claims in; alerts are raised batch by batch, so no entry
    /// is held longer than its batch.
    fn take_in(&mut self, claims: &[Claim], stop: &AtomicBool) -> Vec<Intake> {
        let vault = self.logger.vault().clone();
        let logger = &self.logger;
        let outcome = inbox::take_in(
            logger,
            claims,
            &mut self.progress,
            &mut self.reading,
            &|| stop.load(Ordering::SeqCst),
            &mut |_| {},
        );
        match outcome {
            Ok(intakes) => {
                self.repeats.clear("take in");
                intakes
            }
            Err(e) => {
                // Progress is on disk: the next round goes on from there,
                // once a batch left between its append and its progress is
                // settled (else the same lines would be appended again).
                let _ = self.logger.with_writer_lock(|| journal::resolve(&vault));
                self.progress = journal::load_progress(&vault);
                self.warn_repeating("take in", &format!("inbox: {e}; will try again"));
                Vec::new()
            }
        }
    }

    /// Says what a claim gave, and logs its rejected lines as a WARNING.
    fn report(&mut self, intake: Intake) {
        let vault = self.logger.vault().clone();
        if intake.written > 0 {
            let message = format!(
                "took in {} entries from {}",
                intake.written, intake.original
            );
            self.say(Level::DEBUG, &message);
        }
        self.dirty.extend(intake.files);
        if let Some(rejected) = &intake.rejected_path {
            let rel = vault.relative(rejected).into_owned();
            self.say(
                Level::WARN,
                &format!(
                    "{} lines of {} rejected; see {rel}.errors.txt",
                    intake.rejected_count, intake.original
                ),
            );
            let dropped = vault.inbox_file(&intake.original);
            self.event(
                LogLevel::Warning,
                &vault.relative(&dropped),
                json!({"event": "inbox_rejected", "rejected_lines": intake.rejected_count, "rejected_file": rel, "errors": intake.rejected.iter().take(20).collect::<Vec<_>>()}),
            );
        }
    }

    fn replay(&mut self) {
        let outcome = inbox::replay_failed_writes(&self.logger, &mut self.progress, &mut |_| {});
        match outcome {
            Ok(Some(intake)) => {
                self.say(
                    Level::INFO,
                    &format!(
                        "replayed {} entries from failed_writes.json",
                        intake.written
                    ),
                );
                self.dirty.extend(intake.files);
            }
            Ok(None) => {}
            Err(e) => self.say(Level::WARN, &format!("replay of failed_writes.json: {e}")),
        }
    }

    /// On the primary: the replicas' new entries and the sync tools'
    /// conflict copies, taken in (a replica's logger does nothing here).
    fn sync_replicas(&mut self) {
        match self.logger.sync_replicas() {
            Ok(synced) => {
                for note in &synced.notes {
                    self.say(Level::INFO, note);
                }
                self.dirty.extend(synced.files);
            }
            Err(e) => self.warn_repeating("replicas", &format!("warning: replicas: {e}")),
        }
    }

    fn retention(&mut self) {
        match self.logger.rotate(None) {
            Ok(report) if report.deleted > 0 => {
                self.say(
                    Level::INFO,
                    &format!(
                        "retention: deleted {} day files, archived {} CRITICAL entries",
                        report.deleted, report.critical_archived
                    ),
                );
                let files: Vec<&str> = report.files.iter().map(|p| p.file.as_str()).collect();
                self.event(
                    LogLevel::Info,
                    "Logs",
                    json!({"event": "retention", "retention_days": report.retention_days, "deleted": report.deleted, "critical_archived": report.critical_archived, "files": files}),
                );
            }
            Ok(_) => {}
            Err(e) => self.say(Level::WARN, &format!("retention: {e}")),
        }
    }

    fn watcher(
        &mut self,
        tx: mpsc::Sender<notify::Result<notify::Event>>,
    ) -> Option<Box<dyn Watcher>> {
        let root = self.logger.vault().root().to_path_buf();
        let made: notify::Result<Box<dyn Watcher>> = match self.cfg.poll {
            Some(every) => {
                notify::PollWatcher::new(tx, notify::Config::default().with_poll_interval(every))
                    .map(|w| Box::new(w) as Box<dyn Watcher>)
            }
            None => notify::RecommendedWatcher::new(tx, notify::Config::default())
                .map(|w| Box::new(w) as Box<dyn Watcher>),
        };
        match made.and_then(|mut w| w.watch(&root, notify::RecursiveMode::Recursive).map(|()| w)) {
            Ok(w) => Some(w),
            Err(e) => {
                self.say(
                    Level::WARN,
                    &format!(
                        "file events unavailable ({e}); the vault is rescanned every {} s",
                        RESCAN.as_secs()
                    ),
                );
                None
            }
        }
    }

    fn scan_vault(&mut self) {
        let vault = self.logger.vault().clone();
        let now = match Snapshot::scan(vault.root()) {
            Ok(s) => s,
            Err(e) => return self.say(Level::WARN, &format!("could not scan the vault: {e}")),
        };
        let Some(before) = self.snapshot.replace(now.clone()) else {
            let _ = now.save(&vault);
            return;
        };
        let mut changes = watch::diff(&before, &now, &self.own_notes, &mut self.gone);
        // Alert notes other writers raised are not vault activity either.
        let folder = &self.cfg.folders.needs_action;
        changes.retain(
            |c| !matches!(c, watch::Change::Created(p) if crate::alert::is_note(folder, p)),
        );
        if changes.is_empty() {
            return;
        }
        let entries: Vec<Entry> = changes
            .iter()
            .filter_map(|c| watch::entry_for(c, &self.cfg.folders))
            .collect();
        self.say(
            Level::DEBUG,
            &format!(
                "vault: {} changes, {} recorded",
                changes.len(),
                entries.len()
            ),
        );
        self.write(entries);
        if let Err(e) = now.save(&vault) {
            self.say(
                Level::WARN,
                &format!("could not save the vault snapshot: {e}"),
            );
        }
    }

    /// The upkeep (alerts, index, Dashboard) for what was written, at most
    /// once a second (or now, with `force`): the same code every writer
    /// runs after its writes.
    fn refresh(&mut self, force: bool) {
        if self.dirty.is_empty() || (!force && self.last_refresh.elapsed() < REFRESH) {
            return;
        }
        self.dirty.clear();
        if self.logger.vault().host().is_some() {
            // A replica's views are the primary's to make.
            return;
        }
        let notes = self.logger.settle_upkeep().map_err(|e| e.to_string());
        match notes {
            Ok(notes) => {
                let raised = notes
                    .iter()
                    .filter_map(|n| n.strip_prefix("alert: wrote "))
                    .map(str::to_owned)
                    .collect();
                self.noted(Ok(raised));
            }
            Err(e) => self.say(Level::WARN, &format!("upkeep: {e}")),
        }
        self.last_refresh = Instant::now();
    }
}

/// When each repeating warning may be said again.
#[derive(Debug, Default)]
struct Repeats(HashMap<&'static str, (Instant, Duration)>);

impl Repeats {
    /// Whether the warning `key` is due now (and when it is due next).
    fn due(&mut self, key: &'static str, now: Instant) -> bool {
        match self.0.get_mut(key) {
            Some((next, _)) if now < *next => false,
            Some((next, gap)) => {
                *gap = (*gap * 2).min(REPEAT_MAX);
                *next = now + *gap;
                true
            }
            None => {
                self.0.insert(key, (now + REPEAT_FIRST, REPEAT_FIRST));
                true
            }
        }
    }

    /// The trouble behind `key` is over: say it at once if it comes back.
    fn clear(&mut self, key: &str) {
        self.0.remove(key);
    }
}

/// Sends SIGTERM to the running daemon and waits (up to `wait`) for it to end.
#[cfg(unix)]
pub fn stop(vault: &crate::Vault, wait: Duration) -> std::io::Result<Option<u32>> {
    let Some(pidfile::Running { pid, .. }) = pidfile::running(vault)? else {
        return Ok(None);
    };
    let pid_t = libc::pid_t::try_from(pid).map_err(std::io::Error::other)?;
    // SAFETY: kill(2) with a pid read from our own pid file and SIGTERM; it
    // touches no memory of ours.
    if pid_t > 0 && unsafe { libc::kill(pid_t, libc::SIGTERM) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let started = Instant::now();
    while pidfile::running(vault)?.is_some() {
        if started.elapsed() > wait {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("daemon pid {pid} did not stop within {} s", wait.as_secs()),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Some(pid))
}
