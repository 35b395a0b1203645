//! `query` and `tail`: filters, formats, time order, foreign layouts, following.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{days_before, Vault, BIN};
use serde_json::{json, Value};

fn entry(ts: &str, level: &str, actor: &str, result: &str, extra: Value) -> String {
    let mut e = json!({
        "timestamp": ts, "log_level": level, "action_type": "skill_run", "actor": actor,
        "target": format!("Plans/{actor}.md"), "parameters": extra, "approval_status": "not_required",
        "approved_by": "N/A", "dry_run": false, "result": result, "error_message": null,
        "session_id": format!("S-{actor}")
    });
    if result == "failure" {
        e["error_message"] = json!("it broke, \"badly\"");
    }
    e.to_string()
}

/// The days of `vault()`'s entries.
struct Days {
    /// Two entries, then one back-dated into it.
    early: String,
    /// The last two entries.
    late: String,
}

/// Three days of entries, one of them back-dated into an earlier day, and
/// one day file in the Python reference's layout.
///
/// The days are 4 (the foreign file), 3 and 1 days back, taken from one
/// `now`: `--since 2d` (48 hours back) then falls on the empty day between,
/// whatever the hour, even if midnight passes during the test.
fn vault() -> (Vault, Days) {
    let v = Vault::new();
    let now = chrono::Utc::now();
    let (d4, _) = days_before(now, 4);
    let (d3, _) = days_before(now, 3);
    let (d1, _) = days_before(now, 1);
    let at = |d: &str, hms: &str| format!("{d}T{hms}.000Z");
    let lines = [
        entry(
            &at(&d3, "09:00:00"),
            "INFO",
            "alpha",
            "success",
            json!({"duration_ms": 100}),
        ),
        entry(
            &at(&d3, "10:00:00"),
            "ERROR",
            "beta",
            "failure",
            json!({"duration_ms": 300}),
        ),
        entry(
            &at(&d1, "08:00:00"),
            "WARNING",
            "alpha",
            "success",
            json!({"duration_ms": 200}),
        ),
        entry(
            &at(&d1, "09:30:00"),
            "CRITICAL",
            "gamma",
            "failure",
            json!({"note": "pipe | and, comma"}),
        ),
        // Written last, but earlier in its day: it must come out first of d3.
        entry(
            &at(&d3, "08:00:00"),
            "INFO",
            "beta",
            "skipped",
            json!({"duration_ms": 50}),
        ),
    ];
    let stdin: String = lines.iter().map(|l| format!("{l}\n")).collect();
    v.cmd()
        .args(["log", "--entry", "-"])
        .stdin(stdin)
        .run()
        .assert_code(0);
    // A day in a foreign layout (pretty, counts first), never touched by a writer.
    let foreign = json!({
        "date": d4, "total_entries": 1, "summary": {"INFO": 0, "WARNING": 0, "ERROR": 1, "CRITICAL": 0},
        "entries": [serde_json::from_str::<Value>(&entry(&at(&d4, "12:00:00"), "ERROR", "delta", "failure", json!({}))).expect("json")]
    });
    std::fs::write(
        v.day(&d4),
        serde_json::to_string_pretty(&foreign).expect("pretty"),
    )
    .expect("write");
    (
        v,
        Days {
            early: d3,
            late: d1,
        },
    )
}

fn query(v: &Vault, args: &[&str]) -> Vec<Value> {
    let done = v
        .cmd()
        .arg("query")
        .args(args)
        .args(["--format", "jsonl"])
        .run();
    done.assert_code(0);
    done.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect()
}

fn actors(found: &[Value]) -> Vec<&str> {
    found
        .iter()
        .map(|e| e["actor"].as_str().unwrap_or(""))
        .collect()
}

#[test]
fn filters_combine_and_output_is_in_time_order() {
    let (v, days) = vault();
    assert_eq!(
        actors(&query(&v, &[])),
        vec!["delta", "beta", "alpha", "beta", "alpha", "gamma"]
    );
    assert_eq!(
        actors(&query(&v, &["--level", "error", "--level", "CRITICAL"])),
        vec!["delta", "beta", "gamma"]
    );
    assert_eq!(
        actors(&query(&v, &["--result", "failure", "--since", "2d"])),
        vec!["gamma"]
    );
    assert_eq!(
        actors(&query(&v, &["--actor", "alpha"])),
        vec!["alpha", "alpha"]
    );
    assert_eq!(actors(&query(&v, &["--target", "gam"])), vec!["gamma"]);
    assert_eq!(
        actors(&query(&v, &["--session", "S-beta", "--result", "skipped"])),
        vec!["beta"]
    );
    assert_eq!(
        actors(&query(&v, &["--contains", "pipe | and"])),
        vec!["gamma"]
    );
    assert_eq!(
        actors(&query(&v, &["--contains", "\"badly\""])),
        vec!["delta", "beta", "gamma"]
    );
    assert_eq!(
        actors(&query(
            &v,
            &[
                "--action",
                "skill_run",
                "--approval-status",
                "not_required",
                "--level",
                "warning"
            ]
        )),
        vec!["alpha"]
    );
    let early = &days.early;
    assert_eq!(
        actors(&query(
            &v,
            &["--since", early, "--until", &format!("{early}T09:30:00Z")]
        )),
        vec!["beta", "alpha"]
    );
    assert!(query(&v, &["--actor", "nobody"]).is_empty());
    // jsonl prints the stored line exactly.
    let done = v
        .cmd()
        .args(["query", "--actor", "gamma", "--format", "jsonl"])
        .run();
    assert!(std::fs::read_to_string(v.day(&days.late))
        .expect("read")
        .contains(done.stdout.trim()));
}

#[test]
fn bad_filters_say_what_is_accepted() {
    let (v, _) = vault();
    for (args, needle) in [
        (
            vec!["--level", "LOUD"],
            "--level \"LOUD\": accepted: one of INFO, WARNING, ERROR, CRITICAL",
        ),
        (
            vec!["--result", "ok"],
            "--result \"ok\": accepted: one of success, failure, skipped",
        ),
        (
            vec!["--since", "last week"],
            "--since \"last week\": accepted: a duration",
        ),
        (
            vec!["--format", "xml"],
            "not one of table, json, jsonl, csv",
        ),
        // Every wrong filter at once.
        (
            vec!["--until", "soon", "--approval-status", "maybe", "--level", "LOUD"],
            "--until \"soon\": accepted: a duration back from now (30m, 1h, 7d), an RFC 3339 time (2026-11-22T10:00:00Z) or a date (2026-11-22); --level \"LOUD\": accepted: one of INFO, WARNING, ERROR, CRITICAL; --approval-status \"maybe\": accepted: one of",
        ),
    ] {
        let done = v.cmd().arg("query").args(&args).run();
        done.assert_code(2);
        assert!(done.stderr.contains(needle), "{}", done.stderr);
    }
    // A wrong vault path is an error, not an empty answer.
    for cmd in ["query", "tail"] {
        let done = common::Run::new()
            .args(["--vault", "/nonexistent/vault", cmd])
            .run();
        done.assert_code(2);
        assert!(
            done.stderr
                .contains("/nonexistent/vault is not an existing folder"),
            "{}",
            done.stderr
        );
    }
}

#[test]
fn formats_count_and_stats() {
    let (v, _) = vault();
    let json = v
        .cmd()
        .args(["query", "--format", "json", "--actor", "alpha"])
        .run();
    let parsed: Value = serde_json::from_str(&json.stdout).expect("one JSON array");
    assert_eq!(parsed.as_array().map(Vec::len), Some(2));
    let empty = v
        .cmd()
        .args(["query", "--format", "json", "--actor", "nobody"])
        .run();
    assert_eq!(
        serde_json::from_str::<Value>(&empty.stdout).expect("json"),
        json!([])
    );

    let csv = v
        .cmd()
        .args(["query", "--format", "csv", "--actor", "gamma"])
        .run();
    let rows: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(rows[0], "timestamp,log_level,action_type,actor,target,result,approval_status,approved_by,dry_run,error_message,session_id,parameters");
    assert!(
        rows[1].contains(",\"it broke, \"\"badly\"\"\","),
        "{}",
        rows[1]
    );
    assert!(
        rows[1].ends_with(",\"{\"\"note\"\":\"\"pipe | and, comma\"\"}\""),
        "{}",
        rows[1]
    );

    let table = v
        .cmd()
        .args(["query", "--format", "table", "--actor", "beta"])
        .run();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("TIME ") && lines.len() == 3,
        "{}",
        table.stdout
    );
    assert!(
        !table.stdout.contains('\x1b'),
        "no colour when not on a terminal"
    );

    let count = v
        .cmd()
        .args(["query", "--count", "--result", "failure"])
        .run();
    assert_eq!(count.stdout.trim(), "3");

    let stats = v.cmd().args(["query", "--stats"]).run();
    let s: Value = serde_json::from_str(&stats.stdout).expect("stats JSON");
    assert_eq!(s["total"], 6);
    assert_eq!(
        s["by_level"],
        json!({"CRITICAL": 1, "ERROR": 2, "INFO": 2, "WARNING": 1})
    );
    assert_eq!(s["by_actor"]["beta"], 2);
    assert_eq!(s["by_result"]["failure"], 3);
    assert_eq!(
        s["duration_ms_by_actor"]["alpha"],
        json!({"count": 2, "mean": 150.0, "p50": 100.0, "p95": 200.0, "max": 200.0})
    );
    assert_eq!(s["duration_ms_by_actor"]["beta"]["max"], 300.0);
    assert!(s["duration_ms_by_actor"].get("gamma").is_none());
}

#[test]
fn tail_shows_the_last_entries_and_follows_new_ones() {
    let (v, _) = vault();
    let done = v.cmd().args(["tail", "-n", "2", "--format", "jsonl"]).run();
    done.assert_code(0);
    let last: Vec<Value> = done
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    assert_eq!(
        actors(&last),
        vec!["alpha", "gamma"],
        "the two newest, oldest first"
    );

    let mut child = Command::new(BIN)
        .arg("--vault")
        .arg(v.path())
        .args(["tail", "-f", "-n", "0", "--format", "jsonl"])
        .current_dir(v.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tail -f");
    let stdout = child.stdout.take().expect("stdout");
    std::thread::sleep(Duration::from_millis(400));
    // Now, not a second ago: never on a day before the one `tail -f` began on.
    let (_, ts) = days_before(chrono::Utc::now(), 0);
    for n in 0..3 {
        let line = entry(&ts, "INFO", &format!("live{n}"), "success", json!({}));
        v.cmd().args(["log", "--entry", &line]).run().assert_code(0);
    }
    let mut reader = BufReader::new(stdout);
    let mut seen = Vec::new();
    let started = Instant::now();
    while seen.len() < 3 && started.elapsed() < Duration::from_secs(10) {
        let mut line = String::new();
        if reader.read_line(&mut line).expect("read") == 0 {
            break;
        }
        let e: Value = serde_json::from_str(line.trim()).expect("jsonl");
        seen.push(e["actor"].as_str().unwrap_or("").to_owned());
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    assert_eq!(seen, vec!["live0", "live1", "live2"]);
}

#[test]
fn following_crosses_utc_midnight() {
    let v = Vault::new();
    let vault = vault_audit::Vault::new(v.path());
    // Yesterday and today from one `now`: two days in a row, whatever the time.
    let now = chrono::Utc::now();
    let (d1, ts1) = days_before(now, 1);
    let (d0, ts0) = days_before(now, 0);
    let day1 = chrono::NaiveDate::parse_from_str(&d1, "%Y-%m-%d").expect("date");
    let day0 = chrono::NaiveDate::parse_from_str(&d0, "%Y-%m-%d").expect("date");
    v.cmd()
        .args([
            "log",
            "--entry",
            &entry(&ts1, "INFO", "before", "success", json!({})),
        ])
        .run()
        .assert_code(0);
    let at = vault_audit::query::end_of(&vault, day1).expect("position");
    // The last minutes of the old day, then the new day begins.
    v.cmd()
        .args([
            "log",
            "--entry",
            &entry(&ts1, "INFO", "late", "success", json!({})),
        ])
        .run()
        .assert_code(0);
    v.cmd()
        .args([
            "log",
            "--entry",
            &entry(&ts0, "INFO", "early", "success", json!({})),
        ])
        .run()
        .assert_code(0);
    let (lines, at) = vault_audit::query::follow(&vault, at, day0).expect("step");
    assert_eq!(lines.len(), 1, "first the rest of the old day: {lines:?}");
    assert!(lines[0].contains("\"late\""));
    let (lines, at) = vault_audit::query::follow(&vault, at, day0).expect("step");
    assert_eq!(at.date, day0);
    assert_eq!(lines.len(), 1, "then the new day from its start: {lines:?}");
    assert!(lines[0].contains("\"early\""));
    let (lines, _) = vault_audit::query::follow(&vault, at, day0).expect("step");
    assert!(lines.is_empty());
}

#[test]
fn the_table_lines_up_cjk_and_emoji_and_colours_only_when_allowed() {
    let v = Vault::new();
    let (_, ts) = common::days_ago(0);
    let lines = [
        entry(&ts, "ERROR", "メール担当", "failure", json!({})),
        entry(&ts, "INFO", "🚀 launcher ✅", "success", json!({})),
        entry(&ts, "WARNING", "plain", "success", json!({})),
    ]
    .join("\n");
    v.cmd()
        .args(["log", "--entry", "-"])
        .stdin(lines)
        .run()
        .assert_code(0);
    let table = |env: &[(&str, &str)]| {
        let mut run = v.cmd().args(["query", "--format", "table"]);
        for (k, val) in env {
            run = run.env(k, val);
        }
        let done = run.run();
        done.assert_code(0);
        done.stdout
    };

    // Not a terminal: no colour. Every column starts at the same display column.
    let plain = table(&[]);
    assert!(!plain.contains('\x1b'), "{plain}");
    let starts: Vec<usize> = plain
        .lines()
        .map(|l| {
            let before_result = l.rfind(' ').expect("columns");
            unicode_width::UnicodeWidthStr::width(&l[..before_result])
        })
        .collect();
    assert_eq!(starts.len(), 4, "{plain}");
    assert!(
        starts.windows(2).all(|w| w[0] == w[1]),
        "{starts:?}\n{plain}"
    );

    // CLICOLOR_FORCE colours even a pipe; NO_COLOR wins over it.
    assert!(table(&[("CLICOLOR_FORCE", "1")]).contains("\x1b[31m"));
    let refused = table(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!refused.contains('\x1b'), "{refused}");
}
