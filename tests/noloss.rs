//! Nothing lost, ever: each test is named after a way an entry used to be
//! lost or a setting used to crash the logger.

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::{days_ago, entry_json, Vault};
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
    assert!(hook.stderr.contains("36500"), "{}", hook.stderr);
    // The daemon refuses to start, with a usage error.
    let daemon = v
        .cmd()
        .env("AUDIT_RETENTION_DAYS", "100000000")
        .arg("daemon")
        .run();
    daemon.assert_code(2);
    assert!(daemon.stderr.contains("36500"), "{}", daemon.stderr);
}

#[test]
fn retention_never_deletes_a_day_the_same_call_wrote() {
    let dir = library_vault();
    let vault = vault_audit::Vault::new(dir.path());
    let old = (now() - Duration::days(200)).date_naive();
    std::fs::write(vault.day_file(old), "{\"date\":\"x\",\"entries\":[]}").expect("write");
    std::fs::create_dir_all(vault.state_dir()).expect("state dir");
    let append = |_: Vec<Entry>| Ok(());
    let report = vault_audit::retention::run(
        &vault,
        &Default::default(),
        now(),
        90,
        "S",
        false,
        &[old],
        &append,
    )
    .expect("run");
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

/// Runs `log --entry -` with `batch` on stdin, the process unable to grow any
/// file past `limit` bytes (RLIMIT_FSIZE: writes past it fail with EFBIG, as
/// on a full disk). Returns the exit code, stdout and stderr.
fn log_with_file_size_limit(vault: &std::path::Path, batch: &str, limit: u64) -> common::Done {
    use std::io::Write as _;
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(common::BIN);
    cmd.args(["--vault", &vault.to_string_lossy(), "--no-dry-run"])
        .args(["log", "--entry", "-"])
        .env_remove("AUDIT_RETENTION_DAYS")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(batch.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    common::Done {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for item in walkdir::WalkDir::new(from) {
        let item = item.expect("walk");
        let rel = item.path().strip_prefix(from).expect("inside");
        let dest = to.join(rel);
        if item.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::copy(item.path(), &dest).expect("copy");
        }
    }
}

#[test]
fn a_batch_cut_short_by_a_full_disk_leaves_the_day_valid_and_is_reported_exactly() {
    let base = Vault::new();
    let (date, ts) = days_ago(0);
    let first: String = (0..3).map(|n| entry_json(&ts, "INFO", n) + "\n").collect();
    base.cmd()
        .args(["log", "--entry", "-"])
        .stdin(first)
        .run()
        .assert_code(0);
    let day_len = std::fs::metadata(base.day(&date)).expect("day").len();
    let batch: String = (100..120)
        .map(|n| entry_json(&ts, "INFO", n) + "\n")
        .collect();
    let batch_bytes = batch.len() as u64 + 200;
    let mut ks: Vec<u64> = (0..batch_bytes).step_by(97).collect();
    ks.extend(batch_bytes - 60..batch_bytes);
    for k in ks {
        let v = Vault::new();
        copy_dir(base.path(), v.path());
        let done = log_with_file_size_limit(v.path(), &batch, day_len + k);
        let day = v.day_json(&date);
        let stored = day["entries"].as_array().expect("entries").len() as u64;
        assert_eq!(
            day["total_entries"], stored,
            "k={k}: counts match the entries"
        );
        if done.code == 0 {
            assert_eq!(stored, 23, "k={k}: a success stores the whole batch");
            continue;
        }
        assert_eq!(done.code, 4, "k={k}: {}", done.stderr);
        assert_eq!(stored, 3, "k={k}: none of a failed batch stays in the day");
        let handed_back: Vec<&str> = done.stderr.lines().filter(|l| l.starts_with('{')).collect();
        assert_eq!(
            handed_back.len(),
            20,
            "k={k}: every unwritten entry handed back"
        );
        // Retrying exactly what was handed back duplicates nothing.
        let retry: String = handed_back.iter().map(|l| format!("{l}\n")).collect();
        v.cmd()
            .args(["log", "--entry", "-"])
            .stdin(retry)
            .run()
            .assert_code(0);
        let day = v.day_json(&date);
        let ns: Vec<u64> = day["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["parameters"]["n"].as_u64().expect("n"))
            .collect();
        let want: Vec<u64> = (0..3).chain(100..120).collect();
        assert_eq!(ns, want, "k={k}");
    }
}

#[test]
fn a_line_another_program_appended_after_our_trailer_is_kept_and_reported() {
    let v = Vault::new();
    let (date, ts) = days_ago(0);
    let first: String = (0..2).map(|n| entry_json(&ts, "INFO", n) + "\n").collect();
    v.cmd()
        .args(["log", "--entry", "-"])
        .stdin(first)
        .run()
        .assert_code(0);
    // An older logger appends its own record, and one in our schema.
    let peer = format!(
        r#"{{"timestamp":"{ts}","action":"email_send","status":"approved","actor":"approval-watcher"}}"#
    );
    let ours = entry_json(&ts, "WARNING", 7);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(v.day(&date))
        .expect("open");
    use std::io::Write as _;
    writeln!(file, "{peer}\n{ours}").expect("append");
    drop(file);
    let done = v
        .cmd()
        .args(["log", "--entry", &entry_json(&ts, "INFO", 2)])
        .run();
    done.assert_code(0);
    // The peer's bytes are kept, byte for byte, beside the day file.
    let torn: Vec<_> = std::fs::read_dir(v.logs())
        .expect("ls")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{date}.torn-"))
        })
        .collect();
    assert_eq!(torn.len(), 1, "{}", done.stderr);
    let saved = std::fs::read_to_string(torn[0].path()).expect("read");
    assert!(saved.contains(&peer) && saved.contains(&ours), "{saved}");
    // The entry in our schema is taken in; the human is told on the day.
    let day = v.day_json(&date);
    let entries = day["entries"].as_array().expect("entries");
    let ns: Vec<u64> = entries
        .iter()
        .filter_map(|e| e["parameters"]["n"].as_u64())
        .collect();
    assert_eq!(ns, vec![0, 1, 2, 7]);
    // Logged now: on this day, or the next if midnight passed meanwhile.
    let warnings = foreign_write_warnings(&v);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let warning = &warnings[0];
    assert_eq!(warning["log_level"], "WARNING");
    assert_eq!(warning["parameters"]["objects"], 2);
    assert_eq!(warning["parameters"]["taken_in"], 1);
    assert_eq!(warning["parameters"]["not_valid_kept"], 1);
    assert_eq!(
        warning["parameters"]["kept_at"],
        format!("Logs/{}", torn[0].file_name().to_string_lossy())
    );
    assert_eq!(day["total_entries"], entries.len());
}

/// Every `foreign_write` WARNING in the vault's day files.
fn foreign_write_warnings(v: &Vault) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for item in std::fs::read_dir(v.logs())
        .expect("ls")
        .filter_map(Result::ok)
    {
        let name = item.file_name().to_string_lossy().into_owned();
        let Some(date) = name.strip_suffix(".json").filter(|d| d.len() == 10) else {
            continue;
        };
        let day = v.day_json(date);
        let entries = day["entries"].as_array().cloned().unwrap_or_default();
        out.extend(
            entries
                .into_iter()
                .filter(|e| e["parameters"]["event"] == "foreign_write"),
        );
    }
    out
}

#[test]
fn numbers_in_parameters_are_stored_exactly_as_given() {
    let v = Vault::new();
    let (date, ts) = days_ago(0);
    let entry = entry_json(&ts, "INFO", 1).replace(
        "\"parameters\":{\"n\":1}",
        "\"parameters\":{\"n\":1,\"m\":123456789012345678901234567890,\"f\":0.1000000000000000055511151231257827,\"neg\":-0.0}",
    );
    assert!(entry.contains("\"m\":"), "{entry}");
    v.cmd()
        .args(["log", "--entry", &entry])
        .run()
        .assert_code(0);
    let text = std::fs::read_to_string(v.day(&date)).expect("day");
    assert!(
        text.contains("\"m\":123456789012345678901234567890"),
        "{text}"
    );
    assert!(
        text.contains("\"f\":0.1000000000000000055511151231257827"),
        "{text}"
    );
    assert!(text.contains("\"neg\":-0.0"), "{text}");
}

#[test]
fn every_command_that_promises_a_response_prints_one_on_bad_usage() {
    let v = Vault::new();
    let cases: [&[&str]; 7] = [
        &["log", "--retention-days", "0"],
        &["--retention-days", "0", "log"],
        &["skill-run"],
        &["index", "--bogus"],
        &["dashboard", "--bogus"],
        &["rotate", "--days", "0"],
        &["replay", "--bogus"],
    ];
    for args in cases {
        let done = v.cmd().args(args).run();
        assert_eq!(done.code, 2, "{args:?}: {}", done.stderr);
        let response = done.response();
        assert_eq!(response["ok"], false, "{args:?}");
        let message = response["errors"][0].as_str().unwrap_or_default();
        assert!(
            !message.is_empty() && !message.ends_with(':'),
            "{args:?}: {message}"
        );
    }
}

#[test]
fn a_batch_over_two_days_that_fails_on_the_second_says_which_lines_were_written() {
    let v = Vault::new();
    let (today, now_ts) = days_ago(0);
    let (yesterday, noon) = days_ago(1);
    let bulk: String = (0..30)
        .map(|n| entry_json(&now_ts, "INFO", n) + "\n")
        .collect();
    v.cmd()
        .args(["log", "--entry", "-"])
        .stdin(bulk)
        .run()
        .assert_code(0);
    let today_len = std::fs::metadata(v.day(&today)).expect("today").len();
    let batch: String = [(noon.as_str(), 100), (noon.as_str(), 101)]
        .into_iter()
        .chain([
            (now_ts.as_str(), 102),
            (now_ts.as_str(), 103),
            (now_ts.as_str(), 104),
        ])
        .map(|(ts, n)| entry_json(ts, "INFO", n) + "\n")
        .collect();
    let done = log_with_file_size_limit(v.path(), &batch, today_len + 100);
    assert_eq!(done.code, 4, "{}", done.stderr);
    let details = &done.response()["details"];
    assert_eq!(details["written"], 2, "{details}");
    assert_eq!(details["not_written"], 3, "{details}");
    assert_eq!(details["written_lines"], serde_json::json!([1, 2]));
    assert_eq!(details["not_written_lines"], serde_json::json!([3, 4, 5]));
    assert_eq!(done.response()["status"], "partial");
    assert_eq!(v.day_json(&yesterday)["total_entries"], 2);
    assert_eq!(v.day_json(&today)["total_entries"], 30);
}

#[test]
fn an_index_left_stale_by_a_failed_upkeep_heals_on_the_next_write() {
    let v = Vault::new();
    let days: Vec<(String, String)> = (0..=60).map(days_ago).collect();
    // Sixty earlier days, so the index is larger than what one entry adds.
    let history: String = days[1..]
        .iter()
        .enumerate()
        .map(|(n, (_, noon))| entry_json(noon, "INFO", n as u64) + "\n")
        .collect();
    v.cmd()
        .args(["log", "--entry", "-"])
        .stdin(history)
        .run()
        .assert_code(0);
    let (today, now_ts) = days[0].clone();
    v.cmd()
        .args(["log", "--entry", &entry_json(&now_ts, "INFO", 900)])
        .run()
        .assert_code(0);
    let limit = std::fs::metadata(v.day(&today)).expect("today").len() + 1_000;
    assert!(
        std::fs::metadata(v.logs().join("index.json"))
            .expect("index")
            .len()
            > limit
    );
    // The entry is written; the index cannot be (every file is capped).
    let done =
        log_with_file_size_limit(v.path(), &(entry_json(&now_ts, "INFO", 901) + "\n"), limit);
    done.assert_code(0);
    assert!(!done.response()["details"]["upkeep_errors"]
        .as_array()
        .expect("errors")
        .is_empty());
    assert_eq!(v.day_json(&today)["total_entries"], 2);
    // A later write to another day heals every row, today's included.
    let (yesterday, noon) = days[1].clone();
    v.cmd()
        .args(["log", "--entry", &entry_json(&noon, "INFO", 902)])
        .run()
        .assert_code(0);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(v.logs().join("index.json")).expect("index"))
            .expect("json");
    let row = |date: &str| {
        index["log_files"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["date"] == date)
            .cloned()
    };
    assert_eq!(
        row(&today).expect("today's row")["entry_count"],
        2,
        "{index}"
    );
    assert_eq!(row(&yesterday).expect("yesterday's row")["entry_count"], 2);
    assert!(!v.logs().join(".audit/views-stale").exists());
}

#[test]
fn a_folder_named_like_todays_day_file_is_reported_by_verify_and_repair() {
    let v = Vault::new();
    let (date, ts) = days_ago(0);
    std::fs::create_dir(v.day(&date)).expect("mkdir");
    let done = v
        .cmd()
        .args(["log", "--entry", &entry_json(&ts, "INFO", 1)])
        .run();
    done.assert_code(4);
    let verify = v.cmd().arg("verify").run();
    verify.assert_code(1);
    assert!(
        verify.stdout.contains(&format!("Logs/{date}.json"))
            && verify.stdout.contains("not a regular file"),
        "{}",
        verify.stdout
    );
    let repair = v.cmd().arg("repair").run();
    repair.assert_code(1);
    assert!(
        repair.stdout.contains("not a regular file"),
        "{}",
        repair.stdout
    );
    assert!(v.day(&date).is_dir(), "a person's folder is never removed");
}

#[test]
fn verify_lists_what_repairs_kept_aside() {
    let v = Vault::new();
    let (date, ts) = days_ago(0);
    v.cmd()
        .args(["log", "--entry", &entry_json(&ts, "INFO", 1)])
        .run()
        .assert_code(0);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(v.day(&date))
        .expect("open");
    use std::io::Write as _;
    file.write_all(b"half a line from another progr")
        .expect("append");
    drop(file);
    v.cmd()
        .args(["log", "--entry", &entry_json(&ts, "INFO", 2)])
        .run()
        .assert_code(0);
    let verify = v.cmd().arg("verify").run();
    verify.assert_code(0);
    assert!(
        verify.stdout.contains("kept aside by repairs")
            && verify.stdout.contains(&format!("Logs/{date}.torn-")),
        "{}",
        verify.stdout
    );
}
