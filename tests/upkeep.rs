//! After every write: index.json, the Dashboard table, retention (seed 001
//! sections 9, 10, 13-15), and the `index`, `dashboard`, `rotate` commands.

mod common;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use common::{
    assert_golden, days_ago, days_before, entry_json, golden, on_one_utc_day, Run, Vault,
};
use serde_json::Value;
use vault_audit::daily::{render_file, Trailer};
use vault_audit::dashboard::HEADING;
use vault_audit::{ActionType, AuditLogger, Entry, FixedClock, LogLevel, Outcome};

/// The day the golden files were made on: `golden_vault` puts its entries
/// on it and the day before, with the clock at 10:00:05 that day.
const GOLDEN_DAY: &str = "2026-11-22";

fn at(ts: &str) -> DateTime<Utc> {
    vault_audit::time::parse_timestamp(ts).expect("timestamp")
}

fn day(date: &str) -> NaiveDate {
    NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date")
}

/// A logger whose clock shows 10:00:05 on `today`.
fn logger_on(dir: &Path, today: NaiveDate) -> AuditLogger {
    AuditLogger::builder(dir)
        .clock(Arc::new(FixedClock::new(at(&format!("{today}T10:00:05Z")))))
        .session_id("AI_EMP_20261122_GOLDEN")
        .build()
        .expect("logger")
}

fn logger(dir: &Path) -> AuditLogger {
    logger_on(dir, day(GOLDEN_DAY))
}

fn entry(level: LogLevel, action: &str, actor: &str, target: &str, ts: &str) -> Entry {
    Entry::new(
        level,
        ActionType::new(action).expect("action"),
        actor,
        target,
    )
    .at(at(ts))
}

/// A golden Dashboard as it reads when made on `today` instead of
/// `GOLDEN_DAY`: the dates in its table cells moved by as many days (a
/// time alone, as today's rows show, does not change).
fn golden_dashboard_on(name: &str, today: NaiveDate) -> String {
    let path = golden(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let shift = today - day(GOLDEN_DAY);
    let days = [0, 1].map(|back| day(GOLDEN_DAY) - chrono::Duration::days(back));
    // In two passes, so that no date is moved twice.
    let mut out = text;
    for (i, was) in days.iter().enumerate() {
        out = out.replace(&format!("| {was} "), &format!("| \u{0}{i} "));
    }
    for (i, was) in days.iter().enumerate() {
        out = out.replace(&format!("| \u{0}{i} "), &format!("| {} ", *was + shift));
    }
    out
}

/// A vault with a note to link to, two days of entries, and `dashboard` as
/// its Dashboard.md (if any), made on the golden day.
fn golden_vault(dashboard: Option<&[u8]>) -> Vault {
    golden_vault_on(day(GOLDEN_DAY), dashboard)
}

/// The same on `today`: entries at fixed times on `today` and the day
/// before, written by a logger whose clock shows 10:00:05 on `today`.
fn golden_vault_on(today: NaiveDate, dashboard: Option<&[u8]>) -> Vault {
    let v = Vault::new();
    std::fs::write(v.path().join("Plans/request-01-Plan.md"), "# Plan\n").expect("note");
    if let Some(d) = dashboard {
        std::fs::write(v.path().join("Dashboard.md"), d).expect("dashboard");
    }
    let yesterday = today - chrono::Duration::days(1);
    let log = logger_on(v.path(), today);
    let mut batch = vec![
        entry(
            LogLevel::Info,
            "file_drop",
            "filesystem_watcher",
            "Inbox/request-01.md",
            &format!("{yesterday}T23:59:58Z"),
        ),
        entry(
            LogLevel::Warning,
            "approval_requested",
            "needs-action-processor",
            "Pending_Approval/request-01-Plan.md",
            &format!("{yesterday}T23:59:59Z"),
        ),
    ];
    for i in 0..7 {
        batch.push(entry(
            LogLevel::Info,
            "tool_call",
            "claude_code",
            "Bash",
            &format!("{today}T09:00:0{i}Z"),
        ));
    }
    batch.push(entry(
        LogLevel::Info,
        "plan_created",
        "needs-action-processor",
        "Plans/request-01-Plan.md",
        &format!("{today}T10:00:00.123Z"),
    ));
    batch.push(
        entry(
            LogLevel::Critical,
            "system_event",
            "evil | actor\n## Hacked <b>x</b>",
            "[[Secret]] %%hidden",
            &format!("{today}T10:00:01Z"),
        )
        .result(Outcome::Failure),
    );
    log.log_batch(batch).expect("log");
    v
}

const REALISTIC: &str = "---\ntags: [dashboard]\n---\n# AI Employee Dashboard\n\nLast reviewed: 2026-11-21.\n\n## Status\n\n| Folder | Items |\n|--------|-------|\n| Needs_Action | 1 |\n\n## Recent Activity\n| Time | Action | Actor | Result |\n|------|--------|-------|--------|\n| 09:00:00 | old | row | success |\n\n### Notes kept in the section are replaced too\n\n```\n## Not a heading, in code\n```\n\n## Notes\n\n- Invoices over $500 need approval (see [[Company_Handbook]]).\n";

#[test]
fn dashboard_goldens_realistic_crlf_missing_and_last() {
    let cases: [(&str, String); 4] = [
        ("realistic", REALISTIC.to_owned()),
        ("crlf", REALISTIC.replace('\n', "\r\n")),
        (
            "missing",
            "# AI Employee Dashboard\n\n## Status\n\nAll quiet.".to_owned(),
        ),
        (
            "last",
            "# AI Employee Dashboard\n\n## Recent Activity\n\nnothing yet\n".to_owned(),
        ),
    ];
    for (name, before) in cases {
        assert_golden(&format!("dashboard/{name}.before.md"), before.as_bytes());
        let v = golden_vault(Some(before.as_bytes()));
        let after = std::fs::read(v.path().join("Dashboard.md")).expect("read");
        assert_golden(&format!("dashboard/{name}.after.md"), &after);
        // Every byte outside the section is kept.
        let after_text = String::from_utf8(after.clone()).expect("utf-8");
        if name == "realistic" || name == "crlf" {
            let eol = if name == "crlf" { "\r\n" } else { "\n" };
            let head = before
                .split(&format!("## Recent Activity{eol}"))
                .next()
                .expect("head");
            let tail = &before[before.find(&format!("## Notes{eol}")).expect("notes")..];
            assert!(
                after_text.starts_with(head) && after_text.ends_with(tail),
                "{name}"
            );
        }
        if name == "crlf" {
            assert!(
                !after_text.replace("\r\n", "").contains('\n'),
                "a bare LF crept in"
            );
        }
        // Refreshing again through the binary changes nothing, and does not
        // rewrite the file. The binary's clock is the real one, and the
        // table shows today's times alone but older ones with their date: so
        // this is done on a vault made the same way on the real today (its
        // Dashboard the golden one with the dates moved), and done again if
        // UTC midnight falls before the binary has run. Only the date counts
        // there: the entries' times of day may be later than the real time.
        let mtime = |path: &Path| {
            std::fs::metadata(path)
                .expect("meta")
                .modified()
                .expect("mtime")
        };
        let (v, today, after, modified, done) = on_one_utc_day(|now| {
            let today = now.date_naive();
            let v = golden_vault_on(today, Some(before.as_bytes()));
            let after = std::fs::read(v.path().join("Dashboard.md")).expect("read");
            let modified = mtime(&v.path().join("Dashboard.md"));
            std::thread::sleep(std::time::Duration::from_millis(20));
            let done = v.cmd().arg("dashboard").run();
            (v, today, after, modified, done)
        });
        assert_eq!(
            String::from_utf8_lossy(&after),
            golden_dashboard_on(&format!("dashboard/{name}.after.md"), today),
            "{name}, made on {today}"
        );
        done.assert_code(0);
        assert_eq!(done.response()["details"]["result"], "unchanged", "{name}");
        let path = v.path().join("Dashboard.md");
        assert_eq!(std::fs::read(&path).expect("read"), after);
        assert_eq!(mtime(&path), modified);
    }
}

#[test]
fn dashboard_golden_in_a_zone_ahead_of_utc() {
    // At 10:00:05 UTC it is 15:30:05 in +05:30: yesterday's 23:59 UTC
    // entries are today there, shown by their time alone.
    let v = golden_vault(Some(REALISTIC.as_bytes()));
    let vault = vault_audit::Vault::new(v.path());
    let settings = vault_audit::dashboard::Settings {
        zone: vault_audit::time::Zone::parse("+05:30").expect("zone"),
        ..Default::default()
    };
    let dates = vault.day_files().expect("day files");
    let now = at(&format!("{GOLDEN_DAY}T10:00:05Z"));
    let (result, _) =
        vault_audit::dashboard::refresh(&vault, &dates, now, &settings, &|| None, true)
            .expect("refresh");
    assert_eq!(result, vault_audit::dashboard::Refresh::Written);
    let after = std::fs::read(v.path().join("Dashboard.md")).expect("read");
    assert_golden("dashboard/realistic.plus0530.after.md", &after);
}

#[test]
fn index_golden_and_only_exact_day_names_count() {
    let v = golden_vault(None);
    let index = std::fs::read(v.logs().join("index.json")).expect("index");
    assert_golden("index.json", &index);
    let parsed: Value = serde_json::from_slice(&index).expect("json");
    assert_eq!(parsed["total_entries_all_time"], 11);
    assert_eq!(parsed["log_files"][0]["entry_count"], 2);
    assert_eq!(parsed["log_files"][1]["entry_count"], 9);
    let size = std::fs::metadata(v.day("2026-11-22")).expect("meta").len();
    assert_eq!(parsed["log_files"][1]["size_bytes"], size);

    for junk in [
        "failed_writes.json",
        "critical_archive.json",
        "2026-11-20.corrupt-1790000000.json",
        "2026-1-1.json",
        "notes.json",
        "2026-11-20.json.bak",
    ] {
        std::fs::write(v.logs().join(junk), "{}").expect("junk");
    }
    std::fs::create_dir(v.logs().join("2026-11-19.json")).expect("a folder with a day name");
    let done = v.cmd().arg("index").run();
    done.assert_code(0);
    let rebuilt: Value =
        serde_json::from_slice(&std::fs::read(v.logs().join("index.json")).expect("read"))
            .expect("json");
    assert_eq!(rebuilt["log_files"], parsed["log_files"]);
    assert_eq!(done.response()["details"]["index"]["total_log_files"], 2);
}

#[test]
fn an_unreadable_index_is_rebuilt_not_trusted() {
    let v = golden_vault(None);
    let good: Value =
        serde_json::from_slice(&std::fs::read(v.logs().join("index.json")).expect("read"))
            .expect("json");
    for bad in [
        "not json",
        "{\"last_updated\": 1}",
        &good
            .to_string()
            .replace("\"entry_count\":9", "\"entry_count\":99"),
    ] {
        std::fs::write(v.logs().join("index.json"), bad).expect("write");
        logger(v.path())
            .log(entry(
                LogLevel::Info,
                "system_event",
                "a",
                "t",
                "2026-11-22T10:00:02Z",
            ))
            .expect("log");
        let index: Value =
            serde_json::from_slice(&std::fs::read(v.logs().join("index.json")).expect("read"))
                .expect("json");
        let count = index["log_files"][1]["entry_count"]
            .as_u64()
            .expect("count");
        assert_eq!(
            index["total_entries_all_time"].as_u64(),
            Some(2 + count),
            "{bad}"
        );
        assert_eq!(
            count,
            v.day_json("2026-11-22")["total_entries"]
                .as_u64()
                .expect("total")
        );
    }
}

/// The headings of a Markdown document and its tables' body row counts.
fn structure(markdown: &str) -> (Vec<String>, Vec<usize>) {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let mut headings = Vec::new();
    let mut tables = Vec::new();
    let mut in_heading = None;
    let mut rows = 0;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { .. }) => in_heading = Some(String::new()),
            Event::End(TagEnd::Heading(level)) => headings.push(format!(
                "{level:?} {}",
                in_heading.take().unwrap_or_default()
            )),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = in_heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::Start(Tag::Table(_)) => rows = 0,
            Event::Start(Tag::TableRow) => rows += 1,
            Event::End(TagEnd::Table) => tables.push(rows),
            _ => {}
        }
    }
    (headings, tables)
}

/// Writes a day file for `date` holding one CRITICAL entry.
fn write_old_critical_day(v: &Vault, date: &str, ts: &str) {
    let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date");
    let trailer = Trailer {
        total_entries: 1,
        summary: vault_audit::daily::Summary([0, 0, 0, 1]),
        chain: None,
    };
    let text = render_file(
        day,
        None,
        [entry_json(ts, "CRITICAL", 1).as_str()],
        &trailer,
    );
    std::fs::write(v.day(date), text).expect("old day");
}

#[test]
fn seed_post_conditions_hold_after_a_cli_write() {
    // The entry is logged at `now`, and the purge the same run logs at the
    // binary's (real) time: both land in today's file unless midnight falls
    // in between, when the whole is done again.
    let (v, old_date, date, ts, done) = on_one_utc_day(|now| {
        let v = Vault::new();
        let (old_date, old_ts) = days_before(now, 95);
        write_old_critical_day(&v, &old_date, &old_ts);
        std::fs::write(
            v.path().join("Dashboard.md"),
            "# D\n\n## Recent Activity\n\n## Other\n",
        )
        .expect("dashboard");
        let (date, ts) = days_before(now, 0);
        let done = v
            .cmd()
            .args(["log", "--entry", &entry_json(&ts, "ERROR", 7)])
            .run();
        (v, old_date, date, ts, done)
    });
    done.assert_code(0);
    // 1. The day file holds the entry, counted.
    let day = v.day_json(&date);
    assert_eq!(day["entries"][0]["parameters"]["n"], 7);
    assert_eq!(day["summary"]["ERROR"], 1);
    // 2. The index is current, with a new last_updated.
    let index: Value =
        serde_json::from_slice(&std::fs::read(v.logs().join("index.json")).expect("index"))
            .expect("json");
    assert!(index["last_updated"].as_str().expect("ts") >= ts.as_str());
    assert_eq!(index["newest_log"], date);
    // 3. The Dashboard shows it at the top (after the purge entry of the same run).
    let dash = std::fs::read_to_string(v.path().join("Dashboard.md")).expect("dashboard");
    let rows: Vec<&str> = dash
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Time"))
        .collect();
    assert!(
        rows.iter()
            .any(|r| r.contains("| ERROR | system_event | test | vault | success |")),
        "{dash}"
    );
    assert!(rows[0].contains("log_retention"), "{dash}");
    // 4. The file older than 90 days is gone, its CRITICAL entry archived, the purge logged.
    assert!(!v.day(&old_date).exists());
    let archive = std::fs::read_to_string(v.logs().join("critical_archive.json")).expect("archive");
    assert_eq!(archive.lines().count(), 1);
    assert!(done.stderr.is_empty(), "{}", done.stderr);
    let purge = &day["entries"][1];
    assert_eq!(purge["action_type"], "log_retention");
    assert_eq!(purge["actor"], "audit_logger");
    assert_eq!(purge["target"], format!("{old_date}.json"));
    assert_eq!(
        purge["parameters"],
        serde_json::json!({"retention_days": 90, "critical_archived": 1})
    );
    assert_eq!(index["oldest_log"], date);
}

#[test]
fn dry_run_changes_no_file_in_logs_nor_the_index_nor_the_dashboard() {
    // Two days of entries ending yesterday, well inside the retention
    // period of the binary's real clock: `rotate` must name the old day alone.
    let yesterday = (Utc::now() - chrono::Duration::days(1)).date_naive();
    let v = golden_vault_on(yesterday, Some(REALISTIC.as_bytes()));
    let (old_date, old_ts) = days_ago(120);
    write_old_critical_day(&v, &old_date, &old_ts);
    let before = v.snapshot();
    let (_, ts) = days_ago(0);
    let dry = || Run::new().arg("--vault").arg(v.path()).cwd(v.path());
    let done = dry()
        .args(["log", "--entry", &entry_json(&ts, "INFO", 1)])
        .run();
    done.assert_code(0);
    assert!(done.stdout.starts_with("[DRY_RUN] Log Entry: "));
    for cmd in ["index", "dashboard"] {
        dry().arg(cmd).run().assert_code(0);
    }
    let done = dry().arg("rotate").run();
    done.assert_code(0);
    let r = done.response();
    assert_eq!(r["details"]["deleted"], 0);
    assert_eq!(r["details"]["dry_run"], true);
    assert_eq!(
        r["details"]["files"],
        serde_json::json!([{"file": format!("{old_date}.json"), "critical": 1}])
    );
    assert_eq!(v.snapshot(), before, "dry run changed the vault");
}

#[test]
fn hostile_strings_cannot_change_the_dashboard_structure() {
    // The reference's defects, pinned: 15 writes leave 10 rows, and a newline
    // in an actor adds no heading.
    let v = Vault::new();
    std::fs::write(v.path().join("Dashboard.md"), REALISTIC).expect("dashboard");
    // What the headings are after a refresh with harmless rows.
    let benign = String::from_utf8(vault_audit::dashboard::replace_section(
        REALISTIC.as_bytes(),
        HEADING,
        &[],
    ))
    .expect("utf-8");
    let (before_headings, _) = structure(&benign);
    let (_, ts) = days_ago(0);
    for i in 0..15 {
        let actor = format!("evil{i}\n## Hacked\n| x | y |\n<script>");
        v.cmd()
            .args([
                "log",
                "--level",
                "INFO",
                "--action",
                "system_event",
                "--actor",
                &actor,
                "--target",
                "t",
                "--timestamp",
                &ts,
            ])
            .run()
            .assert_code(0);
    }
    let dash = std::fs::read_to_string(v.path().join("Dashboard.md")).expect("dashboard");
    let (headings, tables) = structure(&dash);
    assert_eq!(headings, before_headings, "{dash}");
    assert_eq!(
        tables,
        vec![1, 10],
        "status table, and one activity table of 10 body rows:\n{dash}"
    );
}

mod property {
    use super::*;
    use proptest::prelude::*;
    use vault_audit::dashboard::{replace_section, table_lines, Shown};

    fn hostile() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,40}",
            "[\\n\\r\\t|#<>\\[\\]`\\\\%$=*~^ -]{0,20}",
            "\\PC{0,3}[\\n\\r|]\\PC{0,3}"
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_strings_leave_the_same_headings_and_one_table_of_at_most_ten_rows(
            rows in prop::collection::vec((hostile(), hostile(), hostile()), 0..14),
            crlf in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            let vault = vault_audit::Vault::new(dir.path());
            let entries: Vec<Value> = rows
                .iter()
                .take(10)
                .map(|(actor, target, result)| serde_json::json!({
                    "timestamp": "2026-11-22T10:00:00.000Z", "log_level": "INFO", "action_type": "tool_call",
                    "actor": actor, "target": target, "result": result,
                }))
                .collect();
            let shown = Shown::new(vault_audit::time::Zone::utc(), at("2026-11-22T10:00:05Z"));
            let table = table_lines(&entries, &vault, &shown);
            let before = if crlf { REALISTIC.replace('\n', "\r\n") } else { REALISTIC.to_owned() };
            let after = String::from_utf8(replace_section(before.as_bytes(), HEADING, &table)).expect("utf-8");
            let (headings, tables) = structure(&after);
            let benign = replace_section(before.as_bytes(), HEADING, &table_lines(&[], &vault, &shown));
            prop_assert_eq!(headings, structure(&String::from_utf8(benign).expect("utf-8")).0);
            prop_assert_eq!(tables.len(), 2, "{}", after);
            prop_assert_eq!(tables[1], entries.len(), "{}", after);
            prop_assert!(tables[1] <= 10);
            // Refreshing with the same rows is a no-op.
            prop_assert_eq!(replace_section(after.as_bytes(), HEADING, &table), after.as_bytes());
        }
    }
}

#[test]
fn rotate_with_days_purges_and_reports_as_json() {
    let v = Vault::new();
    let (d10, ts10) = days_ago(10);
    let (d3, ts3) = days_ago(3);
    for (ts, level) in [(&ts10, "CRITICAL"), (&ts10, "INFO"), (&ts3, "INFO")] {
        v.cmd()
            .args([
                "--retention-days",
                "30",
                "log",
                "--entry",
                &entry_json(ts, level, 1),
            ])
            .run()
            .assert_code(0);
    }
    let done = v.cmd().args(["rotate", "--days", "5"]).run();
    done.assert_code(0);
    let r = done.response();
    assert_eq!(r["path"], "Logs");
    assert_eq!(r["details"]["deleted"], 1);
    assert_eq!(r["details"]["critical_archived"], 1);
    assert_eq!(
        r["details"]["files"],
        serde_json::json!([{"file": format!("{d10}.json"), "critical": 1}])
    );
    assert!(!v.day(&d10).exists() && v.day(&d3).exists());
    let index: Value =
        serde_json::from_slice(&std::fs::read(v.logs().join("index.json")).expect("index"))
            .expect("json");
    assert_eq!(index["oldest_log"], d3);
    let done = v.cmd().args(["rotate", "--days", "0"]).run();
    done.assert_code(2);
    let done = v
        .cmd()
        .env("AUDIT_RETENTION_DAYS", "many")
        .arg("rotate")
        .run();
    done.assert_code(2);
    assert!(
        done.stderr.contains("AUDIT_RETENTION_DAYS") || done.stderr.contains("retention-days"),
        "{}",
        done.stderr
    );
}
