//! Bringing a damaged or foreign day file back to our layout without losing
//! a complete entry: torn tails are cut and re-trailed in place, foreign
//! layouts are rewritten atomically, corrupt files are quarantined and salvaged.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::Value;

use super::{header, render_file, render_trailer, Summary, Trailer};
use crate::fsutil::{sync_dir, write_atomic};

/// What recovery did to a day file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// The file ended in an unfinished write: the partial bytes were cut and
    /// the trailer rewritten; no complete entry was touched.
    TornTail {
        /// The day file.
        path: PathBuf,
        /// Complete entries kept.
        kept: u64,
        /// Bytes of the unfinished write dropped.
        dropped_bytes: u64,
    },
    /// The file was valid JSON in another layout (the Python reference's, or
    /// edited by hand) and was rewritten in ours with every entry.
    Converted {
        /// The day file.
        path: PathBuf,
        /// Entries kept.
        entries: u64,
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
    },
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recovery::TornTail {
                path,
                kept,
                dropped_bytes,
            } => write!(
                f,
                "{}: repaired a torn tail: kept {kept} complete entries, dropped {dropped_bytes} bytes of an unfinished write",
                path.display()
            ),
            Recovery::Converted { path, entries } => write!(
                f,
                "{}: converted from a foreign layout to the append layout, keeping all {entries} entries",
                path.display()
            ),
            Recovery::Quarantined {
                path,
                quarantine,
                salvaged,
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
/// trailer. `now_unix` names the quarantine file if one is needed.
pub fn recover(path: &Path, date: NaiveDate, now_unix: i64) -> io::Result<Recovery> {
    let bytes = fs::read(path)?;
    let head = header(date);
    if bytes.starts_with(head.as_bytes()) {
        if let Some((end, trailer)) = intact_prefix(&bytes, head.len()) {
            let mut file = OpenOptions::new().write(true).open(path)?;
            let tail = render_trailer(&trailer);
            file.seek(SeekFrom::Start(end as u64))?;
            file.write_all(tail.as_bytes())?;
            file.set_len((end + tail.len()) as u64)?;
            file.sync_data()?;
            return Ok(Recovery::TornTail {
                path: path.to_owned(),
                kept: trailer.total_entries,
                dropped_bytes: (bytes.len() - end) as u64,
            });
        }
    } else if let Some(entries) = foreign_entries(&bytes) {
        write_atomic(path, rewrite(date, &entries).as_bytes())?;
        return Ok(Recovery::Converted {
            path: path.to_owned(),
            entries: entries.len() as u64,
        });
    }
    let quarantine = quarantine_path(path, date, now_unix);
    fs::rename(path, &quarantine)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    let entries = salvage_entries(&bytes);
    write_atomic(path, rewrite(date, &entries).as_bytes())?;
    Ok(Recovery::Quarantined {
        path: path.to_owned(),
        quarantine,
        salvaged: entries.len() as u64,
    })
}

/// A whole day file holding `entries`, counted.
fn rewrite(date: NaiveDate, entries: &[Value]) -> String {
    let lines: Vec<String> = entries.iter().map(Value::to_string).collect();
    render_file(date, lines.iter().map(String::as_str), &count(entries))
}

/// For a file in our layout whose tail is damaged: where the last complete
/// entry line ends and the counts of the entries before it, provided the
/// damage is confined to the tail (no complete entry line follows it).
fn intact_prefix(bytes: &[u8], header_len: usize) -> Option<(usize, Trailer)> {
    let mut trailer = Trailer::default();
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
        let body = line.strip_suffix(b",").unwrap_or(line);
        match entry_line(body) {
            Some(entry) if !damaged => {
                trailer.total_entries += 1;
                trailer.summary.add_value(&entry);
                end = start + body.len();
            }
            Some(_) => return None,
            None => damaged = true,
        }
        start = stop + 1;
    }
    Some((end, trailer))
}

/// An entry line of our layout: four spaces and one JSON object.
fn entry_line(body: &[u8]) -> Option<Value> {
    let json = body.strip_prefix(b"    ")?;
    if json.first() != Some(&b'{') {
        return None;
    }
    serde_json::from_slice::<Value>(json)
        .ok()
        .filter(Value::is_object)
}

/// The entries of a valid JSON day file in another layout, if every one of
/// them is an object.
fn foreign_entries(bytes: &[u8]) -> Option<Vec<Value>> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let entries = value.get("entries")?.as_array()?;
    entries
        .iter()
        .all(Value::is_object)
        .then(|| entries.clone())
}

fn looks_like_entry(v: &Value) -> bool {
    v.get("timestamp").is_some() || v.get("log_level").is_some()
}

/// Every entry object that still parses anywhere in `bytes`, in order:
/// each `{` is tried as the start of an object; an object that looks like an
/// entry (has `timestamp` or `log_level`) is kept and skipped over whole.
pub fn salvage_entries(bytes: &[u8]) -> Vec<Value> {
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'{') {
        let start = i + off;
        let mut stream = serde_json::Deserializer::from_slice(&bytes[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v)) if looks_like_entry(&v) => {
                found.push(v);
                i = start + stream.byte_offset();
            }
            _ => i = start + 1,
        }
    }
    found
}

/// `Logs/YYYY-MM-DD.corrupt-<unix seconds>.json`, made unique if taken.
fn quarantine_path(path: &Path, date: NaiveDate, now_unix: i64) -> PathBuf {
    let day = date.format("%Y-%m-%d");
    let mut candidate = path.with_file_name(format!("{day}.corrupt-{now_unix}.json"));
    let mut n = 1;
    while candidate.exists() {
        n += 1;
        candidate = path.with_file_name(format!("{day}.corrupt-{now_unix}-{n}.json"));
    }
    candidate
}

/// The counts of a list of entry values.
fn count(entries: &[Value]) -> Trailer {
    let mut t = Trailer {
        total_entries: entries.len() as u64,
        summary: Summary::default(),
    };
    entries.iter().for_each(|e| t.summary.add_value(e));
    t
}
