//! Forwarding the log to central stores: PostgreSQL, syslog, HTTP log stores,
//! AWS CloudWatch Logs, or any [`Sink`] a Rust user writes.
//!
//! The day files stay the source of truth; forwarding only reads them. Each
//! sink keeps a durable [`cursor::Cursor`] under `Logs/.audit/sinks/`, advanced
//! only after the store acknowledged a batch, so delivery is at least once and
//! a restart resumes where it stopped. A sink that fails is retried with
//! exponential backoff in its own thread; local logging never waits for it.

#[cfg(feature = "cloudwatch")]
pub mod cloudwatch;
pub mod config;
pub mod cursor;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod syslog;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rand::RngExt;
use serde_json::{json, Map, Value};

use crate::chain::head::Head;
use crate::entry::{ActionType, Entry, LogLevel};
use crate::meter::{Meter, NewMeter};
use crate::vault::Vault;
use cursor::{Batch, Cursor};

/// One stored entry, as a sink receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The day file it is in.
    pub date: NaiveDate,
    /// Its position in that file, from 0: with the vault and the day, it
    /// names the entry for good (the PostgreSQL sink's unique key).
    pub position: u64,
    /// The line exactly as stored.
    pub line: String,
    /// The line parsed.
    pub value: Value,
}

impl Record {
    /// A stored line read at `position` of `date`'s file (a line that does
    /// not parse is kept as a JSON string, so it is still forwarded).
    pub fn from_json(date: NaiveDate, position: u64, json: &[u8]) -> Record {
        let line = String::from_utf8_lossy(json).into_owned();
        let value = serde_json::from_str(&line).unwrap_or(Value::String(line.clone()));
        Record {
            date,
            position,
            line,
            value,
        }
    }

    /// A string field of the entry (empty if absent).
    pub fn field(&self, name: &str) -> &str {
        self.value.get(name).and_then(Value::as_str).unwrap_or("")
    }

    /// The entry's level, INFO if it names none we know.
    pub fn level(&self) -> LogLevel {
        self.field("log_level").parse().unwrap_or(LogLevel::Info)
    }

    /// The entry as a JSON object (a line that is not one goes under
    /// `entry`) with `vault`, `day_file` and `position` added: what the
    /// log stores that take JSON objects receive.
    pub fn tagged(&self, vault: &str) -> Map<String, Value> {
        let mut obj = match &self.value {
            Value::Object(m) => m.clone(),
            other => {
                let mut m = Map::new();
                m.insert("entry".into(), other.clone());
                m
            }
        };
        obj.insert("vault".into(), vault.into());
        obj.insert(
            "day_file".into(),
            self.date.format("%Y-%m-%d").to_string().into(),
        );
        obj.insert("position".into(), self.position.into());
        obj
    }
}

/// An entry a sink left out for good because its store refuses it whatever
/// is retried (CloudWatch Logs takes no event older than 14 days). It stays
/// in its day file; the forwarder records it in a WARNING `forward_skipped`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The day file it is in.
    pub date: NaiveDate,
    /// Its position in that file.
    pub position: u64,
    /// Why, in a few words (`older than 14 days`).
    pub reason: String,
}

/// Why a batch was not delivered. The batch is kept in every case: the
/// cursor does not move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkError {
    /// The store is down or unreachable, or answered 5xx: retry with backoff.
    Unavailable(String),
    /// The store asked us to slow down (HTTP 429): retry after the time it
    /// gave, or with backoff.
    RateLimited {
        /// What it said.
        message: String,
        /// Its `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// The store refused the batch (HTTP 4xx, a SQL error): retrying at once
    /// will not help; it is retried after the longest backoff, as a fixed
    /// configuration or credential is the usual remedy.
    Rejected(String),
}

/// A forwarding setting that is not accepted ([`config`] reads them; the
/// sinks' own settings, such as [`config::aws`], say it too). The message names the
/// variable and what is accepted, and repeats the value unless it may hold
/// a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value that is not accepted.
    #[error("{name}={value:?}: {why}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong, and what is accepted.
        why: String,
    },
    /// A value a sink does not accept. The sink's message repeats the
    /// value only where it cannot hold a password or a token.
    #[error("{name}: {source}")]
    Sink {
        /// The variable.
        name: &'static str,
        /// What the sink refused, and what it accepts.
        #[source]
        source: SinkConfigError,
    },
    /// A sink that needs credentials, and found none usable.
    #[error("{name} is set, but {why}")]
    Credentials {
        /// The sink's variable.
        name: &'static str,
        /// What is missing, and where it was looked for.
        why: String,
    },
    /// A sink this build was compiled without.
    #[error(
        "{name} is set, but this build has no {sink} sink (build with the `{feature}` feature)"
    )]
    Unsupported {
        /// The variable.
        name: &'static str,
        /// The sink's name.
        sink: &'static str,
        /// The Cargo feature that brings it.
        feature: &'static str,
    },
}

/// A sink setting the sink does not accept: each message says what was
/// wrong and what is accepted, and never repeats a value that may hold a
/// credential (a connection string, a header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkConfigError {
    /// A URL whose scheme the sink does not speak.
    #[error("{url:?} is not accepted; expected {accepted}")]
    Scheme {
        /// The URL given.
        url: String,
        /// The URLs the sink takes.
        accepted: &'static str,
    },
    /// A URL that names no host.
    #[error("{url:?} has no host; expected {accepted}")]
    NoHost {
        /// The URL given.
        url: String,
        /// The URLs the sink takes.
        accepted: &'static str,
    },
    /// An HTTP body format that is not known.
    #[error("format {value:?} is not one of jsonline (or victorialogs), loki")]
    Format {
        /// The format given.
        value: String,
    },
    /// Headers given as JSON that are not an object.
    #[error("the headers are not a JSON object of names to values ({reason}); expected {{\"Name\": \"value\"}} or lines of `Name: value`")]
    HeadersJson {
        /// What the JSON parser said.
        reason: String,
    },
    /// A header given as JSON whose value is not a string.
    #[error("header {name}: the value is not a string; expected {{\"Name\": \"value\"}}")]
    HeaderValue {
        /// The header's name.
        name: String,
    },
    /// A line of headers with no colon.
    #[error("header line {line} has no colon; expected `Name: value`")]
    HeaderLine {
        /// The line's number, from 1.
        line: usize,
    },
    /// A header line whose name is empty or has other characters.
    #[error(
        "header line {line} has no valid name before its colon; expected letters, digits, - and _"
    )]
    HeaderName {
        /// The line's number, from 1.
        line: usize,
    },
    /// A CloudWatch Logs setting that is not accepted.
    #[error("{why}")]
    CloudWatch {
        /// What is wrong, and what is accepted.
        why: String,
    },
    /// A PostgreSQL connection string that does not parse.
    #[error("not a PostgreSQL connection string ({reason}); expected postgres://user:password@host:5432/db or key=value pairs")]
    Postgres {
        /// What the driver said.
        reason: String,
    },
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkError::Unavailable(m) => write!(f, "unavailable: {m}"),
            SinkError::RateLimited { message, .. } => write!(f, "rate limited: {message}"),
            SinkError::Rejected(m) => write!(f, "rejected: {m}"),
        }
    }
}

impl std::error::Error for SinkError {}

/// A central store entries are forwarded to.
pub trait Sink: Send {
    /// A short name, unique among the sinks of a vault: it names the cursor
    /// file (`Logs/.audit/sinks/<name>.json`), so use letters, digits, `-`, `_`.
    fn name(&self) -> &str;

    /// Delivers a batch of entries, in file order. Returns only once the
    /// store has acknowledged them: after `Ok` the cursor moves past them.
    /// Delivering a batch twice must be harmless (it happens after a crash).
    fn send(&mut self, batch: &[Record]) -> Result<(), SinkError>;

    /// Delivers a chain head (the `chain_head` record: the head record's
    /// line, see [`crate::chain::head`]), so that a rollback of the vault
    /// is evident against the store. Returns once the store acknowledged
    /// it; sending one twice must be harmless. The default keeps none.
    fn send_head(&mut self, head: &Head) -> Result<(), SinkError> {
        let _ = head;
        Ok(())
    }

    /// Checks that the store can be reached, without sending anything.
    fn health(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// The entries of the last acknowledged batch that the store refuses for
    /// good and the sink therefore left out; taken once, so a second call
    /// returns none. The cursor moves past them with the rest of the batch.
    /// The default leaves none out.
    fn take_skipped(&mut self) -> Vec<Skipped> {
        Vec::new()
    }
}

/// How the forwarder paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Entries per batch.
    pub batch: usize,
    /// The first retry delay after a failure; it doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// The longest delay between retries.
    pub max_backoff: Duration,
    /// How often a caught-up sink looks for new entries.
    pub poll: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            batch: 500,
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            poll: Duration::from_millis(500),
        }
    }
}

/// What one catch-up pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatchUp {
    /// Entries delivered.
    pub sent: u64,
    /// Days whose unsent entries retention deleted: (day, entries lost to this sink).
    pub lost: Vec<(NaiveDate, u64)>,
    /// Entries the sink left out because its store refuses them for good.
    pub skipped: Vec<Skipped>,
}

/// The blocking HTTP client the HTTP and CloudWatch sinks send with: 10 s
/// to connect, `timeout` in all, every status an answer (not an error),
/// and no proxy from `HTTP_PROXY` and friends (the library reads no
/// environment; the URL says where to go).
#[cfg(any(feature = "http", feature = "cloudwatch"))]
fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into()
}

/// A system_event entry by the forwarder.
pub fn event(level: LogLevel, sink: &str, params: Value) -> Option<Entry> {
    let action = ActionType::new("system_event").ok()?;
    let mut e = Entry::new(level, action, "audit_forwarder", format!("sink:{sink}"));
    if let Value::Object(map) = params {
        e.parameters = map;
    }
    Some(e)
}

/// The WARNING that retention deleted `entries` of `date` before `sink` got them.
pub fn gap_event(sink: &str, date: NaiveDate, entries: u64) -> Option<Entry> {
    event(
        LogLevel::Warning,
        sink,
        json!({"event": "forward_gap", "sink": sink, "day": date.format("%Y-%m-%d").to_string(), "entries": entries,
               "detail": "retention deleted this day before these entries were forwarded"}),
    )
}

/// At most this many skipped entries are named in one `forward_skipped` event.
const SKIPPED_NAMED: usize = 100;

/// The WARNING that `sink`'s store refused `skipped` for good: they stay in
/// the day files and are not sent again.
pub fn skip_event(sink: &str, skipped: &[Skipped]) -> Option<Entry> {
    if skipped.is_empty() {
        return None;
    }
    let named: Vec<Value> = skipped
        .iter()
        .take(SKIPPED_NAMED)
        .map(|s| json!({"day": s.date.format("%Y-%m-%d").to_string(), "position": s.position, "reason": s.reason}))
        .collect();
    event(
        LogLevel::Warning,
        sink,
        json!({"event": "forward_skipped", "sink": sink, "entries": skipped.len(), "skipped": named,
               "detail": "the store refuses these entries whatever is retried; they stay in the day files and are not sent again"}),
    )
}

/// Sends what `sink` has not yet been sent, oldest day first, batch by
/// batch, saving the cursor after each acknowledged batch. Stops at the
/// first failure (the cursor keeps what was delivered before it) or when
/// `stop` is set.
pub fn catch_up(
    vault: &Vault,
    sink: &mut dyn Sink,
    pace: &Pace,
    stop: &AtomicBool,
) -> Result<CatchUp, (CatchUp, SinkError)> {
    catch_up_metered(vault, sink, pace, stop, &mut crate::meter::Silent)
}

/// [`catch_up`], telling `meter` of each batch sent.
pub fn catch_up_metered(
    vault: &Vault,
    sink: &mut dyn Sink,
    pace: &Pace,
    stop: &AtomicBool,
    meter: &mut dyn Meter,
) -> Result<CatchUp, (CatchUp, SinkError)> {
    let name = sink.name().to_owned();
    let io = |e: std::io::Error| SinkError::Unavailable(format!("reading the vault: {e}"));
    let mut progress = CatchUp::default();
    let mut cursor = match Cursor::load(vault, &name) {
        Ok(c) => c,
        Err(e) => return Err((progress, io(e))),
    };
    let days = match vault.day_files() {
        Ok(d) => d,
        Err(e) => return Err((progress, io(e))),
    };
    progress.lost = forget_deleted(vault, &mut cursor, &days);
    let seen_new = add_new_days(vault, &mut cursor, &days);
    if seen_new || !progress.lost.is_empty() {
        if let Err(e) = cursor.save(vault, &name) {
            return Err((progress, io(e)));
        }
    }
    let mut saved = cursor.clone();
    // The entries each day had when last read: a bar's length, not a promise.
    let behind = cursor
        .days
        .values()
        .map(|d| d.total.saturating_sub(d.sent))
        .sum();
    meter.start(&format!("sending to {name}"), behind);
    for date in days {
        loop {
            if stop.load(Ordering::SeqCst) {
                return Ok(progress);
            }
            let batch: Batch = match cursor::read_batch(vault, &mut cursor, date, pace.batch) {
                Ok(b) => b,
                Err(e) => return Err((progress, io(e))),
            };
            if batch.records.is_empty() {
                break;
            }
            if let Err(e) = sink.send(&batch.records) {
                return Err((progress, e));
            }
            progress.skipped.extend(sink.take_skipped());
            cursor.advance(&batch);
            if let Err(e) = cursor.save(vault, &name) {
                return Err((progress, io(e)));
            }
            saved = cursor.clone();
            progress.sent += batch.records.len() as u64;
            meter.advance(batch.records.len() as u64);
        }
    }
    // Then the head record, when it moved since the last one sent.
    if let Err(e) = send_head(vault, sink, &mut cursor) {
        return Err((progress, e));
    }
    // Days found wholly sent keep their length, so the next pass need not
    // read them again; saved only when something changed.
    if cursor != saved {
        if let Err(e) = cursor.save(vault, &name) {
            return Err((progress, io(e)));
        }
    }
    Ok(progress)
}

/// Puts every day the sink has not seen in the cursor, sent or not, so that
/// retention deleting one before it was sent is noticed. Whether there was one.
fn add_new_days(vault: &Vault, cursor: &mut Cursor, days: &[NaiveDate]) -> bool {
    let mut seen_new = false;
    for date in days {
        if !cursor.days.contains_key(date) {
            let total = match cursor::look(vault, *date) {
                Ok(cursor::DayLook::Ready { total, .. }) => total,
                _ => 0,
            };
            cursor.days.insert(
                *date,
                cursor::DayCursor {
                    total,
                    ..Default::default()
                },
            );
            seen_new = true;
        }
    }
    seen_new
}

/// Sends the head record when the sink has not had it yet.
fn send_head(vault: &Vault, sink: &mut dyn Sink, cursor: &mut Cursor) -> Result<(), SinkError> {
    let none = crate::chain::ChainKey::none();
    let Ok(Ok(head)) = crate::chain::head::read_head(vault, &none) else {
        return Ok(());
    };
    if cursor.head_seq.is_some_and(|s| s >= head.seq) {
        return Ok(());
    }
    sink.send_head(&head)?;
    cursor.head_seq = Some(head.seq);
    Ok(())
}

/// Drops from the cursor the days whose files are gone, and returns those
/// that still held entries the sink never got (retention deleted them), with
/// how many: from the retention anchors where they say, else from the count
/// the cursor saw last.
fn forget_deleted(vault: &Vault, cursor: &mut Cursor, days: &[NaiveDate]) -> Vec<(NaiveDate, u64)> {
    let anchors = crate::chain::load_anchors(&vault.logs());
    let gone: Vec<NaiveDate> = cursor
        .days
        .keys()
        .filter(|d| days.binary_search(d).is_err())
        .copied()
        .collect();
    let mut lost = Vec::new();
    for date in gone {
        let Some(day) = cursor.days.remove(&date) else {
            continue;
        };
        let total = anchors
            .get(&date.format("%Y-%m-%d").to_string())
            .map_or(day.total, |a| a.total_entries.max(day.total));
        if total > day.sent {
            lost.push((date, total - day.sent));
        }
    }
    lost
}

/// A sink's state as its thread reports it, for events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Up,
    Down,
    Limited,
    Refused,
}

/// Runs one sink until `stop` is set: catches up, waits `pace.poll`, and
/// again; after a failure waits with exponential backoff and jitter.
/// System events (a sink going down, coming back, rate limited, refused,
/// entries lost to retention) go to `events`, once per change of state.
/// `first` is told how the first catch-up goes (the one a restart makes).
pub fn run_sink(
    vault: &Vault,
    mut sink: Box<dyn Sink>,
    pace: Pace,
    stop: &AtomicBool,
    events: &mpsc::Sender<Entry>,
    first: Box<dyn Meter + Send>,
) {
    let mut first = Some(first);
    let name = sink.name().to_owned();
    let mut state = State::Up;
    let mut backoff = pace.min_backoff;
    let emit = |level, params: Value| {
        if let Some(e) = event(level, &name, params) {
            let _ = events.send(e);
        }
    };
    while !stop.load(Ordering::SeqCst) {
        let mut meter = first
            .take()
            .unwrap_or_else(|| Box::new(crate::meter::Silent));
        let (progress, failure) =
            match catch_up_metered(vault, sink.as_mut(), &pace, stop, meter.as_mut()) {
                Ok(p) => (p, None),
                Err((p, e)) => (p, Some(e)),
            };
        drop(meter);
        for (date, n) in &progress.lost {
            if let Some(e) = gap_event(&name, *date, *n) {
                let _ = events.send(e);
            }
        }
        if let Some(e) = skip_event(&name, &progress.skipped) {
            let _ = events.send(e);
        }
        let wait = match failure {
            None => {
                if state != State::Up {
                    emit(
                        LogLevel::Info,
                        json!({"event": "sink_up", "sink": name, "sent": progress.sent}),
                    );
                    state = State::Up;
                }
                backoff = pace.min_backoff;
                pace.poll
            }
            Some(e) => {
                let (now, level, event, wait) = match &e {
                    SinkError::Unavailable(_) => {
                        (State::Down, LogLevel::Warning, "sink_down", backoff)
                    }
                    SinkError::RateLimited { retry_after, .. } => (
                        State::Limited,
                        LogLevel::Warning,
                        "sink_rate_limited",
                        retry_after.unwrap_or(backoff).min(pace.max_backoff),
                    ),
                    SinkError::Rejected(_) => (
                        State::Refused,
                        LogLevel::Error,
                        "sink_rejected",
                        pace.max_backoff,
                    ),
                };
                if now != state {
                    emit(
                        level,
                        json!({"event": event, "sink": name, "error": e.to_string(), "sent_before": progress.sent}),
                    );
                    state = now;
                }
                backoff = (backoff * 2).min(pace.max_backoff);
                jitter(wait)
            }
        };
        sleep_unless_stopped(wait, stop);
    }
}

/// `d` give or take a fifth, so that sinks of many vaults do not retry in step.
fn jitter(d: Duration) -> Duration {
    let f: f64 = rand::rng().random_range(0.8..1.2);
    d.mul_f64(f)
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let until = Instant::now() + d;
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

/// The sinks running in threads; dropped or [`Forwarder::stop`]ped, they end.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Forwarder {
    /// Starts one thread per sink.
    pub fn start(
        vault: &Vault,
        sinks: Vec<Box<dyn Sink>>,
        pace: Pace,
        events: mpsc::Sender<Entry>,
    ) -> Forwarder {
        let silent: NewMeter = Arc::new(|| Box::new(crate::meter::Silent));
        Forwarder::start_metered(vault, sinks, pace, events, &silent)
    }

    /// [`Forwarder::start`], each sink's first catch-up told to a meter
    /// `new_meter` makes.
    pub fn start_metered(
        vault: &Vault,
        sinks: Vec<Box<dyn Sink>>,
        pace: Pace,
        events: mpsc::Sender<Entry>,
        new_meter: &NewMeter,
    ) -> Forwarder {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = sinks
            .into_iter()
            .map(|sink| {
                let vault = vault.clone();
                let stop = Arc::clone(&stop);
                let events = events.clone();
                let meter = new_meter();
                std::thread::Builder::new()
                    .name(format!("sink-{}", sink.name()))
                    .spawn(move || run_sink(&vault, sink, pace, &stop, &events, meter))
                    .expect("spawn a sink thread")
            })
            .collect();
        Forwarder { stop, threads }
    }

    /// Asks every sink to stop and waits up to `wait` for them. A sink still
    /// in a network call is left to end with the process; its batch was not
    /// acknowledged, so its cursor did not move and nothing is lost.
    pub fn stop(mut self, wait: Duration) {
        self.stop.store(true, Ordering::SeqCst);
        let until = Instant::now() + wait;
        while Instant::now() < until && self.threads.iter().any(|t| !t.is_finished()) {
            std::thread::sleep(Duration::from_millis(10));
        }
        for t in self.threads.drain(..) {
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Entries of the vault the sink named `name` has not been sent yet.
pub fn pending(vault: &Vault, name: &str) -> std::io::Result<u64> {
    let cursor = Cursor::load(vault, name)?;
    let mut behind = 0;
    for date in vault.day_files()? {
        if let cursor::DayLook::Ready { total, .. } = cursor::look(vault, date)? {
            let sent = cursor.days.get(&date).map_or(0, |d| d.sent);
            behind += total.saturating_sub(sent);
        }
    }
    Ok(behind)
}
