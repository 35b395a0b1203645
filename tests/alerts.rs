//! Alert notes from every writer: `vault-audit log` with no daemon running
//! raises them, a burst written by several processes raises one note, and a
//! replica or a dry run raises none.

mod common;

use std::path::Path;

use common::{days_ago, entry_json, Vault};

/// The alert notes in `Needs_Action/`, sorted.
fn alert_notes(root: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(root.join("Needs_Action")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ALERT_"))
        .collect();
    names.sort();
    names
}

/// Logs one entry at `level`, stamped a second ago, in its own process.
fn log(v: &Vault, level: &str, n: u64, envs: &[(&str, &str)]) {
    let (_, ts) = days_ago(0);
    let mut run = v.cmd().args(["log", "--entry", &entry_json(&ts, level, n)]);
    for (k, val) in envs {
        run = run.env(k, val);
    }
    let done = run.run();
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr);
}

#[test]
fn a_critical_entry_logged_with_the_cli_and_no_daemon_raises_one_alert_note() {
    let v = Vault::new();
    log(&v, "INFO", 1, &[]);
    assert!(alert_notes(v.path()).is_empty());
    log(&v, "CRITICAL", 2, &[]);
    let notes = alert_notes(v.path());
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].ends_with("_CRITICAL.md"), "{notes:?}");
    let text =
        std::fs::read_to_string(v.path().join("Needs_Action").join(&notes[0])).expect("the note");
    assert!(
        text.contains("level: CRITICAL") && text.contains("# A CRITICAL entry was logged"),
        "{text}"
    );
    // Another write raises nothing more.
    log(&v, "INFO", 3, &[]);
    assert_eq!(alert_notes(v.path()).len(), 1);
}

#[test]
fn an_alert_note_names_its_day_file_as_code_never_as_a_link_obsidian_cannot_resolve() {
    // Obsidian does not open `.json` files: `[[Logs/<day>.json]]` showed as
    // an unresolved link.
    let v = Vault::new();
    let (date, ts) = days_ago(0);
    let done = v
        .cmd()
        .args(["log", "--entry", &entry_json(&ts, "CRITICAL", 1)])
        .run();
    done.assert_code(0);
    let notes = alert_notes(v.path());
    let text =
        std::fs::read_to_string(v.path().join("Needs_Action").join(&notes[0])).expect("the note");
    assert!(
        text.contains(&format!("The entries are in `Logs/{date}.json`.")),
        "{text}"
    );
    assert!(
        !text.contains("[[Logs/") && !text.contains(".json]]"),
        "{text}"
    );
}

#[test]
fn an_error_burst_written_by_several_processes_raises_one_note() {
    let v = Vault::new();
    let burst = [("AUDIT_ALERT_ERRORS", "3")];
    for n in 0..2 {
        log(&v, "ERROR", n, &burst);
    }
    assert!(alert_notes(v.path()).is_empty(), "two of three is no burst");
    log(&v, "ERROR", 2, &burst);
    let notes = alert_notes(v.path());
    assert_eq!(notes.len(), 1, "{notes:?}");
    let text =
        std::fs::read_to_string(v.path().join("Needs_Action").join(&notes[0])).expect("the note");
    assert!(
        text.contains("# 3 ERROR entries within 15 minutes"),
        "{text}"
    );
    // More of the same burst, from yet other processes: still one note.
    for n in 3..5 {
        log(&v, "ERROR", n, &burst);
    }
    assert_eq!(alert_notes(v.path()).len(), 1);
}

#[test]
fn concurrent_writers_of_one_burst_raise_one_note() {
    let v = Vault::new();
    let (_, ts) = days_ago(0);
    let children: Vec<_> = (0..4u64)
        .map(|n| {
            std::process::Command::new(common::BIN)
                .args(["--vault"])
                .arg(v.path())
                .args([
                    "--no-dry-run",
                    "log",
                    "--entry",
                    &entry_json(&ts, "ERROR", n),
                ])
                .env("AUDIT_ALERT_ERRORS", "4")
                .env_remove("AUDIT_ROLE")
                .env_remove("AUDIT_FOLDER_NEEDS_ACTION")
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("wait").success());
    }
    let notes = alert_notes(v.path());
    assert_eq!(notes.len(), 1, "{notes:?}");
}

#[test]
fn the_near_miss_raises_no_note() {
    let v = Vault::new();
    let burst = [("AUDIT_ALERT_ERRORS", "4")];
    for n in 0..3 {
        log(&v, "ERROR", n, &burst);
    }
    for n in 3..6 {
        log(&v, "WARNING", n, &burst);
    }
    assert!(
        alert_notes(v.path()).is_empty(),
        "{:?}",
        alert_notes(v.path())
    );
}

#[test]
fn a_replica_and_a_dry_run_raise_no_alert_note() {
    let v = Vault::new();
    log(
        &v,
        "CRITICAL",
        1,
        &[("AUDIT_ROLE", "replica"), ("AUDIT_HOST", "laptop")],
    );
    assert!(alert_notes(v.path()).is_empty(), "a replica raised one");
    let (_, ts) = days_ago(0);
    let done = v
        .plain()
        .args([
            "--dry-run",
            "log",
            "--entry",
            &entry_json(&ts, "CRITICAL", 2),
        ])
        .run();
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(alert_notes(v.path()).is_empty(), "a dry run raised one");
    // The primary raises the replica's CRITICAL once it takes it in.
    log(&v, "INFO", 3, &[]);
    assert_eq!(
        alert_notes(v.path()).len(),
        1,
        "{:?}",
        alert_notes(v.path())
    );
}

#[test]
fn the_alert_folder_follows_the_setting_and_a_bad_setting_does_not_stop_log() {
    let v = Vault::new();
    log(
        &v,
        "CRITICAL",
        1,
        &[("AUDIT_FOLDER_NEEDS_ACTION", "Alerts")],
    );
    let moved = std::fs::read_dir(v.path().join("Alerts")).expect("Alerts/");
    assert_eq!(moved.count(), 1);
    // A bad threshold: the entry is recorded and alerts go by the defaults.
    log(&v, "CRITICAL", 2, &[("AUDIT_ALERT_ERRORS", "lots")]);
    assert_eq!(alert_notes(v.path()).len(), 1);
}

#[test]
fn a_replayed_critical_entry_raises_its_note_once() {
    let v = Vault::new();
    let (_, ts) = days_ago(0);
    let line = format!("{}\n", entry_json(&ts, "CRITICAL", 1));
    std::fs::write(v.logs().join("failed_writes.json"), line).expect("failed writes");
    let done = v.cmd().arg("replay").run();
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr);
    assert_eq!(alert_notes(v.path()).len(), 1, "{}", done.stdout);
    assert!(
        done.stdout.contains("\"alerts\":[\"Needs_Action/ALERT_"),
        "{}",
        done.stdout
    );
    let again = v.cmd().arg("replay").run();
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(alert_notes(v.path()).len(), 1);
}

#[test]
fn the_daemon_refuses_a_bad_alert_setting() {
    let v = Vault::new();
    let done = v
        .cmd()
        .arg("daemon")
        .env("AUDIT_ALERT_WINDOW", "soon")
        .run();
    assert_eq!(done.code, 2, "{}\n{}", done.stdout, done.stderr);
    assert!(
        done.stderr.contains("AUDIT_ALERT_WINDOW=\"soon\""),
        "{}",
        done.stderr
    );
}

#[cfg(unix)]
#[test]
fn a_link_planted_at_the_alert_state_is_never_followed() {
    let v = Vault::new();
    log(&v, "INFO", 0, &[]);
    let outside = tempfile::tempdir().expect("tempdir");
    let target = outside.path().join("victim.json");
    std::fs::write(&target, "keep me").expect("victim");
    let state = v.logs().join(".audit").join("alerts.json");
    let _ = std::fs::remove_file(&state);
    std::os::unix::fs::symlink(&target, &state).expect("symlink");
    let burst = [("AUDIT_ALERT_ERRORS", "2")];
    log(&v, "ERROR", 1, &burst);
    log(&v, "ERROR", 2, &burst);
    assert_eq!(std::fs::read_to_string(&target).expect("victim"), "keep me");
    let meta = std::fs::symlink_metadata(&state).expect("state");
    assert!(meta.is_file(), "the link was replaced by our own file");
    assert_eq!(alert_notes(v.path()).len(), 1);
}

/// `entry_json` with `change` applied.
fn entry_with(n: u64, change: impl FnOnce(&mut serde_json::Value)) -> String {
    let (_, ts) = days_ago(0);
    let mut e: serde_json::Value = serde_json::from_str(&entry_json(&ts, "INFO", n)).expect("json");
    change(&mut e);
    e.to_string()
}

fn log_json(v: &Vault, json: &str, envs: &[(&str, &str)]) {
    let mut run = v.cmd().args(["log", "--entry", json]);
    for (k, val) in envs {
        run = run.env(k, val);
    }
    let done = run.run();
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr);
}

#[test]
fn more_than_n_failures_by_one_actor_raise_one_note_and_n_none() {
    let v = Vault::new();
    let spike = [("AUDIT_ALERT_ACTOR_FAILURES", "3")];
    let failure = |n, actor: &'static str| {
        entry_with(n, move |e| {
            e["result"] = "failure".into();
            e["actor"] = actor.into();
        })
    };
    for n in 0..3 {
        log_json(&v, &failure(n, "skill-a"), &spike);
        log_json(&v, &failure(10 + n, "skill-b"), &spike);
    }
    assert!(
        alert_notes(v.path()).is_empty(),
        "{:?}",
        alert_notes(v.path())
    );
    log_json(&v, &failure(3, "skill-a"), &spike);
    let notes = alert_notes(v.path());
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].ends_with("_FAILURES.md"), "{notes:?}");
    let text =
        std::fs::read_to_string(v.path().join("Needs_Action").join(&notes[0])).expect("the note");
    assert!(text.contains("# 4 failures by one actor"), "{text}");
}

#[test]
fn sensitive_data_accessed_raises_one_note_per_actor_and_plain_entries_none() {
    let v = Vault::new();
    log_json(
        &v,
        &entry_with(0, |e| e["parameters"]["sensitive"] = false.into()),
        &[],
    );
    assert!(alert_notes(v.path()).is_empty());
    log_json(
        &v,
        &entry_with(1, |e| e["parameters"]["sensitive"] = true.into()),
        &[],
    );
    log_json(
        &v,
        &entry_with(2, |e| e["parameters"]["sensitive"] = true.into()),
        &[],
    );
    assert_eq!(alert_notes(v.path()).len(), 1, "one per actor per window");
    // Redaction fired for another actor: a note of its own.
    log_json(
        &v,
        &entry_with(3, |e| {
            e["actor"] = "skill-b".into();
            e["parameters"]["password"] = "hunter2".into();
        }),
        &[],
    );
    let notes = alert_notes(v.path());
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes.iter().all(|n| n.ends_with("_SENSITIVE.md")),
        "{notes:?}"
    );
    for n in &notes {
        let text = std::fs::read_to_string(v.path().join("Needs_Action").join(n)).expect("note");
        assert!(!text.contains("hunter2"), "{text}");
    }
    // Off: none.
    let quiet = Vault::new();
    log_json(
        &quiet,
        &entry_with(4, |e| e["parameters"]["sensitive"] = true.into()),
        &[("AUDIT_ALERT_SENSITIVE", "off")],
    );
    assert!(alert_notes(quiet.path()).is_empty());
}

/// JSON Lines of `per_hour` entries by `actor` in each of the 48 hours
/// before the real now.
fn history(actor: &str, per_hour: i64) -> String {
    let now = chrono::Utc::now();
    let mut lines = String::new();
    for back in 1..=48 {
        for k in 0..per_hour {
            let t = now - chrono::Duration::hours(back) - chrono::Duration::seconds(k);
            let ts = t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            let mut e: serde_json::Value =
                serde_json::from_str(&entry_json(&ts, "INFO", (back * 100 + k) as u64))
                    .expect("json");
            e["actor"] = actor.into();
            lines.push_str(&format!("{e}\n"));
        }
    }
    lines
}

/// `count` entries by `actor` now, in one call.
fn now_entries(actor: &str, count: u64) -> String {
    (0..count)
        .map(|n| {
            let (_, ts) = days_ago(0);
            let mut e: serde_json::Value =
                serde_json::from_str(&entry_json(&ts, "INFO", 10_000 + n)).expect("json");
            e["actor"] = actor.into();
            format!("{e}\n")
        })
        .collect()
}

fn log_stdin(v: &Vault, lines: String) {
    let done = v.cmd().args(["log", "--entry", "-"]).stdin(lines).run();
    assert_eq!(done.code, 0, "{}\n{}", done.stdout, done.stderr);
}

#[test]
fn an_actor_far_busier_than_its_hourly_average_raises_one_note_and_a_little_busier_none() {
    let v = Vault::new();
    // 10 an hour for two days (an import of the history counts toward the
    // average and raises nothing itself).
    log_stdin(&v, history("skill-a", 10));
    log_stdin(&v, history("skill-b", 10));
    assert!(
        alert_notes(v.path()).is_empty(),
        "{:?}",
        alert_notes(v.path())
    );
    // 15 now: with at most the 10 of the hour before, 2.5 times at most.
    log_stdin(&v, now_entries("skill-b", 15));
    assert!(
        alert_notes(v.path()).is_empty(),
        "{:?}",
        alert_notes(v.path())
    );
    // 60 now: six times and more.
    log_stdin(&v, now_entries("skill-a", 60));
    let notes = alert_notes(v.path());
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].ends_with("_UNUSUAL.md"), "{notes:?}");
    log_stdin(&v, now_entries("skill-a", 60));
    assert_eq!(alert_notes(v.path()).len(), 1, "once an hour per actor");
}
