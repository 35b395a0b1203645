//! `import`: the day files another logger wrote, in any layout the reader
//! knows, mapped to our twelve fields ([`crate::entry::peer`]), validated,
//! and appended to their days in time order, exactly once.
//!
//! Exactly once: each entry taken in is remembered by a hash of its source
//! text (and which copy of that text it is within its file) in
//! `Logs/.audit/imported.txt`, written durably under the writers' lock
//! together with the append, so importing a file again adds nothing and a
//! file that grew adds only its new entries.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::daily::{self, Layout};
use crate::entry::peer::{map_peer, Mapping};
use crate::entry::{Entry, EntryError};
use crate::error::Error;
use crate::fsutil::{append_durable, at, read_no_follow};
use crate::logger::AuditLogger;
use crate::meter::Meter;
use crate::vault;

/// Entries appended per write, and per line of progress.
pub const CHUNK: usize = 5000;

/// How many entries a dry run shows mapped.
pub const PREVIEW: usize = 3;

/// One file read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRead {
    /// The file, as given (or vault-relative).
    pub path: String,
    /// Its layout: `object`, `array`, `json_lines` or `salvaged`.
    pub layout: &'static str,
    /// The entries found in it.
    pub entries: usize,
    /// Whether its last line was unfinished (JSON Lines cut short; kept in
    /// the file, not an entry).
    pub partial_last_line: bool,
}

/// What an import did, or in dry run would do.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// The files read.
    pub files: Vec<FileRead>,
    /// Entries found in them.
    pub read: usize,
    /// Entries appended (in dry run: that would be).
    pub imported: usize,
    /// Entries imported before (or twice in the files given): skipped.
    pub already_imported: usize,
    /// Entries that are not valid even mapped, one line each naming every
    /// problem (`file entry N: entry rejected: ...`).
    pub rejected: Vec<String>,
    /// Entries older than the retention window: not imported.
    pub beyond_retention: usize,
    /// The oldest day among them.
    pub oldest_beyond: Option<NaiveDate>,
    /// The retention window, in days.
    pub retention_days: u32,
    /// Dry run: the first entries as found and as they would be stored.
    pub preview: Vec<Value>,
    /// The day files written, vault-relative.
    pub days: Vec<String>,
    /// Own day files in another layout: where their originals were moved.
    pub originals: Vec<String>,
    /// What went wrong after the entries were written (upkeep, the record).
    pub errors: Vec<String>,
}

/// An entry ready to append, with the hash that marks it imported.
struct Candidate {
    id: String,
    entry: Entry,
}

/// The files to import from `paths`: each file as it is; a folder's files
/// (not below it) that end in `.json`, `.jsonl` or `.ndjson`, except hidden
/// ones, `index.json` and what repairs kept aside; sorted by name.
pub fn files_in(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if !path.is_dir() {
            out.push(path.clone());
            continue;
        }
        let mut found = Vec::new();
        for item in std::fs::read_dir(path)? {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            let wanted = [".json", ".jsonl", ".ndjson"]
                .iter()
                .any(|e| name.ends_with(e))
                && !name.starts_with('.')
                && name != "index.json"
                && !vault::is_kept_aside(&name);
            if wanted && item.file_type()?.is_file() {
                found.push(item.path());
            }
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// The name a layout is reported by.
fn layout_name(layout: Layout) -> &'static str {
    match layout {
        Layout::Object => "object",
        Layout::Array => "array",
        Layout::JsonLines => "json_lines",
        Layout::Salvaged => "salvaged",
    }
}

/// Imports the entries of `files` (see [`files_in`]) into the logger's
/// vault. `meter` is told how far it got.
pub fn import_files(
    logger: &AuditLogger,
    files: &[PathBuf],
    meter: &mut dyn Meter,
) -> Result<Report, Error> {
    let mut run = Run::new(logger)?;
    meter.start("reading", files.len() as u64);
    for path in files {
        let bytes = at("read", path, std::fs::read(path)).map_err(no_entries)?;
        let read = daily::parse_entries(&bytes);
        let shown = logger.vault().relative(path).into_owned();
        let name = file_name(path);
        meter.note(&format!("read {shown}: {} entries", read.entries.len()));
        meter.advance(1);
        run.report.files.push(FileRead {
            path: shown,
            layout: layout_name(read.layout),
            entries: read.entries.len(),
            partial_last_line: read.partial.is_some(),
        });
        run.collect(&name, read.entries);
    }
    run.finish(meter)
}

/// Takes over the vault's own day files that are in another layout: each
/// is converted (its original moved aside as `YYYY-MM-DD.orig-<unix>.json`,
/// entries of our shape kept in place) and its other entries imported.
pub fn import_own_logs(logger: &AuditLogger, meter: &mut dyn Meter) -> Result<Report, Error> {
    let vault = logger.vault();
    let mut run = Run::new(logger)?;
    let logs = vault.logs();
    let days = at("read", &logs, vault.day_files()).map_err(no_entries)?;
    meter.start("reading", days.len() as u64);
    for date in days {
        meter.advance(1);
        let path = vault.day_file(date);
        if !at("read", &path, needs_conversion(&path, date)).map_err(no_entries)? {
            continue;
        }
        let shown = vault.relative(&path).into_owned();
        let entries = if logger.is_dry_run() {
            let read = at("read", &path, daily::read_entries(&path)).map_err(no_entries)?;
            run.note_file(&shown, &read);
            read.entries
        } else {
            let now = logger.now().timestamp();
            let key = logger.chain_key();
            let recovery = logger.with_writer_lock(|| daily::recover(&path, date, now, key))?;
            if let Some(kept) = recovery.kept_at() {
                run.report.originals.push(vault.relative(kept).into_owned());
            }
            let read = daily::DayEntries {
                layout: Layout::Object,
                entries: recovery.foreign().to_vec(),
                partial: None,
            };
            run.note_file(&shown, &read);
            read.entries
        };
        meter.note(&format!(
            "read {shown}: {} entries to take in",
            entries.len()
        ));
        run.collect(&vault::day_file_name(date), entries);
    }
    run.finish(meter)
}

/// Whether a day file of the vault is in another layout (or damaged).
fn needs_conversion(path: &Path, date: NaiveDate) -> io::Result<bool> {
    let mut file = crate::fsutil::open_read(path)?;
    Ok(matches!(
        daily::inspect(&mut file, date)?,
        daily::Inspection::NeedsRecovery
    ))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// An I/O failure before any entry was written.
fn no_entries(f: crate::fsutil::IoFailure) -> Error {
    Error::io(f, Vec::new(), Vec::new())
}

/// One import under way.
struct Run<'a> {
    logger: &'a AuditLogger,
    record: PathBuf,
    /// Hashes imported before, and in this run.
    known: HashSet<String>,
    candidates: Vec<Candidate>,
    report: Report,
}

impl<'a> Run<'a> {
    fn new(logger: &'a AuditLogger) -> Result<Self, Error> {
        let record = logger.vault().import_record();
        let known = at("read", &record, load_record(&record)).map_err(no_entries)?;
        Ok(Run {
            logger,
            record,
            known,
            candidates: Vec::new(),
            report: Report {
                dry_run: logger.is_dry_run(),
                retention_days: logger.retention_days(),
                ..Report::default()
            },
        })
    }

    fn note_file(&mut self, shown: &str, read: &daily::DayEntries) {
        self.report.files.push(FileRead {
            path: shown.to_owned(),
            layout: layout_name(read.layout),
            entries: read.entries.len(),
            partial_last_line: read.partial.is_some(),
        });
    }

    /// Maps and validates the entries of one file, sorting each into the
    /// candidates, the already imported, the rejected and the too old.
    fn collect(&mut self, name: &str, values: Vec<Value>) {
        let how = Mapping {
            zone: self.logger.import_zone(),
            imported_from: Some(name),
        };
        let mut copies: HashMap<String, u64> = HashMap::new();
        for (i, value) in values.into_iter().enumerate() {
            self.report.read += 1;
            let text = value.to_string();
            let copy = copies.entry(text.clone()).or_default();
            let id = content_hash(&text, *copy);
            *copy += 1;
            let mapped = map_peer(value.clone(), &how);
            if self.report.dry_run && self.report.preview.len() < PREVIEW {
                self.report
                    .preview
                    .push(json!({"from": value, "to": mapped.clone()}));
            }
            if self.known.contains(&id) {
                self.report.already_imported += 1;
                continue;
            }
            match self.validate(mapped) {
                Ok(entry) => {
                    self.known.insert(id.clone());
                    self.candidates.push(Candidate { id, entry });
                }
                Err(EntryError::BeyondRetention { .. }) => {}
                Err(e) => self
                    .report
                    .rejected
                    .push(format!("{name} entry {}: {e}", i + 1)),
            }
        }
    }

    /// A mapped entry, validated as the logger will store it; one older
    /// than the retention window is counted here.
    fn validate(&mut self, mapped: Value) -> Result<Entry, EntryError> {
        let entry = Entry::from_value(mapped)?;
        let Some(ts) = entry.timestamp else {
            return Err(EntryError::MissingField {
                field: "timestamp",
                accepted: format!(
                    "{} (an imported entry keeps its time)",
                    crate::time::ACCEPTED
                ),
            });
        };
        match self.logger.prepare(entry.clone()) {
            Err(e @ EntryError::BeyondRetention { .. }) => {
                self.report.beyond_retention += 1;
                let day = ts.date_naive();
                let oldest = self.report.oldest_beyond.get_or_insert(day);
                *oldest = (*oldest).min(day);
                Err(e)
            }
            Err(e) => Err(e),
            Ok(_) => Ok(entry),
        }
    }

    /// Appends the candidates in time order, a chunk at a time, each with
    /// its hashes recorded under the same lock.
    fn finish(mut self, meter: &mut dyn Meter) -> Result<Report, Error> {
        self.candidates.sort_by_key(|c| c.entry.timestamp);
        let total = self.candidates.len();
        self.report.imported = total;
        if self.report.dry_run || total == 0 {
            return Ok(self.report);
        }
        let mut days = std::collections::BTreeSet::new();
        meter.start("importing", total as u64);
        for (n, chunk) in self.candidates.chunks(CHUNK).enumerate() {
            let ids: String = chunk.iter().map(|c| format!("{}\n", c.id)).collect();
            let entries = chunk.iter().map(|c| c.entry.clone()).collect();
            let record = || append_durable(&self.record, ids.as_bytes());
            match self.logger.log_batch_then(entries, &record) {
                Ok(receipt) => {
                    let vault = self.logger.vault();
                    days.extend(
                        receipt
                            .files
                            .iter()
                            .map(|f| vault.relative(&f.path).into_owned()),
                    );
                    self.report.errors.extend(receipt.post_write_errors);
                }
                Err(e @ Error::LockTimeout { .. }) => {
                    // Saved for replay: they will be written, so they count as imported.
                    let _ = record();
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
            meter.advance(chunk.len() as u64);
            meter.note(&format!(
                "imported {} of {total} entries",
                (n * CHUNK + chunk.len()).min(total)
            ));
        }
        self.report.days = days.into_iter().collect();
        Ok(self.report)
    }
}

/// The hash an entry is remembered by: of its source text and which copy
/// of that text it is within its file (two equal entries are two entries).
fn content_hash(text: &str, copy: u64) -> String {
    let mut h = Sha256::new();
    h.update(text.as_bytes());
    h.update(copy.to_le_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The hashes in the record (none when there is no record yet).
fn load_record(path: &Path) -> io::Result<HashSet<String>> {
    match read_no_follow(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(HashSet::new()),
        Err(e) => Err(e),
    }
}
