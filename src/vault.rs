//! Where things live in a vault: every path under `Logs/` is named here
//! and nowhere else.

use std::io;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::time::parse_day;

/// The paths of one vault that the logger reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vault {
    root: PathBuf,
    /// The machine whose own files these are, when a replica's: then every
    /// path under `Logs/` is under `Logs/hosts/<host>/` instead.
    host: Option<String>,
}

impl Vault {
    /// The vault at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Vault {
            root: root.into(),
            host: None,
        }
    }

    /// The same vault as the replica `host` writes it: its day files,
    /// state, lock and failed writes all under `Logs/hosts/<host>/`. The
    /// caller checked `host` with [`host_name`].
    pub fn replica(&self, host: &str) -> Vault {
        Vault {
            root: self.root.clone(),
            host: Some(host.to_owned()),
        }
    }

    /// The vault as the primary writes it (the main day files).
    pub fn primary(&self) -> Vault {
        Vault::new(self.root.clone())
    }

    /// The replica this view is of, if it is one.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The vault folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `Logs/` (a replica's: `Logs/hosts/<host>/`).
    pub fn logs(&self) -> PathBuf {
        match &self.host {
            Some(host) => self.hosts_dir().join(host),
            None => self.root.join("Logs"),
        }
    }

    /// `Logs/hosts/`: one folder per replica machine.
    pub fn hosts_dir(&self) -> PathBuf {
        self.root.join("Logs").join("hosts")
    }

    /// The replicas that have a folder in `Logs/hosts/` (real folders with
    /// an accepted host name; never a link), sorted.
    pub fn replica_hosts(&self) -> io::Result<Vec<String>> {
        let dir = self.hosts_dir();
        // Never through a link: `Logs/hosts` itself must be a real folder.
        if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            return Ok(Vec::new());
        }
        let mut hosts = Vec::new();
        for item in std::fs::read_dir(dir)? {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            if item.file_type()?.is_dir() && host_name(&name).as_deref() == Some(name.as_str()) {
                hosts.push(name);
            }
        }
        hosts.sort();
        Ok(hosts)
    }

    /// `Logs/.audit/hosts/<host>.json`: how far the primary has taken in
    /// each day of the replica `host` (see `replica`).
    pub fn replica_cursor(&self, host: &str) -> PathBuf {
        self.primary()
            .state_dir()
            .join("hosts")
            .join(format!("{host}.json"))
    }

    /// `Logs/.audit/`: our own state, hidden from Obsidian.
    pub fn state_dir(&self) -> PathBuf {
        state_dir_in(&self.logs())
    }

    /// `Logs/.audit/lock`: the writers' lock file.
    pub fn lock_file(&self) -> PathBuf {
        self.state_dir().join("lock")
    }

    /// `Logs/failed_writes.json`: entries saved when the lock could not be taken.
    pub fn failed_writes(&self) -> PathBuf {
        self.logs().join("failed_writes.json")
    }

    /// `Logs/YYYY-MM-DD.json`.
    pub fn day_file(&self, date: NaiveDate) -> PathBuf {
        self.logs().join(day_file_name(date))
    }

    /// `Logs/YYYY-MM-DD.json` as notes name it: relative to the vault, with
    /// `/` between folders (a replica's under `Logs/hosts/<host>/`).
    pub fn day_file_relative(&self, date: NaiveDate) -> String {
        match &self.host {
            Some(host) => format!("Logs/hosts/{host}/{}", day_file_name(date)),
            None => format!("Logs/{}", day_file_name(date)),
        }
    }

    /// `Dashboard.md`.
    pub fn dashboard(&self) -> PathBuf {
        self.root.join("Dashboard.md")
    }

    /// `Logs/index.json`.
    pub fn index(&self) -> PathBuf {
        self.logs().join("index.json")
    }

    /// `Logs/critical_archive.json`: CRITICAL entries of purged days, one per line.
    pub fn critical_archive(&self) -> PathBuf {
        self.logs().join("critical_archive.json")
    }

    /// `Logs/archive/`: the cold archive, one file per month.
    pub fn archive_dir(&self) -> PathBuf {
        self.logs().join("archive")
    }

    /// `Logs/archive/YYYY-MM.jsonl.gz`: the archived days of `date`'s month.
    pub fn archive_month(&self, date: NaiveDate) -> PathBuf {
        self.archive_dir().join(archive_month_name(date))
    }

    /// `Logs/archive/YYYY-MM.torn-<unix seconds>[-n].gz`: bytes cut from
    /// the end of `date`'s month archive that were no member of ours, kept
    /// for a person to look at. The `n`th candidate (from 1) for when
    /// earlier ones are taken.
    pub fn archive_torn(&self, date: NaiveDate, now_unix: i64, n: u32) -> PathBuf {
        let month = date.format("%Y-%m");
        self.archive_dir().join(match n {
            0 | 1 => format!("{month}.torn-{now_unix}.gz"),
            n => format!("{month}.torn-{now_unix}-{n}.gz"),
        })
    }

    /// The month archives in `Logs/archive/` (regular files named exactly
    /// `YYYY-MM.jsonl.gz`), oldest first, each with the first day of its
    /// month. A symbolic link at `Logs/archive` is refused.
    pub fn archive_months(&self) -> io::Result<Vec<(NaiveDate, PathBuf)>> {
        let dir = self.archive_dir();
        crate::fsutil::refuse_linked_folders(&dir.join("x"))?;
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        for item in std::fs::read_dir(&dir)? {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            let month = name
                .strip_suffix(".jsonl.gz")
                .and_then(|m| parse_day(&format!("{m}-01")))
                .filter(|d| archive_month_name(*d) == name);
            if let Some(month) = month {
                if item.file_type()?.is_file() {
                    found.push((month, item.path()));
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// `Logs/.audit/chain/YYYY-MM-DD.bin`: the chain value after each entry
    /// of a day file, for locating a change.
    pub fn chain_record(&self, date: NaiveDate) -> PathBuf {
        chain_record_of(&self.day_file(date))
    }

    /// `Logs/.audit/head`: the head record, one line saying what the last
    /// append left (day, entry count, chain value, sequence number), with
    /// its MAC.
    pub fn head_record(&self) -> PathBuf {
        self.state_dir().join("head")
    }

    /// `Logs/.audit/ledger`: what the head record moved away from, and what
    /// repairs, retention and people did to days that were recorded; one
    /// line each, each MAC chained to the one before.
    pub fn ledger(&self) -> PathBuf {
        self.state_dir().join("ledger")
    }

    /// `Logs/.audit/head.sig`: the head record as last signed, with the
    /// entry counts of every signed day.
    pub fn head_signature(&self) -> PathBuf {
        self.state_dir().join("head.sig")
    }

    /// `Logs/.audit/signatures/`: each signed day's signature.
    pub fn signatures(&self) -> PathBuf {
        self.state_dir().join("signatures")
    }

    /// `Logs/.audit/signatures/YYYY-MM-DD.sig`: a day's signed state.
    pub fn day_signature(&self, date: NaiveDate) -> PathBuf {
        self.signatures()
            .join(format!("{}.sig", date.format("%Y-%m-%d")))
    }

    /// The days that have a signature file, oldest first.
    pub fn signed_days(&self) -> io::Result<Vec<NaiveDate>> {
        let dir = self.signatures();
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut days: Vec<NaiveDate> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".sig").and_then(parse_day)
            })
            .collect();
        days.sort();
        Ok(days)
    }

    /// `Logs/.audit/anchors.json`: chain values of days retention deleted.
    pub fn anchors(&self) -> PathBuf {
        anchors_in(&self.logs())
    }

    /// `Logs/.audit/intent.json`: the inbox batch being written (the journal).
    pub fn intake_intent(&self) -> PathBuf {
        self.state_dir().join("intent.json")
    }

    /// `Logs/.audit/inbox-progress.json`: how far each inbox claim is taken in.
    pub fn intake_progress(&self) -> PathBuf {
        self.state_dir().join("inbox-progress.json")
    }

    /// `Logs/.audit/retention-journal.json`: the purge under way.
    pub fn retention_journal(&self) -> PathBuf {
        self.state_dir().join("retention-journal.json")
    }

    /// `Logs/.audit/retention.json`: when retention last ran.
    pub fn retention_last_run(&self) -> PathBuf {
        self.state_dir().join("retention.json")
    }

    /// `Logs/.audit/views-stale`: present while the index and Dashboard may
    /// be stale after a failed refresh; the next refresh rebuilds them.
    pub fn views_stale(&self) -> PathBuf {
        self.state_dir().join("views-stale")
    }

    /// `Logs/.audit/upkeep-due`: one line per append, `YYYY-MM-DD N` (the
    /// day written and its entry count before), which the upkeep reads to
    /// know which day files to bring the views up to date with.
    pub fn upkeep_due(&self) -> PathBuf {
        self.state_dir().join("upkeep-due")
    }

    /// `Logs/.audit/upkeep.lock`: held by the one process running the
    /// upkeep; writers never wait for it.
    pub fn upkeep_lock(&self) -> PathBuf {
        self.state_dir().join("upkeep.lock")
    }

    /// `Logs/.audit/upkeep.json`: how far the upkeep has read the due marks
    /// and each day file.
    pub fn upkeep_state(&self) -> PathBuf {
        self.state_dir().join("upkeep.json")
    }

    /// `Logs/.audit/alerts.json`: what the alert rules have seen so far
    /// (the latest ERROR entries of a burst), shared by every writer.
    pub fn alert_state(&self) -> PathBuf {
        self.state_dir().join("alerts.json")
    }

    /// `Logs/.audit/report.json`: the last week the daemon's weekly report
    /// was written for.
    pub fn report_state(&self) -> PathBuf {
        self.state_dir().join("report.json")
    }

    /// `Logs/.audit/imported.txt`: what `import` took in, one content hash
    /// per line, so that nothing is imported twice.
    pub fn import_record(&self) -> PathBuf {
        self.state_dir().join("imported.txt")
    }

    /// `Logs/.audit/daemon.pid`: the running daemon's pid file and lock.
    pub fn pid_file(&self) -> PathBuf {
        self.state_dir().join("daemon.pid")
    }

    /// `Logs/.audit/vault-snapshot.json`: the daemon's last view of the vault.
    pub fn vault_snapshot(&self) -> PathBuf {
        self.state_dir().join("vault-snapshot.json")
    }

    /// `Logs/.audit/sinks/`: the forwarding cursors.
    pub fn sink_cursors(&self) -> PathBuf {
        self.state_dir().join("sinks")
    }

    /// `Logs/.audit/sinks/<sink>.json`: one sink's cursor.
    pub fn sink_cursor(&self, sink: &str) -> PathBuf {
        self.sink_cursors().join(format!("{sink}.json"))
    }

    /// `Logs/inbox/`: files dropped to be logged.
    pub fn inbox(&self) -> PathBuf {
        self.logs().join("inbox")
    }

    /// `Logs/inbox/<name>`: a file dropped to be logged.
    pub fn inbox_file(&self, name: &str) -> PathBuf {
        self.inbox().join(name)
    }

    /// `Logs/inbox/.processing/`: claimed inbox files.
    pub fn inbox_processing(&self) -> PathBuf {
        self.inbox().join(".processing")
    }

    /// `Logs/inbox/.processing/<id>`: a claimed inbox file.
    pub fn inbox_claim(&self, id: &str) -> PathBuf {
        self.inbox_processing().join(id)
    }

    /// `Logs/inbox/.processing/.<id>.rejected`: a claim's rejected lines so far.
    pub fn inbox_claim_rejects(&self, id: &str) -> PathBuf {
        self.inbox_processing().join(format!(".{id}.rejected"))
    }

    /// `Logs/inbox/rejected/`: lines the inbox could not log, with their reasons.
    pub fn inbox_rejected(&self) -> PathBuf {
        self.inbox().join("rejected")
    }

    /// `Logs/inbox/rejected/<name>`: what could not be logged of an inbox
    /// file (its rejected lines, or the whole file).
    pub fn inbox_rejected_copy(&self, name: &str) -> PathBuf {
        self.inbox_rejected().join(name)
    }

    /// `Logs/inbox/rejected/<name>.errors.txt`: why, beside it.
    pub fn inbox_rejected_reasons(&self, name: &str) -> PathBuf {
        self.inbox_rejected().join(format!("{name}.errors.txt"))
    }

    /// The day files in `Logs/` (names exactly `YYYY-MM-DD.json`), oldest first.
    pub fn day_files(&self) -> io::Result<Vec<NaiveDate>> {
        day_files_in(&self.logs())
    }

    /// `path` relative to the vault when it is inside it, for messages.
    pub fn relative<'a>(&self, path: &'a Path) -> std::borrow::Cow<'a, str> {
        match path.strip_prefix(&self.root) {
            Ok(rel) => rel.to_string_lossy(),
            Err(_) => path.to_string_lossy(),
        }
    }
}

/// The name the Git merge driver for day files is registered under.
pub const MERGE_DRIVER: &str = "vault-audit";

/// `.gitattributes` lines (vault-relative) that give day files, the main
/// ones and the replicas', to the merge driver instead of a textual merge.
pub fn git_attributes() -> Vec<String> {
    const DAY: &str = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9].json";
    vec![
        format!("Logs/{DAY} merge={MERGE_DRIVER}"),
        format!("Logs/hosts/*/{DAY} merge={MERGE_DRIVER}"),
    ]
}

/// `.gitignore` lines (vault-relative) for what must never sync: each
/// machine's lock, pid file, sink cursors, vault snapshot and inbox work
/// in progress, and keys.
pub fn git_ignored() -> Vec<String> {
    let mut lines = Vec::new();
    for logs in ["Logs", "Logs/hosts/*"] {
        for own in [
            ".audit/lock",
            ".audit/daemon.pid",
            ".audit/sinks/",
            ".audit/vault-snapshot.json",
            ".audit/intent.json",
            "inbox/.processing/",
        ] {
            lines.push(format!("{logs}/{own}"));
        }
    }
    lines.extend(["*.key".to_owned(), ".env".to_owned()]);
    lines
}

/// The longest host name kept.
const HOST_MAX: usize = 63;

/// A host name as a folder name under `Logs/hosts/`: letters, digits, `-`
/// and `_` kept (lower-cased), anything else becomes `-`, cut at 63
/// characters; `None` when nothing is left.
pub fn host_name(raw: &str) -> Option<String> {
    let mapped: String = raw
        .trim()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .take(HOST_MAX)
        .collect();
    let name = mapped.trim_matches('-');
    (!name.is_empty()).then(|| name.to_owned())
}

/// A copy a sync tool left beside a day file when two machines changed it:
/// the day, the file, and the device named in its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictCopy {
    /// The day it is a copy of.
    pub date: NaiveDate,
    /// Where it is.
    pub path: PathBuf,
    /// The device or machine its name gives (`unknown` when none).
    pub device: String,
}

/// Whether `name` is a sync tool's conflict copy of a day file, and of
/// which day and device: Syncthing's
/// `YYYY-MM-DD.sync-conflict-<date>-<time>-<device>.json`, and the
/// `YYYY-MM-DD (<who>'s conflicted copy <when>).json` or
/// `YYYY-MM-DD (conflicted copy ...).json` of Dropbox and Obsidian Sync.
pub fn conflict_copy_name(name: &str) -> Option<(NaiveDate, String)> {
    let date = parse_day(name.get(..10)?)?;
    let rest = name.get(10..)?.strip_suffix(".json")?;
    if let Some(tail) = rest.strip_prefix(".sync-conflict-") {
        let device = tail.splitn(3, '-').nth(2).unwrap_or("unknown");
        return Some((date, device.to_owned()));
    }
    let inner = rest.strip_prefix(" (")?.strip_suffix(')')?;
    let lower = inner.to_ascii_lowercase();
    let at = lower.find("conflicted copy")?;
    let who = inner[..at].trim().trim_end_matches("'s").trim();
    let after = inner[at + "conflicted copy".len()..].trim();
    let device = match (who.is_empty(), after.split_whitespace().next()) {
        (false, _) => who,
        (true, Some(word)) if !word.starts_with(|c: char| c.is_ascii_digit()) => word,
        _ => "unknown",
    };
    Some((date, device.to_owned()))
}

/// The sync tools' conflict copies of day files in the folder `logs`
/// (regular files only), in name order.
pub fn conflict_copies_in(logs: &Path) -> io::Result<Vec<ConflictCopy>> {
    let mut found = Vec::new();
    if !logs.is_dir() {
        return Ok(found);
    }
    for item in std::fs::read_dir(logs)? {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        if let Some((date, device)) = conflict_copy_name(&name) {
            if item.file_type()?.is_file() {
                found.push(ConflictCopy {
                    date,
                    path: item.path(),
                    device,
                });
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// Whether `folder` is a vault: it has `Logs/`, `Dashboard.md` or
/// `.obsidian/` (a folder that is none of these is never written into).
pub fn is_vault(folder: &Path) -> bool {
    folder.join("Logs").is_dir()
        || folder.join("Dashboard.md").is_file()
        || folder.join(".obsidian").is_dir()
}

/// The vault at `folder`, or else its one child folder that is a vault (the
/// common `project/AI_Employee_Vault/` layout); `None` when there is none or
/// more than one. A folder that already holds `Logs/` wins; else one child
/// that holds `Logs/` wins over a `Dashboard.md` or `.obsidian/` planted in
/// the folder itself.
pub fn find_vault(folder: &Path) -> Option<PathBuf> {
    if folder.join("Logs").is_dir() {
        return Some(folder.to_owned());
    }
    let children: Vec<PathBuf> = std::fs::read_dir(folder)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    let one = |keep: &dyn Fn(&Path) -> bool| -> Option<PathBuf> {
        let mut found = children.iter().filter(|p| keep(p));
        let first = found.next()?;
        found.next().is_none().then(|| first.clone())
    };
    if let Some(child) = one(&|p| p.join("Logs").is_dir()) {
        return Some(child);
    }
    if is_vault(folder) {
        return Some(folder.to_owned());
    }
    one(&|p| is_vault(p))
}

/// `.audit/` in the folder `logs`.
fn state_dir_in(logs: &Path) -> PathBuf {
    logs.join(".audit")
}

/// The chain record of the day file at `day_file`: `.audit/chain/<day>.bin`
/// beside it.
pub fn chain_record_of(day_file: &Path) -> PathBuf {
    let logs = day_file.parent().unwrap_or(Path::new("."));
    let mut name = day_file.file_stem().unwrap_or_default().to_owned();
    name.push(".bin");
    state_dir_in(logs).join("chain").join(name)
}

/// `.audit/anchors.json` in the folder `logs`.
pub fn anchors_in(logs: &Path) -> PathBuf {
    state_dir_in(logs).join("anchors.json")
}

/// `YYYY-MM-DD.<kind>-<unix seconds>[-n].json` beside the day file at
/// `day_file`: where bytes a repair cut (`torn`), a whole file in another
/// layout (`orig`, the original of a conversion) or a damaged one
/// (`corrupt`) are kept. Only `repair --prune-originals` deletes any: the
/// `orig` ones.
/// The `n`th candidate (from 1) for when earlier ones are taken.
pub fn set_aside_of(
    day_file: &Path,
    date: NaiveDate,
    kind: &str,
    now_unix: i64,
    n: u32,
) -> PathBuf {
    let day = date.format("%Y-%m-%d");
    let name = match n {
        0 | 1 => format!("{day}.{kind}-{now_unix}.json"),
        n => format!("{day}.{kind}-{now_unix}-{n}.json"),
    };
    day_file.with_file_name(name)
}

/// `YYYY-MM.jsonl.gz`: the name of `date`'s month archive.
fn archive_month_name(date: NaiveDate) -> String {
    format!("{}.jsonl.gz", date.format("%Y-%m"))
}

/// `YYYY-MM-DD.json`.
pub fn day_file_name(date: NaiveDate) -> String {
    format!("{}.json", date.format("%Y-%m-%d"))
}

/// The days that have a file in the folder `logs`, in order.
pub fn day_files_in(logs: &Path) -> io::Result<Vec<NaiveDate>> {
    let mut dates: Vec<NaiveDate> = named_like_days(logs)?
        .into_iter()
        .filter(|(_, _, regular)| *regular)
        .map(|(date, _, _)| date)
        .collect();
    dates.sort();
    Ok(dates)
}

/// What in the folder `logs` is named `YYYY-MM-DD.json`: its date, path, and
/// whether it is a regular file (not a folder, a link or a device).
fn named_like_days(logs: &Path) -> io::Result<Vec<(NaiveDate, PathBuf, bool)>> {
    if !logs.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for item in walkdir::WalkDir::new(logs).min_depth(1).max_depth(1) {
        let item = item.map_err(io::Error::other)?;
        let name = item.file_name().to_string_lossy();
        if let Some(date) = name.strip_suffix(".json").and_then(parse_day) {
            found.push((date, item.path().to_owned(), item.file_type().is_file()));
        }
    }
    Ok(found)
}

/// Things in `Logs/` named like a day file that are not regular files (a
/// folder, a symbolic link, a device): never read or written as a day.
pub fn day_file_lookalikes(logs: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = named_like_days(logs)?
        .into_iter()
        .filter(|(_, _, regular)| !regular)
        .map(|(_, path, _)| path)
        .collect();
    found.sort();
    Ok(found)
}

/// Symbolic links anywhere below `Logs/` (our files and folders are never
/// links; one there may be an attempt to send a write outside the vault).
pub fn links_below(logs: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for item in walkdir::WalkDir::new(logs).min_depth(1).max_depth(4) {
        let item = item.map_err(io::Error::other)?;
        if item.path_is_symlink() {
            found.push(item.path().to_owned());
        }
    }
    found.sort();
    Ok(found)
}

/// The kinds of file kept aside beside a day file: `torn`, `orig`,
/// `corrupt`, `conflict` (a sync tool's leftover, merged), and `foreign`
/// (the name earlier versions gave `orig`).
const KEPT_ASIDE: [&str; 5] = ["torn-", "orig-", "corrupt-", "conflict-", "foreign-"];

/// The originals of conversions: `orig`, and the older name `foreign`.
const ORIGINALS: [&str; 2] = ["orig-", "foreign-"];

/// The files repairs kept aside in `Logs/` (`YYYY-MM-DD.torn-*.json`,
/// `.orig-*`, `.corrupt-*`, and the older `.foreign-*`), which only a
/// person deletes (the originals also `repair --prune-originals`).
pub fn kept_aside_in(logs: &Path) -> io::Result<Vec<PathBuf>> {
    aside_of_kinds(logs, &KEPT_ASIDE)
}

/// The originals of conversions in `Logs/` (`YYYY-MM-DD.orig-*.json`, and
/// `.foreign-*` as older versions named them): what
/// `repair --prune-originals` deletes.
pub fn originals_in(logs: &Path) -> io::Result<Vec<PathBuf>> {
    aside_of_kinds(logs, &ORIGINALS)
}

/// Whether a file name is one of a file kept aside beside a day file.
pub fn is_kept_aside(name: &str) -> bool {
    name.split_once('.').is_some_and(|(day, rest)| {
        parse_day(day).is_some() && KEPT_ASIDE.iter().any(|k| rest.starts_with(k))
    })
}

fn aside_of_kinds(logs: &Path, kinds: &[&str]) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for item in std::fs::read_dir(logs)? {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        let Some((day, rest)) = name.split_once('.') else {
            continue;
        };
        if parse_day(day).is_some() && kinds.iter().any(|k| rest.starts_with(k)) {
            found.push(item.path());
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_copies_of_each_tool_are_recognised_with_their_device() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
        let cases = [
            (
                "2026-11-22.sync-conflict-20261122-101010-ABCDEF7.json",
                Some("ABCDEF7"),
            ),
            (
                "2026-11-22 (Laptop's conflicted copy 2026-11-22).json",
                Some("Laptop"),
            ),
            (
                "2026-11-22 (conflicted copy 2026-11-22 101010).json",
                Some("unknown"),
            ),
            (
                "2026-11-22 (Conflicted copy cloud-vm 202611221010).json",
                Some("cloud-vm"),
            ),
            ("2026-11-22.json", None),
            ("2026-11-22.orig-1.json", None),
            ("index.json", None),
            ("2026-11-2é (conflicted copy).json", None),
        ];
        for (name, device) in cases {
            let found = conflict_copy_name(name);
            assert_eq!(found.as_ref().map(|(_, d)| d.as_str()), device, "{name}");
            if let Some((date, _)) = found {
                assert_eq!(date, day);
            }
        }
    }

    #[test]
    fn host_names_are_folder_names() {
        assert_eq!(
            host_name("Cloud VM.example.com").as_deref(),
            Some("cloud-vm-example-com")
        );
        assert_eq!(host_name("../../etc").as_deref(), Some("etc"));
        assert_eq!(host_name("..."), None);
        assert_eq!(host_name(&"x".repeat(100)).map(|h| h.len()), Some(63));
        let replica = Vault::new("/v").replica("vm");
        assert_eq!(replica.logs(), Path::new("/v/Logs/hosts/vm"));
        assert_eq!(
            replica.lock_file(),
            Path::new("/v/Logs/hosts/vm/.audit/lock")
        );
        assert_eq!(
            replica.replica_cursor("vm"),
            Path::new("/v/Logs/.audit/hosts/vm.json")
        );
    }
}
