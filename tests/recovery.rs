//! Torn tails, foreign layouts, corrupt files, lock timeouts and I/O errors:
//! every path keeps every complete entry or hands it back.

mod common;

use common::{days_ago, entry_json, Vault};
use serde_json::Value;

fn log_one(v: &Vault, ts: &str, n: u64) -> common::Done {
    v.cmd()
        .args(["log", "--entry", &entry_json(ts, "INFO", n)])
        .run()
}

fn ns(day: &Value) -> Vec<u64> {
    day["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["parameters"]["n"].as_u64())
        .collect()
}

/// The `foreign_write` WARNINGs of every day file (they are logged at the
/// time of the repair, which may be another day than the file's).
fn all_foreign_writes(v: &Vault) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(v.logs())
        .expect("ls")
        .filter_map(Result::ok)
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.len() == 15 && name.ends_with(".json") && name != "index.json" {
            out.extend(foreign_writes(&v.day_json(&name[..10])));
        }
    }
    out
}

/// The `foreign_write` WARNINGs of a day file, by how the file was touched.
fn foreign_writes(day: &Value) -> Vec<String> {
    day["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["parameters"]["event"] == "foreign_write")
        .map(|e| {
            e["parameters"]["how"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[test]
fn a_torn_tail_is_cut_back_to_the_last_complete_entry() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    for n in 1..=3 {
        log_one(&v, &ts, n).assert_code(0);
    }
    let path = v.day(&date);
    let full = std::fs::read(&path).expect("read");
    // Simulate power loss in the middle of the next append: the old trailer
    // is overwritten by half an entry.
    let trailer_at = full
        .windows(6)
        .rposition(|w| w == b"\n  ],\n")
        .expect("trailer");
    let mut torn = full[..trailer_at].to_vec();
    torn.extend_from_slice(b",\n    {\"timestamp\":\"2026-11-");
    std::fs::write(&path, &torn).expect("write");
    let entries_before: Vec<u8> = full[..trailer_at].to_vec();

    let done = log_one(&v, &ts, 4);
    done.assert_code(0);
    assert!(
        done.stderr
            .contains("repaired a torn tail: kept 3 complete entries"),
        "{}",
        done.stderr
    );
    let r = done.response();
    assert!(r["details"]["recovered"][0]
        .as_str()
        .expect("note")
        .contains("torn tail"));
    let day = v.day_json(&date);
    assert_eq!(ns(&day), vec![1, 2, 3, 4]);
    assert_eq!(day["total_entries"], 4);
    // Bytes of entries already written are never rewritten.
    assert!(std::fs::read(&path)
        .expect("read")
        .starts_with(&entries_before));
}

#[test]
fn a_torn_trailer_keeps_the_entry_written_before_it() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    log_one(&v, &ts, 1).assert_code(0);
    log_one(&v, &ts, 2).assert_code(0);
    let path = v.day(&date);
    let full = std::fs::read(&path).expect("read");
    std::fs::write(&path, &full[..full.len() - 30]).expect("cut");
    let done = log_one(&v, &ts, 3);
    done.assert_code(0);
    assert_eq!(ns(&v.day_json(&date)), vec![1, 2, 3]);
}

#[test]
fn a_pretty_file_that_opens_like_ours_is_converted_not_cut() {
    // `date` then `entries`, indented: the first lines match our header, but
    // the file parses whole, so none of it may be taken for a torn tail.
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    let entries: Vec<Value> = (1..=3)
        .map(|n| serde_json::from_str(&entry_json(&ts, "INFO", n)).expect("json"))
        .collect();
    let pretty = serde_json::json!({"date": date, "entries": entries, "total_entries": 3});
    std::fs::write(
        v.day(&date),
        serde_json::to_string_pretty(&pretty).expect("pretty"),
    )
    .expect("write");
    let done = log_one(&v, &ts, 4);
    done.assert_code(0);
    assert!(
        done.stderr.contains("converted from another layout"),
        "{}",
        done.stderr
    );
    assert_eq!(ns(&v.day_json(&date)), vec![1, 2, 3, 4]);
}

#[test]
fn a_foreign_layout_is_rewritten_in_ours_keeping_every_entry() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    // As the Python reference writes it: json.dump(data, f, indent=2), counts first.
    let entries: Vec<Value> = (1..=3)
        .map(|n| serde_json::from_str(&entry_json(&ts, "WARNING", n)).expect("json"))
        .collect();
    let reference = serde_json::json!({
        "date": date,
        "total_entries": 3,
        "summary": {"INFO": 0, "WARNING": 3, "ERROR": 0, "CRITICAL": 0},
        "entries": entries,
    });
    std::fs::write(
        v.day(&date),
        serde_json::to_string_pretty(&reference).expect("pretty"),
    )
    .expect("write");
    let done = log_one(&v, &ts, 4);
    done.assert_code(0);
    assert!(
        done.stderr.contains(
            "converted from another layout to the append layout, keeping 3 entries of our shape; the original was moved to"
        ),
        "{}",
        done.stderr
    );
    let day = v.day_json(&date);
    assert_eq!(ns(&day), vec![1, 2, 3, 4]);
    assert_eq!(
        day["summary"],
        serde_json::json!({"INFO": 1, "WARNING": 3, "ERROR": 0, "CRITICAL": 0})
    );
    // The human is told, by a WARNING logged now.
    assert_eq!(all_foreign_writes(&v), vec!["rewritten_in_another_layout"]);
    let text = std::fs::read_to_string(v.day(&date)).expect("read");
    assert!(text.starts_with(&format!(
        "{{\n  \"date\": \"{date}\",\n  \"chain_start\": {{"
    )));
    assert!(text.contains("\n  \"entries\": [\n    {"));
    // The original is kept aside byte for byte; no quarantine for a file that parsed.
    let names: Vec<String> = std::fs::read_dir(v.logs())
        .expect("ls")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("corrupt")), "{names:?}");
    let kept: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(&format!("{date}.orig-")))
        .collect();
    assert_eq!(kept.len(), 1, "{names:?}");
    assert_eq!(
        std::fs::read_to_string(v.logs().join(kept[0])).expect("read"),
        serde_json::to_string_pretty(&reference).expect("pretty")
    );
}

#[test]
fn a_corrupt_file_is_quarantined_never_overwritten_and_its_entries_salvaged() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    // A pretty-printed file cut off half-way and with garbage in it.
    let entries: Vec<Value> = (1..=3)
        .map(|n| serde_json::from_str(&entry_json(&ts, "ERROR", n)).expect("json"))
        .collect();
    let whole =
        serde_json::to_string_pretty(&serde_json::json!({"date": date, "entries": entries}))
            .expect("pretty");
    let cut = whole.rfind("\"parameters\"").expect("third entry");
    let damaged = format!("<<<<<<< conflict\n{}", &whole[..cut]);
    std::fs::write(v.day(&date), &damaged).expect("write");

    let done = log_one(&v, &ts, 4);
    done.assert_code(0);
    assert!(
        done.stderr
            .contains("did not parse as a day file; moved to"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("salvaged 2 entries"),
        "{}",
        done.stderr
    );
    let quarantined: Vec<_> = std::fs::read_dir(v.logs())
        .expect("ls")
        .map(|e| e.expect("e").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{date}.corrupt-")))
        })
        .collect();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(
        std::fs::read_to_string(&quarantined[0]).expect("read"),
        damaged,
        "the corrupt bytes are kept as they were"
    );
    let day = v.day_json(&date);
    assert_eq!(ns(&day), vec![1, 2, 4]);
    assert_eq!(day["summary"]["ERROR"], 2);
    assert_eq!(all_foreign_writes(&v), vec!["damaged"]);
}

#[test]
fn a_file_damaged_in_the_middle_is_quarantined_not_cut() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    for n in 1..=3 {
        log_one(&v, &ts, n).assert_code(0);
    }
    let path = v.day(&date);
    let text = std::fs::read_to_string(&path).expect("read");
    // Entry 2 damaged, and the tail torn: cutting back to the last complete
    // line would be wrong here, since a complete entry follows the damage.
    let broken = text
        .replacen("{\"timestamp\"", "{\"timest@mp\"#", 2)
        .replacen("{\"timest@mp\"#", "{\"timestamp\"", 1);
    std::fs::write(&path, &broken[..broken.len() - 20]).expect("write");
    let done = log_one(&v, &ts, 4);
    done.assert_code(0);
    assert!(done.stderr.contains("moved to"), "{}", done.stderr);
    // Entry 2 is damaged; 1 and 3 are salvaged, not cut away with it.
    assert_eq!(ns(&v.day_json(&date)), vec![1, 3, 4]);
}

#[test]
fn a_lock_held_past_the_deadline_sends_the_entry_to_failed_writes_with_exit_3() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    log_one(&v, &ts, 1).assert_code(0);
    let day_before = std::fs::read(v.day(&date)).expect("read");
    let held = vault_audit::lock::HeldLock::hold(&v.logs().join(".audit/lock")).expect("hold");
    let started = std::time::Instant::now();
    let done = v
        .cmd()
        .env("AUDIT_LOCK_TIMEOUT_MS", "300")
        .args(["log", "--entry", &entry_json(&ts, "INFO", 2)])
        .run();
    done.assert_code(3);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    let r = done.response();
    assert_eq!(r["ok"], false);
    assert_eq!(r["status"], "fallback");
    assert_eq!(r["path"], "Logs/failed_writes.json");
    assert!(
        done.stderr.contains("was held by another writer")
            && done.stderr.contains("failed_writes.json"),
        "{}",
        done.stderr
    );
    let saved =
        std::fs::read_to_string(v.logs().join("failed_writes.json")).expect("fallback file");
    let lines: Vec<Value> = saved
        .lines()
        .map(|l| serde_json::from_str(l).expect("one object per line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["parameters"]["n"], 2);
    assert_eq!(std::fs::read(v.day(&date)).expect("read"), day_before);
    drop(held);
    log_one(&v, &ts, 3).assert_code(0);
}

#[cfg(target_os = "linux")]
#[test]
fn a_day_file_that_is_a_link_to_a_device_is_refused_with_exit_4_and_the_entry_handed_back() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    // A link to /dev/full used to be written through (and failed with
    // ENOSPC); now no write follows a link under Logs/. The disk-full path
    // itself is tested in tests/noloss.rs with RLIMIT_FSIZE.
    std::os::unix::fs::symlink("/dev/full", v.day(&date)).expect("symlink");
    let entry = entry_json(&ts, "CRITICAL", 9);
    let done = v.cmd().args(["log", "--entry", &entry]).run();
    done.assert_code(4);
    let r = done.response();
    assert_eq!(r["status"], "failed");
    let msg = r["errors"][0].as_str().expect("msg");
    assert!(
        msg.contains(&format!("{} is a symbolic link", v.day(&date).display())),
        "{msg}"
    );
    let handed_back: Value =
        serde_json::from_str(done.stderr.lines().last().expect("line")).expect("entry on stderr");
    assert_eq!(
        handed_back,
        serde_json::from_str::<Value>(&entry).expect("json")
    );
    assert!(!v.logs().join("failed_writes.json").exists());
}

#[test]
fn an_unwritable_day_path_fails_with_exit_4() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    std::fs::create_dir(v.day(&date)).expect("mkdir");
    let done = log_one(&v, &ts, 1);
    done.assert_code(4);
    assert!(done.response()["errors"][0]
        .as_str()
        .expect("msg")
        .contains("1 entries were not written"));
}

#[test]
fn a_batch_torn_by_a_dead_daemon_is_taken_out_whole_by_the_next_log() {
    use vault_audit::daily::{self, Line};
    use vault_audit::journal::{self, Intent, Progress};
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    log_one(&v, &ts, 1).assert_code(0);
    let before = std::fs::read(v.day(&date)).expect("read");
    // What a daemon does, up to dying half-way through its write.
    let vault = vault_audit::Vault::new(v.path());
    let day = chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d").expect("date");
    let key = vault_audit::chain::ChainKey::none();
    let (_file, ready, _) = daily::open_for_append(&v.day(&date), day, 0, &key).expect("open");
    let lines: Vec<Line> = (2..5)
        .map(|n| Line {
            json: entry_json(&ts, "INFO", n),
            level: vault_audit::LogLevel::Info,
        })
        .collect();
    let plan = daily::plan_append(day, &ready, &lines, &key).expect("plan");
    journal::begin(
        &vault,
        &Intent::new(day, &plan, Progress::from([("claim-x".to_owned(), 3)])),
    )
    .expect("intent");
    let half = plan.bytes.len() / 2;
    let mut torn = before[..plan.offset as usize].to_vec();
    torn.extend_from_slice(&plan.bytes.as_bytes()[..half]);
    std::fs::write(v.day(&date), &torn).expect("torn write");

    let done = log_one(&v, &ts, 9);
    done.assert_code(0);
    assert!(
        done.stderr.contains("took out an unfinished batch"),
        "{}",
        done.stderr
    );
    // Not one line of the torn batch stays (it will be sent again); the new entry is in.
    assert_eq!(ns(&v.day_json(&date)), vec![1, 9]);
    assert!(!v.logs().join(".audit/intent.json").exists());
    assert!(
        journal::load_progress(&vault).is_empty(),
        "an unwritten batch advances nothing"
    );
}
