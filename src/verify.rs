//! `vault-audit verify`: checks every day file, its counts, its entries and
//! its hash chain, day after day, and that `index.json` agrees with the files.
//!
//! Read-only. Day files are streamed a line at a time, so memory stays flat
//! however large they are.

mod archive;
mod records;

pub use archive::check_archive;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader};
use std::ops::ControlFlow;
use std::path::Path;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;

use crate::chain::{self, Alg, ChainKey, ChainValue, Folder, Start};
use crate::daily::{self, Head, Scanned, Summary, Trailer};
use crate::entry::{Entry, EntryError, LogLevel, FIELDS};
use crate::index;
use crate::meter::Meter;
use crate::vault::{day_file_name, Vault};

/// What the message says when an entry's chain value does not hold.
pub const CHAIN_MISMATCH: &str =
    "chain mismatch: the entry was changed, or an entry before it was removed";

/// The kinds of problem, so that `repair` knows which it may fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The file or an entry line does not parse.
    Unparseable,
    /// The file ends inside the entry list.
    TornTail,
    /// The trailer does not parse.
    Trailer,
    /// `total_entries` or `summary` disagree with the entries.
    Counts,
    /// An entry fails the schema.
    Schema,
    /// An entry's chain value does not hold: evidence, never repaired.
    ChainMismatch,
    /// A day's chain does not start where the day before it stood: evidence.
    ChainLink,
    /// A chained file has lost its `chain_end`.
    NoChainEnd,
    /// The chain is keyed and no key is set.
    KeyMissing,
    /// `index.json` disagrees with the files.
    Index,
    /// Something named like a day file is not a regular file.
    NotAFile,
    /// Entries vault-audit recorded writing are not in the file any more:
    /// evidence, never repaired.
    Missing,
    /// Entries differ from what vault-audit recorded when it wrote them:
    /// evidence, never repaired.
    Changed,
    /// A recorded day file was rewritten by another program (another
    /// layout, or its chain taken out); `repair` converts it back, keeping
    /// only what still matches the record.
    Rewritten,
    /// The head record or the ledger is missing, damaged or forged.
    Record,
    /// A signature does not hold, or is missing (checked with `--public-key`).
    Signature,
    /// The vault is behind the chain heads kept off the machine: it was
    /// rolled back.
    Rollback,
    /// An entry the primary recorded taking in from a replica is not in
    /// the main day files exactly once.
    TakenIn,
}

impl Kind {
    /// Whether `repair` fixes this kind (the rest are evidence, or need a person).
    pub fn repairable(self) -> bool {
        matches!(
            self,
            Kind::Unparseable
                | Kind::TornTail
                | Kind::Trailer
                | Kind::Counts
                | Kind::NoChainEnd
                | Kind::Index
                | Kind::Rewritten
        )
    }
}

/// One thing that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Problem {
    /// The file, relative to the vault (`Logs/2026-11-20.json`).
    pub file: String,
    /// What kind of problem it is.
    pub kind: Kind,
    /// The entry's position (1-based), when the problem is one entry's.
    pub entry: Option<u64>,
    /// That entry's timestamp, when it has one.
    pub timestamp: Option<String>,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if let Some(n) = self.entry {
            write!(f, "entry {n}")?;
            if let Some(ts) = &self.timestamp {
                write!(f, " ({ts})")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.problem)
    }
}

/// What `verify` found (also the MCP tool's `outputSchema`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Report {
    /// Whether everything holds.
    pub ok: bool,
    /// Day files checked.
    pub files: u64,
    /// Entries in them.
    pub entries: u64,
    /// Day files carrying a chain.
    pub chained: u64,
    /// Day files without one (foreign layout, or written before the chain
    /// existed): not evidence of tampering; `repair` re-anchors them.
    pub unchained: Vec<String>,
    /// Everything that does not hold, file by file.
    pub problems: Vec<Problem>,
    /// Bytes repairs kept aside (`Logs/D.torn-*.json`, `.orig-*`,
    /// `.corrupt-*`): not problems, but for a person to look at and delete.
    pub kept_aside: Vec<String>,
    /// What is worth knowing but holds (entries written after the last
    /// signature, say).
    pub notes: Vec<String>,
    /// With `--archive`: days read from the cold archive.
    pub archived_days: u64,
    /// With `--archive`: entries in them.
    pub archived_entries: u64,
}

/// What checking one day file found, and what later days need from it.
#[derive(Debug, Default)]
struct Day {
    entries: u64,
    chained: bool,
    /// Where its chain starts, from its header.
    start: Option<Start>,
    /// Chain values at the counts later days start from.
    values_at: BTreeMap<u64, ChainValue>,
    /// The chain over the entries as they are, at the counts recorded.
    pure_at: BTreeMap<u64, ChainValue>,
    /// The first entry whose value over the entries as they are differs
    /// from the per-entry record (with its timestamp).
    changed: Option<(u64, Option<String>)>,
    /// A file not in our layout, or without a chain: its entries' lines.
    foreign_lines: Option<Vec<String>>,
    problems: Vec<Problem>,
}

impl Day {
    fn problem(
        &mut self,
        file: &str,
        kind: Kind,
        entry: Option<(u64, Option<String>)>,
        text: String,
    ) {
        let (entry, timestamp) = entry.map_or((None, None), |(n, ts)| (Some(n), ts));
        self.problems.push(Problem {
            file: file.to_owned(),
            kind,
            entry,
            timestamp,
            problem: text,
        });
    }
}

/// What `verify` checks beyond the vault and its key.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    /// Check every signature, and the chains, with this public key alone.
    pub public_key: Option<crate::chain::sign::PublicKey>,
    /// Chain heads kept off the machine (head lines from the central
    /// store), which the vault must not be behind.
    pub central: Vec<String>,
}

/// Checks every day file of the vault, in date order.
pub fn verify(vault: &Vault, key: &ChainKey) -> io::Result<Report> {
    verify_with(vault, key, &Checks::default())
}

/// Checks every day file of the vault, in date order, against what
/// vault-audit recorded writing, and as `checks` asks.
pub fn verify_with(vault: &Vault, key: &ChainKey, checks: &Checks) -> io::Result<Report> {
    verify_metered(vault, key, checks, &mut crate::meter::Silent)
}

/// [`verify_with`], telling `meter` of each day file checked.
pub fn verify_metered(
    vault: &Vault,
    key: &ChainKey,
    checks: &Checks,
    meter: &mut dyn Meter,
) -> io::Result<Report> {
    let logs = vault.logs();
    let dates = vault.day_files()?;
    let wanted = daily::chain_references(&logs)?;
    let anchors = chain::load_anchors(&logs);
    let mut report = Report::default();
    let expected = records::Expected::gather(
        vault,
        key,
        checks.public_key.as_ref(),
        &checks.central,
        &mut report,
    )?;
    let mut done: BTreeMap<NaiveDate, Day> = BTreeMap::new();
    let mut counts: BTreeMap<NaiveDate, (u64, u64)> = BTreeMap::new();
    let mut walked = Vec::new();
    meter.start("checking", dates.len() as u64);
    for &date in &dates {
        let path = vault.day_file(date);
        let name = format!("Logs/{}", day_file_name(date));
        let none = BTreeSet::new();
        let links = wanted.get(&date).unwrap_or(&none);
        let mut day = check_day(&path, &name, date, key, links, &expected.counts(date))?;
        if let Some(start) = day.start {
            check_link(&mut day, &name, &start, &done, &anchors);
        }
        expected.check_day(&mut day, &name, date, key, &path);
        report.files += 1;
        report.entries += day.entries;
        if day.chained {
            report.chained += 1;
        } else if !expected.has(date) {
            report.unchained.push(name);
        }
        walked.push((date, day.entries, day.chained));
        report.problems.append(&mut day.problems);
        counts.insert(date, (day.entries, std::fs::metadata(&path)?.len()));
        done.insert(date, day);
        meter.advance(1);
    }
    expected.check_missing(&dates, &mut report);
    expected.check_head_kept(report.chained, &mut report);
    expected.check_unsigned(&walked, &mut report);
    if vault.host().is_none() {
        // A replica has no index: the primary's counts its entries.
        report.problems.extend(check_index(vault, &counts));
    }
    check_links_and_aside(vault, &mut report)?;
    report.ok = report.problems.is_empty();
    Ok(report)
}

/// Checks the main day files ([`verify_with`]), then each replica's own
/// under `Logs/hosts/<host>/` (its chain and records; signatures only on
/// the main files), then that every entry the primary recorded taking in
/// from a replica is in the main day files exactly once (`stored` gives the
/// line the primary stores for a replica entry; days before `oldest` are
/// retention's and not checked). `meter` is told of the main day files.
pub fn verify_replicas(
    vault: &Vault,
    key: &ChainKey,
    checks: &Checks,
    stored: crate::replica::Stored<'_>,
    oldest: NaiveDate,
    meter: &mut dyn Meter,
) -> io::Result<Report> {
    let mut report = verify_metered(vault, key, checks, meter)?;
    for host in vault.replica_hosts()? {
        let replica = vault.replica(&host);
        let mut r = verify_with(&replica, key, &Checks::default())?;
        let own = format!("Logs/hosts/{host}/");
        let moved = |file: &mut String| {
            if let Some(rest) = file
                .strip_prefix("Logs/")
                .filter(|r| !r.starts_with("hosts/"))
            {
                *file = format!("{own}{rest}");
            }
        };
        r.problems.iter_mut().for_each(|p| moved(&mut p.file));
        r.unchained.iter_mut().for_each(moved);
        report.files += r.files;
        report.entries += r.entries;
        report.chained += r.chained;
        report.unchained.append(&mut r.unchained);
        report.problems.append(&mut r.problems);
        report.kept_aside.append(&mut r.kept_aside);
        report
            .notes
            .extend(r.notes.into_iter().map(|n| format!("replica {host}: {n}")));
    }
    for u in crate::replica::check_taken(vault, stored, oldest)? {
        report.problems.push(Problem {
            file: u.file,
            kind: Kind::TakenIn,
            entry: None,
            timestamp: None,
            problem: u.problem,
        });
    }
    report.ok = report.problems.is_empty();
    Ok(report)
}

/// Symbolic links below `Logs/`, things named like day files that are not
/// files, and the files repairs kept aside.
fn check_links_and_aside(vault: &Vault, report: &mut Report) -> io::Result<()> {
    let logs = vault.logs();
    let links = if logs.is_dir() {
        crate::vault::links_below(&logs)?
    } else {
        Vec::new()
    };
    let lookalikes = crate::vault::day_file_lookalikes(&logs)?;
    for path in links.iter().filter(|p| !lookalikes.contains(p)) {
        report.problems.push(Problem {
            file: vault.relative(path).into_owned(),
            kind: Kind::NotAFile,
            entry: None,
            timestamp: None,
            problem: "is a symbolic link: vault-audit never writes or reads through one, so what it stands for is not kept; a person should move it away".into(),
        });
    }
    for path in lookalikes {
        report.problems.push(Problem {
            file: vault.relative(&path).into_owned(),
            kind: Kind::NotAFile,
            entry: None,
            timestamp: None,
            problem: "is named like a day file but is not a regular file (a folder, a link or a device): no entry can be written to that day until a person moves it away".into(),
        });
    }
    if logs.is_dir() {
        report.kept_aside = crate::vault::kept_aside_in(&logs)?
            .iter()
            .map(|p| vault.relative(p).into_owned())
            .collect();
    }
    Ok(())
}

/// Checks that a day's chain starts where the day before it stood.
fn check_link(
    day: &mut Day,
    name: &str,
    start: &Start,
    done: &BTreeMap<NaiveDate, Day>,
    anchors: &chain::Anchors,
) {
    let Some(prev) = start.after else {
        if start.value != chain::GENESIS {
            day.problem(
                name,
                Kind::ChainLink,
                None,
                "chain_start: a chain with no day before it must start from the genesis value"
                    .into(),
            );
        }
        return;
    };
    let prev_name = prev.format("%Y-%m-%d").to_string();
    let recorded = match done.get(&prev) {
        Some(p) if p.entries < start.at => {
            day.problem(
                name, Kind::ChainLink,
                None,
                format!(
                    "chain_start: continues from {prev_name} after {} entries, but that day holds only {}: entries were removed from it",
                    start.at, p.entries
                ),
            );
            return;
        }
        Some(p) if !p.chained => return,
        Some(p) => p.values_at.get(&start.at).copied(),
        None => {
            let Some(anchor) = anchors.get(&prev_name) else {
                day.problem(
                    name, Kind::ChainLink,
                    None,
                    format!("chain_start: continues from {prev_name}, which is missing and was not deleted by retention (no anchor)"),
                );
                return;
            };
            anchor
                .at
                .get(&start.at)
                .or((anchor.total_entries == start.at).then_some(&anchor.chain_end))
                .and_then(|hex| chain::from_hex(hex))
        }
    };
    match recorded {
        Some(v) if v == start.value => {}
        Some(_) => day.problem(
            name, Kind::ChainLink,
            None,
            format!(
                "chain_start: does not match {prev_name} after {} entries: that day was changed, or this header was",
                start.at
            ),
        ),
        None => {}
    }
}

/// Checks one day file.
fn check_day(
    path: &Path,
    name: &str,
    date: NaiveDate,
    key: &ChainKey,
    wanted: &BTreeSet<u64>,
    recorded: &BTreeSet<u64>,
) -> io::Result<Day> {
    let mut file = crate::fsutil::open_read(path)?;
    let head = match daily::read_head(&mut file, date)? {
        // Unchained files are read whole, in whatever layout they are.
        Some(head) if head.start.is_some() => head,
        _ => {
            let mut day = check_foreign(path, name)?;
            day.foreign_lines = Some(
                daily::read_entries(path)?
                    .entries
                    .iter()
                    .map(Value::to_string)
                    .collect(),
            );
            return Ok(day);
        }
    };
    let mut day = Day {
        chained: head.start.is_some(),
        start: head.start,
        ..Day::default()
    };
    let folder = chain_folder(&mut day, name, &head, key);
    let mut walk = Walk::new(path, head, folder, wanted);
    walk.pure_wanted = recorded.clone();
    if recorded.contains(&0) {
        walk.pure_at.insert(0, walk.pure);
    }
    let trailer_text = walk_entries(&mut day, name, date, file, &mut walk)?;
    day.entries = walk.count;
    let Some(trailer_text) = trailer_text else {
        day.problem(
            name,
            Kind::TornTail,
            None,
            "torn tail: the file ends inside the entry list (`vault-audit repair` cuts it back)"
                .into(),
        );
        return Ok(day);
    };
    if walk.last_had_comma {
        day.problem(
            name,
            Kind::Unparseable,
            None,
            "does not parse: a comma after the last entry".into(),
        );
    }
    let Some(trailer) = daily::parse_trailer(&trailer_text) else {
        day.problem(
            name, Kind::Trailer,
            None,
            "the trailer (total_entries, summary) does not parse (`vault-audit repair` rewrites it)"
                .into(),
        );
        return Ok(day);
    };
    check_counts(&mut day, name, &trailer, &walk);
    walk.finish(&mut day, name, &trailer);
    Ok(day)
}

/// The chain's folder for a chained file, or `None` (with a problem noted)
/// when its key is not set.
fn chain_folder(day: &mut Day, name: &str, head: &daily::Head, key: &ChainKey) -> Option<Folder> {
    let start = head.start?;
    match key.folder(start.alg) {
        Ok(f) => Some(f),
        Err(_) => {
            day.problem(
                name,
                Kind::KeyMissing,
                None,
                format!(
                    "chained with {}: set AUDIT_CHAIN_KEY to the key it was written with to check its chain",
                    Alg::HmacSha256.as_str(),
                ),
            );
            None
        }
    }
}

/// Walks the entry lines after the header; returns the trailer's text, or
/// `None` when the file ends inside the entry list.
fn walk_entries(
    day: &mut Day,
    name: &str,
    date: NaiveDate,
    mut file: File,
    walk: &mut Walk,
) -> io::Result<Option<Vec<u8>>> {
    let head = walk.head;
    let end = daily::scan_entries(&mut file, &head, |line| {
        match line {
            Scanned::UnexpectedAfterHeader => day.problem(
                name,
                Kind::Unparseable,
                None,
                "does not parse: unexpected bytes after the header".into(),
            ),
            Scanned::Entry { json, comma } => walk.entry(day, name, date, json, comma),
        }
        ControlFlow::Continue(())
    })?;
    Ok(match end {
        daily::ScanEnd::Trailer(text) => Some(text),
        daily::ScanEnd::Torn | daily::ScanEnd::Stopped => None,
    })
}

/// Checks the trailer's counts against the entries.
fn check_counts(day: &mut Day, name: &str, trailer: &Trailer, walk: &Walk) {
    if trailer.total_entries != walk.count {
        day.problem(
            name,
            Kind::Counts,
            None,
            format!(
                "total_entries says {} but the file holds {} entries",
                trailer.total_entries, walk.count
            ),
        );
    }
    if trailer.summary != walk.summary {
        day.problem(
            name,
            Kind::Counts,
            None,
            format!(
                "summary says {} but the entries count {}",
                trailer.summary.to_json(),
                walk.summary.to_json()
            ),
        );
    }
}

/// The walk over a chained (or unchained) file's entries.
struct Walk {
    head: Head,
    folder: Option<Folder>,
    recorded: Vec<Option<ChainValue>>,
    wanted: BTreeSet<u64>,
    count: u64,
    summary: Summary,
    /// The chain from the start over the entries as they are.
    pure: ChainValue,
    /// The value before the next entry by the record (where it has one).
    local: ChainValue,
    /// Whether the entry before failed its check (a run is reported once).
    in_run: bool,
    runs: u64,
    last_had_comma: bool,
    values_at: BTreeMap<u64, ChainValue>,
    /// Counts at which the chain over the entries as they are is wanted.
    pure_wanted: BTreeSet<u64>,
    pure_at: BTreeMap<u64, ChainValue>,
    /// The first entry whose value differs from the per-entry record.
    changed: Option<(u64, Option<String>)>,
}

impl Walk {
    fn new(path: &Path, head: Head, folder: Option<Folder>, wanted: &BTreeSet<u64>) -> Walk {
        let start = head.start.map_or(chain::GENESIS, |s| s.value);
        let mut values_at = BTreeMap::new();
        if wanted.contains(&0) {
            values_at.insert(0, start);
        }
        Walk {
            recorded: if folder.is_some() {
                chain::recorded(path)
            } else {
                Vec::new()
            },
            head,
            folder,
            wanted: wanted.clone(),
            count: 0,
            summary: Summary::default(),
            pure: start,
            local: start,
            in_run: false,
            runs: 0,
            last_had_comma: false,
            values_at,
            pure_wanted: BTreeSet::new(),
            pure_at: BTreeMap::new(),
            changed: None,
        }
    }

    fn entry(
        &mut self,
        day: &mut Day,
        name: &str,
        date: NaiveDate,
        json: Option<&[u8]>,
        comma: bool,
    ) {
        self.count += 1;
        let n = self.count;
        if n > 1 && !self.last_had_comma {
            day.problem(
                name,
                Kind::Unparseable,
                Some((n, None)),
                "does not parse: no comma before this entry".into(),
            );
        }
        self.last_had_comma = comma;
        let Some(json) = json else {
            day.problem(
                name,
                Kind::Unparseable,
                Some((n, None)),
                "does not parse: not an entry line".into(),
            );
            return;
        };
        let value: Option<Value> = serde_json::from_slice(json).ok();
        let ts = value
            .as_ref()
            .and_then(|v| v.get("timestamp"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let at = || Some((n, ts.clone()));
        match &value {
            None => day.problem(
                name,
                Kind::Unparseable,
                at(),
                "does not parse as JSON".into(),
            ),
            Some(v) => {
                self.summary.add_value(v);
                if let Err(why) = schema(v, date) {
                    day.problem(name, Kind::Schema, at(), format!("schema: {why}"));
                }
            }
        }
        let Some(folder) = &self.folder else {
            return;
        };
        self.pure = folder.fold(&self.pure, json);
        let mine = folder.fold(&self.local, json);
        let recorded = self.recorded.get(n as usize - 1).copied().flatten();
        if self.pure_wanted.contains(&n) {
            self.pure_at.insert(n, self.pure);
        }
        if self.changed.is_none() && recorded.is_some_and(|r| r != self.pure) {
            self.changed = Some((n, ts.clone()));
        }
        let failed = recorded.is_some_and(|r| r != mine);
        if failed && !self.in_run {
            self.runs += 1;
            day.problem(name, Kind::ChainMismatch, at(), CHAIN_MISMATCH.into());
        }
        self.in_run = failed;
        self.local = recorded.unwrap_or(mine);
        if self.wanted.contains(&n) {
            self.values_at.insert(n, self.local);
        }
    }

    fn finish(self, day: &mut Day, name: &str, trailer: &Trailer) {
        day.values_at = self.values_at;
        day.pure_at = self.pure_at;
        day.changed = self.changed;
        if self.folder.is_none() || self.head.start.is_none() {
            return;
        }
        let Some(end) = trailer.chain else {
            day.problem(
                name,
                Kind::NoChainEnd,
                None,
                "chained, but the trailer has no chain_end (`vault-audit repair` re-anchors it)"
                    .into(),
            );
            return;
        };
        if self.pure == end || self.runs > 0 {
            return;
        }
        let located = self.recorded.len() as u64 >= self.count
            && self.recorded[..self.count as usize]
                .iter()
                .all(Option::is_some);
        let why = if located {
            "the entries were cut short at the end, or chain_end was changed"
        } else {
            "the change cannot be located: the per-entry record (Logs/.audit/chain/) is missing or short"
        };
        day.problem(
            name, Kind::ChainMismatch,
            None,
            format!(
                "chain mismatch after the last entry ({}): the entries do not hash to chain_end; {why}",
                self.count
            ),
        );
    }
}

/// Why a stored entry fails the schema (shown after `schema: `).
#[derive(Debug, thiserror::Error)]
enum SchemaError {
    /// The line holds JSON, but not an object.
    #[error("not a JSON object; accepted: an object with the twelve fields")]
    NotAnObject,
    /// One of the twelve keys is absent.
    #[error("field `{0}` is missing")]
    Missing(&'static str),
    /// A key that is not one of the twelve.
    #[error("field `{0}` is not one of the twelve")]
    Unknown(String),
    /// A value the entry schema refuses.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The timestamp lies on another day than the file's.
    #[error("timestamp is on {found}, not on this file's day {day}")]
    OtherDay {
        /// The timestamp's day.
        found: NaiveDate,
        /// The file's day.
        day: NaiveDate,
    },
    /// The entry has no timestamp.
    #[error("timestamp is missing")]
    NoTimestamp,
}

/// Checks a stored entry against the schema: the twelve keys, valid values,
/// and a timestamp on the file's day.
fn schema(v: &Value, date: NaiveDate) -> Result<(), SchemaError> {
    let obj = v.as_object().ok_or(SchemaError::NotAnObject)?;
    if let Some(missing) = FIELDS.iter().find(|k| !obj.contains_key(**k)) {
        return Err(SchemaError::Missing(missing));
    }
    if let Some(extra) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(SchemaError::Unknown(extra.clone()));
    }
    let entry = Entry::from_value_in(v.clone(), crate::entry::ParseMode::Strict)?;
    match entry.date() {
        Some(found) if found != date => Err(SchemaError::OtherDay { found, day: date }),
        None => Err(SchemaError::NoTimestamp),
        _ => Ok(()),
    }
}

/// Checks a file that is not in our layout: it must parse and its entries
/// must pass the schema. Its chain cannot be checked: it is unchained.
fn check_foreign(path: &Path, name: &str) -> io::Result<Day> {
    let mut day = Day::default();
    let value: Value = match serde_json::from_reader(BufReader::new(crate::fsutil::open_read(
        path,
    )?)) {
        Ok(v) => v,
        Err(e) => {
            day.problem(
                name, Kind::Unparseable,
                None,
                format!("does not parse as a day file ({e}); `vault-audit repair` quarantines it and salvages its entries"),
            );
            return Ok(day);
        }
    };
    let Some(entries) = value.get("entries").and_then(Value::as_array) else {
        day.problem(
            name,
            Kind::Unparseable,
            None,
            "has no `entries` list".into(),
        );
        return Ok(day);
    };
    let date = path
        .file_stem()
        .and_then(|s| crate::time::parse_day(&s.to_string_lossy()));
    let mut summary = Summary::default();
    for (i, e) in entries.iter().enumerate() {
        summary.add_value(e);
        let ts = e
            .get("timestamp")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Err(why) = date.map_or(Ok(()), |d| schema(e, d)) {
            day.problem(
                name,
                Kind::Schema,
                Some((i as u64 + 1, ts)),
                format!("schema: {why}"),
            );
        }
    }
    day.entries = entries.len() as u64;
    if let Some(total) = value.get("total_entries").and_then(Value::as_u64) {
        if total != day.entries {
            day.problem(
                name,
                Kind::Counts,
                None,
                format!(
                    "total_entries says {total} but the file holds {} entries",
                    day.entries
                ),
            );
        }
    }
    if let Some(recorded) = value.get("summary") {
        for level in LogLevel::ALL {
            let said = recorded
                .get(level.as_str())
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if said != summary.get(*level) {
                day.problem(
                    name,
                    Kind::Counts,
                    None,
                    format!(
                        "summary says {said} {} but the entries count {}",
                        level.as_str(),
                        summary.get(*level)
                    ),
                );
            }
        }
    }
    Ok(day)
}

/// Checks `index.json` against the files: one problem per disagreement.
fn check_index(vault: &Vault, counts: &BTreeMap<NaiveDate, (u64, u64)>) -> Vec<Problem> {
    let problem = |text: String| Problem {
        file: "Logs/index.json".into(),
        kind: Kind::Index,
        entry: None,
        timestamp: None,
        problem: text,
    };
    if counts.is_empty() && !vault.index().exists() {
        return Vec::new();
    }
    let Some(idx) = index::load(vault) else {
        return vec![problem(
            "missing, unreadable or inconsistent (`vault-audit repair` rebuilds it)".into(),
        )];
    };
    let mut out = Vec::new();
    let listed: BTreeMap<&str, &index::IndexedFile> =
        idx.log_files.iter().map(|f| (f.date.as_str(), f)).collect();
    for (date, (entries, size)) in counts {
        let day = date.format("%Y-%m-%d").to_string();
        match listed.get(day.as_str()) {
            None => out.push(problem(format!("does not list {}", day_file_name(*date)))),
            Some(f) if f.entry_count != *entries || f.size_bytes != *size => out.push(problem(format!(
                "lists {} with {} entries and {} bytes; the file holds {entries} entries in {size} bytes",
                f.file, f.entry_count, f.size_bytes
            ))),
            Some(_) => {}
        }
    }
    for f in &idx.log_files {
        if crate::time::parse_day(&f.date).is_none_or(|d| !counts.contains_key(&d)) {
            out.push(problem(format!("lists {}, which does not exist", f.file)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::ActionType;

    fn stored(ts: &str) -> Value {
        let entry = Entry::new(
            LogLevel::Info,
            ActionType::new("file_drop").expect("action"),
            "a",
            "t",
        )
        .at(crate::time::parse_timestamp(ts).expect("ts"))
        .session("S");
        serde_json::from_str(&entry.to_json_line()).expect("json")
    }

    #[test]
    fn schema_refusals_say_what_was_wrong() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 22).expect("day");
        let good = stored("2026-11-22T10:00:00Z");
        assert!(schema(&good, day).is_ok());
        let why = |v: &Value| schema(v, day).expect_err("refused").to_string();
        assert_eq!(
            why(&Value::Array(vec![])),
            "not a JSON object; accepted: an object with the twelve fields"
        );
        let mut missing = good.clone();
        missing.as_object_mut().expect("object").remove("actor");
        assert_eq!(why(&missing), "field `actor` is missing");
        let mut extra = good.clone();
        extra["extra"] = Value::Bool(true);
        assert_eq!(why(&extra), "field `extra` is not one of the twelve");
        let mut level = good.clone();
        level["log_level"] = "LOUD".into();
        assert!(why(&level).contains("log_level \"LOUD\" is not one of INFO"));
        assert_eq!(
            why(&stored("2026-11-21T10:00:00Z")),
            "timestamp is on 2026-11-21, not on this file's day 2026-11-22"
        );
    }
}
