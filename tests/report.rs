//! `vault-audit report`: the golden report over a fixed fortnight (an
//! injected clock), and the command's choices of where the note goes.

mod common;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use vault_audit::report::{self, Request};
use vault_audit::vault::Vault as Paths;
use vault_audit::{
    ActionType, ApprovalStatus, ApprovedBy, AuditLogger, Entry, FixedClock, LogLevel, Outcome,
};

fn at(t: &str) -> DateTime<Utc> {
    vault_audit::time::parse_timestamp(t).expect("time")
}

const START: &str = "2026-11-09T00:00:00Z";

fn entry(level: LogLevel, action: &str, actor: &str, target: &str) -> Entry {
    Entry::new(
        level,
        ActionType::new(action).expect("action"),
        actor,
        target,
    )
}

/// One day's entries of the fortnight, `d` days after the start: a steady
/// round of work, a failing day, approvals decided hours later, durations.
fn day(d: i64) -> Vec<(i64, Entry)> {
    let mut out = Vec::new();
    for i in 0..(6 + d % 4) {
        let e = entry(
            LogLevel::Info,
            "email_sent",
            "email-sender",
            "Done/reply.md",
        )
        .param("duration_ms", 200 + 37 * ((d + i) % 9));
        out.push((8 * 60 + i * 20, e));
    }
    out.push((
        9 * 60,
        entry(
            LogLevel::Info,
            "plan_created",
            "plan-creator",
            "Plans/plan-01.md",
        )
        .param("duration_ms", 1500 + 100 * d),
    ));
    if d % 3 == 0 {
        out.push((
            10 * 60,
            entry(
                LogLevel::Info,
                "approval_requested",
                "approval-watcher",
                &format!("Pending_Approval/PAY_{d}.md"),
            ),
        ));
        let decision = if d % 6 == 0 { "approved" } else { "rejected" };
        let status = if d % 6 == 0 {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Rejected
        };
        let folder = if d % 6 == 0 { "Approved" } else { "Rejected" };
        out.push((
            10 * 60 + 30 + 15 * d,
            entry(
                LogLevel::Info,
                decision,
                "approval-watcher",
                &format!("{folder}/PAY_{d}.md"),
            )
            .approval(status, ApprovedBy::Human),
        ));
    }
    if d == 12 {
        out.push((
            11 * 60,
            entry(
                LogLevel::Info,
                "approval_requested",
                "approval-watcher",
                "Pending_Approval/PAY_late.md",
            ),
        ));
    }
    if d % 5 == 2 {
        out.push((
            12 * 60,
            entry(
                LogLevel::Warning,
                "file_moved",
                "inbox-watcher",
                "Inbox/odd.pdf",
            ),
        ));
    }
    if d == 4 {
        for i in 0..4 {
            out.push((
                14 * 60 + i,
                entry(
                    LogLevel::Error,
                    "email_sent",
                    "email-sender",
                    "Needs_Action/EMAIL_x.md",
                )
                .result(Outcome::Failure)
                .error("SMTP 550: mailbox unavailable"),
            ));
        }
    }
    if d == 9 {
        out.push((
            15 * 60,
            entry(
                LogLevel::Critical,
                "system_event",
                "evil\" ] %%{init}%% | actor",
                "Plans/plan-01.md",
            )
            .result(Outcome::Failure)
            .error("disk full <b>x</b> [[y]]"),
        ));
        out.push((
            15 * 60 + 1,
            entry(
                LogLevel::Info,
                "system_event",
                "evil\" ] %%{init}%% | actor",
                "x",
            )
            .result(Outcome::Failure),
        ));
    }
    out
}

/// A vault with the fortnight logged, each entry at its own time.
fn fortnight(root: &Path) {
    for folder in ["Plans", "Needs_Action", "Done", "Logs"] {
        std::fs::create_dir_all(root.join(folder)).expect("mkdir");
    }
    std::fs::write(root.join("Plans/plan-01.md"), "# Plan\n").expect("note");
    let clock = Arc::new(FixedClock::new(at(START)));
    let logger = AuditLogger::builder(root)
        .clock(clock.clone())
        .session_id("AI_EMP_20261109_REPORT")
        .build()
        .expect("logger");
    for d in 0..14 {
        for (minute, e) in day(d) {
            let when = at(START) + Duration::days(d) + Duration::minutes(minute);
            clock.set(when);
            logger.log(e.at(when)).expect("log");
        }
    }
}

fn request() -> Request {
    Request {
        since: at(START),
        until: at("2026-11-22T23:59:59.999Z"),
        generated_at: at("2026-11-23T07:00:00Z"),
        alert_folders: vec!["Needs_Action".into(), "Done".into()],
    }
}

#[test]
fn the_report_over_a_fixed_fortnight_matches_the_golden_note() {
    let dir = tempfile::tempdir().expect("tempdir");
    fortnight(dir.path());
    let text = report::build(&Paths::new(dir.path()), &request()).expect("report");
    let golden = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/golden/report/fortnight.md"
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(Path::new(golden).parent().expect("folder")).expect("mkdir");
        std::fs::write(golden, &text).expect("update golden");
    }
    let expected =
        std::fs::read_to_string(golden).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(text, expected);
}

/// The notes in `Briefings/`, sorted (not a writer's hidden temporary
/// file, which the daemon's write shows for a moment).
fn briefings(root: &Path) -> Vec<String> {
    // Hidden files (a write's temporary file) are not notes.
    common::files_in(&root.join("Briefings"))
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect()
}

#[test]
fn the_command_writes_a_new_note_each_time_and_never_replaces_one() {
    let v = common::Vault::new();
    let (_, ts) = common::days_ago(0);
    v.cmd()
        .args(["log", "--entry", &common::entry_json(&ts, "ERROR", 1)])
        .run()
        .assert_code(0);
    let first = v.cmd().arg("report").run();
    first.assert_code(0);
    let rel = first.response()["path"].as_str().expect("path").to_owned();
    assert!(
        rel.starts_with("Briefings/") && rel.ends_with("_Audit_Report.md"),
        "{rel}"
    );
    let text = std::fs::read_to_string(v.path().join(&rel)).expect("note");
    assert!(text.starts_with("---\ntype: audit-report\n"), "{text}");
    assert!(
        text.contains("\nentries: 1\n") && text.contains("\nerrors: 1\n"),
        "{text}"
    );
    std::fs::write(v.path().join(&rel), "my own notes").expect("edit");
    let second = v.cmd().arg("report").run();
    second.assert_code(0);
    assert_eq!(briefings(v.path()).len(), 2);
    assert_eq!(
        std::fs::read_to_string(v.path().join(&rel)).expect("kept"),
        "my own notes"
    );
}

#[test]
fn a_dry_run_prints_the_note_and_writes_nothing() {
    let v = common::Vault::new();
    let before = v.snapshot();
    let done = v.plain().args(["report", "--since", "2d"]).run();
    done.assert_code(0);
    assert!(
        done.stdout.starts_with("---\ntype: audit-report\n"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.contains("No entries were recorded"),
        "{}",
        done.stdout
    );
    assert_eq!(v.snapshot(), before);
    assert!(!v.path().join("Briefings").exists());
}

#[test]
fn an_existing_out_file_is_refused_unless_forced() {
    let v = common::Vault::new();
    let out = v.path().join("mine.md");
    std::fs::write(&out, "keep").expect("write");
    let refused = v.cmd().args(["report", "--out"]).arg(&out).run();
    refused.assert_code(2);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(std::fs::read_to_string(&out).expect("kept"), "keep");
    v.cmd()
        .args(["report", "--force", "--out"])
        .arg(&out)
        .run()
        .assert_code(0);
    assert!(std::fs::read_to_string(&out)
        .expect("report")
        .starts_with("---\ntype: audit-report"));
}

#[test]
fn bad_periods_and_settings_are_named_and_do_not_stop_logging() {
    let v = common::Vault::new();
    let bad = v
        .cmd()
        .args(["report", "--since", "last week", "--until", "soon"])
        .run();
    bad.assert_code(2);
    assert!(
        bad.stderr.contains("--since") && bad.stderr.contains("--until"),
        "{}",
        bad.stderr
    );
    let backwards = v
        .cmd()
        .args(["report", "--since", "1d", "--until", "3d"])
        .run();
    backwards.assert_code(2);
    assert!(
        backwards.stderr.contains("is after"),
        "{}",
        backwards.stderr
    );
    for (var, value) in [
        ("AUDIT_FOLDER_BRIEFINGS", "../outside"),
        ("AUDIT_FOLDER_BRIEFINGS", "Logs/x"),
        ("AUDIT_REPORT_SCHEDULE", "hourly"),
    ] {
        let refused = v.cmd().arg("report").env(var, value).run();
        refused.assert_code(2);
        assert!(
            refused.stderr.contains(var) && refused.stderr.contains(value),
            "{}",
            refused.stderr
        );
        let (_, ts) = common::days_ago(0);
        v.cmd()
            .args(["log", "--entry", &common::entry_json(&ts, "INFO", 1)])
            .env(var, value)
            .run()
            .assert_code(0);
    }
    assert!(!v.path().join("outside").exists());
}

#[cfg(unix)]
#[test]
fn a_linked_reports_folder_is_refused_and_a_link_at_the_note_is_never_followed() {
    let v = common::Vault::new();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(elsewhere.path(), v.path().join("Briefings")).expect("link");
    let refused = v.cmd().arg("report").run();
    refused.assert_code(4);
    assert!(
        refused.stderr.contains("symbolic link"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read_dir(elsewhere.path()).expect("dir").count(), 0);

    std::fs::remove_file(v.path().join("Briefings")).expect("unlink");
    std::fs::create_dir(v.path().join("Briefings")).expect("mkdir");
    let secret = elsewhere.path().join("secret");
    std::fs::write(&secret, "do not touch").expect("secret");
    // The binary names the note by its own clock: one UTC day throughout.
    let (planted, done) = common::on_one_utc_day(|now| {
        let planted = v.path().join(format!(
            "Briefings/{}_Audit_Report.md",
            now.format("%Y-%m-%d")
        ));
        let _ = std::fs::remove_file(&planted);
        std::os::unix::fs::symlink(&secret, &planted).expect("link");
        (planted, v.cmd().arg("report").run())
    });
    done.assert_code(0);
    assert!(done.response()["path"]
        .as_str()
        .expect("path")
        .ends_with("_Audit_Report_2.md"));
    assert_eq!(
        std::fs::read_to_string(&secret).expect("secret"),
        "do not touch"
    );
    assert!(std::fs::symlink_metadata(&planted)
        .expect("link")
        .file_type()
        .is_symlink());
}

#[test]
fn the_daemon_writes_the_weekly_report_once_and_catches_up_a_missed_monday() {
    use vault_audit::daemon::schedule;
    use vault_audit::time::Zone;
    let v = common::Vault::new();
    let name = |now| {
        let due = schedule::due(now, Zone::utc()).expect("due");
        format!("{}_Audit_Report.md", due.format("%Y-%m-%d"))
    };
    let before = name(chrono::Utc::now());
    let envs = [("AUDIT_REPORT_SCHEDULE", "weekly"), ("TZ", "UTC")];
    let d = common::Daemon::start_with(&v, &[], &envs);
    common::wait_for(
        "the weekly report",
        std::time::Duration::from_secs(30),
        || !briefings(v.path()).is_empty(),
    );
    let after = name(chrono::Utc::now());
    let notes = briefings(v.path());
    assert!(notes == [before.clone()] || notes == [after], "{notes:?}");
    let text = std::fs::read_to_string(v.path().join("Briefings").join(&notes[0])).expect("note");
    assert!(text.starts_with("---\ntype: audit-report\n"), "{text}");
    d.terminate();
    let recorded = v
        .all_entries()
        .into_iter()
        .filter(|e| e["parameters"]["event"] == "report_written")
        .count();
    assert_eq!(recorded, 1);
    // A restart in the same week writes no second report.
    let d = common::Daemon::start_with(&v, &[], &envs);
    std::thread::sleep(std::time::Duration::from_millis(500));
    d.terminate();
    assert_eq!(briefings(v.path()).len(), 1);
    assert!(v.logs().join(".audit/report.json").is_file());
}

#[test]
fn the_daemon_refuses_a_bad_report_setting() {
    let v = common::Vault::new();
    let done = v
        .cmd()
        .args(["daemon"])
        .env("AUDIT_REPORT_SCHEDULE", "fortnightly")
        .run();
    done.assert_code(2);
    assert!(
        done.stderr.contains("AUDIT_REPORT_SCHEDULE"),
        "{}",
        done.stderr
    );
}

#[test]
fn out_into_the_logs_folder_is_refused_even_forced_however_spelled() {
    let v = common::Vault::new();
    let (day, ts) = common::days_ago(0);
    v.cmd()
        .args(["log", "--entry", &common::entry_json(&ts, "INFO", 1)])
        .run()
        .assert_code(0);
    let day_file = v.logs().join(format!("{day}.json"));
    let before = std::fs::read(&day_file).expect("day file");
    std::fs::create_dir(v.path().join("Notes")).expect("mkdir");
    for out in [
        day_file.clone(),
        v.logs().join("index.json"),
        v.logs().join("new.md"),
        v.path().join("Notes/../Logs/x.md"),
        v.path().join("gone/../Logs/y.md"),
    ] {
        let refused = v.cmd().args(["report", "--force", "--out"]).arg(&out).run();
        refused.assert_code(2);
        assert!(refused.stderr.contains("Logs"), "{}", refused.stderr);
    }
    assert_eq!(std::fs::read(&day_file).expect("day file"), before);
    assert!(!v.logs().join("new.md").exists() && !v.logs().join("x.md").exists());
    assert!(!v.logs().join("y.md").exists());
}

#[test]
fn a_period_of_centuries_is_refused_at_once_not_counted_day_by_day() {
    let v = common::Vault::new();
    for (since, until) in [("0001-01-01", "0d"), ("1d", "9999-12-31"), ("367d", "0d")] {
        let refused = v
            .cmd()
            .args(["report", "--since", since, "--until", until])
            .run();
        refused.assert_code(2);
        assert!(refused.stderr.contains("366 days"), "{}", refused.stderr);
    }
    v.cmd()
        .args(["report", "--since", "365d"])
        .run()
        .assert_code(0);
    let mut long = request();
    long.since = at("0001-01-01T00:00:00Z");
    let err = report::build(&Paths::new(v.path()), &long).expect_err("too long");
    assert!(err.to_string().contains("366 days"), "{err}");
}

#[test]
fn an_out_path_that_is_a_folder_fails_with_exit_4_naming_it() {
    let v = common::Vault::new();
    let folder = v.path().join("Plans");
    let done = v
        .cmd()
        .args(["report", "--force", "--out"])
        .arg(&folder)
        .run();
    done.assert_code(4);
    assert!(
        done.stderr.contains("could not write") && done.stderr.contains("Plans"),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("entries"), "{}", done.stderr);
}
