//! Bringing a damaged or foreign day file back to our layout without losing
//! a complete entry: torn tails are cut and re-trailed in place, foreign
//! layouts are rewritten atomically, corrupt files are quarantined and salvaged.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::Value;

use super::merge::{conflict_sides, missing_from, Sides};
use super::read::{parse_entries, salvage_at, Layout};
use super::{parse_head, parse_trailer, render_file, render_trailer, Trailer, TRAILER_MARK};
use crate::chain::{self, head, ChainKey, ChainValue};
use crate::entry::{Entry, ParseMode, FIELDS};
use crate::fsutil::{open_no_follow, read_no_follow, sync_dir, write_atomic};
use crate::vault::{set_aside_of, Vault};

/// What recovery did to a day file.
#[derive(Debug, Clone, PartialEq)]
pub enum Recovery {
    /// The file ended in bytes that are not a complete entry line of ours (an
    /// unfinished write, or another program's appended lines): they were
    /// saved byte for byte beside the day file, then cut, and the trailer
    /// rewritten; no complete entry line was touched.
    TornTail {
        /// The day file.
        path: PathBuf,
        /// Complete entries kept.
        kept: u64,
        /// Bytes cut from the day file.
        dropped_bytes: u64,
        /// Where the cut bytes were saved (never deleted by us).
        saved: Option<PathBuf>,
        /// Complete JSON objects found in them: another writer's entries.
        foreign: Vec<Value>,
    },
    /// The file was valid JSON in another layout (the skill specification's,
    /// an array, JSON Lines, perhaps with an unfinished last line, or edited
    /// by hand): it was moved aside whole (`YYYY-MM-DD.orig-<unix>.json`) and
    /// the day file rewritten in ours with every entry of our shape; the
    /// other objects are handed back to be mapped and taken in.
    Converted {
        /// The day file.
        path: PathBuf,
        /// Entries kept.
        entries: u64,
        /// Where the original file now is (deleted only by
        /// `repair --prune-originals`).
        original: PathBuf,
        /// Its objects that are not entries of our shape.
        foreign: Vec<Value>,
        /// What differed from what vault-audit had recorded for the day
        /// (those entries were kept aside, not chained again).
        evidence: Option<String>,
    },
    /// A chained file whose trailer had lost its chain value: the value was
    /// taken from the per-entry record, or recomputed from the entries.
    ReAnchored {
        /// The day file.
        path: PathBuf,
        /// Entries it holds.
        entries: u64,
    },
    /// A batch that a process was writing when it died was taken out whole,
    /// leaving the file as it stood before that batch (see `journal`).
    RolledBack {
        /// The day file.
        path: PathBuf,
    },
    /// Two versions of the day met: the file had Git conflict markers, or a
    /// sync tool left a conflict copy beside it. This side's entries were
    /// kept as they stand; the other version's entries it lacked (by stored
    /// line) are handed back to be validated and taken in; the leftover is
    /// kept aside as `YYYY-MM-DD.conflict-<unix>.json`.
    Merged {
        /// The day file.
        path: PathBuf,
        /// Entries it kept.
        entries: u64,
        /// Where the leftover is kept (never deleted by us).
        kept_at: PathBuf,
        /// The device or branch the other version came from.
        device: String,
        /// The other version's entries this one lacked.
        foreign: Vec<Value>,
        /// What differed from what vault-audit had recorded for the day.
        evidence: Option<String>,
    },
    /// The file did not parse: it was moved aside (never deleted) and every
    /// entry that still parses was salvaged into a new day file.
    Quarantined {
        /// The day file.
        path: PathBuf,
        /// Where the damaged file now is.
        quarantine: PathBuf,
        /// Entries salvaged from it.
        salvaged: u64,
        /// Objects found in it that are not entries of our shape.
        foreign: Vec<Value>,
        /// What differed from what vault-audit had recorded for the day.
        evidence: Option<String>,
    },
}

impl Recovery {
    /// Objects another writer left that are not entries of our shape, for
    /// the logger to validate and take in.
    pub fn foreign(&self) -> &[Value] {
        match self {
            Recovery::TornTail { foreign, .. }
            | Recovery::Converted { foreign, .. }
            | Recovery::Quarantined { foreign, .. }
            | Recovery::Merged { foreign, .. } => foreign,
            _ => &[],
        }
    }

    /// The day file recovered.
    pub fn path(&self) -> &Path {
        match self {
            Recovery::TornTail { path, .. }
            | Recovery::Converted { path, .. }
            | Recovery::ReAnchored { path, .. }
            | Recovery::RolledBack { path }
            | Recovery::Quarantined { path, .. }
            | Recovery::Merged { path, .. } => path,
        }
    }

    /// What differed from what vault-audit had recorded for the day, if
    /// the repair found entries changed or missing.
    pub fn evidence(&self) -> Option<&str> {
        match self {
            Recovery::Converted { evidence, .. }
            | Recovery::Quarantined { evidence, .. }
            | Recovery::Merged { evidence, .. } => evidence.as_deref(),
            _ => None,
        }
    }

    /// Where bytes cut or moved from the day file were kept.
    pub fn kept_at(&self) -> Option<&Path> {
        match self {
            Recovery::TornTail { saved, .. } => saved.as_deref(),
            Recovery::Converted { original, .. } => Some(original),
            Recovery::Quarantined { quarantine, .. } => Some(quarantine),
            Recovery::Merged { kept_at, .. } => Some(kept_at),
            _ => None,
        }
    }
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recovery::TornTail {
                path,
                kept,
                dropped_bytes,
                saved,
                foreign,
            } => {
                write!(
                    f,
                    "{}: repaired a torn tail: kept {kept} complete entries, cut {dropped_bytes} bytes that were not a complete entry of ours",
                    path.display()
                )?;
                if let Some(saved) = saved {
                    write!(f, " (saved to {}, never deleted)", saved.display())?;
                }
                if !foreign.is_empty() {
                    write!(f, "; {} objects in them were written by another program", foreign.len())?;
                }
                Ok(())
            }
            Recovery::Converted {
                path,
                entries,
                original,
                foreign,
                evidence,
            } => write!(
                f,
                "{}: converted from another layout to the append layout, keeping {entries} entries of our shape; the original was moved to {} (kept until `repair --prune-originals`){}{}",
                path.display(),
                original.display(),
                match foreign.len() {
                    0 => String::new(),
                    n => format!("; {n} objects of another shape were found, to be mapped and taken in"),
                },
                evidence.as_ref().map(|e| format!("; EVIDENCE: {e}")).unwrap_or_default()
            ),
            Recovery::ReAnchored { path, entries } => write!(
                f,
                "{}: re-anchored: the trailer had no chain value; it was recomputed over all {entries} entries",
                path.display()
            ),
            Recovery::RolledBack { path } => write!(
                f,
                "{}: took out an unfinished batch left by a writer that died; the file is as it was before that batch",
                path.display()
            ),
            Recovery::Merged {
                path,
                entries,
                kept_at,
                device,
                foreign,
                evidence,
            } => write!(
                f,
                "{}: merged another version of the day (from {device}): kept {entries} entries, found {} more in the other version to take in; the leftover is kept at {} (never deleted){}",
                path.display(),
                foreign.len(),
                kept_at.display(),
                evidence.as_ref().map(|e| format!("; EVIDENCE: {e}")).unwrap_or_default()
            ),
            Recovery::Quarantined {
                path,
                quarantine,
                salvaged,
                evidence,
                ..
            } => write!(
                f,
                "{}: did not parse as a day file; moved to {} (kept, never deleted) and salvaged {salvaged} entries into a new day file{}",
                path.display(),
                quarantine.display(),
                evidence.as_ref().map(|e| format!("; EVIDENCE: {e}")).unwrap_or_default()
            ),
        }
    }
}

/// Repairs the day file at `path` so that it is in our layout with a valid
/// trailer and chain. `now_unix` names the quarantine file if one is needed;
/// `key` is the chain key.
pub fn recover(
    path: &Path,
    date: NaiveDate,
    now_unix: i64,
    key: &ChainKey,
) -> io::Result<Recovery> {
    let bytes = read_no_follow(path)?;
    if let Some(sides) = conflict_sides(&bytes) {
        return resolve_markers(path, date, now_unix, key, &bytes, sides);
    }
    let whole = foreign_entries(&bytes);
    if let Some(head) = parse_head(&bytes, date) {
        let head_len = head.len as usize;
        // A file that parses whole is never cut: it is mended in place only
        // when every one of its entries is a line of our layout.
        let prefix = intact_prefix(&bytes, head_len).filter(|(_, t, _)| {
            whole
                .as_ref()
                .is_none_or(|all| all.len() as u64 == t.total_entries)
        });
        if let Some((end, mut trailer, lines)) = prefix {
            if let Some(start) = head.start {
                trailer.chain = Some(chain_at(path, key, start, &bytes, &lines)?);
            }
            let rest = &bytes[end..];
            let re_anchored = rest.starts_with(TRAILER_MARK)
                && parse_trailer(&rest[TRAILER_MARK.len()..]).is_some_and(|t| t.chain.is_none());
            let dropped = &bytes[end..];
            let saved = match re_anchored || dropped.is_empty() {
                true => None,
                false => Some(save_aside(path, date, now_unix, Aside::Torn, dropped)?),
            };
            put_trailer(path, end, &trailer)?;
            chain::cut(path, trailer.total_entries);
            return Ok(if re_anchored {
                Recovery::ReAnchored {
                    path: path.to_owned(),
                    entries: trailer.total_entries,
                }
            } else {
                Recovery::TornTail {
                    path: path.to_owned(),
                    kept: trailer.total_entries,
                    dropped_bytes: dropped.len() as u64,
                    saved,
                    foreign: foreign_objects(dropped),
                }
            });
        }
    }
    convert(path, date, now_unix, key, &bytes)
}

/// A whole file that is not ours to mend in place: moved aside (never
/// deleted) and the day file rewritten with the entries of our shape; the
/// other objects are handed back for the logger to validate.
fn convert(
    path: &Path,
    date: NaiveDate,
    now_unix: i64,
    key: &ChainKey,
    bytes: &[u8],
) -> io::Result<Recovery> {
    let read = parse_entries(bytes);
    let salvaged = read.layout == Layout::Salvaged;
    let aside = if salvaged {
        Aside::Corrupt
    } else {
        Aside::Original
    };
    // A copy first, then the day file replaced atomically: if the rewrite
    // fails, the day file is still there as it was.
    let kept_at = save_aside(path, date, now_unix, aside, bytes)?;
    let (ours, foreign): (Vec<Value>, Vec<Value>) =
        read.entries.into_iter().partition(is_stored_entry);
    let how = match salvaged {
        true => "the file was damaged and its entries salvaged",
        false => "the file was rewritten by another program",
    };
    let done = rewrite(path, date, &ours, key, Some((&kept_at, how)))?;
    Ok(if salvaged {
        Recovery::Quarantined {
            path: path.to_owned(),
            quarantine: kept_at,
            salvaged: done.kept,
            foreign,
            evidence: done.evidence,
        }
    } else {
        Recovery::Converted {
            path: path.to_owned(),
            entries: done.kept,
            original: kept_at,
            foreign,
            evidence: done.evidence,
        }
    })
}

/// A day file with Git conflict markers: kept aside whole, rewritten with
/// this side's entries (its chain holds), the other side's entries it
/// lacks handed back to be validated and taken in.
fn resolve_markers(
    path: &Path,
    date: NaiveDate,
    now_unix: i64,
    key: &ChainKey,
    bytes: &[u8],
    sides: Sides,
) -> io::Result<Recovery> {
    let kept_at = save_aside(path, date, now_unix, Aside::Conflict, bytes)?;
    let mine = parse_entries(&sides.ours).entries;
    let extra = missing_from(&mine, &parse_entries(&sides.theirs).entries);
    let (ours, mut foreign): (Vec<Value>, Vec<Value>) = mine.into_iter().partition(is_stored_entry);
    foreign.extend(extra);
    let how = "it had Git conflict markers; this side's entries were kept";
    let done = rewrite(path, date, &ours, key, Some((&kept_at, how)))?;
    Ok(Recovery::Merged {
        path: path.to_owned(),
        entries: done.kept,
        kept_at,
        device: sides.device,
        foreign,
        evidence: done.evidence,
    })
}

/// A sync tool's conflict copy of the day file at `path` (see
/// [`crate::vault::conflict_copies_in`]): the copy's entries the day file
/// lacks, by stored line, and the free name it is to be kept aside under.
/// Nothing is moved: the caller takes the entries in, then moves the copy.
pub fn copy_extras(
    path: &Path,
    date: NaiveDate,
    copy: &Path,
    device: &str,
    now_unix: i64,
) -> io::Result<Recovery> {
    let have = match super::read_entries(path) {
        Ok(read) => read.entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let theirs = super::read_entries(copy)?.entries;
    Ok(Recovery::Merged {
        path: path.to_owned(),
        entries: have.len() as u64,
        kept_at: aside_path(path, date, now_unix, Aside::Conflict),
        device: device.to_owned(),
        foreign: missing_from(&have, &theirs),
        evidence: None,
    })
}

/// Moves a whole day file aside as one in another layout (never deleted)
/// and writes it anew in ours, with its entries of our shape: for a file
/// that parses but must be chained again (one whose chain was taken out).
pub fn convert_aside(
    path: &Path,
    date: NaiveDate,
    now_unix: i64,
    key: &ChainKey,
) -> io::Result<Recovery> {
    let bytes = read_no_follow(path)?;
    convert(path, date, now_unix, key, &bytes)
}

/// The complete objects in bytes cut from a tail that another program
/// wrote. Ours are entry lines (four spaces, then the object); a torn write
/// of ours can splice its start with stale trailer bytes into an object on
/// such a line, which is kept in the saved bytes but never taken for a
/// foreign entry.
fn foreign_objects(dropped: &[u8]) -> Vec<Value> {
    salvage_at(dropped)
        .into_iter()
        .filter(|(at, _)| {
            let line_start = dropped[..*at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            &dropped[line_start..*at] != b"    "
        })
        .map(|(_, v)| v)
        .collect()
}

/// What a file set aside beside a day file holds.
#[derive(Debug, Clone, Copy)]
enum Aside {
    /// Bytes cut from its tail.
    Torn,
    /// The whole file, in another layout: the original of a conversion.
    Original,
    /// The whole file, damaged.
    Corrupt,
    /// A version of the day that met another: merged, kept.
    Conflict,
}

impl Aside {
    fn kind(self) -> &'static str {
        match self {
            Aside::Torn => "torn",
            Aside::Original => "orig",
            Aside::Corrupt => "corrupt",
            Aside::Conflict => "conflict",
        }
    }
}

/// A free name beside the day file for bytes set aside.
fn aside_path(path: &Path, date: NaiveDate, now_unix: i64, aside: Aside) -> PathBuf {
    let mut n = 1;
    let mut candidate = set_aside_of(path, date, aside.kind(), now_unix, n);
    while candidate.symlink_metadata().is_ok() {
        n += 1;
        candidate = set_aside_of(path, date, aside.kind(), now_unix, n);
    }
    candidate
}

/// Saves `bytes` durably in a new file beside the day file; returns its path.
fn save_aside(
    path: &Path,
    date: NaiveDate,
    now_unix: i64,
    aside: Aside,
    bytes: &[u8],
) -> io::Result<PathBuf> {
    let target = aside_path(path, date, now_unix, aside);
    let mut file = open_no_follow(&target, OpenOptions::new().write(true).create_new(true))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(target)
}

/// Rewrites the counts in the trailer of a day file in our layout from its
/// entries, keeping its chain value. Returns the counts before and after, or
/// `None` when the file is not intact enough for that (then see [`recover`]).
pub fn fix_counts(path: &Path, date: NaiveDate) -> io::Result<Option<(Trailer, Trailer)>> {
    let bytes = read_no_follow(path)?;
    let Some(head) = parse_head(&bytes, date) else {
        return Ok(None);
    };
    let Some(mark) = super::rfind(&bytes, TRAILER_MARK) else {
        return Ok(None);
    };
    let Some(old) = parse_trailer(&bytes[mark + TRAILER_MARK.len()..]) else {
        return Ok(None);
    };
    let Some((end, mut new, _)) = intact_prefix(&bytes[..mark], head.len as usize) else {
        return Ok(None);
    };
    if end != mark {
        return Ok(None);
    }
    new.chain = old.chain;
    if new != old {
        put_trailer(path, mark, &new)?;
    }
    Ok(Some((old, new)))
}

/// Writes `trailer` at `at` as the end of the file, and syncs.
fn put_trailer(path: &Path, at: usize, trailer: &Trailer) -> io::Result<()> {
    let mut file = open_no_follow(path, OpenOptions::new().write(true))?;
    let tail = render_trailer(trailer);
    file.seek(SeekFrom::Start(at as u64))?;
    file.write_all(tail.as_bytes())?;
    file.set_len((at + tail.len()) as u64)?;
    file.sync_data()
}

/// The chain value after the kept entries of a chained file: from the
/// per-entry record when it holds it (so that a change to an entry stays
/// evident after the repair), else recomputed.
fn chain_at(
    path: &Path,
    key: &ChainKey,
    start: chain::Start,
    bytes: &[u8],
    lines: &[Span],
) -> io::Result<ChainValue> {
    let kept = lines.len() as u64;
    if kept == 0 {
        return Ok(start.value);
    }
    if let Some(v) = chain::recorded_at(path, kept) {
        return Ok(v);
    }
    let folder = key.folder(start.alg)?;
    let values = folder.fold_all(start.value, lines.iter().map(|&(a, b)| &bytes[a..b]));
    chain::record(path, 0, &values);
    Ok(*values.last().expect("kept > 0"))
}

/// What [`rewrite`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// Entries in the day file now.
    pub kept: u64,
    /// What differed from what vault-audit had recorded for the day: the
    /// entries from the first difference on were left out (they are in the
    /// file kept aside), never chained again.
    pub evidence: Option<String>,
}

/// Writes `entries` as the whole day file at `path`. A day vault-audit has
/// recorded keeps its recorded chain start, and only the entries that still
/// chain to the recorded values are written (with any that follow all of
/// them, which are new); from the first that differs on, they are left out
/// and a ledger line says so. Any other day is chained anew from the day
/// before it. `origin` is where the original is kept and what happened to it.
pub fn rewrite(
    path: &Path,
    date: NaiveDate,
    entries: &[Value],
    key: &ChainKey,
    origin: Option<(&Path, &str)>,
) -> io::Result<Rewritten> {
    let logs = path.parent().unwrap_or(Path::new("."));
    let vault = vault_of(path);
    let record = match &vault {
        Some(v) => head::records(v, key)?.latest(date),
        None => None,
    };
    let mut lines: Vec<String> = entries.iter().map(Value::to_string).collect();
    let start = match record.and_then(|r| r.start) {
        Some(start) => start,
        None => super::chain_start(logs, date, key)?,
    };
    let folder = key.folder(start.alg)?;
    let mut values = folder.fold_all(start.value, lines.iter().map(String::as_bytes));
    let mut evidence = None;
    let mut kept: Vec<Value> = entries.to_vec();
    if let Some(record) = record.filter(|r| r.chain.is_some()) {
        let n = record.entries as usize;
        let whole = n == 0 || (values.len() >= n && Some(values[n - 1]) == record.chain);
        if !whole {
            let sorted = sort_out(path, &folder, start.value, &lines, n);
            evidence = Some(divergence(&record, &sorted, origin));
            (lines, kept) = sorted
                .keep
                .iter()
                .map(|&i| (lines[i].clone(), entries[i].clone()))
                .unzip();
            values = folder.fold_all(start.value, lines.iter().map(String::as_bytes));
        }
    }
    let mut trailer = count(&kept);
    trailer.chain = Some(values.last().copied().unwrap_or(start.value));
    let text = render_file(
        date,
        Some(&start),
        lines.iter().map(String::as_str),
        &trailer,
    );
    write_atomic(path, text.as_bytes())?;
    chain::replace(path, &values);
    if let (Some(vault), Some(text)) = (&vault, &evidence) {
        let state = head::State {
            day: date,
            start: Some(start),
            entries: lines.len() as u64,
            chain: trailer.chain,
        };
        head::note(vault, key, head::Event::Diverged, &state, Some(text))?;
    }
    Ok(Rewritten {
        kept: lines.len() as u64,
        evidence,
    })
}

/// Which entries of a recorded day may be chained again.
struct Sorted {
    /// Indexes of the entries kept: each is, byte for byte, an entry
    /// vault-audit recorded (its value from the one before it is the value
    /// the per-entry record holds), or new after all the recorded ones.
    keep: Vec<usize>,
    /// Recorded positions (from 1) of entries that differ from every
    /// recorded entry near where they stand: kept aside, not chained again.
    changed: Vec<u64>,
    /// How many of the `recorded` entries are not found.
    missing: u64,
    /// How many were recorded.
    recorded: u64,
}

/// How far ahead of where it is expected an entry is looked for.
const LOOK_AHEAD: usize = 64;

/// Sorts the entries of a recorded day (whose first `n` were recorded) into
/// those that are as recorded and those that are not, with the per-entry
/// record as the reference.
fn sort_out(
    path: &Path,
    folder: &chain::Folder,
    start: ChainValue,
    lines: &[String],
    n: usize,
) -> Sorted {
    let recorded = chain::recorded(path);
    let value = |j: usize| match j {
        0 => Some(start),
        j => recorded.get(j - 1).copied().flatten(),
    };
    let mut sorted = Sorted {
        keep: Vec::new(),
        changed: Vec::new(),
        missing: 0,
        recorded: n as u64,
    };
    // The recorded position the next entry is expected at (from 1).
    let mut next = 1;
    for (i, line) in lines.iter().enumerate() {
        if next > n {
            sorted.keep.push(i);
            continue;
        }
        let found = (next..=(next + LOOK_AHEAD).min(n)).find(|&j| {
            let (Some(before), Some(after)) = (value(j - 1), value(j)) else {
                return false;
            };
            folder.fold(&before, line.as_bytes()) == after
        });
        match found {
            Some(j) => {
                sorted.missing += (j - next) as u64;
                sorted.keep.push(i);
                next = j + 1;
            }
            None => {
                sorted.changed.push(next as u64);
                next += 1;
            }
        }
    }
    sorted.missing += (n + 1).saturating_sub(next) as u64;
    sorted
}

/// The vault whose `Logs/` holds the day file at `path`, if it is in one.
/// A replica's day file (`Logs/hosts/<host>/D.json`) is in that replica's
/// view of the vault.
fn vault_of(path: &Path) -> Option<Vault> {
    let logs = path.parent()?;
    if logs.file_name()? == "Logs" {
        return Some(Vault::new(logs.parent().unwrap_or(Path::new("."))));
    }
    let host = logs.file_name()?.to_str()?;
    let hosts = logs.parent()?;
    let main = hosts.parent()?;
    (hosts.file_name()? == "hosts" && main.file_name()? == "Logs")
        .then(|| Vault::new(main.parent().unwrap_or(Path::new("."))).replica(host))
}

/// What differs, in plain words.
fn divergence(record: &head::State, sorted: &Sorted, origin: Option<(&Path, &str)>) -> String {
    let mut what = Vec::new();
    match sorted.changed.as_slice() {
        [] => {}
        [one] => what.push(format!("entry {one} changed since it was written")),
        [first, ..] => what.push(format!(
            "{} entries changed since they were written, the first at entry {first}",
            sorted.changed.len()
        )),
    }
    match sorted.missing {
        0 => {}
        1 => what.push("1 entry recorded by vault-audit is missing".into()),
        m => what.push(format!("{m} entries recorded by vault-audit are missing")),
    }
    if what.is_empty() {
        what.push("the entries do not hash to the value recorded after them".into());
    }
    let (kept_at, how) = origin.map_or((String::new(), "it was rewritten"), |(p, h)| {
        (format!(", kept in {}", p.display()), h)
    });
    format!(
        "{}: {how}; of the {} entries vault-audit recorded, those that still match were kept and chained again, the others were not{kept_at}; `vault-audit repair --accept {}` accepts the day as it now is",
        what.join("; "),
        sorted.recorded,
        record.day.format("%Y-%m-%d")
    )
}

/// Where an entry's JSON lies in a file: start and end offsets.
type Span = (usize, usize);

/// For a file in our layout whose tail is damaged: where the last complete
/// entry line ends and the counts of the entries before it, provided the
/// damage is confined to the tail (no complete entry line follows it); and
/// where each kept entry's JSON lies.
fn intact_prefix(bytes: &[u8], header_len: usize) -> Option<(usize, Trailer, Vec<Span>)> {
    let mut trailer = Trailer::default();
    let mut lines = Vec::new();
    let mut end = header_len;
    let mut damaged = false;
    let mut start = header_len;
    if bytes.get(start) == Some(&b'\n') {
        start += 1;
    } else {
        damaged = true;
    }
    while start <= bytes.len() {
        let stop = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| start + p);
        let line = &bytes[start..stop];
        match entry_line(line) {
            Some((entry, len)) if !damaged => {
                trailer.total_entries += 1;
                trailer.summary.add_value(&entry);
                end = start + len;
                lines.push((start + 4, end));
                // A torn write can land on the same line as a complete entry:
                // anything after it but a separating comma is damage.
                if !matches!(&line[len..], b"" | b",") {
                    damaged = true;
                }
            }
            Some(_) => return None,
            None => damaged = true,
        }
        start = stop + 1;
    }
    Some((end, trailer, lines))
}

/// The complete entry object at the start of a line of our layout (four
/// spaces, then the object) and the length of the line up to its end.
///
/// Complete means an object with exactly the twelve schema keys: a torn write
/// over the old trailer can splice its first bytes with stale trailer bytes
/// into valid JSON (`{"timestamp":"…",` + `"CRITICAL": 0}`), but never into an
/// object with all twelve keys unless it equals the entry being written.
fn entry_line(line: &[u8]) -> Option<(Value, usize)> {
    let json = line.strip_prefix(b"    ")?;
    if json.first() != Some(&b'{') {
        return None;
    }
    let mut stream = serde_json::Deserializer::from_slice(json).into_iter::<Value>();
    match stream.next() {
        Some(Ok(v)) if has_schema_keys(&v) => Some((v, 4 + stream.byte_offset())),
        _ => None,
    }
}

/// The entries of a valid JSON day file in another object layout.
fn foreign_entries(bytes: &[u8]) -> Option<Vec<Value>> {
    let read = parse_entries(bytes);
    (read.layout == Layout::Object).then_some(read.entries)
}

/// An entry as we store it: the twelve keys, every value canonical.
fn is_stored_entry(v: &Value) -> bool {
    has_schema_keys(v) && Entry::from_value_in(v.clone(), ParseMode::Strict).is_ok()
}

fn has_schema_keys(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| o.len() == FIELDS.len() && FIELDS.iter().all(|k| o.contains_key(*k)))
}

/// The counts of a list of entry values.
fn count(entries: &[Value]) -> Trailer {
    let mut t = Trailer {
        total_entries: entries.len() as u64,
        ..Trailer::default()
    };
    entries.iter().for_each(|e| t.summary.add_value(e));
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daily::{inspect, Inspection};
    use std::fs;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
    }

    fn entry(n: u64) -> String {
        serde_json::json!({
            "timestamp": "2026-11-22T10:00:00.000Z", "log_level": "INFO", "action_type": "x",
            "actor": "a", "target": "t", "parameters": {"n": n}, "approval_status": "not_required",
            "approved_by": "N/A", "dry_run": false, "result": "success", "error_message": null,
            "session_id": "S"
        })
        .to_string()
    }

    fn file_with(entries: &[String]) -> String {
        let values: Vec<Value> = entries
            .iter()
            .map(|e| serde_json::from_str(e).expect("json"))
            .collect();
        render_file(
            date(),
            None,
            entries.iter().map(String::as_str),
            &count(&values),
        )
    }

    /// Recovers `text` as the day file and returns the `n` of every entry kept.
    fn recover_text(text: &str) -> (Recovery, Vec<u64>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("2026-11-22.json");
        fs::write(&path, text).expect("write");
        let r = recover(&path, date(), 0, &ChainKey::none()).expect("recover");
        let mut f = fs::File::open(&path).expect("open");
        assert!(matches!(
            inspect(&mut f, date()).expect("inspect"),
            Inspection::Ours(_)
        ));
        let v: Value = serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
        let ns = v["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["parameters"]["n"].as_u64().expect("n"))
            .collect();
        (r, ns)
    }

    #[test]
    fn a_torn_comma_over_the_trailer_newline_keeps_the_entry_before_it() {
        // Power lost after one byte of the next append: `,` replaced the
        // trailer's first `\n`, leaving `{entry},  ],` on one line.
        let text = file_with(&[entry(1)]);
        let at = text.rfind("\n  ],\n").expect("trailer");
        let torn = format!("{},{}", &text[..at], &text[at + 1..]);
        let (r, ns) = recover_text(&torn);
        assert!(matches!(r, Recovery::TornTail { kept: 1, .. }), "{r:?}");
        assert_eq!(ns, vec![1]);
    }

    #[test]
    fn a_torn_prefix_spliced_with_stale_trailer_bytes_is_not_an_entry() {
        // The torn write's first bytes plus what is left of the old trailer
        // form valid JSON, but not an entry with the twelve keys.
        let text = file_with(&[entry(1)]);
        let at = text.rfind("\n  ],\n").expect("trailer");
        let spliced = format!(
            "{},\n    {{\"timestamp\":\"2026-11-22T10:00:00.000Z\",\"CRITICAL\": 0}}\n}}\n",
            &text[..at]
        );
        let (r, ns) = recover_text(&spliced);
        assert!(matches!(r, Recovery::TornTail { kept: 1, .. }), "{r:?}");
        assert_eq!(ns, vec![1]);
    }

    #[test]
    fn salvage_finds_entries_in_any_layout() {
        let pretty = serde_json::to_string_pretty(&serde_json::json!({
            "summary": {"INFO": 2},
            "entries": [serde_json::from_str::<Value>(&entry(1)).expect("json"), serde_json::from_str::<Value>(&entry(2)).expect("json")]
        }))
        .expect("pretty");
        let cut = &pretty[..pretty.len() - 10];
        let found = super::super::read::salvage_entries(cut.as_bytes());
        assert_eq!(found.len(), 1, "the cut second entry is not complete");
        assert_eq!(found[0]["parameters"]["n"], 1);
    }
}
