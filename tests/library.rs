//! The library API: golden day-file layout, batches, dry run, the post-write seam.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use vault_audit::{
    ActionType, ApprovalStatus, ApprovedBy, AuditLogger, Entry, Error, FixedClock, LogLevel,
    Outcome, PostWrite, StepContext, StepError,
};

fn at(ts: &str) -> DateTime<Utc> {
    vault_audit::time::parse_timestamp(ts).expect("timestamp")
}

fn vault() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("Logs")).expect("mkdir");
    dir
}

fn logger(dir: &std::path::Path) -> vault_audit::AuditLoggerBuilder {
    AuditLogger::builder(dir)
        .clock(Arc::new(FixedClock::new(at("2026-11-22T10:00:05Z"))))
        .session_id("AI_EMP_20261122_GOLDEN")
        .chain_key(vault_audit::chain::ChainKey::none())
}

fn action(name: &str) -> ActionType {
    ActionType::new(name).expect("action type")
}

fn golden_entries() -> Vec<Entry> {
    vec![
        Entry::new(
            LogLevel::Info,
            action("plan_created"),
            "needs-action-processor",
            "Plans/request-01-Plan.md",
        )
        .at(at("2026-11-22T10:00:00.123Z"))
        .param("source_file", "request-01.md")
        .approval(ApprovalStatus::Pending, ApprovedBy::NotApplicable),
        Entry::new(
            LogLevel::Error,
            action("email_sent"),
            "email-mcp",
            "client@example.com",
        )
        .at(at("2026-11-22T11:00:01.456+01:00"))
        .result(Outcome::Failure)
        .error("SMTP 550: mailbox unavailable")
        .session("AI_EMP_20261122_OTHER1"),
        Entry::new(
            LogLevel::Critical,
            action("system_event"),
            "evil | actor\n## Hacked",
            "<b>x</b> [[y]]",
        )
        .at(at("2026-11-22T10:00:02Z"))
        .param("nested", serde_json::json!({"a": [1, "two", null]}))
        .dry_run(true),
    ]
}

#[test]
fn the_day_file_layout_matches_the_golden_file_byte_for_byte_and_parses_back() {
    let dir = vault();
    let log = logger(dir.path()).build().expect("logger");
    let first = log.log(golden_entries()[0].clone()).expect("log");
    let rest = log
        .log_batch(golden_entries()[1..].to_vec())
        .expect("batch");
    let path = dir.path().join("Logs/2026-11-22.json");
    let written = std::fs::read_to_string(&path).expect("read");
    let golden_path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/golden/day-file.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden_path, &written).expect("update golden");
    }
    let golden = std::fs::read_to_string(golden_path).expect("golden file");
    assert_eq!(written, golden);

    let parsed: serde_json::Value = serde_json::from_str(&written).expect("valid JSON");
    let back: Vec<Entry> = parsed["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|v| Entry::from_value(v.clone()).expect("every stored entry passes the schema"))
        .collect();
    let mut stored = first.entries.clone();
    stored.extend(rest.entries.clone());
    assert_eq!(back, stored);
    assert_eq!(rest.files[0].total_entries, 3);
    assert_eq!(rest.files[0].size_bytes, written.len() as u64);
}

#[test]
fn a_batch_with_one_invalid_entry_writes_nothing_and_hands_all_back() {
    let dir = vault();
    let log = logger(dir.path()).build().expect("logger");
    let mut entries = golden_entries();
    entries[1].actor = String::new();
    match log.log_batch(entries.clone()) {
        Err(Error::Invalid {
            position,
            source,
            entries: back,
        }) => {
            assert_eq!(position, 2);
            assert_eq!(source.field(), Some("actor"));
            assert_eq!(back, entries);
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(!dir.path().join("Logs/2026-11-22.json").exists());
}

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn dry_run_prints_each_entry_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Shared::default();
    let log = logger(dir.path())
        .dry_run(true)
        .dry_run_output(out.clone())
        .build()
        .expect("logger");
    let receipt = log.log_batch(golden_entries()).expect("log");
    let printed = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        format!("[DRY_RUN] Log Entry: {}", receipt.entries[0].to_json_line())
    );
    assert!(receipt.dry_run && receipt.files.is_empty());
    assert_eq!(receipt.entries.len(), 3);
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("ls").count(),
        0,
        "not even Logs/ is created"
    );
}

#[test]
fn the_receipt_shows_timestamps_as_stored_to_the_millisecond() {
    let dir = vault();
    let log = logger(dir.path()).build().expect("logger");
    let precise = at("2026-11-22T10:00:00Z") + chrono::Duration::nanoseconds(123_456_789);
    let receipt = log
        .log(golden_entries()[0].clone().at(precise))
        .expect("log");
    assert_eq!(
        receipt.entries[0].timestamp,
        Some(at("2026-11-22T10:00:00.123Z"))
    );
}

#[test]
fn a_missing_vault_is_refused_before_anything_is_written() {
    let r = AuditLogger::builder("/nonexistent/vault").build();
    assert!(matches!(r, Err(Error::VaultNotFound { .. })));
}

struct Recorder(Arc<Mutex<Vec<(usize, u64)>>>, bool);

impl PostWrite for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn run(&self, ctx: &StepContext<'_>) -> Result<Vec<String>, StepError> {
        assert!(ctx.vault.logs().join(".audit/lock").exists());
        let receipt = ctx.receipt;
        self.0
            .lock()
            .expect("lock")
            .push((receipt.entries.len(), receipt.files[0].total_entries));
        if self.1 {
            Err("disk says no".into())
        } else {
            Ok(vec!["recorded".into()])
        }
    }
}

#[test]
fn post_write_steps_run_after_each_durable_write_and_their_failures_do_not_undo_it() {
    let dir = vault();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = logger(dir.path())
        .after_write(Box::new(Recorder(seen.clone(), false)))
        .after_write(Box::new(Recorder(seen.clone(), true)))
        .build()
        .expect("logger");
    let receipt = log.log(golden_entries()[0].clone()).expect("log");
    assert_eq!(
        receipt.post_write_errors,
        vec!["recorder: disk says no".to_owned()]
    );
    log.log_batch(golden_entries()[1..].to_vec())
        .expect("batch");
    assert_eq!(
        *seen.lock().expect("lock"),
        vec![(1, 1), (1, 1), (2, 3), (2, 3)]
    );
    let dry = logger(dir.path())
        .dry_run(true)
        .dry_run_output(std::io::sink())
        .after_write(Box::new(Recorder(seen.clone(), false)))
        .build()
        .expect("dry");
    dry.log(golden_entries()[0].clone()).expect("dry log");
    assert_eq!(
        seen.lock().expect("lock").len(),
        4,
        "no post-write step in dry run"
    );
}

#[test]
fn verify_and_repair_tell_a_meter_how_far_they_got() {
    let dir = vault();
    let logger = logger(dir.path()).dry_run(false).build().expect("logger");
    let day = |d: &str| {
        Entry::new(LogLevel::Info, action("tick"), "clock", "t").at(at(&format!("{d}T09:00:00Z")))
    };
    logger
        .log_batch(vec![
            day("2026-11-20"),
            day("2026-11-21"),
            day("2026-11-22"),
        ])
        .expect("log");
    let vault = logger.vault();
    let key = logger.chain_key();
    let mut tally = vault_audit::meter::Tally::default();
    let checks = vault_audit::verify::Checks::default();
    let report =
        vault_audit::verify::verify_metered(vault, key, &checks, &mut tally).expect("verify");
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(tally.phases, vec![("checking".to_owned(), 3)]);
    assert_eq!(tally.done, 3);

    let mut tally = vault_audit::meter::Tally::default();
    vault_audit::repair::repair_metered(vault, key, at("2026-11-22T10:00:05Z"), true, &mut tally)
        .expect("repair");
    let names: Vec<&str> = tally.phases.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["checking", "repairing"], "a dry run checks once");
    assert_eq!(tally.done, 6);
}
