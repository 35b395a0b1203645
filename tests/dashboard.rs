//! The Dashboard in Obsidian: the zone its times are shown in
//! (`AUDIT_DASHBOARD_TZ`), said in the Time column's header; the optional
//! `## Audit Summary` section, kept only where the note has its heading.

mod common;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use common::{assert_golden, days_ago, entry_json, Vault};
use vault_audit::dashboard::{self, LastAlert, Refresh, Settings};
use vault_audit::time::Zone;
use vault_audit::{ActionType, AuditLogger, Entry, FixedClock, LogLevel};

const DASHBOARD: &str = "# Dashboard\n\n## Recent Activity\n\n## Notes\n\nmine\n";

fn parse(ts: &str) -> DateTime<Utc> {
    vault_audit::time::parse_timestamp(ts).expect("timestamp")
}

/// The Dashboard's Recent Activity lines: header first, then the rows.
fn table(v: &Vault) -> Vec<String> {
    let text = std::fs::read_to_string(v.path().join("Dashboard.md")).expect("Dashboard.md");
    text.lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("|--"))
        .map(str::to_owned)
        .collect()
}

/// How the binary shows `ts` in `offset`: time alone when it is the date
/// there at the binary's run, which lies between `ts` and `after`; either
/// form is right when midnight there fell in between.
fn shown_as(ts: DateTime<Utc>, after: DateTime<Utc>, offset: FixedOffset) -> Vec<String> {
    let local = ts.with_timezone(&offset);
    let short = local.format("%H:%M:%S").to_string();
    let long = local.format("%Y-%m-%d %H:%M:%S").to_string();
    match local.date_naive() == after.with_timezone(&offset).date_naive() {
        true => vec![short],
        false => vec![short, long],
    }
}

#[test]
fn local_time_in_kolkata_is_shown_and_the_header_says_its_offset() {
    let v = Vault::new();
    std::fs::write(v.path().join("Dashboard.md"), DASHBOARD).expect("dashboard");
    let (_, ts) = days_ago(0);
    // chrono reads TZ for the machine's zone on Linux; India keeps no
    // daylight saving time, so the offset is +05:30 on any day.
    let done = v
        .cmd()
        .env("TZ", "Asia/Kolkata")
        .env("AUDIT_DASHBOARD_TZ", "local")
        .args(["log", "--entry", &entry_json(&ts, "INFO", 1)])
        .run();
    done.assert_code(0);
    let after = Utc::now();
    let lines = table(&v);
    assert_eq!(
        lines[0], "| Time (UTC+05:30) | Level | Action | Actor | Target | Result |",
        "{lines:?}"
    );
    let kolkata = FixedOffset::east_opt(5 * 3600 + 1800).expect("offset");
    let row = &lines[1];
    assert!(
        shown_as(parse(&ts), after, kolkata)
            .iter()
            .any(|t| row.starts_with(&format!("| {t} | INFO | system_event |"))),
        "{row} for {ts}"
    );
    assert!(done.stderr.is_empty(), "{}", done.stderr);
}

#[test]
fn utc_is_the_default_and_a_fixed_offset_is_named_in_the_header() {
    let v = Vault::new();
    std::fs::write(v.path().join("Dashboard.md"), DASHBOARD).expect("dashboard");
    let (_, ts) = days_ago(0);
    let log = |zone: Option<&str>, n| {
        let mut run = v.cmd().env("TZ", "Asia/Kolkata");
        if let Some(zone) = zone {
            run = run.env("AUDIT_DASHBOARD_TZ", zone);
        }
        run.args(["log", "--entry", &entry_json(&ts, "INFO", n)])
            .run()
            .assert_code(0);
        (table(&v), Utc::now())
    };
    let (lines, _) = log(None, 1);
    assert!(lines[0].starts_with("| Time (UTC) | Level |"), "{lines:?}");
    let (lines, after) = log(Some("-08:00"), 2);
    assert!(
        lines[0].starts_with("| Time (UTC-08:00) | Level |"),
        "{lines:?}"
    );
    let west = FixedOffset::west_opt(8 * 3600).expect("offset");
    assert!(
        shown_as(parse(&ts), after, west)
            .iter()
            .any(|t| lines[1].starts_with(&format!("| {t} | INFO |"))),
        "{lines:?} for {ts}"
    );
    // Everything outside the section is the user's.
    let text = std::fs::read_to_string(v.path().join("Dashboard.md")).expect("read");
    assert!(text.ends_with("\n\n## Notes\n\nmine\n"), "{text}");
}

#[test]
fn a_bad_dashboard_zone_warns_and_records_and_the_daemon_refuses_it() {
    let v = Vault::new();
    std::fs::write(v.path().join("Dashboard.md"), DASHBOARD).expect("dashboard");
    let (date, ts) = days_ago(0);
    let done = v
        .cmd()
        .env("AUDIT_DASHBOARD_TZ", "Asia/Kolkata")
        .args(["log", "--entry", &entry_json(&ts, "INFO", 1)])
        .run();
    done.assert_code(0);
    assert_eq!(
        v.day_json(&date)["total_entries"],
        1,
        "the entry is recorded"
    );
    assert!(
        done.stderr
            .contains("AUDIT_DASHBOARD_TZ=\"Asia/Kolkata\" is not accepted")
            && done.stderr.contains("local (the machine's zone)"),
        "{}",
        done.stderr
    );
    assert!(table(&v)[0].starts_with("| Time (UTC) |"), "the default");
    let daemon = v
        .cmd()
        .env("AUDIT_DASHBOARD_TZ", "Asia/Kolkata")
        .arg("daemon")
        .run();
    daemon.assert_code(2);
    assert!(
        daemon
            .stderr
            .contains("AUDIT_DASHBOARD_TZ=\"Asia/Kolkata\""),
        "{}",
        daemon.stderr
    );
}

// The Audit Summary, drawn by the library with an injected clock.

/// The golden summary's clock: 10:00:05 UTC, 15:30:05 in +05:30.
const NOW: &str = "2026-11-22T10:00:05Z";

const SUMMARY_BEFORE: &str = "---\ntags: [dashboard]\n---\n# AI Employee Dashboard\n\n## Audit Summary\nStale numbers.\n\n## Recent Activity\n\nnothing yet\n\n## Notes\n\n```\n## Audit Summary\nin code: not the section\n```\n\n- mine\n";

fn logger_at(dir: &Path, now: DateTime<Utc>, settings: Settings) -> AuditLogger {
    AuditLogger::builder(dir)
        .clock(Arc::new(FixedClock::new(now)))
        .session_id("AI_EMP_20261122_GOLDEN")
        .dashboard(settings)
        .build()
        .expect("logger")
}

fn entry(level: LogLevel, ts: &str) -> Entry {
    Entry::new(
        level,
        ActionType::new("tool_call").expect("action"),
        "claude_code",
        "Bash",
    )
    .at(parse(ts))
}

/// A vault whose log spans nine days up to `NOW`, two notes waiting for
/// approval (and what must not count as one), and `dashboard`; written by
/// a logger drawing the Dashboard as `settings` say.
fn summary_vault(dashboard: &str, settings: Settings) -> Vault {
    let v = Vault::new();
    std::fs::write(v.path().join("Dashboard.md"), dashboard).expect("dashboard");
    let pending = v.path().join("Pending_Approval");
    for note in ["invoice-1.md", "email-2.md"] {
        std::fs::write(pending.join(note), "# waiting\n").expect("pending note");
    }
    std::fs::write(pending.join(".draft.md"), "hidden").expect("hidden");
    std::fs::write(pending.join("scan.pdf"), "not a note").expect("pdf");
    std::fs::create_dir(pending.join("sub.md")).expect("a folder named like a note");
    let log = logger_at(v.path(), parse(NOW), settings);
    log.log_batch(vec![
        // Eight days back: in no period.
        entry(LogLevel::Error, "2026-11-14T12:00:00Z"),
        // The 15th, 20:00 UTC: the 16th in +05:30 (in its week), not in UTC's.
        entry(LogLevel::Error, "2026-11-15T12:00:00Z"),
        entry(LogLevel::Warning, "2026-11-15T20:00:00Z"),
        // Six days back: in the week either way.
        entry(LogLevel::Error, "2026-11-16T12:00:00Z"),
        // Yesterday evening UTC: today in +05:30.
        entry(LogLevel::Info, "2026-11-21T23:59:58Z"),
        entry(LogLevel::Warning, "2026-11-21T23:59:59Z"),
        entry(LogLevel::Info, "2026-11-22T09:00:00Z"),
        entry(LogLevel::Error, "2026-11-22T09:30:00Z"),
        entry(LogLevel::Critical, "2026-11-22T10:00:01Z"),
    ])
    .expect("log");
    v
}

/// The Audit Summary section's text.
fn summary_of(text: &str) -> &str {
    let start = text.find("\n## Audit Summary").expect("summary");
    let end = text[start + 1..]
        .find("\n## ")
        .map_or(text.len(), |e| start + 1 + e);
    &text[start..end]
}

#[test]
fn summary_goldens_in_utc_and_in_a_zone_ahead_of_it() {
    assert_golden("dashboard/summary.before.md", SUMMARY_BEFORE.as_bytes());
    let utc = summary_vault(SUMMARY_BEFORE, Settings::default());
    let after = std::fs::read_to_string(utc.path().join("Dashboard.md")).expect("read");
    assert_golden("dashboard/summary.after.md", after.as_bytes());
    let summary = summary_of(&after);
    assert!(summary.contains("| Today | 3 | 1 | 1 | 2 |"), "{summary}");
    assert!(
        summary.contains("| Last 7 days | 6 | 2 | 1 | 2 |"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "Last alert: [[ALERT_20261122T100001000Z_CRITICAL]] (2026-11-22 10:00:01 UTC)"
        ),
        "{summary}"
    );
    // The fenced heading is the user's text, left as it was.
    assert!(after.ends_with("```\n## Audit Summary\nin code: not the section\n```\n\n- mine\n"));

    let kolkata = Settings {
        zone: Zone::parse("+05:30").expect("zone"),
        ..Settings::default()
    };
    let ahead = summary_vault(SUMMARY_BEFORE, kolkata);
    let after = std::fs::read_to_string(ahead.path().join("Dashboard.md")).expect("read");
    assert_golden("dashboard/summary.plus0530.after.md", after.as_bytes());
    let summary = summary_of(&after);
    assert!(summary.contains("| Days (UTC+05:30) |"), "{summary}");
    assert!(summary.contains("| Today | 5 | 1 | 1 | 2 |"), "{summary}");
    assert!(
        summary.contains("| Last 7 days | 7 | 2 | 1 | 2 |"),
        "{summary}"
    );
    assert!(
        summary.contains("(2026-11-22 15:30:01 UTC+05:30)"),
        "{summary}"
    );
}

/// Refreshes `v`'s Dashboard at `NOW` with `last` as the last alert.
fn refresh(v: &Vault, settings: &Settings, last: Option<LastAlert>) -> Refresh {
    let vault = vault_audit::Vault::new(v.path());
    let dates = vault.day_files().expect("day files");
    let (done, _) =
        dashboard::refresh(&vault, &dates, parse(NOW), settings, &|| last.clone(), true)
            .expect("refresh");
    done
}

fn dash(v: &Vault) -> String {
    std::fs::read_to_string(v.path().join("Dashboard.md")).expect("Dashboard.md")
}

#[test]
fn without_the_heading_no_summary_is_added_and_a_refresh_changes_nothing() {
    let plain = "# D\n\n## Recent Activity\n\n## Audit Summaries\n\n### Audit Summary\n";
    let fenced = "# D\n\n```\n## Audit Summary\n```\n\n## Recent Activity\n";
    for before in [plain, fenced] {
        let v = summary_vault(before, Settings::default());
        let after = dash(&v);
        assert!(!after.contains("| Days ("), "{after}");
        assert_eq!(
            after.matches("## Audit Summary").count(),
            before.matches("## Audit Summary").count()
        );
        assert_eq!(refresh(&v, &Settings::default(), None), Refresh::Unchanged);
    }
}

#[test]
fn a_crlf_note_and_a_heading_at_its_very_end_keep_their_bytes() {
    let crlf = SUMMARY_BEFORE.replace('\n', "\r\n");
    let v = summary_vault(&crlf, Settings::default());
    let after = dash(&v);
    assert!(
        !after.replace("\r\n", "").contains('\n'),
        "a bare LF crept in: {after:?}"
    );
    assert_eq!(
        after.replace("\r\n", "\n"),
        std::fs::read_to_string(common::golden("dashboard/summary.after.md")).expect("golden")
    );
    let last = "# D\n\n## Recent Activity\n\n## Audit Summary";
    let v = summary_vault(last, Settings::default());
    let after = dash(&v);
    assert!(
        after.starts_with("# D\n\n## Recent Activity\n\n| Time (UTC) |"),
        "{after}"
    );
    assert!(
        after.contains("\n## Audit Summary\n\n| Days (UTC) |"),
        "{after}"
    );
    assert!(
        after.ends_with(
            "Last alert: [[ALERT_20261122T100001000Z_CRITICAL]] (2026-11-22 10:00:01 UTC)\n"
        ),
        "{after:?}"
    );
    // Another last alert (none) is news: the section is rewritten.
    assert_eq!(refresh(&v, &Settings::default(), None), Refresh::Written);
}

#[test]
fn missing_day_files_count_nothing_and_a_day_in_another_layout_is_named_not_counted() {
    let v = Vault::new();
    std::fs::write(v.path().join("Dashboard.md"), "## Audit Summary\n").expect("dashboard");
    assert_eq!(refresh(&v, &Settings::default(), None), Refresh::Written);
    let text = dash(&v);
    assert!(
        text.contains("| Today | 0 | 0 | 0 | 0 |") && text.contains("Last alert: none"),
        "{text}"
    );
    // Another program's layout (the skill specification's pretty JSON):
    // the trailer is not ours, so the day is named rather than guessed at.
    let foreign = serde_json::json!({
        "date": "2026-11-21", "total_entries": 1,
        "summary": {"INFO": 0, "WARNING": 0, "ERROR": 1, "CRITICAL": 0},
        "entries": [{"timestamp": "2026-11-21T10:00:00Z", "log_level": "ERROR"}],
    });
    std::fs::write(
        v.logs().join("2026-11-21.json"),
        serde_json::to_string_pretty(&foreign).expect("json"),
    )
    .expect("foreign");
    refresh(&v, &Settings::default(), None);
    let text = dash(&v);
    assert!(text.contains("| Last 7 days | 0 | 0 | 0 | 0 |"), "{text}");
    assert!(
        text.contains(
            "Not counted: `Logs/2026-11-21.json` (damaged, or in another program's layout"
        ),
        "{text}"
    );
}

#[cfg(unix)]
#[test]
fn a_linked_pending_folder_or_a_linked_note_in_it_is_never_followed() {
    let v = Vault::new();
    std::fs::write(v.path().join("Dashboard.md"), "## Audit Summary\n").expect("dashboard");
    let outside = tempfile::tempdir().expect("outside");
    for n in 0..3 {
        std::fs::write(outside.path().join(format!("secret{n}.md")), "x").expect("outside note");
    }
    let pending = v.path().join("Pending_Approval");
    std::fs::write(pending.join("real.md"), "x").expect("note");
    std::os::unix::fs::symlink(outside.path().join("secret0.md"), pending.join("linked.md"))
        .expect("link");
    refresh(&v, &Settings::default(), None);
    assert!(
        dash(&v).contains("| Today | 0 | 0 | 0 | 1 |"),
        "{}",
        dash(&v)
    );
    // The folder itself a link to a folder outside the vault.
    std::fs::remove_dir_all(&pending).expect("rm");
    std::os::unix::fs::symlink(outside.path(), &pending).expect("link");
    refresh(&v, &Settings::default(), None);
    let text = dash(&v);
    assert!(text.contains("| Today | 0 | 0 | 0 | n/a |"), "{text}");
    assert!(
        text.contains(
            "Pending approvals not counted: Pending_Approval is a symbolic link, never followed."
        ),
        "{text}"
    );
    // A folder above it a link: the same.
    let nested = Settings {
        pending_folder: "Work/Waiting".to_owned(),
        ..Settings::default()
    };
    std::os::unix::fs::symlink(outside.path(), v.path().join("Work")).expect("link");
    refresh(&v, &nested, None);
    assert!(
        dash(&v).contains("| Today | 0 | 0 | 0 | n/a |"),
        "{}",
        dash(&v)
    );
}

#[test]
fn a_hostile_alert_note_name_is_shown_as_text_never_as_a_link() {
    let v = Vault::new();
    std::fs::write(
        v.path().join("Dashboard.md"),
        "## Audit Summary\n\n## Next\n",
    )
    .expect("dashboard");
    let at = parse("2026-11-22T09:00:00Z");
    for (note, shown) in [
        (
            "Needs_Action/ALERT_20261122T090000000Z_ERROR_2.md",
            "[[ALERT_20261122T090000000Z_ERROR_2]]",
        ),
        (
            "Needs_Action/x]] [[Secret|y.md",
            "Needs_Action/x\\]\\] \\[\\[Secret\\|y.md",
        ),
        (
            "Needs_Action/evil\n## Hacked.md",
            "Needs_Action/evil \\#\\# Hacked.md",
        ),
        ("../../etc/passwd", "../../etc/passwd"),
        ("Needs_Action/.md", "Needs_Action/.md"),
    ] {
        refresh(
            &v,
            &Settings::default(),
            Some(LastAlert {
                note: note.to_owned(),
                at,
            }),
        );
        let text = dash(&v);
        assert!(
            text.contains(&format!("Last alert: {shown} (2026-11-22 09:00:00 UTC)\n")),
            "{note:?}:\n{text}"
        );
        assert_eq!(
            text.matches("\n## ").count() + usize::from(text.starts_with("## ")),
            3,
            "{text}"
        );
    }
}

#[test]
fn a_summary_taken_from_the_alert_state_survives_a_state_without_it() {
    // A state file saved before the last alert was kept: "none" until the
    // next alert, never an error.
    let v = Vault::new();
    std::fs::create_dir_all(v.logs().join(".audit")).expect("state dir");
    std::fs::write(v.logs().join(".audit/alerts.json"), "{\"errors\":{}}").expect("old state");
    std::fs::write(v.path().join("Dashboard.md"), "## Audit Summary\n").expect("dashboard");
    let log = logger_at(v.path(), parse(NOW), Settings::default());
    log.log(entry(LogLevel::Info, "2026-11-22T10:00:00Z"))
        .expect("log");
    assert!(dash(&v).contains("Last alert: none"), "{}", dash(&v));
    log.log(entry(LogLevel::Critical, "2026-11-22T10:00:02Z"))
        .expect("log");
    assert!(
        dash(&v).contains("Last alert: [[ALERT_20261122T100002000Z_CRITICAL]]"),
        "{}",
        dash(&v)
    );
}

#[test]
fn the_cli_keeps_the_summary_current_after_each_write() {
    let (v, notes, by_hand) = common::on_one_utc_day(|_| {
        let v = Vault::new();
        std::fs::write(
            v.path().join("Dashboard.md"),
            "# D\n\n## Audit Summary\n\n## Recent Activity\n\n## Mine\n",
        )
        .expect("dashboard");
        std::fs::write(v.path().join("Pending_Approval/pay.md"), "# pay?\n").expect("pending");
        for (level, n) in [("ERROR", 1), ("CRITICAL", 2)] {
            let (_, ts) = days_ago(0);
            v.cmd()
                .args(["log", "--entry", &entry_json(&ts, level, n)])
                .run()
                .assert_code(0);
        }
        let notes: Vec<String> = std::fs::read_dir(v.path().join("Needs_Action"))
            .expect("Needs_Action")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        // `dashboard` by hand finds it current (the same UTC day).
        let by_hand = v.cmd().arg("dashboard").run();
        (v, notes, by_hand)
    });
    let text = dash(&v);
    assert!(text.contains("| Today | 2 | 1 | 1 | 1 |"), "{text}");
    assert!(text.contains("| Last 7 days | 2 | 1 | 1 | 1 |"), "{text}");
    assert_eq!(notes.len(), 1, "{notes:?}");
    let stem = notes[0].trim_end_matches(".md");
    assert!(
        text.contains(&format!("Last alert: [[{stem}]] (")),
        "{text}"
    );
    assert!(text.ends_with("\n\n## Mine\n"), "{text}");
    by_hand.assert_code(0);
    assert_eq!(by_hand.response()["details"]["result"], "unchanged");
}

#[test]
fn extreme_offsets_and_a_last_alert_at_the_end_of_time_panic_nowhere() {
    let v = Vault::new();
    std::fs::write(v.path().join("Dashboard.md"), "## Audit Summary\n").expect("dashboard");
    std::fs::create_dir_all(v.logs().join(".audit")).expect("state dir");
    for at in [
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "+262143-12-31T23:59:59Z",
    ] {
        let state = serde_json::json!({"last": {"note": "Needs_Action/ALERT_x.md", "at": at}});
        std::fs::write(v.logs().join(".audit/alerts.json"), state.to_string()).expect("state");
        for zone in ["+23:59", "-23:59", "local"] {
            let done = v
                .cmd()
                .env("AUDIT_DASHBOARD_TZ", zone)
                .env("TZ", "Pacific/Kiritimati")
                .arg("dashboard")
                .run();
            assert!(
                done.code == 0 && !done.stderr.contains("panicked"),
                "{at} in {zone}: exit {}\n{}",
                done.code,
                done.stderr
            );
            assert!(
                dash(&v).contains("| Today | 0 | 0 | 0 | 0 |"),
                "{}",
                dash(&v)
            );
        }
    }
}

#[cfg(unix)]
#[test]
fn a_day_file_that_is_a_link_is_never_read_nor_counted() {
    let v = Vault::new();
    std::fs::write(v.path().join("Dashboard.md"), "## Audit Summary\n").expect("dashboard");
    let outside = tempfile::tempdir().expect("outside");
    let secret = outside.path().join("2026-11-21.json");
    // A file in our layout with a big count: if it were followed, it would show.
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 21).expect("date");
    let trailer = vault_audit::daily::Trailer {
        total_entries: 999,
        summary: vault_audit::daily::Summary([999, 0, 0, 0]),
        chain: None,
    };
    std::fs::write(
        &secret,
        vault_audit::daily::render_file(date, None, [], &trailer),
    )
    .expect("secret");
    std::os::unix::fs::symlink(&secret, v.logs().join("2026-11-21.json")).expect("link");
    refresh(&v, &Settings::default(), None);
    let text = dash(&v);
    // Like the index, the Dashboard knows day files that are files, not links.
    assert!(text.contains("| Last 7 days | 0 | 0 | 0 | 0 |"), "{text}");
    assert!(!text.contains("999"), "{text}");
}

#[test]
fn a_note_the_user_changes_while_the_summary_is_gathered_is_redone_never_overwritten() {
    let v = Vault::new();
    let path = v.path().join("Dashboard.md");
    std::fs::write(&path, "## Audit Summary\n\n## Recent Activity\n\n## Mine\n")
        .expect("dashboard");
    let vault = vault_audit::Vault::new(v.path());
    let calls = std::cell::Cell::new(0);
    // Asked between our read of the note and our write: the user types.
    let last = || {
        calls.set(calls.get() + 1);
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.push_str("- typed meanwhile\n");
        std::fs::write(&path, text).expect("user edit");
        None
    };
    let (done, _) = dashboard::refresh(&vault, &[], parse(NOW), &Settings::default(), &last, true)
        .expect("refresh");
    assert_eq!(done, Refresh::Written);
    assert_eq!(calls.get(), 1, "gathered once, however many tries");
    let text = dash(&v);
    assert!(text.ends_with("## Mine\n- typed meanwhile\n"), "{text}");
    assert!(
        text.contains("| Today | 0 | 0 | 0 | 0 |") && text.contains("| Time (UTC) |"),
        "{text}"
    );
}
