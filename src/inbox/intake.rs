//! Taking in claimed files: reading their lines (parsed on every core),
//! appending them in batches through the journal, finishing the claims once
//! they are read to the end and quiet.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use chrono::NaiveDate;

use super::lines::{Lines, Position, Refused};
use super::rejects::{self, append_records, redact_raw, MESSAGES_KEPT};
use super::{claim, refusal, set_aside, Claim};
use crate::daily::DayFileState;
use crate::daily::{self, Line};
use crate::entry::Entry;
use crate::fsutil::{at, sync_dir, IoFailure};
use crate::journal::{self, Intent, Progress};
use crate::logger::AuditLogger;

/// Lines per batch at most ...
const MAX_BATCH: usize = 5_000;
/// ... and bytes of stored lines.
const MAX_BATCH_BYTES: usize = 8 << 20;
/// Rejected lines of a claim held in memory before they are written beside it.
const REJECTS_HELD: usize = 1 << 20;

/// What taking in one claim did.
#[derive(Debug, Clone, Default)]
pub struct Intake {
    /// The claim.
    pub original: String,
    /// How many entries were appended.
    pub written: usize,
    /// Day files written.
    pub files: Vec<DayFileState>,
    /// Lines rejected, with their messages (`line N: ...`): the first 100.
    pub rejected: Vec<String>,
    /// How many lines were rejected.
    pub rejected_count: usize,
    /// True when the claim is done and removed.
    pub done: bool,
    /// Where the rejected lines went, if any.
    pub rejected_path: Option<PathBuf>,
}

/// A claim file's length and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    len: u64,
    modified: Option<SystemTime>,
}

fn stat(path: &Path) -> io::Result<Stat> {
    let meta = fs::metadata(path)?;
    Ok(Stat {
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// One pass over a claim: how the file stood, whether it was quiet, and
/// where its lines were read to.
#[derive(Debug, Clone, Copy)]
struct Pass {
    stat: Stat,
    quiet: bool,
    at: Position,
}

/// How claims are read from one pass to the next, in memory: how long a
/// claim must be quiet (length and modification time unchanged) before its
/// unfinished last line is read and it is removed, and where each claim was
/// read to, so a claim its writer still appends to is read on from there,
/// and not at all while it does not change.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    grace: Duration,
    passes: HashMap<String, Pass>,
    /// Since when (on the monotonic clock) each claim has stood as it is.
    steady: HashMap<String, (Stat, Instant)>,
}

impl Reading {
    /// Claims are finished once quiet for `grace` (zero: at once).
    pub fn new(grace: Duration) -> Reading {
        Reading {
            grace,
            passes: HashMap::new(),
            steady: HashMap::new(),
        }
    }

    /// Whether a claim has stood as `stat` for the grace. Measured from
    /// when this process first saw it so, on the monotonic clock: never by
    /// comparing a file's modification time with the wall clock, which
    /// another machine, a sync tool or a clock change can put anywhere.
    fn quiet(&mut self, id: &str, stat: Stat) -> bool {
        let now = Instant::now();
        let since = match self.steady.get(id) {
            Some((seen, since)) if *seen == stat => *since,
            _ => {
                self.steady.insert(id.to_owned(), (stat, now));
                now
            }
        };
        now.duration_since(since) >= self.grace
    }
}

/// A claim about to be read.
struct Look {
    stat: Stat,
    quiet: bool,
    from: u64,
    resume: Option<Position>,
}

/// A claim read to its end in this pass.
struct ReadToEnd {
    index: usize,
    last: u64,
    pass: Pass,
}

/// Lines of one day gathered from one or more claims: one commit.
struct Batch {
    day: NaiveDate,
    lines: Vec<Line>,
    entries: Vec<Entry>,
    /// The stored lines' length.
    bytes: usize,
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
    fn persist_rejects(&mut self) -> Result<(), crate::Error> {
        let vault = self.logger.vault();
        for (id, text) in std::mem::take(&mut self.rejects) {
            let path = vault.inbox_claim_rejects(&id);
            at("write", &path, append_records(vault, &id, &text))?;
        }
        Ok(())
    }

    /// Appends the batch in hand through the journal, under the writers' lock.
    fn commit(&mut self) -> Result<(), crate::Error> {
        let Some(batch) = self.batch.take() else {
            return Ok(());
        };
        self.persist_rejects()?;
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
/// memory stays flat however large the files. A claim read to its end and
/// quiet for the grace of `reading` is finished: rejected lines written to
/// `rejected/`, the claim removed. One that is not (its writer appends still)
/// stays, to be read on in a later call once it changes or is quiet; until
/// then a call costs it one `stat`. A claim of a file that cannot be taken
/// in at all (another ending) is set aside to `rejected/` whole.
pub fn take_in(
    logger: &AuditLogger,
    claims: &[Claim],
    progress: &mut Progress,
    reading: &mut Reading,
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
    let present = |id: &String| claims.iter().any(|c| &c.id == id);
    reading.passes.retain(|id, _| present(id));
    reading.steady.retain(|id, _| present(id));
    let mut read = Vec::new();
    for (index, claim) in claims.iter().enumerate() {
        let Some(look) = it.look(claim, reading)? else {
            continue;
        };
        let (stat, quiet) = (look.stat, look.quiet);
        match it.read_claim(claim, look, stop)? {
            Some((last, at)) => read.push(ReadToEnd {
                index,
                last,
                pass: Pass { stat, quiet, at },
            }),
            None => return Ok(it.intakes.into_values().collect()),
        }
    }
    it.commit()?;
    it.finish_claims(claims, &read, reading)
}

impl Intaker<'_> {
    /// How a claim stands, or `None` when there is nothing to read in it now:
    /// gone, set aside, or unchanged since the last pass (and no quieter).
    fn look(&mut self, claim: &Claim, reading: &mut Reading) -> Result<Option<Look>, crate::Error> {
        let stat = match stat(&claim.path) {
            Ok(stat) => stat,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(IoFailure::new("read", &claim.path, e).into()),
        };
        if let Some(reason) = refusal(&claim.original) {
            self.set_claim_aside(claim, &reason)?;
            return Ok(None);
        }
        let quiet = reading.quiet(&claim.id, stat);
        let from = self.progress.get(&claim.id).copied().unwrap_or(0);
        let pass = reading.passes.get(&claim.id);
        if pass.is_some_and(|p| p.stat == stat && p.quiet == quiet && p.at.line == from) {
            return Ok(None);
        }
        Ok(Some(Look {
            stat,
            quiet,
            from,
            resume: pass.map(|p| p.at).filter(|p| p.line == from),
        }))
    }

    /// Moves a claim that cannot be taken in to `rejected/` whole.
    fn set_claim_aside(&mut self, claim: &Claim, reason: &str) -> Result<(), crate::Error> {
        let vault = self.logger.vault();
        let now_ms = self.logger.now().timestamp_millis();
        let red = self.logger.redactor();
        let target = set_aside(vault, &claim.path, &claim.original, reason, red, now_ms);
        let target = at("set aside", &claim.path, target)?;
        let sidecar = claim.sidecar(vault);
        match fs::remove_file(&sidecar) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(IoFailure::new("remove", &sidecar, e).into())
            }
            _ => {}
        }
        if self.progress.remove(&claim.id).is_some() {
            let saved = journal::save_progress(vault, self.progress);
            at("write", &vault.intake_progress(), saved)?;
        }
        self.intakes.insert(
            claim.id.clone(),
            Intake {
                original: claim.original.clone(),
                rejected: vec![reason.to_owned()],
                rejected_count: 1,
                done: true,
                rejected_path: Some(target),
                ..Intake::default()
            },
        );
        Ok(())
    }
}

impl Intaker<'_> {
    /// Reads one claim from its progress to its end, committing batches as
    /// they fill. Returns its last line and where it ends, or `None` when
    /// `stop` said so between two batches.
    fn read_claim(
        &mut self,
        claim: &Claim,
        look: Look,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<(u64, Position)>, crate::Error> {
        let from = look.from;
        let lines = Lines::open(claim, from, look.resume, look.quiet);
        let mut lines = at("read", &claim.path, lines)?;
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
                        if !self.add(&claim.id, n, entry, json, stop)? {
                            return Ok(None);
                        }
                    }
                    Err(Refused::Blank) => {}
                    Err(Refused::Rejected(message)) => self.reject(&claim.id, n, &message, &raw)?,
                }
            }
        }
        self.passed(&claim.id, from, last)?;
        Ok(Some((last, lines.position())))
    }

    /// Adds a line to the batch in hand, committing that batch first when
    /// the line is of another day or the batch is full. False when `stop`
    /// said so after that commit (the line is left for later).
    fn add(
        &mut self,
        id: &str,
        n: u64,
        entry: Entry,
        json: String,
        stop: &dyn Fn() -> bool,
    ) -> Result<bool, crate::Error> {
        let day = entry
            .date()
            .unwrap_or_else(|| self.logger.now().date_naive());
        let full =
            |b: &Batch| b.day != day || b.lines.len() >= MAX_BATCH || b.bytes >= MAX_BATCH_BYTES;
        if self.batch.as_ref().is_some_and(full) {
            self.commit()?;
            if stop() {
                return Ok(false);
            }
        }
        let b = self.batch.get_or_insert_with(|| Batch {
            day,
            lines: Vec::new(),
            entries: Vec::new(),
            bytes: 0,
            through: Progress::new(),
        });
        b.bytes += json.len();
        b.lines.push(Line {
            json,
            level: entry.log_level,
        });
        b.entries.push(entry);
        b.through.insert(id.to_owned(), n);
        self.intakes.entry(id.to_owned()).or_default().written += 1;
        Ok(true)
    }

    /// Keeps a rejected line (redacted) until it is written beside its
    /// claim: with the next batch, or at once when many are held.
    fn reject(&mut self, id: &str, n: u64, message: &str, raw: &[u8]) -> Result<(), crate::Error> {
        let red = self.logger.redactor();
        let message = red.text(message);
        let record = serde_json::json!({"line": n, "error": message, "raw": redact_raw(red, raw)});
        let text = self.rejects.entry(id.to_owned()).or_default();
        text.push_str(&record.to_string());
        text.push('\n');
        let held = text.len();
        let intake = self.intakes.entry(id.to_owned()).or_default();
        intake.rejected_count += 1;
        if intake.rejected.len() < MESSAGES_KEPT {
            intake.rejected.push(format!("line {n}: {message}"));
        }
        if held >= REJECTS_HELD {
            self.persist_rejects()?;
        }
        Ok(())
    }

    /// Lines after a claim's last entry (rejected or blank) count as taken
    /// in too: with the batch in hand, or at once when there is none.
    fn passed(&mut self, id: &str, from: u64, last: u64) -> Result<(), crate::Error> {
        if last <= from {
            return Ok(());
        }
        if let Some(b) = self.batch.as_mut() {
            b.through.insert(id.to_owned(), last);
            return Ok(());
        }
        self.persist_rejects()?;
        self.progress.insert(id.to_owned(), last);
        let vault = self.logger.vault();
        let saved = journal::save_progress(vault, self.progress);
        Ok(at("write", &vault.intake_progress(), saved)?)
    }

    /// Finishes the claims read to the end whose every line is taken in,
    /// that were quiet and have not changed since; remembers where the
    /// others were read to.
    fn finish_claims(
        mut self,
        claims: &[Claim],
        read: &[ReadToEnd],
        reading: &mut Reading,
    ) -> Result<Vec<Intake>, crate::Error> {
        let vault = self.logger.vault();
        let mut finished = false;
        for r in read {
            let claim = &claims[r.index];
            let through = self.progress.get(&claim.id).copied().unwrap_or(0) >= r.last;
            // Appended to while it was read: read on, later.
            let unchanged = stat(&claim.path).is_ok_and(|now| now == r.pass.stat);
            if !(r.pass.quiet && through && unchanged) {
                reading.passes.insert(claim.id.clone(), r.pass);
                continue;
            }
            let intake = self.intakes.entry(claim.id.clone()).or_default();
            at("finish", &claim.path, rejects::finish(vault, claim, intake))?;
            self.progress.remove(&claim.id);
            reading.passes.remove(&claim.id);
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
        &mut Reading::new(Duration::ZERO),
        &|| false,
        seen,
    )?
    .into_iter()
    .next())
}
