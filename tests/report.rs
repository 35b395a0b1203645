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
