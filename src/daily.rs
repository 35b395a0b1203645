//! The day file `Logs/YYYY-MM-DD.json`: layout, tail inspection and append.
//!
//! The file is one JSON object, laid out so that an append is one positioned
//! write over the short trailer and never touches an entry already written:
//!
//! ```text
//! {
//!   "date": "2026-11-22",
//!   "chain_start": {"alg":"sha256","after":"2026-11-21","at":40,"value":"9f3c…"},
//!   "entries": [
//!     {"timestamp":"2026-11-22T10:00:00.123Z",...},
//!     {"timestamp":"2026-11-22T10:00:01.456Z",...}
//!   ],
//!   "total_entries": 2,
//!   "summary": {"INFO": 1, "WARNING": 0, "ERROR": 1, "CRITICAL": 0},
//!   "chain_end": "4b1d…"
//! }
//! ```
//!
//! `chain_start` and `chain_end` carry the hash chain (see [`crate::chain`]);
//! files written before it existed lack both and are read as unchained.
//!
//! Every entry is one compact line (a raw newline never occurs inside one), so
//! the last `\n  ],\n` of the file starts the trailer. Only a small tail is
//! read to find it.

mod append;
mod cursor;
mod merge;
mod read;
mod recover;
mod scan;

use std::fs::File;
use std::io;
use std::path::PathBuf;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use crate::chain::{self, ChainValue, Start};
use crate::entry::LogLevel;
use crate::fsutil::read_range as read_at;
pub use append::{
    append, chain_references, chain_start, open_day, open_for_append, plan_append, restore,
    write_planned, Appended, Line, PlannedAppend, Ready,
};
pub use cursor::{end_of, mtime_ns, read_after, seek, After, DayCursor, Limit, Lines};
pub use merge::{conflict_sides, merged, missing_from, Sides};
pub use read::{parse_entries, read_entries, salvage_entries, DayEntries, Layout};
pub use recover::{convert_aside, copy_extras, fix_counts, recover, rewrite, Recovery, Rewritten};
pub use scan::{scan_entries, stored_lines, ScanEnd, Scanned};

/// What separates the last entry from the trailer.
pub const TRAILER_MARK: &[u8] = b"\n  ],\n";

/// The most a header can take (its `chain_start` line is about 150 bytes).
const MAX_HEAD: u64 = 512;
/// How much of the tail is read first when looking for the trailer.
const FIRST_TAIL: u64 = 1024;
/// The most of the tail read before the file is handed to recovery.
const MAX_TAIL: u64 = 1 << 20;

/// Counts by level, in the order INFO, WARNING, ERROR, CRITICAL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary(pub [u64; 4]);

impl Summary {
    /// Counts one entry of `level`.
    pub fn add(&mut self, level: LogLevel) {
        self.0[level.index()] += 1;
    }

    /// The count for `level`.
    pub fn get(&self, level: LogLevel) -> u64 {
        self.0[level.index()]
    }

    /// Counts the level of a stored entry line, if it names a known one.
    pub fn add_value(&mut self, entry: &Value) {
        if let Some(level) = entry
            .get("log_level")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<LogLevel>().ok())
        {
            self.add(level);
        }
    }

    /// As JSON, levels in order.
    pub fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        for level in LogLevel::ALL {
            map.insert(level.as_str().to_owned(), self.get(*level).into());
        }
        Value::Object(map)
    }
}

/// A day file as it stands after a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayFileState {
    /// Its date.
    pub date: NaiveDate,
    /// Its path.
    pub path: PathBuf,
    /// Entries it holds.
    pub total_entries: u64,
    /// Its size.
    pub size_bytes: u64,
    /// Entries by level.
    pub summary: Summary,
}

/// The counts kept after the entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trailer {
    /// How many entries the file holds.
    pub total_entries: u64,
    /// How many of each level.
    pub summary: Summary,
    /// The chain value after the last entry (none in an unchained file).
    pub chain: Option<ChainValue>,
}

#[derive(Deserialize)]
struct RawTrailer {
    total_entries: u64,
    summary: RawSummary,
    #[serde(default)]
    chain_end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "UPPERCASE")]
struct RawSummary {
    info: u64,
    warning: u64,
    error: u64,
    critical: u64,
}

/// The first bytes of a day file in our layout, up to the `[` of `entries`.
pub fn header(date: NaiveDate, start: Option<&Start>) -> String {
    let mut out = date_line(date);
    if let Some(start) = start {
        out.push_str("  \"chain_start\": ");
        out.push_str(&start.to_json());
        out.push_str(",\n");
    }
    out.push_str(ENTRIES_OPEN);
    out
}

/// What opens the entry list, at the end of the header.
const ENTRIES_OPEN: &str = "  \"entries\": [";

fn date_line(date: NaiveDate) -> String {
    format!("{{\n  \"date\": \"{}\",\n", date.format("%Y-%m-%d"))
}

/// The header of a day file in our layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Its length in bytes.
    pub len: u64,
    /// Where the chain starts (none: an unchained file).
    pub start: Option<Start>,
}

/// Reads the header at the start of `bytes`, if they open a day file of
/// `date` in our layout.
pub fn parse_head(bytes: &[u8], date: NaiveDate) -> Option<Head> {
    let first = date_line(date);
    let rest = bytes.strip_prefix(first.as_bytes())?;
    if rest.starts_with(ENTRIES_OPEN.as_bytes()) {
        return Some(Head {
            len: (first.len() + ENTRIES_OPEN.len()) as u64,
            start: None,
        });
    }
    let json = rest.strip_prefix(b"  \"chain_start\": ")?;
    let end = json.iter().position(|&b| b == b'\n')?;
    let start = Start::parse(json[..end].strip_suffix(b",")?)?;
    json[end + 1..]
        .starts_with(ENTRIES_OPEN.as_bytes())
        .then(|| Head {
            len: (bytes.len() - json.len() + end + 1 + ENTRIES_OPEN.len()) as u64,
            start: Some(start),
        })
}

/// Reads the header of an open day file.
pub fn read_head(file: &mut File, date: NaiveDate) -> io::Result<Option<Head>> {
    Ok(parse_head(&read_at(file, 0, MAX_HEAD)?, date))
}

/// The trailer, from the mark after the last entry to the end of the file.
pub fn render_trailer(t: &Trailer) -> String {
    let s = &t.summary;
    format!(
        "\n  ],\n  \"total_entries\": {},\n  \"summary\": {{\"INFO\": {}, \"WARNING\": {}, \"ERROR\": {}, \"CRITICAL\": {}}}{}\n}}\n",
        t.total_entries,
        s.get(LogLevel::Info),
        s.get(LogLevel::Warning),
        s.get(LogLevel::Error),
        s.get(LogLevel::Critical),
        match &t.chain {
            Some(v) => format!(",\n  \"chain_end\": \"{}\"", chain::to_hex(v)),
            None => String::new(),
        },
    )
}

/// Entry lines as they follow the header or an earlier entry.
///
/// `after_entries` says whether entries precede them (then a comma leads).
pub fn render_lines<'a>(lines: impl IntoIterator<Item = &'a str>, after_entries: bool) -> String {
    let mut out = String::new();
    for (i, line) in lines.into_iter().enumerate() {
        if i > 0 || after_entries {
            out.push(',');
        }
        out.push_str("\n    ");
        out.push_str(line);
    }
    out
}

/// A whole day file in our layout.
pub fn render_file<'a>(
    date: NaiveDate,
    start: Option<&Start>,
    lines: impl IntoIterator<Item = &'a str>,
    t: &Trailer,
) -> String {
    let mut out = header(date, start);
    out.push_str(&render_lines(lines, false));
    out.push_str(&render_trailer(t));
    out
}

/// Parses the trailer text that follows [`TRAILER_MARK`].
pub fn parse_trailer(after_mark: &[u8]) -> Option<Trailer> {
    let mut text = Vec::with_capacity(after_mark.len() + 1);
    text.push(b'{');
    text.extend_from_slice(after_mark);
    let raw: RawTrailer = serde_json::from_slice(&text).ok()?;
    if !text.ends_with(b"}\n") {
        return None;
    }
    let chain = match raw.chain_end {
        Some(hex) => Some(chain::from_hex(&hex)?),
        None => None,
    };
    let s = raw.summary;
    Some(Trailer {
        total_entries: raw.total_entries,
        summary: Summary([s.info, s.warning, s.error, s.critical]),
        chain,
    })
}

/// A day file in our layout with a valid trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayState {
    /// Its header.
    pub head: Head,
    /// The file's length.
    pub len: u64,
    /// Where the trailer starts (the `\n` of [`TRAILER_MARK`]).
    pub trailer_offset: u64,
    /// Its counts.
    pub trailer: Trailer,
}

/// What a look at a day file's head and tail found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inspection {
    /// No bytes yet: write a fresh file.
    Empty,
    /// Our layout, intact: append over the trailer.
    Ours(DayState),
    /// Anything else: torn tail, foreign layout or corrupt; see [`recover`].
    NeedsRecovery,
}

/// Looks at the head and a small tail of an open day file; never reads the
/// entries in between.
pub fn inspect(file: &mut File, date: NaiveDate) -> io::Result<Inspection> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(Inspection::Empty);
    }
    let Some(head) = read_head(file, date)? else {
        return Ok(Inspection::NeedsRecovery);
    };
    let head_len = head.len.min(len);
    let mut tail_len = FIRST_TAIL;
    let mut start = len.saturating_sub(tail_len).max(head_len);
    let mut tail = read_at(file, start, len - start)?;
    loop {
        if let Some(pos) = rfind(&tail, TRAILER_MARK) {
            let after = &tail[pos + TRAILER_MARK.len()..];
            return Ok(match parse_trailer(after) {
                // A chained file must end in a chain value.
                Some(trailer) if head.start.is_none() || trailer.chain.is_some() => {
                    Inspection::Ours(DayState {
                        head,
                        len,
                        trailer_offset: start + pos as u64,
                        trailer,
                    })
                }
                _ => Inspection::NeedsRecovery,
            });
        }
        if start <= head_len || tail_len >= MAX_TAIL {
            return Ok(Inspection::NeedsRecovery);
        }
        // The mark can start right after the header, never before it.
        tail_len *= 8;
        start = len.saturating_sub(tail_len).max(head_len);
        tail = read_at(file, start, len - start)?;
    }
}

/// The last `n` entries of a day file, in the order written. In our layout
/// only the tail is read (backwards from the trailer, in growing chunks);
/// a file in another layout is read whole (and salvaged if it must be).
pub fn tail_entries(path: &std::path::Path, date: NaiveDate, n: usize) -> io::Result<Vec<Value>> {
    let mut file = crate::fsutil::open_read(path)?;
    let state = match inspect(&mut file, date)? {
        Inspection::Ours(state) => state,
        Inspection::Empty => return Ok(Vec::new()),
        Inspection::NeedsRecovery => {
            let all = read_entries(path)?.entries;
            return Ok(all[all.len().saturating_sub(n)..].to_vec());
        }
    };
    let floor = state.head.len;
    let mut chunk = 512u64.saturating_mul(n.max(1) as u64);
    loop {
        let start = state.trailer_offset.saturating_sub(chunk).max(floor);
        let bytes = read_at(&mut file, start, state.trailer_offset - start)?;
        // The first line may be cut unless the chunk reaches the header.
        let mut lines = bytes.split(|&b| b == b'\n');
        if start > floor {
            lines.next();
        }
        // Only the last `n` lines are parsed, newest first.
        let mut found: Vec<Value> = lines
            .rev()
            .filter_map(|line| {
                let line = line.strip_suffix(b",").unwrap_or(line);
                serde_json::from_slice::<Value>(line.strip_prefix(b"    ")?).ok()
            })
            .take(n)
            .collect();
        if found.len() >= n || start == floor {
            found.reverse();
            return Ok(found);
        }
        chunk = chunk.saturating_mul(4);
    }
}

/// How many entries a day file holds, and of which level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Entries.
    pub entries: u64,
    /// Entries by level.
    pub levels: Summary,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.entries += other.entries;
        for (mine, theirs) in self.levels.0.iter_mut().zip(other.levels.0) {
            *mine += theirs;
        }
    }
}

/// The two fields [`count_levels`] reads of each entry line.
#[derive(Deserialize)]
struct Stamp<'a> {
    #[serde(borrow, default)]
    timestamp: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    log_level: Option<std::borrow::Cow<'a, str>>,
}

/// A day file's counts in our layout: with `since` none, from its trailer
/// alone (a small tail read); else those of its entries stamped at or
/// after `since`, read line by line between the header and the trailer
/// (for a day that a period starts part-way through). `None` when the file
/// is not in our layout (another program's, or damaged): only the one
/// reader, [`read_entries`], knows those, and it reads them whole.
pub fn count_levels(
    path: &std::path::Path,
    date: NaiveDate,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> io::Result<Option<Counts>> {
    let mut file = crate::fsutil::open_read(path)?;
    let state = match inspect(&mut file, date)? {
        Inspection::Ours(state) => state,
        Inspection::Empty => return Ok(Some(Counts::default())),
        Inspection::NeedsRecovery => return Ok(None),
    };
    let Some(since) = since else {
        return Ok(Some(Counts {
            entries: state.trailer.total_entries,
            levels: state.trailer.summary,
        }));
    };
    let start = state.head.len;
    let body = read_at(&mut file, start, state.trailer_offset.saturating_sub(start))?;
    let mut counts = Counts::default();
    for (json, _) in split_lines(&body, true) {
        let Ok(stamp) = serde_json::from_slice::<Stamp>(json) else {
            continue;
        };
        let at = stamp.timestamp.as_deref().map(crate::time::parse_timestamp);
        if !matches!(at, Some(Ok(t)) if t >= since) {
            continue;
        }
        counts.entries += 1;
        if let Some(level) = stamp.log_level.and_then(|l| l.parse::<LogLevel>().ok()) {
            counts.levels.add(level);
        }
    }
    Ok(Some(counts))
}

/// Splits the bytes after an entry (or after the header) into entry lines:
/// each is `,`? `\n    ` JSON. Returns each line's JSON and its end, relative
/// to `bytes`; `complete` says the bytes run to the trailer, so the last
/// line needs no newline after it.
fn split_lines(bytes: &[u8], complete: bool) -> Vec<(&[u8], usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &bytes[pos..];
        let rest = rest.strip_prefix(b",").unwrap_or(rest);
        let Some(json_start) = rest.strip_prefix(b"\n    ") else {
            break;
        };
        let start = bytes.len() - json_start.len();
        let end = match memchr::memchr(b'\n', json_start) {
            // The line ends before the next entry's `,\n` or the trailer's `\n`.
            Some(n) => {
                let json = &json_start[..n];
                start + json.strip_suffix(b",").map_or(n, <[u8]>::len)
            }
            None if complete => bytes.len(),
            None => break,
        };
        if end <= start {
            break;
        }
        out.push((&bytes[start..end], end));
        pos = end;
    }
    out
}

/// The last position of `needle` in `hay`.
pub fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| &hay[i..i + needle.len()] == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::ChainKey;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
    }

    fn line(n: u32, level: LogLevel) -> Line {
        Line {
            json: format!("{{\"n\":{n},\"log_level\":\"{}\"}}", level.as_str()),
            level,
        }
    }

    #[test]
    fn appends_keep_the_file_valid_and_counted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("2026-11-22.json");
        let key = ChainKey::none();
        for n in 0..5 {
            let (mut file, ready, _) = open_for_append(&path, date(), 0, &key).expect("open");
            let level = if n % 2 == 0 {
                LogLevel::Info
            } else {
                LogLevel::Error
            };
            let plan = plan_append(date(), &ready, &[line(n, level)], &key).expect("plan");
            let state = write_planned(&mut file, &path, &plan).expect("append");
            assert_eq!(state.trailer.total_entries, u64::from(n) + 1);
            assert_eq!(
                inspect(&mut file, date()).expect("inspect"),
                Inspection::Ours(state)
            );
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["total_entries"], 5);
        assert_eq!(v["summary"]["INFO"], 3);
        assert_eq!(v["summary"]["ERROR"], 2);
        assert_eq!(v["entries"].as_array().map(Vec::len), Some(5));
        assert_eq!(v["entries"][4]["n"], 4);
    }

    #[test]
    fn a_trailer_longer_than_the_first_tail_read_is_still_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("2026-11-22.json");
        let mut text = render_file(
            date(),
            None,
            [line(1, LogLevel::Info).json.as_str()],
            &Trailer::default(),
        );
        text.truncate(text.len() - 2);
        text.push_str(&format!(",\n  \"later\": \"{}\"\n}}\n", "x".repeat(5000)));
        std::fs::write(&path, &text).expect("write");
        let mut file = File::open(&path).expect("open");
        let found = inspect(&mut file, date()).expect("inspect");
        let mark = text.rfind("\n  ],\n").expect("mark") as u64;
        assert!(
            matches!(found, Inspection::Ours(s) if s.trailer_offset == mark),
            "{found:?}"
        );
    }

    #[test]
    fn lines_split_at_entries_and_stop_at_a_cut_one() {
        let bytes = b"\n    {\"a\":1},\n    {\"b\":\"x,\"},\n    {\"c\"";
        let lines = split_lines(bytes, false);
        let jsons: Vec<&[u8]> = lines.iter().map(|(j, _)| *j).collect();
        assert_eq!(jsons, vec![&b"{\"a\":1}"[..], &b"{\"b\":\"x,\"}"[..]]);
        let whole = split_lines(b",\n    {\"a\":1},\n    {\"b\":2}", true);
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[1].1, 26, "the end of the bytes");
    }

    #[test]
    fn counts_come_from_the_trailer_or_from_the_lines_since_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("2026-11-22.json");
        let key = ChainKey::none();
        for (n, (time, level)) in [
            ("09:00:00", LogLevel::Info),
            ("18:29:59", LogLevel::Error),
            ("18:30:00", LogLevel::Critical),
            // Written late, stamped earlier: still counted by its time.
            ("10:00:00", LogLevel::Error),
            ("23:00:00", LogLevel::Info),
        ]
        .into_iter()
        .enumerate()
        {
            let json = format!(
                "{{\"timestamp\":\"2026-11-22T{time}.000Z\",\"log_level\":\"{}\",\"n\":{n}}}",
                level.as_str()
            );
            let (mut file, ready, _) = open_for_append(&path, date(), 0, &key).expect("open");
            let plan = plan_append(date(), &ready, &[Line { json, level }], &key).expect("plan");
            write_planned(&mut file, &path, &plan).expect("append");
        }
        let all = count_levels(&path, date(), None)
            .expect("read")
            .expect("ours");
        assert_eq!(all.entries, 5);
        assert_eq!(all.levels, Summary([2, 0, 2, 1]));
        let since = crate::time::parse_timestamp("2026-11-22T18:30:00Z").expect("ts");
        let evening = count_levels(&path, date(), Some(since))
            .expect("read")
            .expect("ours");
        assert_eq!(evening.entries, 2);
        assert_eq!(evening.levels, Summary([1, 0, 0, 1]));
        // Another program's layout: not counted, said so.
        std::fs::write(&path, "[{\"timestamp\":\"2026-11-22T10:00:00Z\"}]").expect("foreign");
        assert_eq!(count_levels(&path, date(), None).expect("read"), None);
        std::fs::write(&path, "").expect("empty");
        assert_eq!(
            count_levels(&path, date(), Some(since)).expect("read"),
            Some(Counts::default())
        );
    }

    #[test]
    fn an_empty_entry_list_is_valid_json() {
        let text = render_file(date(), None, [], &Trailer::default());
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["entries"], serde_json::json!([]));
    }
}
