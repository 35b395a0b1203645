//! Which inbox files are ready to claim: those that have been quiet (size
//! and modification time unchanged) for the grace period, so a writer that
//! writes under the final name, line by line, is never cut short.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{is_candidate, refusal};
use crate::vault::Vault;

/// How long an inbox file must be quiet before it is claimed, unless set.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(1);
/// After a claim fails, the file is left alone this long, then twice as
/// long after each further failure ...
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// ... up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How much of the end of a `.json` file is looked at to see if it ends.
const TAIL: u64 = 4096;

/// What was seen of a file that is not ready yet.
#[derive(Debug, Clone, Copy)]
struct Watch {
    len: u64,
    modified: Option<SystemTime>,
    /// Quiet since then.
    since: SystemTime,
    /// Whether it looks complete (looked at once it is quiet).
    complete: Option<bool>,
}

/// A file whose claim failed: left alone until `until`.
#[derive(Debug, Clone, Copy)]
struct Held {
    until: SystemTime,
    wait: Duration,
}

/// The inbox files ready now.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ready {
    /// To claim, in the order they arrived.
    pub claim: Vec<PathBuf>,
    /// To set aside whole (see [`super::set_aside`]), with the reason.
    pub set_aside: Vec<(PathBuf, String)>,
}

/// Watches the inbox files until they are quiet.
#[derive(Debug)]
pub struct Readiness {
    grace: Duration,
    watched: HashMap<PathBuf, Watch>,
    held: HashMap<PathBuf, Held>,
}

impl Default for Readiness {
    fn default() -> Self {
        Readiness::new(DEFAULT_GRACE)
    }
}

impl Readiness {
    /// Files are claimed once quiet for `grace`; a file that does not look
    /// complete (no line break at the end of a `.jsonl`, no closing bracket
    /// at the end of a `.json`) once quiet for twice that. A file first seen
    /// already quiet that long (its modification time is that old) is ready
    /// at once.
    pub fn new(grace: Duration) -> Readiness {
        Readiness {
            grace,
            watched: HashMap::new(),
            held: HashMap::new(),
        }
    }

    /// The grace period.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// The inbox files ready now, oldest modification time first, then name.
    pub fn ready(&mut self, vault: &Vault, now: SystemTime) -> io::Result<Ready> {
        let mut found = Vec::new();
        let entries = match fs::read_dir(vault.inbox()) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Ready::default()),
            Err(e) => return Err(e),
        };
        let mut present = Vec::new();
        for item in entries {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            // A file gone since the listing is simply not there.
            let Ok(meta) = item.metadata() else { continue };
            if !meta.is_file() || !is_candidate(&name) {
                continue;
            }
            let path = item.path();
            present.push(path.clone());
            if self.held.get(&path).is_some_and(|h| now < h.until) {
                continue;
            }
            let modified = meta.modified().ok();
            if self.quiet(&path, &name, meta.len(), modified, now) {
                found.push((modified, path, name));
            }
        }
        self.watched.retain(|p, _| present.contains(p));
        self.held.retain(|p, _| present.contains(p));
        found.sort();
        let mut ready = Ready::default();
        for (_, path, name) in found {
            self.watched.remove(&path);
            match refusal(&name) {
                Some(reason) => ready.set_aside.push((path, reason)),
                None => ready.claim.push(path),
            }
        }
        Ok(ready)
    }

    /// Whether the file has been quiet long enough.
    fn quiet(
        &mut self,
        path: &Path,
        name: &str,
        len: u64,
        modified: Option<SystemTime>,
        now: SystemTime,
    ) -> bool {
        let fresh = |since| Watch {
            len,
            modified,
            since,
            complete: None,
        };
        // First seen: quiet since it was last written (never later than now).
        let first = modified.filter(|m| *m <= now).unwrap_or(now);
        let w = self
            .watched
            .entry(path.to_owned())
            .or_insert_with(|| fresh(first));
        if w.len != len || w.modified != modified {
            *w = fresh(now);
            return false;
        }
        let quiet_for = now.duration_since(w.since).unwrap_or_default();
        if quiet_for < self.grace {
            return false;
        }
        let complete = *w
            .complete
            .get_or_insert_with(|| looks_complete(path, name, len).unwrap_or(true));
        complete || quiet_for >= self.grace * 2
    }

    /// Notes that claiming `path` failed: it is not offered again for a
    /// while (1 s, doubling up to 5 min while it keeps failing). True the
    /// first time, when the failure is worth a warning.
    pub fn failed(&mut self, path: &Path, now: SystemTime) -> bool {
        match self.held.get_mut(path) {
            Some(h) => {
                h.wait = (h.wait * 2).min(MAX_BACKOFF);
                h.until = now + h.wait;
                false
            }
            None => {
                let held = Held {
                    until: now + FIRST_BACKOFF,
                    wait: FIRST_BACKOFF,
                };
                self.held.insert(path.to_owned(), held);
                true
            }
        }
    }
}

/// A `.jsonl` file ends with a line break; a `.json` file with `}` or `]`
/// (then perhaps white space); anything else is taken as it is. Reads at
/// most the last few KiB.
fn looks_complete(path: &Path, name: &str, len: u64) -> io::Result<bool> {
    let json = name.ends_with(".json");
    if !(json || name.ends_with(".jsonl")) {
        return Ok(true);
    }
    if len == 0 {
        return Ok(false);
    }
    let mut file = crate::fsutil::open_read(path)?;
    let start = len.saturating_sub(if json { TAIL } else { 1 });
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.take(len - start).read_to_end(&mut tail)?;
    if !json {
        return Ok(tail == b"\n");
    }
    Ok(matches!(
        tail.iter().rev().find(|b| !b.is_ascii_whitespace()),
        Some(b'}' | b']')
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000 + secs)
    }

    #[test]
    fn a_json_file_looks_complete_by_its_last_bytes_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.json");
        let mut text = format!("[{}", "{\"n\":1},".repeat(100_000));
        std::fs::write(&path, &text).expect("write");
        let len = |p: &Path| std::fs::metadata(p).expect("meta").len();
        assert!(!looks_complete(&path, "a.json", len(&path)).expect("look"));
        text.push_str("{\"n\":2}]\n  ");
        std::fs::write(&path, &text).expect("write");
        assert!(looks_complete(&path, "a.json", len(&path)).expect("look"));
    }

    #[test]
    fn a_file_is_ready_once_quiet_for_the_grace_and_at_once_when_old() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.jsonl");
        std::fs::write(&path, "{}\n").expect("write");
        let mut r = Readiness::new(Duration::from_secs(1));
        let quiet = |r: &mut Readiness, len, m: u64, now: u64| {
            r.quiet(&path, "a.jsonl", len, Some(at(m)), at(now))
        };
        // Written at 10, seen at 10: not before 11.
        assert!(!quiet(&mut r, 3, 10, 10));
        assert!(quiet(&mut r, 3, 10, 11));
        // It grew at 12: quiet again from when that was seen.
        std::fs::write(&path, "{}\n\n").expect("write");
        assert!(!quiet(&mut r, 4, 12, 12));
        assert!(!quiet(&mut r, 4, 12, 12));
        assert!(quiet(&mut r, 4, 12, 13));
        // A file first seen long after it was written is ready at once.
        let mut r = Readiness::new(Duration::from_secs(1));
        assert!(quiet(&mut r, 3, 10, 20));
        // Claims that fail are retried later and later; one warning.
        assert!(r.failed(&path, at(20)));
        assert!(!r.failed(&path, at(21)));
        assert_eq!(r.held[&path].wait, FIRST_BACKOFF * 2);
    }
}
