//! Logging by dropping a file: `Logs/inbox/<name>.json` (one entry, or an
//! array) or `<name>.jsonl` (one entry per line), taken in exactly once.
//!
//! A ready file is *claimed* by renaming it into `Logs/inbox/.processing/`
//! under a unique name. Its lines are then appended in batches of one day
//! each through the journal (see [`crate::journal`]), which records how far
//! each claim got; after a crash the claim is read again from there. Invalid
//! lines are kept beside the claim until it is done, then written to
//! `Logs/inbox/rejected/<name>` with `<name>.errors.txt`.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::NaiveDate;
use serde_json::Value;

use crate::daily::{self, Line};
use crate::entry::Entry;
use crate::fsutil::{append_durable, ensure_dir, sync_dir, write_atomic};
use crate::journal::{self, Intent, Progress};
use crate::logger::{AuditLogger, DayFileState};
use crate::vault::Vault;

/// Lines per batch at most.
const MAX_BATCH: usize = 10_000;
/// A file that does not look complete is taken anyway once it has not
/// changed for this long (a careless writer that stopped half-way).
pub const GRACE: Duration = Duration::from_secs(2);
/// A complete-looking file is taken once it is this old (a writer appending
/// line by line has a moment to go on).
const SETTLE: Duration = Duration::from_millis(50);

/// `Logs/inbox/`.
pub fn dir(vault: &Vault) -> PathBuf {
    vault.logs().join("inbox")
}

/// `Logs/inbox/.processing/`: claimed files.
pub fn processing_dir(vault: &Vault) -> PathBuf {
    dir(vault).join(".processing")
}

/// `Logs/inbox/rejected/`.
pub fn rejected_dir(vault: &Vault) -> PathBuf {
    dir(vault).join("rejected")
}

/// Whether a name in the inbox is one to take: not hidden, not `*.tmp`.
pub fn is_candidate(name: &str) -> bool {
    !name.starts_with('.') && !name.ends_with(".tmp")
}

/// Tracks files that do not look complete yet, to see when they stop changing.
#[derive(Debug, Default)]
pub struct Readiness {
    seen: HashMap<PathBuf, (u64, Option<SystemTime>, SystemTime)>,
}

impl Readiness {
    /// The inbox files ready to claim, in the order they arrived (oldest
    /// modification time first, then name).
    pub fn ready(&mut self, vault: &Vault, now: SystemTime) -> io::Result<Vec<PathBuf>> {
        let inbox = dir(vault);
        let mut ready = Vec::new();
        let entries = match fs::read_dir(&inbox) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ready),
            Err(e) => return Err(e),
        };
        let mut present = Vec::new();
        for item in entries {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            let meta = item.metadata()?;
            if !meta.is_file() || !is_candidate(&name) {
                continue;
            }
            let path = item.path();
            present.push(path.clone());
            let modified = meta.modified().ok();
            let settled =
                modified.is_none_or(|m| now.duration_since(m).unwrap_or_default() >= SETTLE);
            if settled && looks_complete(&path, &name, meta.len())? {
                ready.push(path);
                continue;
            }
            // Not complete: take it once it has stopped changing for GRACE.
            let entry = self
                .seen
                .entry(path.clone())
                .or_insert((meta.len(), modified, now));
            if entry.0 != meta.len() || entry.1 != modified {
                *entry = (meta.len(), modified, now);
            } else if now.duration_since(entry.2).unwrap_or_default() >= GRACE {
                ready.push(path);
            }
        }
        self.seen.retain(|p, _| present.contains(p));
        for p in &ready {
            self.seen.remove(p);
        }
        ready.sort_by_cached_key(|p| (fs::metadata(p).and_then(|m| m.modified()).ok(), p.clone()));
        Ok(ready)
    }
}

/// A `.jsonl` file ends with a line break; a `.json` file parses; anything
/// else is taken as it is (and rejected as a whole).
fn looks_complete(path: &Path, name: &str, len: u64) -> io::Result<bool> {
    if name.ends_with(".jsonl") {
        if len == 0 {
            return Ok(false);
        }
        let mut file = File::open(path)?;
        let last = daily::read_range(&mut file, len - 1, 1)?;
        Ok(last == b"\n")
    } else if name.ends_with(".json") {
        let bytes = fs::read(path)?;
        Ok(serde_json::from_slice::<Value>(&bytes).is_ok())
    } else {
        Ok(true)
    }
}

/// A claimed inbox file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Its unique name under `.processing/` (`<unix ms>-<random>-<name>`).
    pub id: String,
    /// Its path.
    pub path: PathBuf,
    /// The name it was dropped under.
    pub original: String,
}

impl Claim {
    fn from_id(vault: &Vault, id: String) -> Option<Claim> {
        let mut parts = id.splitn(3, '-');
        let (_, _, original) = (parts.next()?, parts.next()?, parts.next()?.to_owned());
        Some(Claim {
            path: processing_dir(vault).join(&id),
            id,
            original,
        })
    }

    fn sidecar(&self) -> PathBuf {
        self.path.with_file_name(format!(".{}.rejected", self.id))
    }
}

/// Claims `path` by renaming it into `.processing/` under a unique name.
pub fn claim(vault: &Vault, path: &Path, now_ms: i64) -> io::Result<Claim> {
    let processing = processing_dir(vault);
    ensure_dir(&processing)?;
    let original = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce: u32 = rand::random();
    let id = format!("{now_ms:013}-{nonce:08x}-{original}");
    let target = processing.join(&id);
    fs::rename(path, &target)?;
    sync_dir(&processing)?;
    sync_dir(&dir(vault))?;
    Ok(Claim {
        id,
        path: target,
        original,
    })
}

/// The claims in `.processing/`, oldest first (left by a crash, or in hand).
pub fn claims(vault: &Vault) -> io::Result<Vec<Claim>> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(processing_dir(vault)) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for item in entries {
        let name = item?.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            found.extend(Claim::from_id(vault, name));
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// What taking in one claim did.
#[derive(Debug, Clone, Default)]
pub struct Intake {
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

/// One line of a claim: its number and what it parsed to.
type Parsed = (u64, Result<Entry, String>, Vec<u8>);

/// Reads the lines of a claim after line `from`: `.jsonl` line by line
/// (streamed), `.json` whole (one object, or an array of them).
struct Lines {
    reader: Option<BufReader<File>>,
    whole: std::vec::IntoIter<Parsed>,
    number: u64,
    from: u64,
}

impl Lines {
    fn open(claim: &Claim, from: u64) -> io::Result<Lines> {
        let file = File::open(&claim.path)?;
        if claim.original.ends_with(".jsonl") {
            return Ok(Lines {
                reader: Some(BufReader::with_capacity(1 << 16, file)),
                whole: Vec::new().into_iter(),
                number: 0,
                from,
            });
        }
        let mut bytes = Vec::new();
        BufReader::new(file).read_to_end(&mut bytes)?;
        let parsed: Vec<Parsed> = if !claim.original.ends_with(".json") {
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
            whole: parsed
                .into_iter()
                .filter(|(n, _, _)| *n > from)
                .collect::<Vec<_>>()
                .into_iter(),
            number: 0,
            from,
        })
    }

    /// The next line after `from`, or `None` at the end.
    fn next(&mut self) -> io::Result<Option<Parsed>> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(self.whole.next());
        };
        let mut raw = Vec::new();
        loop {
            raw.clear();
            if reader.read_until(b'\n', &mut raw)? == 0 {
                return Ok(None);
            }
            self.number += 1;
            if self.number <= self.from {
                continue;
            }
            let line = raw.strip_suffix(b"\n").unwrap_or(&raw);
            let line = line.strip_suffix(b"\r").unwrap_or(line).to_vec();
            if line.iter().all(u8::is_ascii_whitespace) {
                // A blank line: consumed, nothing to log.
                return Ok(Some((self.number, Err(String::new()), line)));
            }
            let parsed = match std::str::from_utf8(&line) {
                Ok(text) => Entry::from_json(text).map_err(|e| e.to_string()),
                Err(e) => Err(format!(
                    "entry rejected: not valid UTF-8 (invalid byte at column {}); accepted: UTF-8 JSON text",
                    e.valid_up_to() + 1
                )),
            };
            return Ok(Some((self.number, parsed, line)));
        }
    }
}

/// A batch being gathered: lines of one day.
struct Batch {
    day: NaiveDate,
    lines: Vec<Line>,
    entries: Vec<Entry>,
    through: u64,
}

/// Takes in one claim, from where its progress says, in batches; stops
/// early (leaving the claim for later) when `stop` says so between batches.
/// The writers' lock is taken for each batch; `seen` is shown each batch's
/// entries once they are in (memory stays flat however large the file).
pub fn take_in(
    logger: &AuditLogger,
    claim: &Claim,
    progress: &mut Progress,
    stop: &dyn Fn() -> bool,
    seen: &mut dyn FnMut(&[Entry]),
) -> Result<Intake, crate::Error> {
    let vault = logger.vault();
    let io_err = |op: &'static str, path: &Path, source: io::Error| crate::Error::Io {
        op,
        path: path.to_owned(),
        source,
        entries: Vec::new(),
        written: Vec::new(),
    };
    let from = progress.get(&claim.id).copied().unwrap_or(0);
    let mut lines = Lines::open(claim, from).map_err(|e| io_err("read", &claim.path, e))?;
    let mut intake = Intake::default();
    let mut batch: Option<Batch> = None;
    let mut pending_rejects = String::new();
    let mut last = from;
    loop {
        let next = lines.next().map_err(|e| io_err("read", &claim.path, e))?;
        let prepared = next.map(|(n, parsed, raw)| {
            (
                n,
                parsed.and_then(|e| logger.prepare(e).map_err(|e| e.to_string())),
                raw,
            )
        });
        // A batch ends at the end of the file, at a line of another day, or when full.
        let ends = match (&batch, &prepared) {
            (Some(b), Some((_, Ok(e), _))) => e.date() != Some(b.day) || b.lines.len() >= MAX_BATCH,
            (Some(_), None) => true,
            _ => false,
        };
        if ends {
            if let Some(b) = batch.take() {
                let through = if prepared.is_none() { last } else { b.through };
                commit(
                    logger,
                    claim,
                    b,
                    through,
                    &mut pending_rejects,
                    progress,
                    &mut intake,
                    seen,
                )?;
                if stop() {
                    return Ok(intake);
                }
            }
        }
        let Some((n, parsed, raw)) = prepared else {
            break;
        };
        last = n;
        match parsed {
            Ok(entry) => {
                let day = entry.date().unwrap_or_else(|| logger.now().date_naive());
                let b = batch.get_or_insert_with(|| Batch {
                    day,
                    lines: Vec::new(),
                    entries: Vec::new(),
                    through: n,
                });
                b.lines.push(Line {
                    json: entry.to_json_line(),
                    level: entry.log_level,
                });
                b.entries.push(entry);
                b.through = n;
            }
            Err(message) if message.is_empty() => {}
            Err(message) => {
                let record = serde_json::json!({"line": n, "error": message, "raw": String::from_utf8_lossy(&raw)});
                pending_rejects.push_str(&record.to_string());
                pending_rejects.push('\n');
                intake.rejected.push(format!("line {n}: {message}"));
            }
        }
    }
    // Lines after the last batch (rejected or blank) still count as consumed.
    if progress.get(&claim.id).copied().unwrap_or(0) < last {
        persist_rejects(claim, &mut pending_rejects)
            .map_err(|e| io_err("write", &claim.sidecar(), e))?;
        progress.insert(claim.id.clone(), last);
        journal::save_progress(vault, progress)
            .map_err(|e| io_err("write", &vault.state_dir(), e))?;
    }
    finish(vault, claim, progress, &mut intake).map_err(|e| io_err("finish", &claim.path, e))?;
    Ok(intake)
}

/// Rejected lines go beside the claim, synced, before progress passes them.
fn persist_rejects(claim: &Claim, pending: &mut String) -> io::Result<()> {
    if !pending.is_empty() {
        append_durable(&claim.sidecar(), pending.as_bytes())?;
        pending.clear();
    }
    Ok(())
}

/// Appends one batch through the journal, under the writers' lock.
#[allow(clippy::too_many_arguments)]
fn commit(
    logger: &AuditLogger,
    claim: &Claim,
    batch: Batch,
    through: u64,
    pending_rejects: &mut String,
    progress: &mut Progress,
    intake: &mut Intake,
    seen: &mut dyn FnMut(&[Entry]),
) -> Result<(), crate::Error> {
    let vault = logger.vault();
    persist_rejects(claim, pending_rejects).map_err(|source| crate::Error::Io {
        op: "write",
        path: claim.sidecar(),
        source,
        entries: batch.entries.clone(),
        written: Vec::new(),
    })?;
    let state = logger.with_writer_lock(|| {
        journal::resolve(vault)?;
        let path = vault.day_file(batch.day);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let mut found = daily::inspect(&mut file, batch.day)?;
        if found == daily::Inspection::NeedsRecovery {
            drop(file);
            daily::recover(&path, batch.day, logger.now().timestamp())?;
            file = OpenOptions::new().read(true).write(true).open(&path)?;
            found = daily::inspect(&mut file, batch.day)?;
        }
        let plan = daily::plan_append(batch.day, found, &batch.lines)?;
        let advance = Progress::from([(claim.id.clone(), through)]);
        journal::begin(vault, &Intent::new(batch.day, &plan, advance.clone()))?;
        let after = daily::write_planned(&mut file, &plan)?;
        file.sync_data()?;
        if plan.offset == 0 {
            sync_dir(&vault.logs())?;
        }
        let mut all = journal::load_progress(vault);
        all.extend(advance);
        journal::finish(vault, &all)?;
        Ok(DayFileState {
            date: batch.day,
            path,
            total_entries: after.trailer.total_entries,
            size_bytes: after.len,
            summary: after.trailer.summary,
        })
    });
    match state {
        Ok(state) => {
            progress.insert(claim.id.clone(), through);
            intake.files.retain(|f| f.date != state.date);
            intake.files.push(state);
            intake.written += batch.entries.len();
            seen(&batch.entries);
            Ok(())
        }
        Err(mut e) => {
            if let crate::Error::Io { entries, .. } = &mut e {
                *entries = batch.entries;
            }
            Err(e)
        }
    }
}

/// Once every line of a claim is consumed: its rejected lines are written to
/// `rejected/` (if any), and the claim, its side file and its progress removed.
fn finish(
    vault: &Vault,
    claim: &Claim,
    progress: &mut Progress,
    intake: &mut Intake,
) -> io::Result<()> {
    let sidecar = claim.sidecar();
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
            let rejected = rejected_dir(vault);
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
    sync_dir(&processing_dir(vault))?;
    if progress.remove(&claim.id).is_some() {
        journal::save_progress(vault, progress)?;
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
        .map_err(|source| crate::Error::Io {
            op: "claim",
            path: path.clone(),
            source,
            entries: Vec::new(),
            written: Vec::new(),
        })?;
    take_in(logger, &claim, progress, &|| false, seen).map(Some)
}
