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
}

impl Vault {
    /// The vault at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Vault { root: root.into() }
    }

    /// The vault folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `Logs/`.
    pub fn logs(&self) -> PathBuf {
        self.root.join("Logs")
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
/// `corrupt`, and `foreign` (the name earlier versions gave `orig`).
const KEPT_ASIDE: [&str; 4] = ["torn-", "orig-", "corrupt-", "foreign-"];

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
