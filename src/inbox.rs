//! Logging by dropping a file: `Logs/inbox/<name>.json` (one entry, or an
//! array) or `<name>.jsonl` (one entry per line), taken in exactly once.
//!
//! A file is ready once it has been quiet for the grace period
//! ([`Readiness`]). It is then *claimed* by renaming it into
//! `Logs/inbox/.processing/` under a unique name. Its lines are streamed and
//! appended in batches of one day each through the journal (see
//! [`crate::journal`]), which records how far each claim got; after a crash
//! the claim is read again from there. A claim is removed only once it is
//! read to its end and quiet: lines its writer appended after the claim are
//! taken in too. Invalid lines are kept beside the claim until it is done,
//! then written to `Logs/inbox/rejected/<name>` with `<name>.errors.txt`. A
//! file that cannot be taken in at all (a name too long to claim, another
//! ending) is set aside there whole ([`set_aside`]).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::fsutil::{ensure_dir, sync_dir, write_atomic};
use crate::journal::fnv1a;
use crate::redact::Redactor;
use crate::vault::Vault;

mod intake;
mod lines;
mod ready;
mod rejects;
mod split;
pub use intake::{replay_failed_writes, take_in, Intake, Reading};
pub use ready::{Readiness, Ready, DEFAULT_GRACE};

/// The longest inbox file name taken in, in bytes. A claim adds 23 bytes
/// and the names derived from it (its rejected lines, their reasons, the
/// temporary files written on the way) some 33 more, within the 255 bytes
/// a file name may have.
pub const MAX_NAME: usize = 180;
/// Names set aside are cut to about this many bytes.
const SHORT_NAME: usize = 64;

/// Whether a name in the inbox is one to take: not hidden, not `*.tmp`.
pub fn is_candidate(name: &str) -> bool {
    !name.starts_with('.') && !name.ends_with(".tmp")
}

/// Why an inbox file cannot be taken in at all, if it cannot.
pub fn refusal(name: &str) -> Option<String> {
    if name.len() > MAX_NAME {
        return Some(format!(
            "the file name is {} bytes long; at most {MAX_NAME} bytes are accepted: rename it shorter and drop it again",
            name.len()
        ));
    }
    if !(name.ends_with(".json") || name.ends_with(".jsonl")) {
        return Some("not a .json or .jsonl file; accepted: <name>.json (one entry, or an array of entries) or <name>.jsonl (one entry per line)".to_owned());
    }
    None
}

/// A name safe to keep in `rejected/`: `name` itself when short, else its
/// start, a hash of the whole and its ending (`<start>~<hash>.jsonl`).
pub fn short_name(name: &str) -> String {
    if name.len() <= SHORT_NAME + 16 {
        return name.to_owned();
    }
    let ending = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|e| e.len() <= 16)
        .unwrap_or("");
    let mut cut = SHORT_NAME;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}~{:016x}{ending}", &name[..cut], fnv1a(name.as_bytes()))
}

/// Moves an inbox file (at `path`: in the inbox, or claimed) that cannot be
/// taken in to `rejected/` whole, under a short safe name, with the reason
/// and the name it was dropped under (`original`) in `<name>.errors.txt`
/// beside it, both redacted with `red` (a name, too, may hold a secret).
/// Returns where it went.
pub fn set_aside(
    vault: &Vault,
    path: &Path,
    original: &str,
    reason: &str,
    red: &Redactor,
    now_ms: i64,
) -> io::Result<PathBuf> {
    ensure_dir(&vault.inbox_rejected())?;
    let mut name = short_name(original);
    if vault.inbox_rejected_copy(&name).exists() {
        let nonce: u32 = rand::random();
        name = format!("{now_ms:013}-{nonce:08x}-{name}");
    }
    let dropped = vault.inbox_file(original);
    let dropped = vault.relative(&dropped);
    let reasons = red
        .text(&format!("{reason}\ndropped as: {dropped}\n"))
        .into_owned();
    write_atomic(&vault.inbox_rejected_reasons(&name), reasons.as_bytes())?;
    let target = vault.inbox_rejected_copy(&name);
    fs::rename(path, &target)?;
    sync_dir(&vault.inbox_rejected())?;
    if let Some(from) = path.parent() {
        sync_dir(from)?;
    }
    Ok(target)
}

/// Whether a claim failed for a reason that will not go away by waiting:
/// its name is too long for the file system.
pub fn name_too_long(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ENAMETOOLONG)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
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
