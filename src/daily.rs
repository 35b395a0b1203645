//! The day file `Logs/YYYY-MM-DD.json`: layout, tail inspection and append.
//!
//! The file is one JSON object, laid out so that an append is one positioned
//! write over the short trailer and never touches an entry already written:
//!
//! ```text
//! {
//!   "date": "2026-11-22",
//!   "entries": [
//!     {"timestamp":"2026-11-22T10:00:00.123Z",...},
//!     {"timestamp":"2026-11-22T10:00:01.456Z",...}
//!   ],
//!   "total_entries": 2,
//!   "summary": {"INFO": 1, "WARNING": 0, "ERROR": 1, "CRITICAL": 0}
//! }
//! ```
//!
//! Every entry is one compact line (a raw newline never occurs inside one), so
//! the last `\n  ],\n` of the file starts the trailer. Only a small tail is
//! read to find it.

mod recover;

use std::fs::File;
use std::io;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use crate::entry::LogLevel;
pub use recover::{recover, salvage_entries, Recovery};

/// What separates the last entry from the trailer.
pub const TRAILER_MARK: &[u8] = b"\n  ],\n";

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

/// The counts kept after the entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trailer {
    /// How many entries the file holds.
    pub total_entries: u64,
    /// How many of each level.
    pub summary: Summary,
}

#[derive(Deserialize)]
struct RawTrailer {
    total_entries: u64,
    summary: RawSummary,
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
pub fn header(date: NaiveDate) -> String {
    format!(
        "{{\n  \"date\": \"{}\",\n  \"entries\": [",
        date.format("%Y-%m-%d")
    )
}

/// The trailer, from the mark after the last entry to the end of the file.
pub fn render_trailer(t: &Trailer) -> String {
    let s = &t.summary;
    format!(
        "\n  ],\n  \"total_entries\": {},\n  \"summary\": {{\"INFO\": {}, \"WARNING\": {}, \"ERROR\": {}, \"CRITICAL\": {}}}\n}}\n",
        t.total_entries,
        s.get(LogLevel::Info),
        s.get(LogLevel::Warning),
        s.get(LogLevel::Error),
        s.get(LogLevel::Critical),
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
    lines: impl IntoIterator<Item = &'a str>,
    t: &Trailer,
) -> String {
    let mut out = header(date);
    out.push_str(&render_lines(lines, false));
    out.push_str(&render_trailer(t));
    out
}

/// Parses the trailer text that follows [`TRAILER_MARK`].
fn parse_trailer(after_mark: &[u8]) -> Option<Trailer> {
    let mut text = Vec::with_capacity(after_mark.len() + 1);
    text.push(b'{');
    text.extend_from_slice(after_mark);
    let raw: RawTrailer = serde_json::from_slice(&text).ok()?;
    if !text.ends_with(b"}\n") {
        return None;
    }
    let s = raw.summary;
    Some(Trailer {
        total_entries: raw.total_entries,
        summary: Summary([s.info, s.warning, s.error, s.critical]),
    })
}

/// A day file in our layout with a valid trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayState {
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

/// Reads `len` bytes at `offset` (fewer at the end of the file) with one
/// positioned read where the platform has one.
fn read_at(file: &mut File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len as usize];
    let mut filled = 0;
    while filled < buf.len() {
        let n = positioned::read(file, &mut buf[filled..], offset + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Writes all of `bytes` at `offset` with positioned writes.
pub(crate) fn write_at(file: &mut File, bytes: &[u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < bytes.len() {
        match positioned::write(file, &bytes[done..], offset + done as u64)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => done += n,
        }
    }
    Ok(())
}

#[cfg(unix)]
mod positioned {
    use std::fs::File;
    use std::io;
    use std::os::unix::fs::FileExt;

    pub fn read(file: &mut File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        file.read_at(buf, offset)
    }

    pub fn write(file: &mut File, buf: &[u8], offset: u64) -> io::Result<usize> {
        file.write_at(buf, offset)
    }
}

#[cfg(not(unix))]
mod positioned {
    use std::fs::File;
    use std::io;

    pub fn read(file: &mut File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        file.seek(SeekFrom::Start(offset))?;
        file.read(buf)
    }

    pub fn write(file: &mut File, buf: &[u8], offset: u64) -> io::Result<usize> {
        file.seek(SeekFrom::Start(offset))?;
        file.write(buf)
    }
}

/// Looks at the head and a small tail of an open day file; never reads the
/// entries in between.
pub fn inspect(file: &mut File, date: NaiveDate) -> io::Result<Inspection> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(Inspection::Empty);
    }
    let head = header(date);
    let head_len = head.len() as u64;
    // A small file is read whole in one go; a large one as head and tail.
    let mut tail_len = FIRST_TAIL;
    let (start, mut tail) = if len <= head_len + tail_len {
        let all = read_at(file, 0, len)?;
        if !all.starts_with(head.as_bytes()) {
            return Ok(Inspection::NeedsRecovery);
        }
        (head_len, all[head.len()..].to_vec())
    } else {
        if read_at(file, 0, head_len)? != head.as_bytes() {
            return Ok(Inspection::NeedsRecovery);
        }
        (len - tail_len, read_at(file, len - tail_len, tail_len)?)
    };
    let mut start = start;
    loop {
        if let Some(pos) = rfind(&tail, TRAILER_MARK) {
            let after = &tail[pos + TRAILER_MARK.len()..];
            return Ok(match parse_trailer(after) {
                Some(trailer) => Inspection::Ours(DayState {
                    len,
                    trailer_offset: start + pos as u64,
                    trailer,
                }),
                None => Inspection::NeedsRecovery,
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
    let mut file = File::open(path)?;
    let state = match inspect(&mut file, date)? {
        Inspection::Ours(state) => state,
        Inspection::Empty => return Ok(Vec::new()),
        Inspection::NeedsRecovery => {
            let bytes = std::fs::read(path)?;
            let all = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("entries").and_then(Value::as_array).cloned())
                .unwrap_or_else(|| salvage_entries(&bytes));
            return Ok(all[all.len().saturating_sub(n)..].to_vec());
        }
    };
    let floor = header(date).len() as u64;
    let mut chunk = 512 * n.max(1) as u64;
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
        chunk *= 4;
    }
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

/// One entry ready to store: its compact JSON line and its level.
#[derive(Debug, Clone)]
pub struct Line {
    /// The compact JSON, no newline.
    pub json: String,
    /// Its level, for the summary.
    pub level: LogLevel,
}

/// An append worked out but not yet written: the bytes go at `offset`.
#[derive(Debug, Clone)]
pub struct PlannedAppend {
    /// Where the bytes go (the old trailer's start, or 0 for a new file).
    pub offset: u64,
    /// The file's length before.
    pub old_len: u64,
    /// The counts before.
    pub before: Trailer,
    /// Header (new file only), entry lines, new trailer.
    pub bytes: String,
    /// How many of `bytes` come before the new trailer.
    pub entries_len: usize,
    /// The file as it will stand.
    pub after: DayState,
}

/// Works out the one positioned write that appends `lines`.
pub fn plan_append(
    date: NaiveDate,
    found: Inspection,
    lines: &[Line],
) -> io::Result<PlannedAppend> {
    let (offset, old_len, before) = match found {
        Inspection::Ours(state) => (state.trailer_offset, state.len, state.trailer),
        Inspection::Empty => (0, 0, Trailer::default()),
        Inspection::NeedsRecovery => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "day file must be recovered before appending",
            ))
        }
    };
    let mut bytes = if offset == 0 {
        header(date)
    } else {
        String::new()
    };
    bytes.push_str(&render_lines(
        lines.iter().map(|l| l.json.as_str()),
        before.total_entries > 0,
    ));
    let mut trailer = before;
    for line in lines {
        trailer.total_entries += 1;
        trailer.summary.add(line.level);
    }
    let entries_len = bytes.len();
    bytes.push_str(&render_trailer(&trailer));
    let len = offset + bytes.len() as u64;
    Ok(PlannedAppend {
        offset,
        old_len,
        before,
        after: DayState {
            len,
            trailer_offset: offset + entries_len as u64,
            trailer,
        },
        bytes,
        entries_len,
    })
}

/// Writes a planned append (the caller syncs).
pub fn write_planned(file: &mut File, plan: &PlannedAppend) -> io::Result<DayState> {
    write_at(file, plan.bytes.as_bytes(), plan.offset)?;
    if plan.after.len < plan.old_len {
        file.set_len(plan.after.len)?;
    }
    Ok(plan.after)
}

/// Appends `lines` with one positioned write over the trailer (or writes a
/// fresh file when it is empty). The caller syncs.
pub fn append(
    file: &mut File,
    date: NaiveDate,
    found: Inspection,
    lines: &[Line],
) -> io::Result<DayState> {
    write_planned(file, &plan_append(date, found, lines)?)
}

/// Puts a day file back as it stood before an append at `offset`: cut there
/// and the old trailer written again (or emptied, for a file the append
/// created). The caller syncs.
pub fn restore(file: &mut File, offset: u64, before: &Trailer) -> io::Result<()> {
    if offset == 0 {
        return file.set_len(0);
    }
    let tail = render_trailer(before);
    write_at(file, tail.as_bytes(), offset)?;
    file.set_len(offset + tail.len() as u64)
}

/// Opens (or creates) a day file for reading and appending.
pub fn open_day(path: &std::path::Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Reads `len` bytes at `offset` of a file (fewer at its end).
pub fn read_range(file: &mut File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    read_at(file, offset, len)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut file = open_day(&path).expect("open");
        for n in 0..5 {
            let found = inspect(&mut file, date()).expect("inspect");
            let level = if n % 2 == 0 {
                LogLevel::Info
            } else {
                LogLevel::Error
            };
            let state = append(&mut file, date(), found, &[line(n, level)]).expect("append");
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
    fn an_empty_entry_list_is_valid_json() {
        let text = render_file(date(), [], &Trailer::default());
        let v: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(v["entries"], serde_json::json!([]));
    }
}
