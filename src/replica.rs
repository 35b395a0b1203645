//! The primary taking in what replicas wrote: the day files under
//! `Logs/hosts/<host>/`, every entry exactly once, into the main day files.
//!
//! How far each replica day has been taken in is kept in
//! `Logs/.audit/hosts/<host>.json`, as the sink cursors keep it: a count and
//! a hash of the last entry passed, the offset after it (a file that grew is
//! read from there), and the file's length and modification time so that an
//! unchanged file costs one `stat`. When the file no longer
//! starts with what was passed (a sync tool rewrote it, a repair cut it), or
//! a take-in was cut short, the entries are matched by identity instead:
//! the line the primary would store for a replica entry is looked for among
//! the main day's entries of that host, so nothing is taken twice.
//!
//! Taking in is planned here ([`plan`]) and appended by the logger, through
//! the one validating, redacting append path; [`mark_pending`] before and
//! [`finish`] after make a crash in between safe.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::chain::short_hash;
use crate::daily::{self, After, DayCursor, Limit};
use crate::fsutil::{ensure_dir, write_atomic};
use crate::vault::Vault;

/// The parameter that names the machine a taken-in entry was written on.
pub const HOST_PARAM: &str = "host";

/// How far one replica day file has been taken in: where the primary
/// stands in it ([`daily::DayCursor`], whose `count` is the entries passed:
/// taken in, or refused as invalid), and what makes the take-in exactly once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDay {
    /// Where the primary stands in the file.
    #[serde(flatten)]
    pub at: DayCursor,
    /// Entries of the file taken in (appended to the main files).
    #[serde(default)]
    pub taken: u64,
    /// The most entries the file was ever read with: while the file holds
    /// fewer (read half-written by a sync tool, say), entries after
    /// `count` may be taken already, so they are matched by identity.
    #[serde(default)]
    pub high: u64,
    /// Set while a take-in is under way: the next one matches by identity.
    #[serde(default)]
    pub pending: bool,
}

/// One replica's cursors, per day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursors {
    /// Per day file of the replica.
    pub days: BTreeMap<NaiveDate, HostDay>,
}

/// A replica's cursors; none (or unreadable) is an empty set, which only
/// makes the next take-in match by identity.
pub fn load(vault: &Vault, host: &str) -> Cursors {
    crate::fsutil::read_no_follow(&vault.replica_cursor(host))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn save(vault: &Vault, host: &str, cursors: &Cursors) -> io::Result<()> {
    let path = vault.replica_cursor(host);
    if let Some(dir) = path.parent() {
        ensure_dir(dir)?;
    }
    let text = serde_json::to_string_pretty(cursors).map_err(io::Error::other)?;
    write_atomic(&path, text.as_bytes())
}

/// A replica entry to take in.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The replica it comes from.
    pub host: String,
    /// Its entry as the replica stored it.
    pub value: Value,
}

/// A replica entry the primary cannot take in (it does not validate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The replica.
    pub host: String,
    /// The replica's day file, vault-relative.
    pub file: String,
    /// The entry's position in it (from 1).
    pub position: u64,
    /// Why.
    pub reason: String,
}

/// What a take-in is to append, and the cursors before and after it.
#[derive(Debug, Default)]
pub struct Plan {
    /// The entries, in timestamp order.
    pub incoming: Vec<Incoming>,
    /// The entries refused.
    pub refused: Vec<Refused>,
    before: BTreeMap<String, Cursors>,
    after: BTreeMap<String, Cursors>,
}

impl Plan {
    /// Whether there is nothing to append and no cursor to move.
    pub fn is_empty(&self) -> bool {
        self.incoming.is_empty() && self.refused.is_empty() && self.before == self.after
    }
}

/// The line the primary would store for a replica entry (the host set,
/// validated, redacted), or why it would refuse it.
pub type Stored<'a> = &'a dyn Fn(&str, &Value) -> Result<String, String>;

/// Plans taking in every replica's new entries.
pub fn plan(vault: &Vault, stored: Stored<'_>) -> io::Result<Plan> {
    let mut plan = Plan::default();
    for host in vault.replica_hosts()? {
        let before = load(vault, &host);
        let mut after = before.clone();
        let replica = vault.replica(&host);
        let mut main = MainLines::default();
        let days = replica.day_files()?;
        // A day gone (retention, or a sync tool between two writes) needs
        // no cursor: if it comes back, it is matched by identity.
        after.days.retain(|d, _| days.contains(d));
        for date in days {
            let path = replica.day_file(date);
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let (len, mtime_ns) = (meta.len(), daily::mtime_ns(&meta));
            let old = before.days.get(&date);
            if old.is_some_and(|c| c.at.unchanged(&path) && !c.pending) {
                continue;
            }
            let Some(read) = read_day(&path, date, old) else {
                continue;
            };
            let file = vault.relative(&path).into_owned();
            let day = Day {
                host: &host,
                file: &file,
                entries: &read.entries,
                base: read.base,
                old,
            };
            let cursor = day.take(vault, stored, &mut main, &mut plan);
            after.days.insert(
                date,
                HostDay {
                    at: DayCursor {
                        len,
                        mtime_ns,
                        offset: read.end.0,
                        last_len: read.end.1,
                        ..cursor.at
                    },
                    ..cursor
                },
            );
        }
        plan.before.insert(host.clone(), before);
        plan.after.insert(host, after);
    }
    plan.incoming
        .sort_by(|a, b| timestamp(&a.value).cmp(timestamp(&b.value)));
    Ok(plan)
}

/// Records that a take-in is under way (before any entry is appended).
pub fn mark_pending(vault: &Vault, plan: &Plan) -> io::Result<()> {
    for (host, before) in &plan.before {
        let mut marked = before.clone();
        let touched = plan.after.get(host).map(|a| &a.days);
        for (date, cursor) in touched.into_iter().flatten() {
            if before.days.get(date) != Some(cursor) {
                marked.days.entry(*date).or_default().pending = true;
            }
        }
        if &marked != before {
            save(vault, host, &marked)?;
        }
    }
    Ok(())
}

/// Records the take-in done (after the entries are durably appended).
pub fn finish(vault: &Vault, plan: &Plan) -> io::Result<()> {
    for (host, after) in &plan.after {
        if plan.before.get(host) != Some(after) || !plan.incoming.is_empty() {
            save(vault, host, after)?;
        }
    }
    Ok(())
}

/// One replica day file being planned.
struct Day<'a> {
    host: &'a str,
    file: &'a str,
    /// The entries read: all of the file's, or those after the cursor.
    entries: &'a [Value],
    /// The file position of the first of them.
    base: usize,
    old: Option<&'a HostDay>,
}

impl Day<'_> {
    /// Adds the day's new entries to `plan`; returns its cursor after.
    fn take(
        &self,
        vault: &Vault,
        stored: Stored<'_>,
        main: &mut MainLines,
        plan: &mut Plan,
    ) -> HostDay {
        let n = self.base + self.entries.len();
        let from = self.fast_start();
        let seen = self.old.map_or(0, |c| c.high.max(c.at.count) as usize);
        // Taken before: what the cursor says, or what is found in the main files.
        let mut taken = match from {
            Some(_) => self.old.map_or(0, |c| c.taken),
            None => 0,
        };
        for (i, value) in self.entries.iter().enumerate().skip(from.unwrap_or(0)) {
            match stored(self.host, value) {
                Ok(line) => {
                    // Matched by identity unless the cursor vouches for it.
                    taken += 1;
                    if from.is_none() && main.take(vault, &line) {
                        continue;
                    }
                    plan.incoming.push(Incoming {
                        host: self.host.to_owned(),
                        value: value.clone(),
                    });
                }
                Err(reason) if from.is_some() || self.base + i >= seen => {
                    plan.refused.push(Refused {
                        host: self.host.to_owned(),
                        file: self.file.to_owned(),
                        position: (self.base + i) as u64 + 1,
                        reason,
                    })
                }
                Err(_) => {}
            }
        }
        HostDay {
            at: DayCursor {
                count: n as u64,
                last_hash: match self.entries.last() {
                    Some(value) => line_hash(value),
                    None if self.base > 0 => {
                        self.old.map(|c| c.at.last_hash.clone()).unwrap_or_default()
                    }
                    None => String::new(),
                },
                ..DayCursor::default()
            },
            high: self.old.map_or(0, |c| c.high.max(c.at.count)).max(n as u64),
            taken,
            ..HostDay::default()
        }
    }

    /// Where the new entries start, when the cursor still holds: the file
    /// begins with the entries it passed, and no take-in was cut short. A
    /// day with no cursor (a new one, or the cursors were lost) is matched
    /// by identity.
    fn fast_start(&self) -> Option<usize> {
        let old = self.old?;
        if self.base > 0 {
            // Read from the cursor's offset: checked there already.
            return Some(0);
        }
        let count = old.at.count as usize;
        let holds = !old.pending
            && old.at.count >= old.high
            && count <= self.entries.len()
            && (count == 0 || line_hash(&self.entries[count - 1]) == old.at.last_hash);
        holds.then_some(count)
    }
}

/// A replica day file's entries as read.
struct Read {
    /// All of the file's, or those after the cursor's offset.
    entries: Vec<Value>,
    /// The file position of the first of them.
    base: usize,
    /// In a file of our layout, where the last entry's line ends and its
    /// length (0: unknown).
    end: (u64, u64),
}

/// The entries of a replica day file: those after the cursor's offset when
/// it still holds (a file of our layout that only grew), else all of them.
fn read_day(path: &Path, date: NaiveDate, old: Option<&HostDay>) -> Option<Read> {
    if let Some(after) = old.and_then(|c| read_after(path, date, c)) {
        return Some(after);
    }
    let entries = daily::read_entries(path).ok()?.entries;
    let end = ours_end(path, date, &entries);
    Some(Read {
        entries,
        base: 0,
        end,
    })
}

/// Where the entries of a file of our layout end, and the last one's
/// length, when the file holds exactly `entries` (else unknown).
fn ours_end(path: &Path, date: NaiveDate, entries: &[Value]) -> (u64, u64) {
    match daily::seek(path, date, entries.len() as u64) {
        Ok(Some(end)) if end.total == entries.len() as u64 => (end.offset, end.last_len),
        _ => (0, 0),
    }
}

/// The entries after the cursor's offset, read from there, when the file
/// is of our layout, the line before the offset is the one the cursor
/// passed, and the file's count agrees.
fn read_after(path: &Path, date: NaiveDate, old: &HostDay) -> Option<Read> {
    if old.pending || old.at.count < old.high || old.at.offset == 0 {
        return None;
    }
    // The identity is checked by the caller; read past it.
    let at = DayCursor {
        len: 0,
        ..old.at.clone()
    };
    let After::Lines(read) = daily::read_after(path, date, &at, Limit::ALL).ok()? else {
        return None;
    };
    let entries: Vec<Value> = (read.lines.iter())
        .map(|line| serde_json::from_str(line).ok())
        .collect::<Option<_>>()?;
    if read.next.count != read.total {
        return None;
    }
    Some(Read {
        entries,
        base: old.at.count as usize,
        end: (read.next.offset, read.next.last_len),
    })
}

/// The main day files' entries of each host, read once per take-in, as
/// stored lines with how many times each occurs.
#[derive(Default)]
struct MainLines {
    days: HashMap<NaiveDate, HashMap<String, u64>>,
}

impl MainLines {
    /// Whether `line` is in the main files (and not matched before).
    fn take(&mut self, vault: &Vault, line: &str) -> bool {
        let Some(date) = line_date(line) else {
            return false;
        };
        let lines = self
            .days
            .entry(date)
            .or_insert_with(|| host_lines(vault, date));
        match lines.get_mut(line) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}

/// The entries of the main day file of `date` that were taken in from a
/// replica, as stored lines with their counts.
pub fn host_lines(vault: &Vault, date: NaiveDate) -> HashMap<String, u64> {
    let mut lines = HashMap::new();
    let path = vault.primary().day_file(date);
    let Ok(read) = daily::read_entries(&path) else {
        return lines;
    };
    for entry in read.entries {
        if entry["parameters"].get(HOST_PARAM).is_some() {
            *lines.entry(entry.to_string()).or_default() += 1;
        }
    }
    lines
}

/// The day of a stored line, from its timestamp.
pub fn line_date(line: &str) -> Option<NaiveDate> {
    let value: Value = serde_json::from_str(line).ok()?;
    crate::time::parse_day(value["timestamp"].as_str()?.get(..10)?)
}

fn line_hash(value: &Value) -> String {
    short_hash(value.to_string().as_bytes())
}

fn timestamp(value: &Value) -> &str {
    value["timestamp"].as_str().unwrap_or("")
}

/// The replicas' entries the primary has not taken in yet (those after
/// its cursor in each replica day file, all of a day it has no cursor
/// for), each with `parameters.host` set as it will be when taken in, in
/// timestamp order: what `query` shows beside the main files, so that a
/// replica sees its own entries before the primary has them.
pub fn untaken(vault: &Vault) -> io::Result<Vec<String>> {
    let mut found: Vec<Value> = Vec::new();
    for host in vault.replica_hosts()? {
        let cursors = load(vault, &host);
        let replica = vault.replica(&host);
        for date in replica.day_files()? {
            let Ok(read) = daily::read_entries(&replica.day_file(date)) else {
                continue;
            };
            let from = cursors.days.get(&date).map_or(0, |c| c.at.count as usize);
            for mut value in read.entries.into_iter().skip(from) {
                if let Some(params) = value.get_mut("parameters").and_then(Value::as_object_mut) {
                    params.insert(HOST_PARAM.into(), host.as_str().into());
                }
                found.push(value);
            }
        }
    }
    found.sort_by(|a, b| timestamp(a).cmp(timestamp(b)));
    Ok(found.iter().map(Value::to_string).collect())
}

/// One thing `verify` finds wrong with what was taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untaken {
    /// The replica's day file, vault-relative.
    pub file: String,
    /// What is wrong.
    pub problem: String,
}

/// Checks that every entry the primary recorded as taken in from a
/// replica is in the main day files exactly once: `stored` gives the line
/// the primary stores for a replica entry. Days older than `oldest` are
/// retention's and are not checked.
pub fn check_taken(
    vault: &Vault,
    stored: Stored<'_>,
    oldest: NaiveDate,
) -> io::Result<Vec<Untaken>> {
    let mut found = Vec::new();
    for host in vault.replica_hosts()? {
        let cursors = load(vault, &host);
        let replica = vault.replica(&host);
        let mut expected: BTreeMap<NaiveDate, HashMap<String, u64>> = BTreeMap::new();
        for (date, cursor) in cursors.days.iter().filter(|(d, _)| **d >= oldest) {
            let path = replica.day_file(*date);
            let Ok(read) = daily::read_entries(&path) else {
                continue;
            };
            for value in read.entries.iter().take(cursor.at.count as usize) {
                let Ok(line) = stored(&host, value) else {
                    continue;
                };
                if let Some(day) = line_date(&line).filter(|d| *d >= oldest) {
                    *expected.entry(day).or_default().entry(line).or_default() += 1;
                }
            }
        }
        for (date, lines) in expected {
            let main = host_lines(vault, date);
            let file = vault.relative(&vault.primary().day_file(date)).into_owned();
            for (line, want) in lines {
                let have = main.get(&line).copied().unwrap_or(0);
                if have != want {
                    found.push(Untaken {
                        file: file.clone(),
                        problem: format!(
                            "an entry of replica {host} recorded as taken in is in the main file {have} times, not {want}: {}",
                            timestamp(&serde_json::from_str(&line).unwrap_or(Value::Null))
                        ),
                    });
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daily::{render_file, Summary, Trailer};

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
    }

    fn file(n: u64) -> String {
        let lines: Vec<String> = (1..=n).map(|i| format!("{{\"n\":{i}}}")).collect();
        let trailer = Trailer {
            total_entries: n,
            summary: Summary::default(),
            chain: None,
        };
        render_file(date(), None, lines.iter().map(String::as_str), &trailer)
    }

    fn ns(read: &Read) -> Vec<u64> {
        read.entries
            .iter()
            .filter_map(|v| v["n"].as_u64())
            .collect()
    }

    #[test]
    fn a_grown_file_is_read_from_the_offset_and_a_rewritten_one_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("2026-11-22.json");
        std::fs::write(&path, file(2)).expect("write");
        let first = read_day(&path, date(), None).expect("read");
        assert_eq!((first.base, ns(&first)), (0, vec![1, 2]));
        let cursor = HostDay {
            at: DayCursor {
                count: 2,
                last_hash: line_hash(&first.entries[1]),
                offset: first.end.0,
                last_len: first.end.1,
                ..DayCursor::default()
            },
            high: 2,
            ..HostDay::default()
        };
        std::fs::write(&path, file(4)).expect("grow");
        let grown = read_day(&path, date(), Some(&cursor)).expect("read");
        assert_eq!((grown.base, ns(&grown)), (2, vec![3, 4]));
        // The second line changed: not the file the cursor passed.
        std::fs::write(&path, file(4).replace("{\"n\":2}", "{\"n\":9}")).expect("rewrite");
        let whole = read_day(&path, date(), Some(&cursor)).expect("read");
        assert_eq!((whole.base, ns(&whole)), (0, vec![1, 9, 3, 4]));
        // Cut short: read whole, never past the end.
        std::fs::write(&path, file(1)).expect("cut");
        let cut = read_day(&path, date(), Some(&cursor)).expect("read");
        assert_eq!((cut.base, ns(&cut)), (0, vec![1]));
    }
}
