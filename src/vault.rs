//! Where things live in a vault.

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
        self.logs().join(".audit")
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

    /// A file of our own state under `Logs/.audit/`.
    pub fn state_file(&self, name: &str) -> PathBuf {
        self.state_dir().join(name)
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

/// `YYYY-MM-DD.json`.
pub fn day_file_name(date: NaiveDate) -> String {
    format!("{}.json", date.format("%Y-%m-%d"))
}

/// The days that have a file in the folder `logs`, in order.
pub fn day_files_in(logs: &Path) -> io::Result<Vec<NaiveDate>> {
    if !logs.is_dir() {
        return Ok(Vec::new());
    }
    let mut dates = Vec::new();
    for item in walkdir::WalkDir::new(logs).min_depth(1).max_depth(1) {
        let item = item.map_err(io::Error::other)?;
        if !item.file_type().is_file() {
            continue;
        }
        let name = item.file_name().to_string_lossy();
        if let Some(date) = name.strip_suffix(".json").and_then(parse_day) {
            dates.push(date);
        }
    }
    dates.sort();
    Ok(dates)
}
