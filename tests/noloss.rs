//! Nothing lost, ever: each test is named after a way an entry used to be
//! lost or a setting used to crash the logger.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::{days_ago, Vault};
use proptest::prelude::*;
use vault_audit::{ActionType, AuditLogger, Entry, EntryError, Error, FixedClock, LogLevel};

fn now() -> DateTime<Utc> {
    vault_audit::time::parse_timestamp("2026-11-22T10:00:05Z").expect("time")
}

fn library_vault() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("Logs")).expect("mkdir");
    dir
}

fn logger(dir: &std::path::Path, retention_days: u32) -> Result<AuditLogger, Error> {
    AuditLogger::builder(dir)
        .clock(Arc::new(FixedClock::new(now())))
        .retention_days(retention_days)
        .build()
}

fn entry_at(ts: DateTime<Utc>) -> Entry {
    let action = ActionType::new("system_event").expect("action");
    Entry::new(LogLevel::Info, action, "test", "vault").at(ts)
}

#[test]
fn back_dated_entry_beyond_retention_is_rejected_before_anything_is_written() {
    let dir = library_vault();
    let log = logger(dir.path(), 90).expect("logger");
    let year_one = vault_audit::time::parse_timestamp("0001-01-01T00:00:00Z").expect("time");
    let epoch = vault_audit::time::parse_timestamp("1970-01-01T00:00:00Z").expect("time");
    for ts in [now() - Duration::days(100), year_one, epoch] {
        match log.log(entry_at(ts)) {
            Err(Error::Invalid {
                source:
                    EntryError::BeyondRetention {
                        days: 90, oldest, ..
                    },
                ..
            }) => assert_eq!(oldest, "2026-08-24"),
            other => panic!("{ts}: expected a rejection, got {other:?}"),
        }
    }
    let files: Vec<_> = std::fs::read_dir(dir.path().join("Logs"))
        .expect("read Logs")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .collect();
    assert!(files.is_empty(), "nothing may be written: {files:?}");
    // The oldest kept day itself is accepted.
    log.log(entry_at(now() - Duration::days(90)))
        .expect("the window's first day");
    assert!(dir.path().join("Logs/2026-08-24.json").is_file());
}

#[test]
fn back_dated_log_on_the_command_line_exits_1_naming_the_window() {
    let v = Vault::new();
    let (_, old) = days_ago(100);
    let done = v
        .cmd()
        .args([
            "log",
            "--level",
            "INFO",
            "--action",
            "system_event",
            "--actor",
            "t",
        ])
        .args(["--target", "x", "--timestamp", &old])
        .run();
    done.assert_code(1);
    let message = done.response()["errors"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains(&old[..10]), "{message}");
    assert!(message.contains("90 days"), "{message}");
    assert!(message.contains("AUDIT_RETENTION_DAYS"), "{message}");
    let days: Vec<_> = std::fs::read_dir(v.logs())
        .expect("Logs")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .collect();
    assert!(days.is_empty(), "{days:?}");
}

#[test]
fn absurd_retention_days_is_a_config_error_not_a_panic() {
    let dir = library_vault();
    for days in [0, 36_501, 100_000_000, u32::MAX] {
        match logger(dir.path(), days) {
            Err(Error::Config { message }) => {
                assert!(message.contains("1 to 36500"), "{message}")
            }
            Err(e) => panic!("{days}: {e}"),
            Ok(_) => panic!("{days}: accepted"),
        }
    }
}

#[test]
fn absurd_retention_days_on_the_command_line_is_a_usage_error_with_a_response() {
    let v = Vault::new();
    for days in ["0", "100000000"] {
        let done = v
            .cmd()
            .env("AUDIT_RETENTION_DAYS", days)
            .args(["log", "--level", "INFO", "--action", "system_event"])
            .args(["--actor", "t", "--target", "x"])
            .run();
        assert_ne!(done.code, 101, "panicked: {}", done.stderr);
        done.assert_code(2);
        assert_eq!(done.response()["ok"], false, "{}", done.stdout);
    }
    // The hook promises exit 0 whatever happens, and says why on stderr.
    let payload = r#"{"hook_event_name":"SessionStart","session_id":"abc"}"#;
    let hook = v
        .cmd()
        .env("AUDIT_RETENTION_DAYS", "100000000")
        .args(["hook", "claude-code"])
        .stdin(payload)
        .run();
    hook.assert_code(0);
    assert!(hook.stderr.contains("1 to 36500"), "{}", hook.stderr);
    // The daemon refuses to start, with a usage error.
    let daemon = v
        .cmd()
        .env("AUDIT_RETENTION_DAYS", "100000000")
        .arg("daemon")
        .run();
    daemon.assert_code(2);
    assert!(daemon.stderr.contains("1 to 36500"), "{}", daemon.stderr);
}

#[test]
fn retention_never_deletes_a_day_the_same_call_wrote() {
    let dir = library_vault();
    let vault = vault_audit::Vault::new(dir.path());
    let old = (now() - Duration::days(200)).date_naive();
    std::fs::write(vault.day_file(old), "{\"date\":\"x\",\"entries\":[]}").expect("write");
    std::fs::create_dir_all(vault.state_dir()).expect("state dir");
    let append = |_: Vec<Entry>| Ok(());
    let report =
        vault_audit::retention::run(&vault, now(), 90, "S", false, &[old], &append).expect("run");
    assert_eq!(report.deleted, 0);
    assert!(vault.day_file(old).is_file());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// No retention setting panics, in the builder or in a write.
    #[test]
    fn no_retention_setting_panics(days in any::<u32>(), back in 0i64..400_000) {
        let dir = library_vault();
        if let Ok(log) = logger(dir.path(), days) {
            prop_assert!((1..=36_500).contains(&days));
            let ts = now().checked_sub_signed(Duration::days(back)).unwrap_or(now());
            let _ = log.log(entry_at(ts));
        }
    }
}
