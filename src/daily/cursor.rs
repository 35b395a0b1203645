//! Where a reader stands in a day file ([`DayCursor`]), and the one reader
//! of the entries after it ([`read_after`]). Forwarding, the primary taking
//! in replicas and `tail -f` all read new entries through it; none of them
//! knows how a day file lays its lines out.
//!
//! The cursor's offset is a hint: the line that ends there is checked
//! against the length and hash kept with it, so a file rewritten under the
//! cursor (a repair, a merge, a sync tool) is found out, never misread.

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::UNIX_EPOCH;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{inspect, split_lines, DayState, Inspection, Trailer};
use crate::chain::short_hash;
use crate::fsutil::read_range;

/// Where a reader stands in one day file: how many of its entries it has
/// passed, where the last of them ends, what that line was, and the file's
/// identity when it was read to its end.
///
/// The one cursor format on disk: sink cursors (`Logs/.audit/sinks/`) and
/// replica cursors (`Logs/.audit/hosts/`) hold it per day. The names of the
/// two formats it replaced are read too (`sent`, `last`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCursor {
    /// Entries of the file passed: its first `count`.
    #[serde(alias = "sent")]
    pub count: u64,
    /// Byte offset just after the last of them (0: unknown).
    #[serde(default)]
    pub offset: u64,
    /// The length of that entry's stored line.
    #[serde(default)]
    pub last_len: u64,
    /// Its [`short_hash`].
    #[serde(default, alias = "last")]
    pub last_hash: String,
    /// The file's length when it was last read to its end (0: not read to
    /// its end): while it and [`DayCursor::mtime_ns`] stay the same, the
    /// file holds nothing new and costs one `stat`.
    #[serde(default)]
    pub len: u64,
    /// Its modification time then, in nanoseconds since 1970.
    #[serde(default)]
    pub mtime_ns: u64,
    /// The file's entry count when it was last read.
    #[serde(default)]
    pub total: u64,
}

/// The most a read after a cursor takes at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Bytes of entry lines (one line longer than this is read whole).
    pub bytes: u64,
    /// Entries.
    pub entries: usize,
}

impl Limit {
    /// No limit: everything after the cursor.
    pub const ALL: Limit = Limit {
        bytes: u64::MAX,
        entries: usize::MAX,
    };
}

/// Entries read after a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lines {
    /// The position in the file (from 0) of the first of them.
    pub first: u64,
    /// Their stored lines, in file order.
    pub lines: Vec<String>,
    /// The cursor after the last of them.
    pub next: DayCursor,
    /// The file's entry count.
    pub total: u64,
    /// The file's trailer as read.
    pub trailer: Trailer,
    /// The file's length as read.
    pub size: u64,
}

/// What a day file holds after a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// The file is as the cursor left it at its end (one `stat`).
    Unchanged,
    /// There is no such file.
    Missing,
    /// The file is not in our layout (empty, torn, another program's): the
    /// next write repairs it; a reader that must see it now reads it whole
    /// ([`super::read_entries`]).
    NotOurs,
    /// The cursor does not hold in the file any more: it was rewritten or
    /// cut. `total` is its entry count now.
    Moved {
        /// The file's entry count.
        total: u64,
    },
    /// The entries after the cursor (none when it is at the end).
    Lines(Lines),
}

impl DayCursor {
    /// A cursor after the entry whose stored line is `line`, ending at byte
    /// `end`, the `count`-th of its file.
    pub fn after_line(count: u64, line: &[u8], end: u64) -> DayCursor {
        DayCursor {
            count,
            offset: end,
            last_len: line.len() as u64,
            last_hash: short_hash(line),
            len: 0,
            mtime_ns: 0,
            total: 0,
        }
    }

    /// Whether the file at `path` is as this cursor left it at its end.
    pub fn unchanged(&self, path: &Path) -> bool {
        self.len > 0
            && std::fs::symlink_metadata(path)
                .is_ok_and(|m| m.len() == self.len && mtime_ns(&m) == self.mtime_ns)
    }

    /// Whether the cursor still holds in a file of our layout: the line
    /// before its offset is the one it passed.
    fn holds(&self, file: &mut File, state: &DayState) -> io::Result<bool> {
        let head_len = state.head.len;
        if self.count == 0 {
            return Ok(self.offset == 0 || self.offset == head_len);
        }
        Ok(self.offset >= head_len + self.last_len
            && self.offset <= state.trailer_offset
            && self.last_len > 0
            && short_hash(&read_range(
                file,
                self.offset - self.last_len,
                self.last_len,
            )?) == self.last_hash)
    }
}

/// A file's modification time in nanoseconds since 1970 (0 if unknown).
pub fn mtime_ns(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The entries of the day file at `path` after `cursor`, at most `limit`.
///
/// Reads only the bytes after the cursor's offset (and the line before it,
/// to check it). When the read reaches the file's end, the cursor it hands
/// back keeps the file's identity as it was *before* the read, so an entry
/// appended meanwhile is never taken for read.
pub fn read_after(
    path: &Path,
    date: NaiveDate,
    cursor: &DayCursor,
    limit: Limit,
) -> io::Result<After> {
    if cursor.unchanged(path) {
        return Ok(After::Unchanged);
    }
    let mut file = match crate::fsutil::open_read(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(After::Missing),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    let state = match inspect(&mut file, date)? {
        Inspection::Ours(state) => state,
        Inspection::Empty | Inspection::NeedsRecovery => return Ok(After::NotOurs),
    };
    let total = state.trailer.total_entries;
    if cursor.count > total || !cursor.holds(&mut file, &state)? {
        return Ok(After::Moved { total });
    }
    let start = match cursor.count {
        0 => state.head.len,
        _ => cursor.offset,
    };
    let mut read = read_lines(&mut file, &state, start, cursor, limit)?;
    read.total = total;
    read.next.total = total;
    let at_end = read.next.offset == state.trailer_offset;
    if at_end && read.next.count != total {
        // The trailer does not count what is there: not ours to trust.
        return Ok(After::Moved { total });
    }
    if at_end && meta.len() == state.len {
        read.next.len = meta.len();
        read.next.mtime_ns = mtime_ns(&meta);
    }
    Ok(After::Lines(read))
}

/// Up to `limit` lines from `start` (just after the cursor's line).
fn read_lines(
    file: &mut File,
    state: &DayState,
    start: u64,
    cursor: &DayCursor,
    limit: Limit,
) -> io::Result<Lines> {
    let end = state.trailer_offset;
    let mut want = (end - start).min(limit.bytes);
    let mut take = limit.entries;
    let mut out = Lines {
        first: cursor.count,
        lines: Vec::new(),
        next: DayCursor {
            len: 0,
            mtime_ns: 0,
            offset: start,
            ..cursor.clone()
        },
        total: state.trailer.total_entries,
        trailer: state.trailer,
        size: state.len,
    };
    loop {
        let bytes = read_range(file, start, want)?;
        let complete = start + want == end;
        for (json, stop) in split_lines(&bytes, complete).into_iter().take(take) {
            out.lines.push(String::from_utf8_lossy(json).into_owned());
            out.next = DayCursor::after_line(out.next.count + 1, json, start + stop as u64);
        }
        if !out.lines.is_empty() || complete || limit.entries == 0 {
            return Ok(out);
        }
        // One entry longer than the limit: read on to its end, and take it
        // alone.
        want = (want.saturating_mul(2)).min(end - start);
        take = 1;
    }
}

/// A cursor after the first `count` entries of the day file at `path`, found
/// by reading it from its header; `None` when it is not in our layout or
/// holds fewer entries.
pub fn seek(path: &Path, date: NaiveDate, count: u64) -> io::Result<Option<DayCursor>> {
    let mut file = crate::fsutil::open_read(path)?;
    let Inspection::Ours(state) = inspect(&mut file, date)? else {
        return Ok(None);
    };
    let head_len = state.head.len;
    if count == 0 {
        return Ok(Some(DayCursor {
            offset: head_len,
            total: state.trailer.total_entries,
            ..DayCursor::default()
        }));
    }
    if count > state.trailer.total_entries {
        return Ok(None);
    }
    let bytes = read_range(&mut file, head_len, state.trailer_offset - head_len)?;
    Ok(split_lines(&bytes, true)
        .get(count as usize - 1)
        .map(|(json, end)| DayCursor {
            total: state.trailer.total_entries,
            ..DayCursor::after_line(count, json, head_len + *end as u64)
        }))
}

/// A cursor at the end of the day file at `path` as it is now (reading only
/// its last line); at its start when it is missing or not in our layout.
pub fn end_of(path: &Path, date: NaiveDate) -> io::Result<DayCursor> {
    let mut file = match crate::fsutil::open_read(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DayCursor::default()),
        Err(e) => return Err(e),
    };
    let Inspection::Ours(state) = inspect(&mut file, date)? else {
        return Ok(DayCursor::default());
    };
    let (head_len, end) = (state.head.len, state.trailer_offset);
    let total = state.trailer.total_entries;
    if total == 0 {
        return Ok(DayCursor {
            offset: head_len,
            ..DayCursor::default()
        });
    }
    let mut chunk = 4096u64;
    loop {
        let from = end.saturating_sub(chunk).max(head_len);
        let bytes = read_range(&mut file, from, end - from)?;
        // The last line starts after the last "\n    " of the window.
        if let Some(at) = super::rfind(&bytes, b"\n    ") {
            let line = &bytes[at + 5..];
            return Ok(DayCursor {
                total,
                ..DayCursor::after_line(total, line, end)
            });
        }
        if from == head_len {
            return Ok(DayCursor::default());
        }
        chunk = chunk.saturating_mul(8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::ChainKey;
    use crate::daily::{append, Line};
    use crate::entry::LogLevel;
    use crate::vault::Vault;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 4).expect("date")
    }

    fn write(vault: &Vault, texts: &[&str]) {
        let lines: Vec<Line> = texts
            .iter()
            .map(|t| Line {
                json: format!("{{\"timestamp\":\"2026-03-04T00:00:00.000Z\",\"n\":\"{t}\"}}"),
                level: LogLevel::Info,
            })
            .collect();
        append(vault, &ChainKey::none(), date(), &lines, 0, &mut |_| Ok(())).expect("append");
    }

    fn lines(after: After) -> Lines {
        match after {
            After::Lines(lines) => lines,
            other => panic!("not lines: {other:?}"),
        }
    }

    #[test]
    fn reads_what_came_after_and_then_nothing_for_one_stat() {
        let dir = tempfile::tempdir().expect("dir");
        let vault = Vault::new(dir.path().to_path_buf());
        std::fs::create_dir_all(vault.logs()).expect("logs");
        let path = vault.day_file(date());
        write(&vault, &["a", "b"]);
        let first =
            lines(read_after(&path, date(), &DayCursor::default(), Limit::ALL).expect("read"));
        assert_eq!((first.first, first.lines.len(), first.total), (0, 2, 2));
        assert!(first.lines[1].contains("\"b\""));
        assert_eq!(
            read_after(&path, date(), &first.next, Limit::ALL).expect("read"),
            After::Unchanged
        );
        write(&vault, &["c"]);
        let second = lines(read_after(&path, date(), &first.next, Limit::ALL).expect("read"));
        assert_eq!((second.first, second.lines.len()), (2, 1));
        assert!(second.lines[0].contains("\"c\""));
        assert_eq!(
            end_of(&path, date()).expect("end").offset,
            second.next.offset
        );
        assert_eq!(
            end_of(&path, date()).expect("end").last_hash,
            second.next.last_hash
        );
        let sought = seek(&path, date(), 2).expect("seek").expect("found");
        assert_eq!(sought.offset, first.next.offset);
        assert_eq!(seek(&path, date(), 4).expect("seek"), None);
    }

    #[test]
    fn a_limit_stops_early_and_one_long_line_is_read_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let vault = Vault::new(dir.path().to_path_buf());
        std::fs::create_dir_all(vault.logs()).expect("logs");
        let path = vault.day_file(date());
        let long = "x".repeat(10_000);
        write(&vault, &[&long, "b", "c"]);
        let small = Limit {
            bytes: 100,
            entries: 10,
        };
        let one = lines(read_after(&path, date(), &DayCursor::default(), small).expect("read"));
        assert_eq!(one.lines.len(), 1);
        assert!(one.lines[0].contains(&long));
        let two = Limit {
            bytes: u64::MAX,
            entries: 1,
        };
        let next = lines(read_after(&path, date(), &one.next, two).expect("read"));
        assert_eq!((next.first, next.lines.len()), (1, 1));
        assert_eq!(next.next.len, 0, "not at the end: no identity kept");
    }

    #[test]
    fn a_rewritten_file_moves_the_cursor_and_a_missing_one_is_missing() {
        let dir = tempfile::tempdir().expect("dir");
        let vault = Vault::new(dir.path().to_path_buf());
        std::fs::create_dir_all(vault.logs()).expect("logs");
        let path = vault.day_file(date());
        write(&vault, &["a", "b"]);
        let read =
            lines(read_after(&path, date(), &DayCursor::default(), Limit::ALL).expect("read"));
        std::fs::remove_file(&path).expect("rm");
        assert_eq!(
            read_after(&path, date(), &read.next, Limit::ALL).expect("read"),
            After::Missing
        );
        write(&vault, &["z", "y", "w"]);
        assert_eq!(
            read_after(&path, date(), &read.next, Limit::ALL).expect("read"),
            After::Moved { total: 3 }
        );
        std::fs::write(&path, b"[{\"timestamp\":\"x\"}]").expect("foreign");
        assert_eq!(
            read_after(&path, date(), &read.next, Limit::ALL).expect("read"),
            After::NotOurs
        );
    }

    #[test]
    fn the_two_old_cursor_formats_are_read() {
        let sink: DayCursor = serde_json::from_str(
            r#"{"sent":3,"offset":90,"last_len":20,"last_hash":"ab","total":3,"len":120}"#,
        )
        .expect("sink cursor");
        assert_eq!(
            (sink.count, sink.offset, sink.last_hash.as_str()),
            (3, 90, "ab")
        );
        let replica: DayCursor = serde_json::from_str(
            r#"{"count":2,"last":"cd","len":10,"mtime_ns":5,"taken":2,"high":2,"pending":false,"offset":0,"last_len":0}"#,
        )
        .expect("replica cursor");
        assert_eq!((replica.count, replica.last_hash.as_str()), (2, "cd"));
    }
}
