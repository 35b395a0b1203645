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
use std::io;
use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::daily::{self, After, DayCursor, Inspection, Limit};
use crate::fsutil::{ensure_dir, write_atomic};
use crate::vault::Vault;

use super::Record;

/// The most bytes read from a day file for one batch.
const MAX_BATCH_BYTES: u64 = 4 << 20;

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
        if batch.records.is_empty() {
            return;
        }
        self.days.insert(batch.date, batch.next.clone());
    }
}

/// Entries read from one day file, and where they end.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The day.
    pub date: NaiveDate,
    /// The entries, in file order.
    pub records: Vec<Record>,
    /// The day's cursor once the store has them.
    pub next: DayCursor,
}

/// A day file's entry count now (0 when it is missing or not in our
/// layout yet: the next write repairs it).
pub fn total(vault: &Vault, date: NaiveDate) -> io::Result<u64> {
    let mut file = match crate::fsutil::open_read(&vault.day_file(date)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    Ok(match daily::inspect(&mut file, date)? {
        Inspection::Ours(state) => state.trailer.total_entries,
        Inspection::Empty | Inspection::NeedsRecovery => 0,
    })
}

/// Reads up to `max` entries of `date` after those the cursor says were
/// sent. An empty batch means the day holds nothing new.
pub fn read_batch(
    vault: &Vault,
    cursor: &mut Cursor,
    date: NaiveDate,
    max: usize,
) -> io::Result<Batch> {
    let path = vault.day_file(date);
    let limit = Limit {
        bytes: MAX_BATCH_BYTES,
        entries: max,
    };
    let day = cursor.days.entry(date).or_default();
    let mut after = daily::read_after(&path, date, day, limit)?;
    if let After::Moved { total } = after {
        // Rewritten by a repair: find the sent count again from the start;
        // a file cut to fewer entries than were sent goes on from its end.
        *day = match daily::seek(&path, date, day.count)? {
            Some(found) => found,
            None => daily::end_of(&path, date)?,
        };
        day.total = total;
        after = daily::read_after(&path, date, day, limit)?;
    }
    let empty = |next: DayCursor| Batch {
        date,
        records: Vec::new(),
        next,
    };
    Ok(match after {
        After::Lines(read) if read.lines.is_empty() => {
            // Wholly sent: keep the file's identity, so that the next pass
            // costs a stat.
            *day = read.next.clone();
            empty(read.next)
        }
        After::Lines(read) => Batch {
            date,
            records: (read.lines.iter().enumerate())
                .map(|(i, line)| Record::from_line(date, read.first + i as u64, line))
                .collect(),
            next: read.next,
        },
        After::Unchanged | After::Missing | After::NotOurs | After::Moved { .. } => {
            empty(day.clone())
        }
    })
}
