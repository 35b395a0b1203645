//! The cold archive: `Logs/archive/YYYY-MM.jsonl.gz`, the stored lines of
//! the day files retention took out of `Logs/`, one gzip member per day.
//!
//! Each member is JSON Lines: first the day's record (its date, entry
//! count and chain values, so that `verify --archive` still checks the
//! chain), then the day's entries exactly as they were stored, one per line:
//!
//! ```text
//! {"archived_day":"2026-01-05","total_entries":2,"chain_start":{...},"chain_end":"4b1d…"}
//! {"timestamp":"2026-01-05T10:00:00.123Z",...}
//! {"timestamp":"2026-01-05T11:00:00.456Z",...}
//! ```
//!
//! A month's file is gzip members concatenated, one per append, so an
//! append writes only the new day. `zcat Logs/archive/*.jsonl.gz` reads them
//! all. A member cut short by a crash is found by [`read`] and never taken
//! for entries; retention cuts it back (keeping any bytes that are not its
//! own aside) before it appends again.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::chain::{self, ChainKey, ChainValue, Start};
use crate::fsutil::{append_durable, ensure_dir, open_no_follow, read_no_follow, write_atomic};
use crate::time::parse_day;

/// One day as the archive keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedDay {
    /// Its date.
    pub day: NaiveDate,
    /// Where its chain started (none: an unchained day).
    pub start: Option<Start>,
    /// Its chain value after the last entry (none: an unchained day).
    pub end: Option<ChainValue>,
    /// Its entries, exactly as stored, without a newline.
    pub lines: Vec<String>,
}

/// The first line of a member.
#[derive(Serialize, Deserialize)]
struct DayRecord {
    archived_day: String,
    total_entries: u64,
    #[serde(default)]
    chain_start: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    chain_end: Option<String>,
}

/// What [`read`] found in one month's archive.
#[derive(Debug, Default)]
pub struct MonthRead {
    /// The days, in the order archived.
    pub days: Vec<ArchivedDay>,
    /// Byte ranges (start, end) that are no whole member: a member cut
    /// short by a crash, or damaged. Reading goes on at the next whole
    /// member, so nothing after a torn one is lost.
    pub torn: Vec<(u64, u64)>,
    /// Members that decode but whose record or lines do not parse, by
    /// their offset, with why.
    pub unreadable: Vec<(u64, String)>,
}

/// The gzip member that archives `day`.
pub fn member(day: &ArchivedDay) -> io::Result<Vec<u8>> {
    let record = DayRecord {
        archived_day: day.day.format("%Y-%m-%d").to_string(),
        total_entries: day.lines.len() as u64,
        chain_start: match &day.start {
            Some(s) => Some(serde_json::value::RawValue::from_string(s.to_json())?),
            None => None,
        },
        chain_end: day.end.as_ref().map(chain::to_hex),
    };
    let mut text = serde_json::to_string(&record)?;
    text.push('\n');
    for line in &day.lines {
        if line.contains('\n') {
            return Err(io::Error::other(format!(
                "an entry of {} holds a raw newline; the archive takes one entry per line",
                day.day
            )));
        }
        text.push_str(line);
        text.push('\n');
    }
    let mut out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    out.write_all(text.as_bytes())?;
    out.finish()
}

/// Reads a month's archive at `path`, member by member (never through a
/// symbolic link).
pub fn read(path: &Path) -> io::Result<MonthRead> {
    Ok(parse(&read_no_follow(path)?))
}

/// The gzip magic and deflate method that open every member.
const MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// The days of an archive's bytes; see [`read`].
pub fn parse(bytes: &[u8]) -> MonthRead {
    let mut found = MonthRead::default();
    let mut at = 0;
    while at < bytes.len() {
        if let Some((text, len)) = decode_member(&bytes[at..]) {
            match parse_member(&text) {
                Ok(day) => found.days.push(day),
                Err(why) => found.unreadable.push((at as u64, why)),
            }
            at += len;
            continue;
        }
        // Torn: go on at the next place a whole member starts.
        let next = (at + 1..bytes.len())
            .filter(|&i| bytes[i..].starts_with(&MAGIC))
            .find(|&i| decode_member(&bytes[i..]).is_some())
            .unwrap_or(bytes.len());
        found.torn.push((at as u64, next as u64));
        at = next;
    }
    found
}

/// The text of the whole member at the start of `bytes`, and its length.
fn decode_member(bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut decoder = flate2::bufread::GzDecoder::new(bytes);
    let mut text = Vec::new();
    decoder.read_to_end(&mut text).ok()?;
    let len = bytes.len() - decoder.into_inner().len();
    (len > 0).then_some((text, len))
}

/// One member's text as a day.
fn parse_member(text: &[u8]) -> Result<ArchivedDay, String> {
    let text = std::str::from_utf8(text).map_err(|_| "not UTF-8".to_owned())?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let record: DayRecord = serde_json::from_str(first)
        .map_err(|e| format!("its first line is no day record ({e})"))?;
    let day = parse_day(&record.archived_day)
        .ok_or_else(|| format!("archived_day {:?} is no date", record.archived_day))?;
    let start = match &record.chain_start {
        Some(raw) => Some(
            Start::parse(raw.get().as_bytes())
                .ok_or_else(|| "chain_start does not parse".to_owned())?,
        ),
        None => None,
    };
    let end = match &record.chain_end {
        Some(hex) => Some(chain::from_hex(hex).ok_or("chain_end is no chain value")?),
        None => None,
    };
    let lines: Vec<String> = lines.map(str::to_owned).collect();
    if lines.len() as u64 != record.total_entries {
        return Err(format!(
            "it holds {} entries where its record says {}",
            lines.len(),
            record.total_entries
        ));
    }
    Ok(ArchivedDay {
        day,
        start,
        end,
        lines,
    })
}

/// Appends `member` to the archive at `path` with one write and a sync,
/// creating `Logs/archive/` when needed (a symbolic link there, or at the
/// file, is refused).
pub fn append(path: &Path, member: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        ensure_dir(dir)?;
    }
    append_durable(path, member)
}

/// Makes the archive at `path` end at `len` again before `member` is
/// appended, after a crash. Returns whether `member` is already there
/// whole (then nothing is to be appended). Bytes past `len` that are not
/// the start of `member` are first copied to `aside` (synced), never
/// dropped.
pub fn settle(path: &Path, len: u64, member: &[u8], aside: &Path) -> io::Result<bool> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(false);
    };
    if meta.len() <= len {
        return Ok(false);
    }
    let mut file = open_no_follow(path, OpenOptions::new().read(true).write(true))?;
    let extra = crate::fsutil::read_range(&mut file, len, meta.len() - len)?;
    if extra == member {
        return Ok(true);
    }
    if !member.starts_with(&extra) {
        write_atomic(aside, &extra)?;
    }
    file.set_len(len)?;
    file.sync_all()?;
    Ok(false)
}

/// Checks an archived day's chain: its lines, folded from its start, end
/// at its recorded end. `None` when it holds (or the day is unchained).
pub fn check_chain(day: &ArchivedDay, key: &ChainKey) -> Option<String> {
    let (Some(start), Some(end)) = (&day.start, &day.end) else {
        return None;
    };
    let folder = match key.folder(start.alg) {
        Ok(f) => f,
        Err(e) => return Some(e.to_string()),
    };
    let value = day
        .lines
        .iter()
        .fold(start.value, |v, line| folder.fold(&v, line.as_bytes()));
    (value != *end).then(|| {
        format!(
            "{}: chain mismatch: an archived entry was changed, added or removed (its {} entries do not fold to the chain_end recorded)",
            day.day,
            day.lines.len()
        )
    })
}

/// The chain value of an archived day after its first `at` entries, if it
/// is chained and holds that many.
pub fn value_at(day: &ArchivedDay, key: &ChainKey, at: u64) -> Option<ChainValue> {
    let start = day.start?;
    let folder = key.folder(start.alg).ok()?;
    let at = usize::try_from(at).ok()?;
    if at > day.lines.len() {
        return None;
    }
    Some(
        day.lines[..at]
            .iter()
            .fold(start.value, |v, line| folder.fold(&v, line.as_bytes())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: u32, lines: usize) -> ArchivedDay {
        let date = NaiveDate::from_ymd_opt(2026, 1, n).expect("date");
        let start = Start::genesis(chain::Alg::Sha256);
        let lines: Vec<String> = (0..lines).map(|i| format!("{{\"n\":{i}}}")).collect();
        let end = lines.iter().fold(start.value, |v, l| {
            chain::Folder::Sha256.fold(&v, l.as_bytes())
        });
        ArchivedDay {
            day: date,
            start: Some(start),
            end: Some(end),
            lines,
        }
    }

    #[test]
    fn members_concatenate_and_read_back_in_order() {
        let (a, b) = (day(1, 3), day(2, 0));
        let mut bytes = member(&a).expect("a");
        bytes.extend(member(&b).expect("b"));
        let read = parse(&bytes);
        assert_eq!(read.days, vec![a.clone(), b]);
        assert!(read.torn.is_empty());
        assert_eq!(check_chain(&a, &ChainKey::none()), None);
    }

    #[test]
    fn a_member_cut_anywhere_is_torn_never_entries() {
        let whole = member(&day(1, 4)).expect("a");
        let second = member(&day(2, 2)).expect("b");
        for cut in 1..second.len() {
            let mut bytes = whole.clone();
            bytes.extend_from_slice(&second[..cut]);
            let read = parse(&bytes);
            assert_eq!(read.days.len(), 1, "cut at {cut}");
            let torn = vec![(whole.len() as u64, bytes.len() as u64)];
            assert_eq!(read.torn, torn, "cut at {cut}");
        }
    }

    #[test]
    fn members_after_a_torn_one_are_still_read() {
        let (a, b) = (day(1, 3), day(2, 2));
        let first = member(&a).expect("a");
        let mut bytes = first.clone();
        bytes.extend_from_slice(&first[..first.len() / 2]);
        let torn_end = bytes.len() as u64;
        bytes.extend(member(&b).expect("b"));
        let read = parse(&bytes);
        assert_eq!(read.days, vec![a, b]);
        assert_eq!(read.torn, vec![(first.len() as u64, torn_end)]);
    }

    #[test]
    fn an_edited_line_breaks_the_chain() {
        let mut d = day(3, 3);
        d.lines[1] = "{\"n\":7}".into();
        assert!(check_chain(&d, &ChainKey::none()).is_some());
    }
}
