//! A sink's durable cursor, `Logs/.audit/sinks/<name>.json`, and reading the
//! entries it has not sent yet.
//!
//! Entries can be appended to an earlier day (a back-dated entry goes to the
//! file of its own day), so the cursor keeps, for every day file, how many of
//! its entries the store has acknowledged and the byte offset just after the
//! last of them. The offset is a hint: the line that ends there is checked
//! against a hash kept with it, and if a repair rewrote the file the entry
//! count is found again by reading the file from its start.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::chain::short_hash;
use crate::daily::{self, Inspection};
use crate::fsutil::{ensure_dir, write_atomic};
use crate::vault::Vault;

use super::Record;

/// The most bytes read from a day file for one batch.
const MAX_BATCH_BYTES: u64 = 4 << 20;

/// Where a sink stands in one day file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCursor {
    /// Entries acknowledged by the store: the first `sent` of the file.
    pub sent: u64,
    /// Byte offset just after the last of them (0: at the header's end).
    pub offset: u64,
    /// Length of the last sent entry's line.
    pub last_len: u64,
    /// Hash of that line (hex, 16 bytes of SHA-256).
    pub last_hash: String,
    /// The file's entry count when it was last read.
    pub total: u64,
    /// The file's length when all of it was found sent: while it stays the
    /// same, the file is not read again (a pass costs a `stat` per day).
    #[serde(default)]
    pub len: u64,
}

/// A sink's cursor over the whole vault.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Per day file.
    pub days: BTreeMap<NaiveDate, DayCursor>,
    /// The sequence number of the last head record the store acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_seq: Option<u64>,
}

/// A sink's cursor file.
pub fn path(vault: &Vault, sink: &str) -> PathBuf {
    vault.sink_cursor(sink)
}

impl Cursor {
    /// Loads a sink's cursor; a missing file is a fresh cursor. A cursor that
    /// cannot be parsed is an error: starting over would resend everything.
    pub fn load(vault: &Vault, sink: &str) -> io::Result<Cursor> {
        let p = path(vault, sink);
        match crate::fsutil::read_no_follow(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e} (move it away to resend everything)", p.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Cursor::default()),
            Err(e) => Err(e),
        }
    }

    /// Saves it atomically and durably.
    pub fn save(&self, vault: &Vault, sink: &str) -> io::Result<()> {
        ensure_dir(&vault.sink_cursors())?;
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        write_atomic(&path(vault, sink), &json)
    }

    /// Records that the store acknowledged `batch` (read by [`read_batch`]).
    pub fn advance(&mut self, batch: &Batch) {
        let Some(last) = batch.records.last() else {
            return;
        };
        let day = self.days.entry(batch.date).or_default();
        day.sent = last.position + 1;
        day.offset = batch.end_offset;
        day.last_len = last.line.len() as u64;
        day.last_hash = short_hash(last.line.as_bytes());
        day.total = day.total.max(batch.total);
        day.len = 0;
    }
}

/// Entries read from one day file, and where they end.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The day.
    pub date: NaiveDate,
    /// The entries, in file order.
    pub records: Vec<Record>,
    /// Offset just after the last of them.
    pub end_offset: u64,
    /// The file's entry count.
    pub total: u64,
}

/// A day file's entries as the forwarder sees them.
pub enum DayLook {
    /// In our layout: its count and trailer offset.
    Ready {
        /// Entries in the file.
        total: u64,
        /// Where its header ends.
        head_len: u64,
        /// Where its trailer starts.
        trailer_offset: u64,
    },
    /// Missing (deleted since it was listed).
    Gone,
    /// Empty, torn or in another layout: the next write repairs it.
    NotReady,
}

/// Looks at a day file's head and tail.
pub fn look(vault: &Vault, date: NaiveDate) -> io::Result<DayLook> {
    let mut file = match crate::fsutil::open_read(&vault.day_file(date)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DayLook::Gone),
        Err(e) => return Err(e),
    };
    Ok(match daily::inspect(&mut file, date)? {
        Inspection::Ours(state) => DayLook::Ready {
            total: state.trailer.total_entries,
            head_len: state.head.len,
            trailer_offset: state.trailer_offset,
        },
        Inspection::Empty | Inspection::NeedsRecovery => DayLook::NotReady,
    })
}

/// Finds the offset just after entry number `count` (1-based) by reading the
/// file from the header; `None` if the file holds fewer entries.
fn locate(
    file: &mut File,
    head_len: u64,
    trailer_offset: u64,
    count: u64,
) -> io::Result<Option<(u64, Vec<u8>)>> {
    if count == 0 {
        return Ok(Some((head_len, Vec::new())));
    }
    let bytes = crate::fsutil::read_range(file, head_len, trailer_offset - head_len)?;
    let lines = daily::split_lines(&bytes, true);
    Ok(lines
        .get(count as usize - 1)
        .map(|(json, end)| (head_len + *end as u64, json.to_vec())))
}

/// Reads up to `max` entries of `date` after those the cursor says were
/// sent. An empty batch means the day holds nothing new.
pub fn read_batch(
    vault: &Vault,
    cursor: &mut Cursor,
    date: NaiveDate,
    max: usize,
) -> io::Result<Batch> {
    let empty = |total| Batch {
        date,
        records: Vec::new(),
        end_offset: 0,
        total,
    };
    if let Some(day) = cursor.days.get(&date) {
        let unchanged = day.len > 0
            && day.sent >= day.total
            && std::fs::metadata(vault.day_file(date)).is_ok_and(|m| m.len() == day.len);
        if unchanged {
            return Ok(empty(day.total));
        }
    }
    let (total, head_len, trailer_offset) = match look(vault, date)? {
        DayLook::Ready {
            total,
            head_len,
            trailer_offset,
        } => (total, head_len, trailer_offset),
        DayLook::Gone | DayLook::NotReady => return Ok(empty(0)),
    };
    let day = cursor.days.entry(date).or_default();
    day.total = total;
    if day.sent >= total {
        day.len = std::fs::metadata(vault.day_file(date)).map_or(0, |m| m.len());
        return Ok(empty(total));
    }
    let mut file = crate::fsutil::open_read(&vault.day_file(date))?;
    let span = Span {
        head_len,
        trailer_offset,
    };
    if !hint_holds(&mut file, day, span)? {
        match locate(&mut file, head_len, trailer_offset, day.sent)? {
            Some((offset, _)) => day.offset = offset,
            None => {
                // The file holds fewer entries than were sent: it was cut by
                // a repair. Go on from its end.
                day.sent = total;
                return Ok(empty(total));
            }
        }
    }
    let (records, end_offset) = read_records(&mut file, date, day, span, max)?;
    Ok(Batch {
        date,
        records,
        end_offset,
        total,
    })
}

/// Where a day file's entry lines lie: after the header, before the trailer.
#[derive(Debug, Clone, Copy)]
struct Span {
    head_len: u64,
    trailer_offset: u64,
}

/// Whether the cursor's offset still follows the line it last sent.
fn hint_holds(file: &mut File, day: &DayCursor, span: Span) -> io::Result<bool> {
    if day.sent == 0 {
        return Ok(day.offset == 0 || day.offset == span.head_len);
    }
    Ok(day.offset >= span.head_len + day.last_len
        && day.offset <= span.trailer_offset
        && short_hash(&crate::fsutil::read_range(
            file,
            day.offset - day.last_len,
            day.last_len,
        )?) == day.last_hash)
}

/// Up to `max` records after the cursor, and the offset after the last.
fn read_records(
    file: &mut File,
    date: NaiveDate,
    day: &DayCursor,
    span: Span,
    max: usize,
) -> io::Result<(Vec<Record>, u64)> {
    let Span {
        head_len,
        trailer_offset,
    } = span;
    let start = if day.sent == 0 { head_len } else { day.offset };
    let want = (trailer_offset - start).min(MAX_BATCH_BYTES);
    let bytes = crate::fsutil::read_range(file, start, want)?;
    let complete = start + want == trailer_offset;
    let mut records = Vec::new();
    let mut end_offset = start;
    for (json, end) in daily::split_lines(&bytes, complete).into_iter().take(max) {
        let position = day.sent + records.len() as u64;
        records.push(Record::from_json(date, position, json));
        end_offset = start + end as u64;
    }
    if records.is_empty() && !complete {
        // One entry larger than a batch's bytes: read it whole.
        if let Some((offset, json)) = locate(file, head_len, trailer_offset, day.sent + 1)? {
            records.push(Record::from_json(date, day.sent, &json));
            end_offset = offset;
        }
    }
    Ok((records, end_offset))
}
