//! `Logs/index.json`: one line per day file, kept current after every write
//! from what the write already knows, rebuilt from trailers when missing.

use std::fs;
use std::io;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::daily::DayFileState;
use crate::daily::{self, Inspection};
use crate::fsutil::write_replace;
use crate::time::{format_timestamp, parse_day};
use crate::vault::{day_file_name, Vault};

/// The index, in the seed's structure (section 9); also what the MCP tool
/// `stats` answers, with this as its `outputSchema`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// When it was last written.
    pub last_updated: String,
    /// How many day files there are.
    pub total_log_files: u64,
    /// The oldest day, if any.
    pub oldest_log: Option<String>,
    /// The newest day, if any.
    pub newest_log: Option<String>,
    /// Entries over all day files listed.
    pub total_entries_all_time: u64,
    /// The day files, oldest first.
    pub log_files: Vec<IndexedFile>,
}

/// One day file in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IndexedFile {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `YYYY-MM-DD.json`.
    pub file: String,
    /// Entries in it.
    pub entry_count: u64,
    /// Its size.
    pub size_bytes: u64,
}

impl Index {
    /// An index of these files (any order), stamped `now`.
    pub fn new(mut files: Vec<IndexedFile>, now: DateTime<Utc>) -> Index {
        files.sort_by(|a, b| a.date.cmp(&b.date));
        files.dedup_by(|a, b| a.date == b.date);
        Index {
            last_updated: format_timestamp(&now),
            total_log_files: files.len() as u64,
            oldest_log: files.first().map(|f| f.date.clone()),
            newest_log: files.last().map(|f| f.date.clone()),
            total_entries_all_time: files.iter().map(|f| f.entry_count).sum(),
            log_files: files,
        }
    }

    /// The dates listed, oldest first.
    pub fn dates(&self) -> Vec<NaiveDate> {
        self.log_files
            .iter()
            .filter_map(|f| parse_day(&f.date))
            .collect()
    }

    /// Sets the entries of written day files, keeping the rest.
    pub fn with_files(&self, states: &[DayFileState], now: DateTime<Utc>) -> Index {
        let mut files = self.log_files.clone();
        for s in states {
            let row = indexed(s.date, s.total_entries, s.size_bytes);
            match files.iter_mut().find(|f| f.date == row.date) {
                Some(f) => *f = row,
                None => files.push(row),
            }
        }
        Index::new(files, now)
    }

    /// Drops the given days.
    pub fn without(&self, dates: &[NaiveDate], now: DateTime<Utc>) -> Index {
        let files = self
            .log_files
            .iter()
            .filter(|f| !parse_day(&f.date).is_some_and(|d| dates.contains(&d)))
            .cloned()
            .collect();
        Index::new(files, now)
    }

    /// True when every row is a well-formed day file entry and the totals add up.
    fn is_consistent(&self) -> bool {
        let rows_ok = self
            .log_files
            .iter()
            .all(|f| parse_day(&f.date).is_some() && f.file == format!("{}.json", f.date));
        let sorted = self.log_files.windows(2).all(|w| w[0].date < w[1].date);
        rows_ok
            && sorted
            && self.total_log_files == self.log_files.len() as u64
            && self.total_entries_all_time
                == self.log_files.iter().map(|f| f.entry_count).sum::<u64>()
            && self.oldest_log == self.log_files.first().map(|f| f.date.clone())
            && self.newest_log == self.log_files.last().map(|f| f.date.clone())
    }

    /// As written to disk: pretty JSON, two-space indent, final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

fn indexed(date: NaiveDate, entry_count: u64, size_bytes: u64) -> IndexedFile {
    IndexedFile {
        date: date.format("%Y-%m-%d").to_string(),
        file: day_file_name(date),
        entry_count,
        size_bytes,
    }
}

/// Reads `Logs/index.json`; `None` when missing, unparsable or inconsistent.
pub fn load(vault: &Vault) -> Option<Index> {
    let bytes = crate::fsutil::read_no_follow(&vault.index()).ok()?;
    let index: Index = serde_json::from_slice(&bytes).ok()?;
    index.is_consistent().then_some(index)
}

/// Counts the entries of one day file: from the trailer when the layout is
/// ours, else by reading it whole (without changing it).
pub fn count_entries(path: &Path, date: NaiveDate) -> io::Result<(u64, u64)> {
    let mut file = crate::fsutil::open_read(path)?;
    let size = file.metadata()?.len();
    if let Inspection::Ours(state) = daily::inspect(&mut file, date)? {
        return Ok((state.trailer.total_entries, size));
    }
    let count = daily::read_entries(path)?.entries.len();
    Ok((count as u64, size))
}

/// Builds the index from the day files on disk.
pub fn rebuild(vault: &Vault, now: DateTime<Utc>) -> io::Result<Index> {
    let mut files = Vec::new();
    for date in vault.day_files()? {
        let (count, size) = count_entries(&vault.day_file(date), date)?;
        files.push(indexed(date, count, size));
    }
    Ok(Index::new(files, now))
}

/// Writes the index atomically: a temporary file in `Logs/`, renamed over
/// `index.json`, not synced. The index is derived from the day files (which
/// are synced on every append): after a crash that leaves it old, empty or
/// torn, [`update`] finds it unreadable or out of date and rebuilds it, so a
/// sync here would buy nothing but a third disk flush per `log()`.
pub fn save(vault: &Vault, index: &Index) -> io::Result<()> {
    write_replace(&vault.index(), index.to_json().as_bytes(), false)
}

/// The identity of an `index.json` as last seen: every save replaces the
/// file by rename, so a save by anyone else changes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = fs::metadata(path).ok()?;
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&meta),
    })
}

/// The index this process last wrote, reused while `index.json` is still
/// that very file, so a long-lived logger does not parse it on every write.
#[derive(Debug, Default)]
pub struct Cache(Option<(Stamp, Index)>);

/// Brings the index up to date after a write of `states`: from the previous
/// index when it is sound (the cached one if the file is unchanged since this
/// process wrote it), else rebuilt from the day files.
pub fn update(
    vault: &Vault,
    states: &[DayFileState],
    now: DateTime<Utc>,
    cache: &mut Cache,
) -> io::Result<Index> {
    let path = vault.index();
    let cached = cache
        .0
        .take()
        .filter(|(seen, _)| stamp(&path).as_ref() == Some(seen));
    let base = match cached.map(|(_, index)| index).or_else(|| load(vault)) {
        Some(index) => index,
        None => rebuild(vault, now)?,
    };
    // Always written: `last_updated` says when the log last changed.
    let next = base.with_files(states, now);
    save(vault, &next)?;
    cache.0 = stamp(&path).map(|s| (s, next.clone()));
    Ok(next)
}
