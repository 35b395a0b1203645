//! Bringing a damaged or foreign day file back to our layout without losing
//! a complete entry: torn tails are cut and re-trailed in place, foreign
//! layouts are rewritten atomically, corrupt files are quarantined and salvaged.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::Value;

use super::read::{parse_entries, salvage_at, Layout};
use super::{parse_head, parse_trailer, render_file, render_trailer, Trailer, TRAILER_MARK};
use crate::chain::{self, ChainKey, ChainValue};
use crate::entry::{Entry, ParseMode, FIELDS};
use crate::fsutil::{open_no_follow, read_no_follow, sync_dir, write_atomic};
use crate::vault::set_aside_of;

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
    },
}

impl Recovery {
    /// Objects another writer left that are not entries of our shape, for
    /// the logger to validate and take in.
    pub fn foreign(&self) -> &[Value] {
        match self {
            Recovery::TornTail { foreign, .. }
            | Recovery::Converted { foreign, .. }
            | Recovery::Quarantined { foreign, .. } => foreign,
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
            | Recovery::Quarantined { path, .. } => path,
        }
    }

    /// Where bytes cut or moved from the day file were kept.
    pub fn kept_at(&self) -> Option<&Path> {
        match self {
            Recovery::TornTail { saved, .. } => saved.as_deref(),
            Recovery::Converted { original, .. } => Some(original),
            Recovery::Quarantined { quarantine, .. } => Some(quarantine),
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
            } => write!(
                f,
                "{}: converted from another layout to the append layout, keeping {entries} entries of our shape; the original was moved to {} (kept until `repair --prune-originals`){}",
                path.display(),
                original.display(),
                match foreign.len() {
                    0 => String::new(),
                    n => format!("; {n} objects of another shape were found, to be mapped and taken in"),
                }
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
            Recovery::Quarantined {
                path,
                quarantine,
                salvaged,
                ..
            } => write!(
                f,
                "{}: did not parse as a day file; moved to {} (kept, never deleted) and salvaged {salvaged} entries into a new day file",
                path.display(),
                quarantine.display()
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
    rewrite(path, date, &ours, key)?;
    Ok(if salvaged {
        Recovery::Quarantined {
            path: path.to_owned(),
            quarantine: kept_at,
            salvaged: ours.len() as u64,
            foreign,
        }
    } else {
        Recovery::Converted {
            path: path.to_owned(),
            entries: ours.len() as u64,
            original: kept_at,
            foreign,
        }
    })
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
}

impl Aside {
    fn kind(self) -> &'static str {
        match self {
            Aside::Torn => "torn",
            Aside::Original => "orig",
            Aside::Corrupt => "corrupt",
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

/// Writes `entries` as the whole day file at `path`, chained anew from the
/// day before it.
pub fn rewrite(path: &Path, date: NaiveDate, entries: &[Value], key: &ChainKey) -> io::Result<()> {
    let logs = path.parent().unwrap_or(Path::new("."));
    let start = super::chain_start(logs, date, key)?;
    let lines: Vec<String> = entries.iter().map(Value::to_string).collect();
    let values = key
        .folder(start.alg)?
        .fold_all(start.value, lines.iter().map(String::as_bytes));
    let mut trailer = count(entries);
    trailer.chain = Some(values.last().copied().unwrap_or(start.value));
    let text = render_file(
        date,
        Some(&start),
        lines.iter().map(String::as_str),
        &trailer,
    );
    write_atomic(path, text.as_bytes())?;
    chain::replace(path, &values);
    Ok(())
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
