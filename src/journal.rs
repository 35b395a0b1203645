//! The ingestion journal: how a batch taken from inbox files is committed to
//! a day file exactly once, even when the process dies mid-write.
//!
//! A batch is a run of lines of one claimed inbox file, all for one day. It is
//! committed in four steps, under the writers' lock:
//!
//! 1. an *intent* is written and synced to `Logs/.audit/intent.json`: the day,
//!    where the batch's bytes go, the counts before, the length and hash of
//!    the entry bytes, and the progress the claim will have made;
//! 2. the batch is appended to the day file and synced;
//! 3. the progress file `Logs/.audit/inbox-progress.json` is written and synced;
//! 4. the intent is removed.
//!
//! An intent found later means its writer died. Whoever takes the lock next
//! resolves it before writing ([`resolve`]): if the batch's bytes are in the
//! day file, the batch committed and its progress is recorded; if the day file
//! is damaged, it is put back as it stood before the batch (never cut to its
//! last complete line, which would keep half a batch that will be sent
//! again); otherwise the batch never happened. Either way no entry of the
//! batch ends up in the log twice or not at all.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::daily::{self, Inspection, PlannedAppend, Summary, Trailer};
use crate::fsutil::write_atomic;
use crate::time::parse_day;
use crate::vault::Vault;

/// How far each claimed inbox file has been consumed: its last line (from 1)
/// whose entry is in the log or that was rejected.
pub type Progress = BTreeMap<String, u64>;

/// A batch about to be appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// The day file's date.
    pub date: String,
    /// Where the batch's bytes start.
    pub offset: u64,
    /// Entries in the file before.
    pub total_before: u64,
    /// Their levels.
    pub summary_before: [u64; 4],
    /// The chain value before (hex; none in an unchained file).
    #[serde(default)]
    pub chain_before: Option<String>,
    /// Length of the batch's bytes before its trailer.
    pub entries_len: u64,
    /// FNV-1a hash of those bytes.
    pub hash: u64,
    /// The progress once the batch is in.
    pub progress: Progress,
}

impl Intent {
    /// The intent for a planned append of `date` that brings `progress`.
    pub fn new(date: NaiveDate, plan: &PlannedAppend, progress: Progress) -> Intent {
        Intent {
            date: date.format("%Y-%m-%d").to_string(),
            offset: plan.offset,
            total_before: plan.before.total_entries,
            summary_before: plan.before.summary.0,
            chain_before: plan.before.chain.as_ref().map(crate::chain::to_hex),
            entries_len: plan.entries_len as u64,
            hash: fnv1a(&plan.bytes.as_bytes()[..plan.entries_len]),
            progress,
        }
    }
}

/// FNV-1a, 64 bits: stable across versions and platforms.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Records the intent, durably, before the batch is written.
pub fn begin(vault: &Vault, intent: &Intent) -> io::Result<()> {
    let bytes = serde_json::to_vec(intent).map_err(io::Error::other)?;
    write_atomic(&vault.intake_intent(), &bytes)
}

/// After the batch is synced: records the progress, durably, and drops the intent.
pub fn finish(vault: &Vault, progress: &Progress) -> io::Result<()> {
    save_progress(vault, progress)?;
    match fs::remove_file(vault.intake_intent()) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The progress of every claimed file.
pub fn load_progress(vault: &Vault) -> Progress {
    crate::fsutil::read_no_follow(&vault.intake_progress())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Writes the progress file, durably.
pub fn save_progress(vault: &Vault, progress: &Progress) -> io::Result<()> {
    let bytes = serde_json::to_vec(progress).map_err(io::Error::other)?;
    write_atomic(&vault.intake_progress(), &bytes)
}

/// What resolving a left-over intent found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// No intent: nothing to do.
    Nothing,
    /// The batch was in the day file: its progress is now recorded.
    Committed,
    /// The day file was damaged by the unfinished batch and put back.
    RolledBack(std::path::PathBuf),
    /// The batch never reached the day file.
    NotWritten,
}

/// Resolves an intent left by a writer that died. The caller holds the
/// writers' lock. Costs one failed open when there is none.
pub fn resolve(vault: &Vault) -> io::Result<Resolution> {
    let bytes = match crate::fsutil::read_no_follow(&vault.intake_intent()) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Resolution::Nothing),
        Err(e) => return Err(e),
    };
    let Ok(intent) = serde_json::from_slice::<Intent>(&bytes) else {
        // An intent is synced before its batch is written: one that does not
        // parse was itself cut short, so its batch was never written.
        fs::remove_file(vault.intake_intent())?;
        return Ok(Resolution::NotWritten);
    };
    let Some(date) = parse_day(&intent.date) else {
        fs::remove_file(vault.intake_intent())?;
        return Ok(Resolution::NotWritten);
    };
    let path = vault.day_file(date);
    let opened = crate::fsutil::open_no_follow(&path, OpenOptions::new().read(true).write(true));
    let resolution = match opened {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Resolution::NotWritten,
        Err(e) => return Err(e),
        Ok(mut file) => {
            let there = crate::fsutil::read_range(&mut file, intent.offset, intent.entries_len)?;
            let in_place = there.len() as u64 == intent.entries_len && fnv1a(&there) == intent.hash;
            let damaged = daily::inspect(&mut file, date)? == Inspection::NeedsRecovery;
            if in_place && !damaged {
                Resolution::Committed
            } else if damaged && (file.metadata()?.len() >= intent.offset) {
                let before = Trailer {
                    total_entries: intent.total_before,
                    summary: Summary(intent.summary_before),
                    chain: intent
                        .chain_before
                        .as_deref()
                        .and_then(crate::chain::from_hex),
                };
                daily::restore(&mut file, intent.offset, &before)?;
                file.sync_data()?;
                Resolution::RolledBack(path.clone())
            } else {
                Resolution::NotWritten
            }
        }
    };
    if resolution == Resolution::Committed {
        let mut progress = load_progress(vault);
        progress.extend(intent.progress);
        save_progress(vault, &progress)?;
    }
    fs::remove_file(vault.intake_intent())?;
    Ok(resolution)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daily::Line;
    use crate::entry::LogLevel;

    fn setup() -> (tempfile::TempDir, Vault, NaiveDate, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Vault::new(dir.path());
        std::fs::create_dir_all(vault.state_dir()).expect("mkdir");
        let date = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
        let path = vault.day_file(date);
        let key = crate::chain::ChainKey::none();
        let (mut file, ready, _) = daily::open_for_append(&path, date, 0, &key).expect("open");
        let line = |n: u32| Line {
            json: format!("{{\"n\":{n}}}"),
            level: LogLevel::Info,
        };
        let plan = daily::plan_append(date, &ready, &[line(1)], &key).expect("plan");
        daily::write_planned(&mut file, &path, &plan).expect("append");
        (dir, vault, date, path)
    }

    /// Plans a batch of two lines and records its intent.
    fn intend(vault: &Vault, date: NaiveDate, path: &std::path::Path) -> PlannedAppend {
        let key = crate::chain::ChainKey::none();
        let (_file, ready, _) = daily::open_for_append(path, date, 0, &key).expect("open");
        let lines: Vec<Line> = (2..4)
            .map(|n| Line {
                json: format!("{{\"n\":{n}}}"),
                level: LogLevel::Error,
            })
            .collect();
        let plan = daily::plan_append(date, &ready, &lines, &key).expect("plan");
        begin(
            vault,
            &Intent::new(date, &plan, Progress::from([("claim".to_owned(), 7)])),
        )
        .expect("begin");
        plan
    }

    fn write_prefix(path: &std::path::Path, plan: &PlannedAppend, keep: usize) {
        let mut file = OpenOptions::new().write(true).open(path).expect("open");
        crate::fsutil::write_at(&mut file, &plan.bytes.as_bytes()[..keep], plan.offset)
            .expect("write");
    }

    #[test]
    fn a_torn_batch_is_taken_out_whole() {
        let (_d, vault, date, path) = setup();
        let before = fs::read(&path).expect("read");
        let plan = intend(&vault, date, &path);
        // Died after the first of two lines reached the file.
        let first_line_end = plan.bytes.find("\n    {\"n\":3}").expect("second line");
        write_prefix(&path, &plan, first_line_end + 5);
        assert!(matches!(
            resolve(&vault).expect("resolve"),
            Resolution::RolledBack(_)
        ));
        assert_eq!(fs::read(&path).expect("read"), before);
        assert!(load_progress(&vault).is_empty());
        assert_eq!(resolve(&vault).expect("again"), Resolution::Nothing);
    }

    #[test]
    fn a_written_batch_counts_and_its_progress_is_kept() {
        let (_d, vault, date, path) = setup();
        let plan = intend(&vault, date, &path);
        write_prefix(&path, &plan, plan.bytes.len());
        assert_eq!(resolve(&vault).expect("resolve"), Resolution::Committed);
        assert_eq!(load_progress(&vault).get("claim"), Some(&7));
        let v: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
        assert_eq!(v["total_entries"], 3);
    }

    #[test]
    fn a_batch_that_never_started_leaves_everything_as_it_was() {
        let (_d, vault, date, path) = setup();
        let before = fs::read(&path).expect("read");
        intend(&vault, date, &path);
        assert_eq!(resolve(&vault).expect("resolve"), Resolution::NotWritten);
        assert_eq!(fs::read(&path).expect("read"), before);
        assert!(load_progress(&vault).is_empty());
    }
}
