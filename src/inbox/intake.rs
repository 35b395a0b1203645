//! Taking in claimed files: parsing their lines (on every core), appending
//! them in batches through the journal, finishing the claims.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::Value;

use super::{claim, Claim};
use crate::daily::DayFileState;
use crate::daily::{self, Line};
use crate::entry::Entry;
use crate::fsutil::{append_durable, at, ensure_dir, sync_dir, write_atomic, IoFailure};
use crate::journal::{self, Intent, Progress};
use crate::logger::AuditLogger;
use crate::vault::Vault;

/// Lines per batch at most.
const MAX_BATCH: usize = 5_000;

/// What taking in one claim did.
#[derive(Debug, Clone, Default)]
pub struct Intake {
    /// The claim.
    pub original: String,
    /// How many entries were appended.
    pub written: usize,
    /// Day files written.
    pub files: Vec<DayFileState>,
    /// Lines rejected, with their messages (`line N: ...`).
    pub rejected: Vec<String>,
    /// True when the claim is done and removed.
    pub done: bool,
    /// Where the rejected lines went, if any.
    pub rejected_path: Option<PathBuf>,
}

/// One line of a claim: its number, what it parsed to (the entry with its
/// stored line, or why it was refused; an empty reason for a blank line) and
/// its raw bytes.
type Parsed = (u64, Result<(Entry, String), String>, Vec<u8>);

/// A line of a `.json` file, parsed but not yet validated against the clock.
type Unchecked = (u64, Result<Entry, String>, Vec<u8>);

/// Lines read at a time and parsed side by side on every core.
const CHUNK: usize = 4096;

/// Parses and validates one raw line.
fn parse_line(logger: &AuditLogger, line: &[u8]) -> Result<(Entry, String), String> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err(String::new());
    }
    let text = std::str::from_utf8(line).map_err(|e| {
        format!(
            "entry rejected: not valid UTF-8 (invalid byte at column {}); accepted: UTF-8 JSON text",
            e.valid_up_to() + 1
        )
    })?;
    let entry = Entry::from_json(text).map_err(|e| e.to_string())?;
    logger.prepare_line(entry).map_err(|e| e.to_string())
}

/// Parses raw lines in order, spread over the machine's cores.
fn parse_all(logger: &AuditLogger, raw: Vec<(u64, Vec<u8>)>) -> Vec<Parsed> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if workers < 2 || raw.len() < 256 {
        return raw
            .into_iter()
            .map(|(n, line)| (n, parse_line(logger, &line), line))
            .collect();
    }
    let per = raw.len().div_ceil(workers);
    let mut parts: Vec<Vec<(u64, Vec<u8>)>> = Vec::with_capacity(workers);
    let mut rest = raw;
    while rest.len() > per {
        let tail = rest.split_off(per);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    part.into_iter()
                        .map(|(n, line)| (n, parse_line(logger, &line), line))
                        .collect::<Vec<Parsed>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Reads the lines of a claim after line `from`, a chunk at a time:
/// `.jsonl` streamed, `.json` whole (one object, or an array of them).
struct Lines {
    reader: Option<BufReader<File>>,
    whole: Option<Vec<Unchecked>>,
    number: u64,
    from: u64,
}

impl Lines {
    fn open(claim: &Claim, from: u64) -> io::Result<Lines> {
        let file = File::open(&claim.path)?;
        if claim.original.ends_with(".jsonl") {
            return Ok(Lines {
                reader: Some(BufReader::with_capacity(1 << 16, file)),
                whole: None,
                number: 0,
                from,
            });
        }
        let mut bytes = Vec::new();
        BufReader::new(file).read_to_end(&mut bytes)?;
        let parsed = if !claim.original.ends_with(".json") {
            vec![(1, Err("not a .json or .jsonl file; accepted: <name>.json (one entry) or <name>.jsonl (one entry per line)".to_owned()), bytes)]
        } else {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Array(items)) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let raw = v.to_string().into_bytes();
                        (
                            i as u64 + 1,
                            Entry::from_value(v).map_err(|e| e.to_string()),
                            raw,
                        )
                    })
                    .collect(),
                Ok(v) => vec![(1, Entry::from_value(v).map_err(|e| e.to_string()), bytes)],
                Err(e) => vec![(
                    1,
                    Err(format!("entry rejected: not valid JSON: {e}")),
                    bytes,
                )],
            }
        };
        Ok(Lines {
            reader: None,
            whole: Some(parsed.into_iter().filter(|(n, _, _)| *n > from).collect()),
            number: 0,
            from,
        })
    }

    /// The next lines after `from`, parsed and validated; empty at the end.
    fn next_chunk(&mut self, logger: &AuditLogger) -> io::Result<Vec<Parsed>> {
        let Some(reader) = self.reader.as_mut() else {
            let whole = self.whole.take().unwrap_or_default();
            return Ok(whole
                .into_iter()
                .map(|(n, parsed, raw)| {
                    (
                        n,
                        parsed.and_then(|e| logger.prepare_line(e).map_err(|e| e.to_string())),
                        raw,
                    )
                })
                .collect());
        };
        let mut raw_lines = Vec::new();
        while raw_lines.len() < CHUNK {
            let mut raw = Vec::new();
            if reader.read_until(b'\n', &mut raw)? == 0 {
                break;
            }
            self.number += 1;
            if self.number <= self.from {
                continue;
            }
            if raw.ends_with(b"\n") {
                raw.pop();
            }
            if raw.ends_with(b"\r") {
                raw.pop();
            }
            raw_lines.push((self.number, raw));
        }
        Ok(parse_all(logger, raw_lines))
    }
}

/// Lines of one day gathered from one or more claims: one commit.
struct Batch {
    day: NaiveDate,
    lines: Vec<Line>,
    entries: Vec<Entry>,
    /// How far each claim gets with this batch.
    through: Progress,
}

/// Taking in several claims with shared batches (group commit).
struct Intaker<'a> {
    logger: &'a AuditLogger,
    progress: &'a mut Progress,
    seen: &'a mut dyn FnMut(&[Entry]),
    batch: Option<Batch>,
    /// Rejected lines not yet on disk, by claim.
    rejects: BTreeMap<String, String>,
    intakes: BTreeMap<String, Intake>,
}

impl Intaker<'_> {
    /// Rejected lines go beside their claims, synced, before progress passes them.
    fn persist_rejects(&mut self, claims: &[Claim]) -> Result<(), crate::Error> {
        for (id, text) in std::mem::take(&mut self.rejects) {
            if let Some(claim) = claims.iter().find(|c| c.id == id) {
                let path = claim.sidecar(self.logger.vault());
                at("write", &path, append_durable(&path, text.as_bytes()))?;
            }
        }
        Ok(())
    }

    /// Appends the batch in hand through the journal, under the writers' lock.
    fn commit(&mut self, claims: &[Claim]) -> Result<(), crate::Error> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        self.persist_rejects(claims)?;
        let logger = self.logger;
        let vault = logger.vault();
        let state = logger.with_writer_lock_at(|| {
            let state_dir = vault.state_dir();
            at(
                "settle an unfinished batch in",
                &state_dir,
                journal::resolve(vault),
            )?;
            let mut record_intent = |plan: &daily::PlannedAppend| {
                let intent = Intent::new(batch.day, plan, batch.through.clone());
                at("write", &state_dir, journal::begin(vault, &intent))
            };
            let key = logger.chain_key();
            let now = logger.now().timestamp();
            let done = daily::append(vault, key, batch.day, &batch.lines, now, &mut record_intent)?;
            let mut all = journal::load_progress(vault);
            all.extend(batch.through.clone());
            at("write", &state_dir, journal::finish(vault, &all))?;
            Ok((done.state, done.recovery))
        });
        let (state, recovery) = match state {
            Ok(done) => done,
            Err(mut e) => {
                if let crate::Error::Io { entries, .. } = &mut e {
                    *entries = batch.entries;
                }
                return Err(e);
            }
        };
        if let Some(recovery) = recovery {
            // What another program left in the file: its bytes are kept
            // aside already; a failure to take them in is not a loss.
            let taken = std::slice::from_ref(&recovery);
            let _ = logger.with_writer_lock_at(|| Ok(logger.take_in_foreign(taken)));
        }
        self.progress.extend(batch.through.clone());
        (self.seen)(&batch.entries);
        for id in batch.through.keys() {
            let intake = self.intakes.entry(id.clone()).or_default();
            intake.files.retain(|f| f.date != state.date);
            intake.files.push(state.clone());
        }
        Ok(())
    }
}

/// Takes in claims, oldest first, from where their progress says, in
/// batches of one day that may span several claims (one lock, one write, one
/// sync each); stops early, between batches, when `stop` says so, leaving the
/// rest for later. `seen` is shown each batch's entries once they are in, so
/// memory stays flat however large the files. Claims read to the end are
/// finished: rejected lines written to `rejected/`, the claim removed.
pub fn take_in(
    logger: &AuditLogger,
    claims: &[Claim],
    progress: &mut Progress,
    stop: &dyn Fn() -> bool,
    seen: &mut dyn FnMut(&[Entry]),
) -> Result<Vec<Intake>, crate::Error> {
    let mut it = Intaker {
        logger,
        progress,
        seen,
        batch: None,
        rejects: BTreeMap::new(),
        intakes: BTreeMap::new(),
    };
    let mut read_to_end: Vec<(usize, u64)> = Vec::new();
    for (index, claim) in claims.iter().enumerate() {
        match it.read_claim(claims, claim, stop)? {
            Some(last) => read_to_end.push((index, last)),
            None => return Ok(it.intakes.into_values().collect()),
        }
    }
    it.commit(claims)?;
    it.finish_claims(claims, &read_to_end)
}

impl Intaker<'_> {
    /// Reads one claim from its progress to its end, committing batches as
    /// they fill. Returns its last line, or `None` when `stop` said so
    /// between two batches.
    fn read_claim(
        &mut self,
        claims: &[Claim],
        claim: &Claim,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<u64>, crate::Error> {
        let from = self.progress.get(&claim.id).copied().unwrap_or(0);
        let mut lines = at("read", &claim.path, Lines::open(claim, from))?;
        let intake = self.intakes.entry(claim.id.clone()).or_default();
        intake.original = claim.original.clone();
        let mut last = from;
        loop {
            let chunk = at("read", &claim.path, lines.next_chunk(self.logger))?;
            if chunk.is_empty() {
                break;
            }
            for (n, parsed, raw) in chunk {
                last = n;
                match parsed {
                    Ok((entry, json)) => {
                        if !self.add(claims, &claim.id, n, entry, json, stop)? {
                            return Ok(None);
                        }
                    }
                    Err(message) if message.is_empty() => {}
                    Err(message) => self.reject(&claim.id, n, &message, &raw),
                }
            }
        }
        self.passed(claims, &claim.id, from, last)?;
        Ok(Some(last))
    }

    /// Adds a line to the batch in hand, committing that batch first when
    /// the line is of another day or the batch is full. False when `stop`
    /// said so after that commit (the line is left for later).
    fn add(
        &mut self,
        claims: &[Claim],
        id: &str,
        n: u64,
        entry: Entry,
        json: String,
        stop: &dyn Fn() -> bool,
    ) -> Result<bool, crate::Error> {
        let day = entry
            .date()
            .unwrap_or_else(|| self.logger.now().date_naive());
        let full = |b: &Batch| b.day != day || b.lines.len() >= MAX_BATCH;
        if self.batch.as_ref().is_some_and(full) {
            self.commit(claims)?;
            if stop() {
                return Ok(false);
            }
        }
        let b = self.batch.get_or_insert_with(|| Batch {
            day,
            lines: Vec::new(),
            entries: Vec::new(),
            through: Progress::new(),
        });
        b.lines.push(Line {
            json,
            level: entry.log_level,
        });
        b.entries.push(entry);
        b.through.insert(id.to_owned(), n);
        self.intakes.entry(id.to_owned()).or_default().written += 1;
        Ok(true)
    }

    /// Keeps a rejected line (redacted) until it is written beside its claim.
    fn reject(&mut self, id: &str, n: u64, message: &str, raw: &[u8]) {
        let red = self.logger.redactor();
        let record =
            serde_json::json!({"line": n, "error": red.text(message), "raw": redact_raw(red, raw)});
        let text = self.rejects.entry(id.to_owned()).or_default();
        text.push_str(&record.to_string());
        text.push('\n');
        self.intakes
            .entry(id.to_owned())
            .or_default()
            .rejected
            .push(format!("line {n}: {message}"));
    }

    /// Lines after a claim's last entry (rejected or blank) count as taken
    /// in too: with the batch in hand, or at once when there is none.
    fn passed(
        &mut self,
        claims: &[Claim],
        id: &str,
        from: u64,
        last: u64,
    ) -> Result<(), crate::Error> {
        if last <= from {
            return Ok(());
        }
        if let Some(b) = self.batch.as_mut() {
            b.through.insert(id.to_owned(), last);
            return Ok(());
        }
        self.persist_rejects(claims)?;
        self.progress.insert(id.to_owned(), last);
        let vault = self.logger.vault();
        let saved = journal::save_progress(vault, self.progress);
        Ok(at("write", &vault.intake_progress(), saved)?)
    }

    /// Finishes the claims read to the end whose every line is taken in.
    fn finish_claims(
        mut self,
        claims: &[Claim],
        read_to_end: &[(usize, u64)],
    ) -> Result<Vec<Intake>, crate::Error> {
        let vault = self.logger.vault();
        let mut finished = false;
        for &(index, last) in read_to_end {
            let claim = &claims[index];
            if self.progress.get(&claim.id).copied().unwrap_or(0) < last {
                continue;
            }
            let intake = self.intakes.entry(claim.id.clone()).or_default();
            at("finish", &claim.path, finish(vault, claim, intake))?;
            self.progress.remove(&claim.id);
            finished = true;
        }
        if finished {
            let processing = vault.inbox_processing();
            at("sync", &processing, sync_dir(&processing))?;
            let saved = journal::save_progress(vault, self.progress);
            at("write", &vault.intake_progress(), saved)?;
        }
        Ok(claims
            .iter()
            .filter_map(|c| self.intakes.remove(&c.id))
            .collect())
    }
}

/// A rejected line as it is kept in `rejected/`: redacted like an entry
/// (by key too, when it parses as JSON), so a secret in a bad line never
/// reaches the disk either.
fn redact_raw(red: &crate::redact::Redactor, raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    match serde_json::from_str::<Value>(&text) {
        Ok(mut v) if v.is_object() => {
            red.value(&mut v);
            v.to_string()
        }
        _ => red.text(&text).into_owned(),
    }
}

/// Once every line of a claim is consumed: its rejected lines are written to
/// `rejected/` (if any), and the claim and its side file removed.
fn finish(vault: &Vault, claim: &Claim, intake: &mut Intake) -> io::Result<()> {
    let sidecar = claim.sidecar(vault);
    if let Ok(text) = fs::read_to_string(&sidecar) {
        // Deduplicated by line: a crash may have kept a line twice.
        let mut by_line: BTreeMap<u64, (String, String)> = BTreeMap::new();
        for record in text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        {
            let n = record["line"].as_u64().unwrap_or(0);
            let error = record["error"].as_str().unwrap_or("").to_owned();
            let raw = record["raw"].as_str().unwrap_or("").to_owned();
            by_line.insert(n, (error, raw));
        }
        if !by_line.is_empty() {
            let rejected = vault.inbox_rejected();
            ensure_dir(&rejected)?;
            let mut target = rejected.join(&claim.original);
            if target.exists() {
                target = rejected.join(&claim.id);
            }
            let raw: String = by_line
                .values()
                .map(|(_, raw)| format!("{raw}\n"))
                .collect();
            let errors: String = by_line
                .iter()
                .map(|(n, (e, _))| format!("line {n}: {e}\n"))
                .collect();
            let mut errors_path = target.clone().into_os_string();
            errors_path.push(".errors.txt");
            write_atomic(&target, raw.as_bytes())?;
            write_atomic(Path::new(&errors_path), errors.as_bytes())?;
            intake.rejected = by_line
                .iter()
                .map(|(n, (e, _))| format!("line {n}: {e}"))
                .collect();
            intake.rejected_path = Some(target);
        }
    }
    for path in [&claim.path, &sidecar] {
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    intake.done = true;
    Ok(())
}

/// Takes in `Logs/failed_writes.json` (entries saved when the lock was
/// busy), exactly once, by claiming it like an inbox file.
pub fn replay_failed_writes(
    logger: &AuditLogger,
    progress: &mut Progress,
    seen: &mut dyn FnMut(&[Entry]),
) -> Result<Option<Intake>, crate::Error> {
    let vault = logger.vault();
    let path = vault.failed_writes();
    if !path.is_file() {
        return Ok(None);
    }
    let claim = claim(vault, &path, logger.now().timestamp_millis())
        .map(|mut c| {
            // Its lines are JSON Lines whatever its name says.
            let renamed = c.path.with_file_name(format!("{}l", c.id));
            if fs::rename(&c.path, &renamed).is_ok() {
                c.id.push('l');
                c.original.push('l');
                c.path = renamed;
            }
            c
        })
        .map_err(|source| IoFailure::new("claim", &path, source))?;
    Ok(take_in(
        logger,
        std::slice::from_ref(&claim),
        progress,
        &|| false,
        seen,
    )?
    .into_iter()
    .next())
}
