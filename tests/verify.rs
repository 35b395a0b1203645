//! `verify` and `repair` through the binary: a clean vault holds; each kind
//! of tampering is caught and located; repair fixes damage and leaves evidence.

mod common;

use chrono::{DateTime, Utc};
use common::{days_ago, days_before, entry_json, Done, Vault};
use serde_json::Value;

/// Logs `n` entries (numbered from `first`) at noon on `date`.
fn log_on(v: &Vault, date: &str, first: u64, n: u64) {
    let ts = format!("{date}T12:00:00.000Z");
    let lines: String = (first..first + n)
        .map(|i| entry_json(&ts, "INFO", i) + "\n")
        .collect();
    v.cmd()
        .args(["log", "--entry", "-"])
        .stdin(lines)
        .run()
        .assert_code(0);
}

/// Logs `n` entries (numbered from `first`) on the day `back` days before
/// `now`; returns its date. A test takes `now` once, so that its days are
/// the ones it means even if UTC midnight passes while it runs.
fn log_day(v: &Vault, now: DateTime<Utc>, back: i64, first: u64, n: u64) -> String {
    let (date, _) = days_before(now, back);
    log_on(v, &date, first, n);
    date
}

fn verify(v: &Vault) -> Done {
    v.cmd().arg("verify").run()
}

fn verify_json(v: &Vault) -> Value {
    serde_json::from_str(&v.cmd().args(["verify", "--json"]).run().stdout).expect("json report")
}

/// The day file's lines, and a function to write them back.
fn lines(v: &Vault, date: &str) -> Vec<String> {
    std::fs::read_to_string(v.day(date))
        .expect("read")
        .split('\n')
        .map(str::to_owned)
        .collect()
}

fn write_lines(v: &Vault, date: &str, lines: &[String]) {
    std::fs::write(v.day(date), lines.join("\n")).expect("write");
}

/// The index of the line holding entry `n` (1-based) in our layout.
fn line_of(lines: &[String], n: usize) -> usize {
    let first = lines
        .iter()
        .position(|l| l.starts_with("    {"))
        .expect("an entry line");
    first + n - 1
}

/// A vault with three days of 20 entries each.
fn three_days() -> (Vault, Vec<String>) {
    let v = Vault::new();
    let now = Utc::now();
    let days = (1..=3)
        .rev()
        .map(|b| log_day(&v, now, b, b as u64 * 100, 20))
        .collect();
    (v, days)
}

#[test]
fn a_clean_vault_verifies() {
    let (v, _) = three_days();
    let done = verify(&v);
    done.assert_code(0);
    assert!(
        done.stdout
            .contains("verified 3 day files, 60 entries (3 chained): all hold"),
        "{}",
        done.stdout
    );
    let report = verify_json(&v);
    assert_eq!(report["ok"], true);
    assert_eq!(report["problems"], serde_json::json!([]));
}

#[test]
fn editing_one_character_of_one_entry_is_caught_and_located() {
    let (v, days) = three_days();
    let mut l = lines(&v, &days[1]);
    let at = line_of(&l, 7);
    let stored: Value = serde_json::from_str(l[at].trim_end_matches(',')).expect("entry");
    let ts = stored["timestamp"].as_str().expect("timestamp").to_owned();
    l[at] = l[at].replacen("\"actor\":\"test\"", "\"actor\":\"tost\"", 1);
    write_lines(&v, &days[1], &l);
    let done = verify(&v);
    done.assert_code(1);
    let expected = format!(
        "Logs/{}.json: entry 7 ({ts}): chain mismatch: the entry was changed, or an entry before it was removed",
        days[1]
    );
    assert!(done.stdout.contains(&expected), "{}", done.stdout);
    // One problem only: the entries after it, and the next day, still hold.
    assert_eq!(done.stdout.lines().count(), 2, "{}", done.stdout);
    let report = verify_json(&v);
    assert_eq!(report["problems"][0]["entry"], 7);
    assert_eq!(report["problems"][0]["kind"], "chain_mismatch");
    assert_eq!(report["problems"][0]["timestamp"], ts.as_str());
}

#[test]
fn deleting_an_entry_is_caught_at_its_place_and_in_the_count() {
    let (v, days) = three_days();
    let mut l = lines(&v, &days[0]);
    l.remove(line_of(&l, 5));
    write_lines(&v, &days[0], &l);
    let done = verify(&v);
    done.assert_code(1);
    let out = &done.stdout;
    assert!(
        out.contains(&format!("Logs/{}.json: entry 5 (", days[0]))
            && out.contains("chain mismatch"),
        "{out}"
    );
    assert!(
        out.contains("total_entries says 20 but the file holds 19 entries"),
        "{out}"
    );
    // The next day started from this one after 20 entries: it holds 19 now.
    assert!(out.contains("that day holds only 19"), "{out}");
}

#[test]
fn deleting_the_last_entry_and_fixing_the_count_is_still_caught() {
    let (v, days) = three_days();
    let mut l = lines(&v, &days[2]);
    let last = line_of(&l, 20);
    l.remove(last);
    l[last - 1] = l[last - 1].trim_end_matches(',').to_owned();
    let text = l
        .join("\n")
        .replace("\"total_entries\": 20", "\"total_entries\": 19")
        .replace("\"INFO\": 20", "\"INFO\": 19");
    std::fs::write(v.day(&days[2]), text).expect("write");
    let done = verify(&v);
    done.assert_code(1);
    assert!(
        done.stdout
            .contains("chain mismatch after the last entry (19)"),
        "{}",
        done.stdout
    );
}

#[test]
fn reordering_two_entries_is_caught_at_the_first_of_them() {
    let (v, days) = three_days();
    let mut l = lines(&v, &days[1]);
    let (a, b) = (line_of(&l, 3), line_of(&l, 4));
    l.swap(a, b);
    write_lines(&v, &days[1], &l);
    let report = verify_json(&v);
    let problems = report["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0]["entry"], 3);
    assert_eq!(problems[0]["kind"], "chain_mismatch");
}

#[test]
fn an_edited_count_is_caught_and_repair_recounts_it_keeping_the_chain() {
    let (v, days) = three_days();
    let path = v.day(&days[0]);
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(
        &path,
        text.replace("\"total_entries\": 20", "\"total_entries\": 12"),
    )
    .expect("write");
    let done = verify(&v);
    done.assert_code(1);
    assert!(
        done.stdout.contains(&format!(
            "Logs/{}.json: total_entries says 12 but the file holds 20 entries",
            days[0]
        )),
        "{}",
        done.stdout
    );
    // Dry run (the default) says what it would do and changes nothing.
    let dry = v.plain().arg("repair").run();
    assert!(dry.stdout.contains("would recount"), "{}", dry.stdout);
    assert!(std::fs::read_to_string(&path)
        .expect("read")
        .contains("\"total_entries\": 12"));
    let fixed = v.cmd().arg("repair").run();
    fixed.assert_code(0);
    assert!(
        fixed.stdout.contains("recounted: total_entries 12 -> 20"),
        "{}",
        fixed.stdout
    );
    verify(&v).assert_code(0);
}

#[test]
fn repair_never_fixes_an_edited_entry_but_reports_it() {
    let (v, days) = three_days();
    let mut l = lines(&v, &days[1]);
    let at = line_of(&l, 2);
    l[at] = l[at].replacen("\"n\":", "\"n\":1", 1);
    write_lines(&v, &days[1], &l);
    let before = std::fs::read(v.day(&days[1])).expect("read");
    let done = v.cmd().arg("repair").run();
    done.assert_code(1);
    assert!(done.stdout.contains("left as it is:"), "{}", done.stdout);
    assert!(done.stdout.contains("entry 2 ("), "{}", done.stdout);
    assert_eq!(std::fs::read(v.day(&days[1])).expect("read"), before);
}

/// What a write that died part-way leaves: the start of one more entry
/// over the trailer (its append was never synced, so never recorded).
fn torn_write(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).expect("read");
    let mark = text.rfind("\n  ],").expect("trailer");
    let torn = format!("{},\n    {{\"timestamp\":\"2026-11-22T", &text[..mark]);
    std::fs::write(path, torn).expect("tear");
}

#[test]
fn a_torn_tail_is_reported_and_repaired_in_place() {
    let (v, days) = three_days();
    let path = v.day(&days[2]);
    torn_write(&path);
    let done = verify(&v);
    done.assert_code(1);
    assert!(done.stdout.contains("torn tail"), "{}", done.stdout);
    let fixed = v.cmd().arg("repair").run();
    assert!(
        fixed
            .stdout
            .contains("repaired a torn tail: kept 20 complete entries"),
        "{}",
        fixed.stdout
    );
    fixed.assert_code(0);
    verify(&v).assert_code(0);
}

#[test]
fn an_edit_stays_evident_after_the_writer_repairs_a_torn_tail() {
    let (v, days) = three_days();
    let mut l = lines(&v, &days[2]);
    let at = line_of(&l, 4);
    l[at] = l[at].replacen("\"target\":\"vault\"", "\"target\":\"vaulT\"", 1);
    write_lines(&v, &days[2], &l);
    torn_write(&v.day(&days[2]));
    log_on(&v, &days[2], 900, 1);
    let report = verify_json(&v);
    let problems = report["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0]["entry"], 4);
}

#[test]
fn a_file_that_does_not_parse_is_quarantined_and_salvaged() {
    let (v, days) = three_days();
    let mut l = lines(&v, &days[0]);
    let at = line_of(&l, 10);
    l[at] = l[at].replacen("{", "<", 1);
    write_lines(&v, &days[0], &l);
    let done = verify(&v);
    done.assert_code(1);
    assert!(
        done.stdout.contains("entry 10: does not parse as JSON"),
        "{}",
        done.stdout
    );
    let fixed = v.cmd().arg("repair").run();
    assert!(
        fixed.stdout.contains("salvaged 19 entries"),
        "{}",
        fixed.stdout
    );
    let quarantined = std::fs::read_dir(v.logs())
        .expect("ls")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .count();
    assert_eq!(quarantined, 1);
}

#[test]
fn unchained_files_are_reported_as_such_and_repair_re_anchors_them() {
    let v = Vault::new();
    let now = Utc::now();
    let (date, ts) = days_before(now, 2);
    let old = serde_json::json!({
        "date": date,
        "entries": [serde_json::from_str::<Value>(&entry_json(&ts, "INFO", 1)).expect("json")],
        "total_entries": 1,
        "summary": {"INFO": 1, "WARNING": 0, "ERROR": 0, "CRITICAL": 0}
    });
    std::fs::write(
        v.day(&date),
        serde_json::to_string_pretty(&old).expect("json"),
    )
    .expect("write");
    log_day(&v, now, 1, 10, 3);
    v.cmd().arg("index").run().assert_code(0);
    let done = verify(&v);
    done.assert_code(0);
    assert!(
        done.stdout.contains("unchained (not evidence of tampering"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.contains(&format!("Logs/{date}.json")),
        "{}",
        done.stdout
    );
    let fixed = v.cmd().arg("repair").run();
    fixed.assert_code(0);
    assert!(
        fixed.stdout.contains(&format!(
            "Logs/{date}.json: re-anchored: chained its 1 entries"
        )),
        "{}",
        fixed.stdout
    );
    let after = verify_json(&v);
    assert_eq!(after["unchained"], serde_json::json!([]));
    assert_eq!(after["ok"], true);
}

#[test]
fn a_stale_index_is_reported_and_rebuilt() {
    let (v, _) = three_days();
    let path = v.logs().join("index.json");
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(
        &path,
        text.replacen("\"entry_count\": 20", "\"entry_count\": 2", 1),
    )
    .expect("write");
    let done = verify(&v);
    done.assert_code(1);
    assert!(done.stdout.contains("Logs/index.json:"), "{}", done.stdout);
    let fixed = v.cmd().arg("repair").run();
    fixed.assert_code(0);
    assert!(
        fixed.stdout.contains("Logs/index.json: rebuilt"),
        "{}",
        fixed.stdout
    );
    verify(&v).assert_code(0);
}

#[test]
fn back_dated_entries_in_an_earlier_day_keep_the_chain_valid() {
    let v = Vault::new();
    let now = Utc::now();
    log_day(&v, now, 2, 1, 5);
    log_day(&v, now, 1, 10, 5);
    // Written after the next day started: the link holds at 5 entries.
    log_day(&v, now, 2, 20, 3);
    let done = verify(&v);
    done.assert_code(0);
}

#[test]
fn days_deleted_by_retention_leave_an_anchor_and_the_rest_verifies() {
    // Days 7, 6, 3 and 2 back; `rotate --days 5` runs on the binary's real
    // clock and deletes 7 and 6 whether or not UTC midnight has passed since
    // `now` (the cutoff is 5 or 4 days back; nothing lies between).
    let v = Vault::new();
    let now = Utc::now();
    let days: Vec<String> = [7, 6, 3, 2]
        .into_iter()
        .map(|back| log_day(&v, now, back, back as u64 * 10, 4))
        .collect();
    v.cmd().args(["rotate", "--days", "5"]).run().assert_code(0);
    let report = verify_json(&v);
    assert_eq!(report["ok"], true, "{report}");
    // Days 3 and 2 back, and the binary's today with its two purge entries.
    assert_eq!(report["files"], 3, "{report}");
    let anchors: Value = serde_json::from_slice(
        &std::fs::read(v.logs().join(".audit/anchors.json")).expect("anchors"),
    )
    .expect("json");
    assert_eq!(anchors[&days[0]]["total_entries"], 4);
    assert_eq!(anchors[&days[1]]["total_entries"], 4);
    // A day deleted by hand, with no anchor, breaks the link and says so.
    std::fs::remove_file(v.day(&days[2])).expect("rm");
    let done = verify(&v);
    done.assert_code(1);
    assert!(
        done.stdout
            .contains("which is missing and was not deleted by retention"),
        "{}",
        done.stdout
    );
}

#[test]
fn a_keyed_chain_needs_its_key() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    let log = |n: u64| {
        v.cmd()
            .env("AUDIT_CHAIN_KEY", "k1-secret")
            .args(["log", "--entry", &entry_json(&ts, "INFO", n)])
            .run()
            .assert_code(0);
    };
    log(1);
    log(2);
    let text = std::fs::read_to_string(v.day(&date)).expect("read");
    assert!(text.contains("\"alg\":\"hmac-sha256\""));
    assert!(!text.contains("k1-secret"));
    v.cmd()
        .env("AUDIT_CHAIN_KEY", "k1-secret")
        .arg("verify")
        .run()
        .assert_code(0);
    let without = verify(&v);
    without.assert_code(1);
    assert!(
        without.stdout.contains("set AUDIT_CHAIN_KEY"),
        "{}",
        without.stdout
    );
    let wrong = v.cmd().env("AUDIT_CHAIN_KEY", "k2").arg("verify").run();
    wrong.assert_code(1);
    assert!(wrong.stdout.contains("entry 1 ("), "{}", wrong.stdout);
    // Appending without the key is refused (the entry is handed back), never
    // written with a chain that would look forged.
    let refused = v
        .cmd()
        .args(["log", "--entry", &entry_json(&ts, "INFO", 3)])
        .run();
    refused.assert_code(4);
    assert!(
        refused.stderr.contains("AUDIT_CHAIN_KEY"),
        "{}",
        refused.stderr
    );
}
