//! Logging by dropping a file: `Logs/inbox/<name>.json` (one entry, or an
//! array) or `<name>.jsonl` (one entry per line), taken in exactly once.
//!
//! A ready file is *claimed* by renaming it into `Logs/inbox/.processing/`
//! under a unique name. Its lines are then appended in batches of one day
//! each through the journal (see [`crate::journal`]), which records how far
//! each claim got; after a crash the claim is read again from there. Invalid
//! lines are kept beside the claim until it is done, then written to
//! `Logs/inbox/rejected/<name>` with `<name>.errors.txt`.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::fsutil::{ensure_dir, sync_dir};
use crate::vault::Vault;

mod intake;
pub use intake::{replay_failed_writes, take_in, Intake};

/// A file that does not look complete is taken anyway once it has not
/// changed for this long (a careless writer that stopped half-way).
pub const GRACE: Duration = Duration::from_secs(2);
/// A complete-looking file is taken once it is this old (a writer appending
/// line by line has a moment to go on).
const SETTLE: Duration = Duration::from_millis(50);

/// Whether a name in the inbox is one to take: not hidden, not `*.tmp`.
pub fn is_candidate(name: &str) -> bool {
    !name.starts_with('.') && !name.ends_with(".tmp")
}

/// Tracks files that do not look complete yet, to see when they stop changing.
#[derive(Debug, Default)]
pub struct Readiness {
    seen: HashMap<PathBuf, (u64, Option<SystemTime>, SystemTime)>,
}

impl Readiness {
    /// The inbox files ready to claim, in the order they arrived (oldest
    /// modification time first, then name).
    pub fn ready(&mut self, vault: &Vault, now: SystemTime) -> io::Result<Vec<PathBuf>> {
        let inbox = vault.inbox();
        let mut ready = Vec::new();
        let entries = match fs::read_dir(&inbox) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ready),
            Err(e) => return Err(e),
        };
        let mut present = Vec::new();
        for item in entries {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            let meta = item.metadata()?;
            if !meta.is_file() || !is_candidate(&name) {
                continue;
            }
            let path = item.path();
            present.push(path.clone());
            let modified = meta.modified().ok();
            let settled =
                modified.is_none_or(|m| now.duration_since(m).unwrap_or_default() >= SETTLE);
            if settled && looks_complete(&path, &name, meta.len())? {
                ready.push(path);
                continue;
            }
            // Not complete: take it once it has stopped changing for GRACE.
            let entry = self
                .seen
                .entry(path.clone())
                .or_insert((meta.len(), modified, now));
            if entry.0 != meta.len() || entry.1 != modified {
                *entry = (meta.len(), modified, now);
            } else if now.duration_since(entry.2).unwrap_or_default() >= GRACE {
                ready.push(path);
            }
        }
        self.seen.retain(|p, _| present.contains(p));
        for p in &ready {
            self.seen.remove(p);
        }
        ready.sort_by_cached_key(|p| (fs::metadata(p).and_then(|m| m.modified()).ok(), p.clone()));
        Ok(ready)
    }
}

/// A `.jsonl` file ends with a line break; a `.json` file parses; anything
/// else is taken as it is (and rejected as a whole).
fn looks_complete(path: &Path, name: &str, len: u64) -> io::Result<bool> {
    if name.ends_with(".jsonl") {
        if len == 0 {
            return Ok(false);
        }
        let mut file = File::open(path)?;
        let last = crate::fsutil::read_range(&mut file, len - 1, 1)?;
        Ok(last == b"\n")
    } else if name.ends_with(".json") {
        let bytes = fs::read(path)?;
        Ok(serde_json::from_slice::<Value>(&bytes).is_ok())
    } else {
        Ok(true)
    }
}

/// A claimed inbox file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Its unique name under `.processing/` (`<unix ms>-<random>-<name>`).
    pub id: String,
    /// Its path.
    pub path: PathBuf,
    /// The name it was dropped under.
    pub original: String,
}

impl Claim {
    fn from_id(vault: &Vault, id: String) -> Option<Claim> {
        let mut parts = id.splitn(3, '-');
        let (_, _, original) = (parts.next()?, parts.next()?, parts.next()?.to_owned());
        Some(Claim {
            path: vault.inbox_claim(&id),
            id,
            original,
        })
    }

    fn sidecar(&self, vault: &Vault) -> PathBuf {
        vault.inbox_claim_rejects(&self.id)
    }
}

/// Claims every path by renaming it into `.processing/` under a unique name,
/// then syncs both folders once. Returns the claims made and the failures.
pub fn claim_all(
    vault: &Vault,
    paths: &[PathBuf],
    now_ms: i64,
) -> (Vec<Claim>, Vec<(PathBuf, io::Error)>) {
    let mut claimed = Vec::new();
    let mut failed = Vec::new();
    for path in paths {
        match rename_into_processing(vault, path, now_ms) {
            Ok(c) => claimed.push(c),
            Err(e) => failed.push((path.clone(), e)),
        }
    }
    if !claimed.is_empty() {
        // Until both folders are synced a claim could come undone in a power
        // cut; nothing of it is written before then.
        if let Err(e) = sync_dir(&vault.inbox_processing()).and_then(|()| sync_dir(&vault.inbox()))
        {
            failed.extend(
                claimed
                    .drain(..)
                    .map(|c| (c.path, io::Error::new(e.kind(), e.to_string()))),
            );
        }
    }
    (claimed, failed)
}

/// Claims one file (and syncs the folders).
pub fn claim(vault: &Vault, path: &Path, now_ms: i64) -> io::Result<Claim> {
    let claim = rename_into_processing(vault, path, now_ms)?;
    sync_dir(&vault.inbox_processing())?;
    sync_dir(&vault.inbox())?;
    Ok(claim)
}

fn rename_into_processing(vault: &Vault, path: &Path, now_ms: i64) -> io::Result<Claim> {
    let processing = vault.inbox_processing();
    ensure_dir(&processing)?;
    let original = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce: u32 = rand::random();
    let id = format!("{now_ms:013}-{nonce:08x}-{original}");
    let target = vault.inbox_claim(&id);
    fs::rename(path, &target)?;
    Ok(Claim {
        id,
        path: target,
        original,
    })
}

/// The claims in `.processing/`, oldest first (left by a crash, or in hand).
pub fn claims(vault: &Vault) -> io::Result<Vec<Claim>> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(vault.inbox_processing()) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for item in entries {
        let name = item?.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            found.extend(Claim::from_id(vault, name));
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}
