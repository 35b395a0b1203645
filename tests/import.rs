//! Taking over the logs of another logger: the hand-written peer files of
//! `fixtures/peers/` (JSON Lines, JSON Lines cut short, a pretty array, the
//! skill specification's object, an object of peer-shaped entries), each
//! converted in place and imported with every entry kept, `verify` clean
//! and `query --count` equal to the entries; exactly once; and entries
//! older than the retention window reported, not written.

mod common;

use std::path::PathBuf;

use common::{days_ago, Vault};
use serde_json::Value;

/// The peer fixtures and the entries each holds.
const PEERS: [(&str, usize); 5] = [
    ("tool-calls.jsonl", 5),
    ("tool-calls-partial.jsonl", 3),
    ("actions-array.json", 4),
    ("skill-spec-object.json", 3),
    ("events-object.json", 4),
];

/// A fixture's text with its dates: `@DAY@` two days ago, `@OLD@` and
/// `@OLD2@` 200 and 300 days ago (beyond the 90 days kept).
fn peer_text(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/peers")
        .join(name);
    let text = std::fs::read_to_string(path).expect("fixture");
    text.replace("@DAY@", &days_ago(2).0)
        .replace("@OLD2@", &days_ago(300).0)
        .replace("@OLD@", &days_ago(200).0)
}

/// Writes a fixture into a folder of the vault's parent test dir.
fn peer_file(v: &Vault, name: &str) -> PathBuf {
    let dir = v.path().join("peers");
    std::fs::create_dir_all(&dir).expect("peers");
    let path = dir.join(name);
    std::fs::write(&path, peer_text(name)).expect("write");
    path
}

fn count(v: &Vault) -> u64 {
    let done = v.cmd().args(["query", "--count"]).run();
    done.assert_code(0);
    done.stdout.trim().parse().expect("a count")
}

fn assert_verified(v: &Vault) {
    let done = v.cmd().arg("verify").run();
    assert_eq!(done.code, 0, "verify: {}", done.stdout);
}

/// Entries imported from `name` (by `parameters.imported_from`).
fn imported_from(v: &Vault, name: &str) -> Vec<Value> {
    v.all_entries()
        .into_iter()
        .filter(|e| e["parameters"]["imported_from"] == name)
        .collect()
}

#[test]
fn every_peer_layout_is_imported_with_every_entry_and_verifies() {
    for (name, entries) in PEERS {
        let v = Vault::new();
        let path = peer_file(&v, name);
        let done = v
            .cmd()
            .env("AUDIT_IMPORT_TZ", "UTC")
            .arg("import")
            .arg(&path)
            .run();
        done.assert_code(0);
        let r = done.response();
        assert_eq!(r["details"]["imported"], entries, "{name}: {r}");
        assert_eq!(r["details"]["rejected"], 0, "{name}: {r}");
        assert_eq!(imported_from(&v, name).len(), entries, "{name}");
        assert_verified(&v);
        assert_eq!(count(&v), entries as u64, "{name}");
    }
}

#[test]
fn every_peer_layout_in_logs_is_converted_on_the_next_write_keeping_every_entry() {
    for (name, entries) in PEERS {
        let v = Vault::new();
        let (day, noon) = days_ago(2);
        std::fs::write(v.day(&day), peer_text(name)).expect("write");
        let done = v
            .cmd()
            .env("AUDIT_IMPORT_TZ", "UTC")
            .args(["log", "--level", "INFO", "--action", "x", "--actor", "me"])
            .args(["--target", "t", "--timestamp", &noon])
            .run();
        done.assert_code(0);
        assert!(
            done.stderr.contains("converted from another layout"),
            "{name}: {}",
            done.stderr
        );
        let originals: Vec<String> = std::fs::read_dir(v.logs())
            .expect("ls")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&format!("{day}.orig-")))
            .collect();
        assert_eq!(originals.len(), 1, "{name}: the original is kept aside");
        assert_verified(&v);
        // The peer's entries, the one logged, and the WARNING that says so.
        assert_eq!(count(&v), entries as u64 + 2, "{name}");
    }
}

#[test]
fn import_with_no_path_takes_over_the_vaults_own_logs() {
    let v = Vault::new();
    let (day, _) = days_ago(2);
    std::fs::write(v.day(&day), peer_text("tool-calls.jsonl")).expect("write");
    let done = v.cmd().env("AUDIT_IMPORT_TZ", "UTC").arg("import").run();
    done.assert_code(0);
    let r = done.response();
    assert_eq!(r["details"]["imported"], 5, "{r}");
    let originals = r["details"]["originals"].as_array().expect("originals");
    assert!(originals[0]
        .as_str()
        .is_some_and(|o| o.starts_with(&format!("Logs/{day}.orig-"))));
    assert_verified(&v);
    assert_eq!(count(&v), 5);
    // Nothing is left to take over.
    let again = v.cmd().arg("import").run();
    again.assert_code(0);
    assert_eq!(again.response()["details"]["read"], 0);
    assert_eq!(count(&v), 5);
}

#[test]
fn importing_twice_adds_nothing_and_a_file_that_grew_adds_only_its_new_entries() {
    let v = Vault::new();
    let path = peer_file(&v, "tool-calls.jsonl");
    let run = || {
        v.cmd()
            .env("AUDIT_IMPORT_TZ", "UTC")
            .arg("import")
            .arg(&path)
            .run()
    };
    run().assert_code(0);
    let (day, _) = days_ago(2);
    let before = std::fs::read(v.day(&day)).expect("day");
    let second = run();
    second.assert_code(0);
    let r = second.response();
    assert_eq!(
        (&r["details"]["imported"], &r["details"]["already_imported"]),
        (&Value::from(0), &Value::from(5)),
        "{r}"
    );
    assert_eq!(std::fs::read(v.day(&day)).expect("day"), before);
    assert_eq!(count(&v), 5);
    // The peer goes on writing: only the new line is taken in.
    let mut text = std::fs::read_to_string(&path).expect("read");
    text.push_str(
        &peer_text("tool-calls.jsonl")
            .lines()
            .next()
            .expect("line")
            .replace("09:15:02", "23:59:59"),
    );
    text.push('\n');
    std::fs::write(&path, text).expect("write");
    let third = run();
    third.assert_code(0);
    assert_eq!(third.response()["details"]["imported"], 1);
    assert_eq!(count(&v), 6);
    assert!(v.logs().join(".audit/imported.txt").is_file());
}

#[test]
fn entries_older_than_the_retention_window_are_reported_and_not_written() {
    let v = Vault::new();
    let path = peer_file(&v, "old-and-new.jsonl");
    let done = v
        .cmd()
        .env("AUDIT_IMPORT_TZ", "UTC")
        .arg("import")
        .arg(&path)
        .run();
    done.assert_code(0);
    let r = done.response();
    let beyond = &r["details"]["beyond_retention"];
    assert_eq!(beyond["entries"], 2, "{r}");
    assert_eq!(beyond["oldest"], days_ago(300).0, "{r}");
    assert!(
        done.stderr
            .contains("--retention-days or AUDIT_RETENTION_DAYS keeps them"),
        "{}",
        done.stderr
    );
    assert_eq!(r["details"]["imported"], 2);
    // Not written, so not purged either: no day file of theirs ever existed.
    assert_eq!(v.dates(), vec![days_ago(2).0]);
    assert_eq!(count(&v), 2);
    // With the window widened, they come in (and only they).
    let wider = v
        .cmd()
        .env("AUDIT_IMPORT_TZ", "UTC")
        .args(["--retention-days", "400", "import"])
        .arg(&path)
        .run();
    wider.assert_code(0);
    let r = wider.response();
    assert_eq!(r["details"]["imported"], 2, "{r}");
    assert_eq!(r["details"]["already_imported"], 2, "{r}");
}

#[test]
fn a_dry_run_shows_the_mapping_and_the_counts_and_writes_nothing() {
    let v = Vault::new();
    let path = peer_file(&v, "actions-array.json");
    let before = v.snapshot();
    let done = v
        .plain()
        .env("AUDIT_IMPORT_TZ", "UTC")
        .args(["--dry-run", "import"])
        .arg(&path)
        .run();
    done.assert_code(0);
    assert!(
        done.stdout.contains("[DRY_RUN] import {"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout
            .contains("\"action_type\":\"approval_requested\""),
        "{}",
        done.stdout
    );
    let r = done.response();
    assert_eq!(r["details"]["would_import"], 4);
    assert_eq!(r["details"]["imported"], 0);
    assert_eq!(r["details"]["preview"].as_array().map(Vec::len), Some(3));
    assert_eq!(v.snapshot(), before);
}

#[test]
fn naive_times_are_read_in_audit_import_tz() {
    let v = Vault::new();
    let path = peer_file(&v, "events-object.json");
    v.cmd()
        .env("AUDIT_IMPORT_TZ", "+02:00")
        .arg("import")
        .arg(&path)
        .run()
        .assert_code(0);
    let first = &imported_from(&v, "events-object.json")[0];
    assert_eq!(
        first["timestamp"],
        format!("{}T10:00:00.000Z", days_ago(2).0),
        "12:00 at +02:00 is 10:00 UTC"
    );
    let bad = v
        .cmd()
        .env("AUDIT_IMPORT_TZ", "Mars/Olympus")
        .arg("import")
        .arg(&path)
        .run();
    bad.assert_code(2);
    assert!(bad.stderr.contains("AUDIT_IMPORT_TZ"), "{}", bad.stderr);
}

#[test]
fn an_entry_that_cannot_be_mapped_is_rejected_naming_every_problem() {
    let v = Vault::new();
    let dir = v.path().join("peers");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("bad.jsonl");
    let (_, ts) = days_ago(1);
    let good =
        format!(r#"{{"timestamp":"{ts}","action":"x","agent":"a","file":"f","status":"ok"}}"#);
    let bad =
        format!(r#"{{"timestamp":"{ts}","action":"x","status":"exploded","dry_run":"perhaps"}}"#);
    std::fs::write(&path, format!("{good}\n{bad}\n")).expect("write");
    let done = v.cmd().arg("import").arg(&path).run();
    done.assert_code(1);
    let r = done.response();
    assert_eq!(r["status"], "partial");
    let error = r["errors"][0].as_str().expect("error");
    assert!(
        error.starts_with("bad.jsonl entry 2: entry rejected: 4 problems"),
        "{error}"
    );
    for field in ["actor", "target", "dry_run", "result"] {
        assert!(error.contains(field), "{field}: {error}");
    }
    assert_eq!(count(&v), 1);
}

#[test]
fn repair_prune_originals_deletes_the_originals_and_says_which() {
    let v = Vault::new();
    let (day, _) = days_ago(2);
    std::fs::write(v.day(&day), peer_text("actions-array.json")).expect("write");
    v.cmd().arg("import").run().assert_code(0);
    let done = v.cmd().args(["repair", "--prune-originals"]).run();
    done.assert_code(0);
    assert!(
        done.stdout.contains(&format!("Logs/{day}.orig-")) && done.stdout.contains("deleted"),
        "{}",
        done.stdout
    );
    let left: Vec<String> = std::fs::read_dir(v.logs())
        .expect("ls")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".orig-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_verified(&v);
}

#[test]
fn log_and_demo_create_the_inbox_and_its_rejected_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let into = dir.path().join("demo");
    common::Run::new()
        .arg("demo")
        .arg("--into")
        .arg(&into)
        .cwd(dir.path())
        .run()
        .assert_code(0);
    assert!(into.join("Logs/inbox/rejected").is_dir());

    let v = Vault::new();
    let (_, ts) = days_ago(0);
    v.cmd()
        .args(["log", "--level", "INFO", "--action", "x", "--actor", "a"])
        .args(["--target", "t", "--timestamp", &ts])
        .run()
        .assert_code(0);
    assert!(v.logs().join("inbox/rejected").is_dir());
}
