//! The Dashboard in Obsidian: the zone its times are shown in
//! (`AUDIT_DASHBOARD_TZ`), said in the Time column's header.

mod common;

use chrono::{DateTime, FixedOffset, Utc};
use common::{days_ago, entry_json, Vault};

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
