//! `vault-audit query` against jq on 90 day files of 10,000 entries each:
//! "failed entries in the last 7 days" and "count by actor". Times whole
//! processes (best of 3), checks both give the same answer, prints both.
//!
//! Run: `cargo bench --bench query_vs_jq` (needs `jq` on the PATH).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "support.rs"]
mod support;

const DAYS: i64 = 90;
const PER_DAY: usize = 10_000;
const ACTORS: [&str; 8] = [
    "needs-action-processor",
    "email-mcp",
    "claude_code",
    "filesystem_watcher",
    "plan-writer",
    "approval-bot",
    "invoice-skill",
    "audit_daemon",
];

fn make_vault(dir: &Path) {
    std::fs::create_dir_all(dir.join("Logs")).expect("logs");
    let today = chrono::Utc::now().date_naive();
    for back in 0..DAYS {
        let date = today - chrono::Duration::days(back);
        let mut trailer = vault_audit::daily::Trailer::default();
        let lines: Vec<String> = (0..PER_DAY)
            .map(|i| {
                let secs = i * 86_399 / PER_DAY;
                let ts = format!("{date}T{:02}:{:02}:{:02}.{:03}Z", secs / 3600, secs / 60 % 60, secs % 60, i % 1000);
                let failed = i % 23 == 0;
                let level = if failed { "ERROR" } else { "INFO" };
                trailer.total_entries += 1;
                trailer.summary.add(level.parse().expect("level"));
                json!({
                    "timestamp": ts, "log_level": level, "action_type": "skill_run",
                    "actor": ACTORS[i % ACTORS.len()], "target": format!("Plans/request-{i}.md"),
                    "parameters": {"duration_ms": (i * 37) % 5000, "attempt": 1},
                    "approval_status": "not_required", "approved_by": "N/A", "dry_run": false,
                    "result": if failed { "failure" } else { "success" },
                    "error_message": if failed { Value::from("timeout after 5000 ms") } else { Value::Null },
                    "session_id": "AI_EMP_20261122_BENCH1"
                })
                .to_string()
            })
            .collect();
        let text =
            vault_audit::daily::render_file(date, None, lines.iter().map(String::as_str), &trailer);
        std::fs::write(dir.join(format!("Logs/{date}.json")), text).expect("day");
    }
}

/// Best of three runs of a shell command; its output.
fn time(cmd: &str) -> (Duration, String) {
    let mut best = Duration::MAX;
    let mut out = String::new();
    for _ in 0..3 {
        let started = Instant::now();
        let o = Command::new("sh").args(["-c", cmd]).output().expect("run");
        let took = started.elapsed();
        assert!(
            o.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        best = best.min(took);
        out = String::from_utf8_lossy(&o.stdout).into_owned();
    }
    (best, out)
}

fn lines_as_values(text: &str) -> Vec<Value> {
    let mut v: Vec<Value> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    v.sort_by_key(|e| e.to_string());
    v
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    if Command::new("jq").arg("--version").output().is_err() {
        println!("jq is not installed: nothing to compare against");
        return;
    }
    let dir = support::bench_dir();
    let vault = dir.path();
    make_vault(vault);
    let bin = env!("CARGO_BIN_EXE_vault-audit");
    let v = vault.display();
    let now = chrono::Utc::now();
    let cutoff = vault_audit::time::format_timestamp(&(now - chrono::Duration::days(7)));
    let recent: Vec<String> = (0..=7)
        .map(|back| {
            format!(
                "{v}/Logs/{}.json",
                (now - chrono::Duration::days(back)).date_naive()
            )
        })
        .collect();

    println!(
        "{DAYS} day files x {PER_DAY} entries ({} entries), best of 3 runs:",
        DAYS as usize * PER_DAY
    );
    let ours = format!("{bin} --vault {v} query --result failure --since {cutoff} --format jsonl");
    let theirs = format!("jq -c --arg c {cutoff} '.entries[] | select(.result == \"failure\" and .timestamp >= $c)' {}", recent.join(" "));
    let (a, a_out) = time(&ours);
    let (b, b_out) = time(&theirs);
    assert_eq!(
        lines_as_values(&a_out),
        lines_as_values(&b_out),
        "the two answers differ"
    );
    println!(
        "failed in the last 7 days ({} entries, same answer):",
        a_out.lines().count()
    );
    println!("  {ours}\n    {:.3} s", a.as_secs_f64());
    println!("  {theirs}\n    {:.3} s", b.as_secs_f64());
    println!("  jq / query = {:.1}x", b.as_secs_f64() / a.as_secs_f64());

    let ours = format!("{bin} --vault {v} query --stats");
    let theirs = format!(
        "jq -n 'reduce (inputs.entries[].actor) as $a ({{}}; .[$a] += 1)' {v}/Logs/????-??-??.json"
    );
    let (a, a_out) = time(&ours);
    let (b, b_out) = time(&theirs);
    let ours_by_actor: BTreeMap<String, u64> = serde_json::from_value(
        serde_json::from_str::<Value>(&a_out).expect("stats")["by_actor"].clone(),
    )
    .expect("map");
    let theirs_by_actor: BTreeMap<String, u64> = serde_json::from_str(&b_out).expect("jq map");
    assert_eq!(ours_by_actor, theirs_by_actor, "the two counts differ");
    println!("count by actor over all days (same answer):");
    println!("  {ours}\n    {:.3} s", a.as_secs_f64());
    println!("  {theirs}\n    {:.3} s", b.as_secs_f64());
    println!("  jq / query = {:.1}x", b.as_secs_f64() / a.as_secs_f64());
}
