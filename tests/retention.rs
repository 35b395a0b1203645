//! Retention over months of files: exactly the expired days go, every
//! CRITICAL entry is archived exactly once, crashes and reruns change nothing.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;
use vault_audit::daily::{render_file, Summary, Trailer};
use vault_audit::{AuditLogger, FixedClock};

const NOW: &str = "2026-11-22T10:00:00Z";

fn now() -> DateTime<Utc> {
    vault_audit::time::parse_timestamp(NOW).expect("ts")
}

fn logger(dir: &Path) -> AuditLogger {
    AuditLogger::builder(dir)
        .clock(Arc::new(FixedClock::new(now())))
        .session_id("S")
        .build()
        .expect("logger")
}

/// One entry line for `date`, CRITICAL when `critical`.
fn line(date: NaiveDate, n: u32, critical: bool) -> String {
    serde_json::json!({
        "timestamp": format!("{date}T12:00:00.000Z"), "log_level": if critical { "CRITICAL" } else { "INFO" },
        "action_type": "system_event", "actor": "a", "target": format!("{date}/{n}"), "parameters": {},
        "approval_status": "not_required", "approved_by": "N/A", "dry_run": false, "result": "success",
        "error_message": null, "session_id": "S"
    })
    .to_string()
}

/// A vault with a day file for each of the 120 days before today: three
/// entries each, the third CRITICAL on every fifth day. The summary of day
/// files with CRITICAL entries says 0, so only a scan of entries finds them.
fn vault_of_120_days() -> (tempfile::TempDir, BTreeMap<NaiveDate, Vec<String>>) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("Logs")).expect("mkdir");
    let today = now().date_naive();
    let mut criticals = BTreeMap::new();
    for back in 1..=120 {
        let date = today - Duration::days(back);
        let critical = back % 5 == 0;
        let lines: Vec<String> = (0..3).map(|n| line(date, n, critical && n == 2)).collect();
        let trailer = Trailer {
            total_entries: 3,
            summary: Summary([3, 0, 0, 0]),
            chain: None,
        };
        let text = render_file(date, None, lines.iter().map(String::as_str), &trailer);
        std::fs::write(dir.path().join(format!("Logs/{date}.json")), text).expect("write");
        if critical {
            criticals.insert(date, vec![lines[2].clone()]);
        }
    }
    (dir, criticals)
}

fn day_files(dir: &Path) -> Vec<NaiveDate> {
    vault_audit::Vault::new(dir).day_files().expect("list")
}

fn archive(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("Logs/critical_archive.json"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

fn purge_entries(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("Logs/2026-11-22.json")).unwrap_or_default();
    if text.is_empty() {
        return Vec::new();
    }
    let day: Value = serde_json::from_str(&text).expect("json");
    day["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action_type"] == "log_retention")
        .cloned()
        .collect()
}

fn expected_archive(criticals: &BTreeMap<NaiveDate, Vec<String>>, cutoff: NaiveDate) -> Vec<Value> {
    criticals
        .iter()
        .filter(|(d, _)| **d < cutoff)
        .flat_map(|(_, lines)| {
            lines
                .iter()
                .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        })
        .collect()
}

#[test]
fn exactly_the_expired_days_go_and_every_critical_is_archived_once() {
    let (dir, criticals) = vault_of_120_days();
    let log = logger(dir.path());
    let report = log.rotate(None).expect("rotate");
    let cutoff = now().date_naive() - Duration::days(90);
    assert_eq!(report.cutoff, cutoff.to_string());
    assert_eq!(report.deleted, 30);
    let left = day_files(dir.path());
    assert_eq!(
        left.first().copied(),
        Some(cutoff),
        "the day 90 days back is kept"
    );
    assert_eq!(
        left.len(),
        90 + 1,
        "90 old days kept, plus today's file with the purge entries"
    );
    assert!(left.iter().all(|d| *d >= cutoff));
    assert_eq!(archive(dir.path()), expected_archive(&criticals, cutoff));
    assert_eq!(report.critical_archived, 6);

    let purges = purge_entries(dir.path());
    assert_eq!(purges.len(), 30);
    assert_eq!(purges[0]["log_level"], "INFO");
    assert_eq!(purges[0]["actor"], "audit_logger");
    assert_eq!(purges[0]["approved_by"], "system");
    assert_eq!(
        purges[0]["target"],
        format!("{}.json", now().date_naive() - Duration::days(120))
    );
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("Logs/index.json")).expect("index"))
            .expect("json");
    assert_eq!(index["total_log_files"], 91);
    assert_eq!(index["oldest_log"], cutoff.to_string());

    // A rerun changes nothing.
    let snapshot = |d: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = walkdir::WalkDir::new(d.join("Logs"))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_type().is_file()
                    && !e.path().to_string_lossy().contains(".audit")
                    && !e.path().ends_with("index.json")
            })
            .map(|e| {
                (
                    e.path().display().to_string(),
                    std::fs::read(e.path()).expect("read"),
                )
            })
            .collect();
        files.sort();
        files
    };
    let before = snapshot(dir.path());
    let again = log.rotate(None).expect("rotate again");
    assert_eq!(again.deleted, 0);
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn retention_after_writes_runs_once_a_day_and_never_recurses() {
    let (dir, criticals) = vault_of_120_days();
    let log = logger(dir.path());
    let e = vault_audit::Entry::new(
        vault_audit::LogLevel::Info,
        vault_audit::ActionType::new("system_event").expect("a"),
        "a",
        "t",
    );
    let receipt = log.log(e.clone()).expect("log");
    assert_eq!(receipt.post_write_errors, Vec::<String>::new());
    assert_eq!(receipt.notes.len(), 30, "{:?}", receipt.notes);
    assert_eq!(
        archive(dir.path()).len(),
        expected_archive(&criticals, now().date_naive() - Duration::days(90)).len()
    );
    // A file that appears later the same day (copied back by a sync tool,
    // say) waits for tomorrow's run: after-write retention is once a day.
    let old = now().date_naive() - Duration::days(100);
    std::fs::write(
        dir.path().join(format!("Logs/{old}.json")),
        render_file(
            old,
            None,
            [line(old, 0, true).as_str()],
            &Trailer {
                total_entries: 1,
                summary: Summary([0, 0, 0, 1]),
                chain: None,
            },
        ),
    )
    .expect("write");
    let receipt = log.log(e.clone()).expect("log");
    assert!(receipt.notes.is_empty());
    assert!(dir.path().join(format!("Logs/{old}.json")).exists());
    // A write to an expired day is refused before anything is written (it
    // used to be written and then purged in the same call).
    let refused =
        log.log(e.at(vault_audit::time::parse_timestamp(&format!("{old}T13:00:00Z")).expect("ts")));
    assert!(
        matches!(
            refused,
            Err(vault_audit::Error::Invalid {
                source: vault_audit::EntryError::BeyondRetention { .. },
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(dir.path().join(format!("Logs/{old}.json")).exists());
}

/// Leaves the vault as a crash at `phase` during the purge of the oldest day
/// would, then checks a rerun finishes with each CRITICAL archived once.
fn crash_then_rerun(phase: &str, archive_tail: &str, logged: bool, deleted: bool) {
    let (dir, criticals) = vault_of_120_days();
    let today = now().date_naive();
    let oldest = today - Duration::days(120);
    let file = format!("{oldest}.json");
    let critical = &criticals[&oldest][0];
    let archive_path = dir.path().join("Logs/critical_archive.json");
    std::fs::write(&archive_path, archive_tail.replace("CRIT", critical)).expect("archive");
    if logged {
        common::log_retention_entry(dir.path(), &file, now());
    }
    if deleted {
        std::fs::remove_file(dir.path().join("Logs").join(&file)).expect("rm");
    }
    std::fs::create_dir_all(dir.path().join("Logs/.audit")).expect("mkdir");
    let journal =
        serde_json::json!({"file": file, "archive_len": 0, "critical": 1, "phase": phase});
    std::fs::write(
        dir.path().join("Logs/.audit/retention-journal.json"),
        journal.to_string(),
    )
    .expect("journal");

    let report = logger(dir.path()).rotate(None).expect("rerun");
    assert_eq!(report.deleted, 30, "{phase}");
    let expected = expected_archive(&criticals, today - Duration::days(90));
    assert_eq!(
        archive(dir.path()),
        expected,
        "{phase}: each CRITICAL archived exactly once"
    );
    let purges = purge_entries(dir.path());
    assert_eq!(
        purges.iter().filter(|p| p["target"] == file).count(),
        1,
        "{phase}: the purge is logged once"
    );
    assert!(!dir
        .path()
        .join("Logs/.audit/retention-journal.json")
        .exists());
}

#[test]
fn a_crash_while_archiving_a_half_written_line_is_cut_and_redone() {
    crash_then_rerun("archiving", "CRIT\n", false, false);
    let half = "{\"timestamp\":\"2026-";
    crash_then_rerun("archiving", half, false, false);
}

#[test]
fn a_crash_after_archiving_logs_the_purge_once() {
    crash_then_rerun("archived", "CRIT\n", false, false);
}

#[test]
fn a_crash_after_logging_only_deletes() {
    crash_then_rerun("logged", "CRIT\n", true, false);
    crash_then_rerun("logged", "CRIT\n", true, true);
}

#[test]
fn an_expired_file_that_cannot_be_read_is_kept_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("Logs")).expect("mkdir");
    let old = now().date_naive() - Duration::days(200);
    std::fs::write(dir.path().join(format!("Logs/{old}.json")), "{ not json").expect("write");
    std::fs::write(dir.path().join("Logs/2020-01-01.json.bak"), "keep").expect("write");
    std::fs::write(dir.path().join("Logs/notes-2020-01-01.json"), "keep").expect("write");
    let report = logger(dir.path()).rotate(None).expect("rotate");
    assert_eq!(report.deleted, 0);
    assert_eq!(report.kept_unreadable, vec![format!("{old}.json")]);
    for name in [
        format!("{old}.json"),
        "2020-01-01.json.bak".into(),
        "notes-2020-01-01.json".into(),
    ] {
        assert!(dir.path().join("Logs").join(name).exists());
    }
}
