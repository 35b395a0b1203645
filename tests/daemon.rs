//! The daemon, run for real: inbox files, vault activity, alerts, signals,
//! and SIGKILL at random moments without losing or doubling an entry.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use std::time::Duration;

use common::{days_ago, entry_json, running, wait_for, Daemon, Vault};
use serde_json::Value;

fn inbox(v: &Vault) -> std::path::PathBuf {
    v.logs().join("inbox")
}

/// Drops a file the documented way: written under a `.tmp` name, then renamed.
///
/// The daemon takes a file once its modification time is a moment behind
/// its clock. That compares times, not hours, so it holds at any hour; but
/// under a faked clock (libfaketime) files keep real times, hours away from
/// the clock. So the file is stamped with this process's clock, which is
/// the daemon's: exactly what a real write gives, and faked or not alike.
fn drop_file(v: &Vault, name: &str, text: &str) {
    std::fs::create_dir_all(inbox(v)).expect("inbox");
    let tmp = inbox(v).join(format!("{name}.tmp"));
    std::fs::write(&tmp, text).expect("write");
    std::fs::File::options()
        .write(true)
        .open(&tmp)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()))
        .expect("stamp");
    std::fs::rename(&tmp, inbox(v).join(name)).expect("rename");
}

fn entries(v: &Vault, date: &str) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(v.day(date)) else {
        return Vec::new();
    };
    // Between its creation and its first write a day file is empty.
    if text.is_empty() {
        return Vec::new();
    }
    let day: Value = serde_json::from_str(&text).expect("the day file is valid JSON");
    day["entries"].as_array().cloned().unwrap_or_default()
}

fn inbox_empty(v: &Vault) -> bool {
    let listed = |dir: &Path| {
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .count()
            })
            .unwrap_or(0)
    };
    listed(&inbox(v)) == 0 && listed(&inbox(v).join(".processing")) == 0
}

#[test]
fn one_daemon_per_vault_status_stop_and_sigterm() {
    let v = Vault::new();
    let d = Daemon::start(&v, &[]);
    assert!(
        v.logs().join("inbox/rejected").is_dir(),
        "the daemon's start creates the inbox, so the first move into it works"
    );
    let status = v.cmd().args(["daemon", "status"]).run();
    let s: Value = serde_json::from_str(status.stdout.trim()).expect("json");
    assert_eq!(s["running"], true);
    assert_eq!(s["pid"], d.pid());
    let second = v.cmd().args(["daemon"]).run();
    second.assert_code(3);
    assert!(
        second.stderr.contains(&format!(
            "a daemon already runs for this vault (pid {})",
            d.pid()
        )),
        "{}",
        second.stderr
    );
    let (code, took) = d.terminate();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(!running(&v));
    let stop = v.cmd().args(["daemon", "stop"]).run();
    stop.assert_code(1);
    // Started and stopped are recorded as system events (on the day each
    // happened: look at every day).
    let events: Vec<String> = v
        .all_entries()
        .iter()
        .filter(|e| e["actor"] == "audit_daemon")
        .map(|e| e["parameters"]["event"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(events, vec!["start", "stop"]);
    // `daemon stop` stops a running daemon.
    let d = Daemon::start(&v, &[]);
    let stop = v.cmd().args(["daemon", "stop"]).run();
    stop.assert_code(0);
    assert!(!running(&v));
    drop(d);
    // The daemon refuses to run dry.
    let dry = v.plain().arg("daemon").run();
    dry.assert_code(2);
    assert!(dry.stderr.contains("--no-dry-run"), "{}", dry.stderr);
}

/// The daemon's stderr so far.
fn said(v: &Vault) -> String {
    std::fs::read_to_string(v.path().join("daemon.err")).unwrap_or_default()
}

#[test]
fn operational_messages_have_a_time_and_a_level_and_obey_v_q_and_rust_log() {
    // The harness starts `daemon -v`: INFO and DEBUG of ours are shown.
    let v = Vault::new();
    let d = Daemon::start(&v, &[]);
    d.terminate();
    let text = said(&v);
    let started = text
        .lines()
        .find(|l| l.contains("vault_audit::daemon: started for"))
        .unwrap_or_else(|| panic!("no start message in {text}"));
    let (time, rest) = started.split_once(' ').expect("a time first");
    assert!(
        vault_audit::time::parse_timestamp(time).is_ok(),
        "{started}"
    );
    assert!(rest.trim_start().starts_with("INFO "), "{started}");
    // -q twice more: warnings only.
    let quiet = Vault::new();
    Daemon::start(&quiet, &["-qq"]).terminate();
    assert!(!said(&quiet).contains("started for"), "{}", said(&quiet));
    // RUST_LOG decides over -v and -q, and lets dependencies' `log`
    // records through (notify's watches at trace).
    let traced = Vault::new();
    Daemon::start_with(&traced, &["-qq"], &[("RUST_LOG", "info,notify=trace")]).terminate();
    let text = said(&traced);
    assert!(text.contains("started for"), "{text}");
    assert!(text.contains(" TRACE notify::"), "{text}");
    // Nothing of this reaches the audit log.
    assert!(traced
        .all_entries()
        .iter()
        .all(|e| !e.to_string().contains("started for")));
}

#[test]
fn inbox_files_are_taken_in_and_bad_lines_rejected_without_blocking_good_ones() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    let d = Daemon::start(&v, &["--no-watch-vault"]);
    drop_file(
        &v,
        "one.json",
        &serde_json::to_string_pretty(
            &serde_json::from_str::<Value>(&entry_json(&ts, "INFO", 1)).expect("json"),
        )
        .expect("pretty"),
    );
    let jsonl = format!(
        "{}\nnot json\n\n{}\n{}\n",
        entry_json(&ts, "INFO", 2),
        entry_json(&ts, "LOUD", 3),
        entry_json(&ts, "WARNING", 4)
    );
    drop_file(&v, "many.jsonl", &jsonl);
    // Hidden and .tmp names wait until renamed.
    std::fs::write(
        inbox(&v).join("later.jsonl.tmp"),
        format!("{}\n", entry_json(&ts, "INFO", 5)),
    )
    .expect("write");
    std::fs::write(
        inbox(&v).join(".hidden.jsonl"),
        format!("{}\n", entry_json(&ts, "INFO", 6)),
    )
    .expect("write");
    wait_for("the inbox to be taken in", Duration::from_secs(10), || {
        entries(&v, &date).len() == 3
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(inbox(&v).join("later.jsonl.tmp").exists() && inbox(&v).join(".hidden.jsonl").exists());
    std::fs::rename(
        inbox(&v).join("later.jsonl.tmp"),
        inbox(&v).join("later.jsonl"),
    )
    .expect("rename");
    wait_for("the renamed file", Duration::from_secs(10), || {
        entries(&v, &date).len() == 4
    });
    let ns: Vec<u64> = entries(&v, &date)
        .iter()
        .map(|e| e["parameters"]["n"].as_u64().expect("n"))
        .collect();
    assert_eq!(ns, vec![1, 2, 4, 5]);
    // The claim is finished (its rejected lines copied out) once it has
    // been quiet for the grace, a moment after its entries are in.
    wait_for("the rejected copy", Duration::from_secs(10), || {
        inbox(&v).join("rejected/many.jsonl.errors.txt").exists()
    });
    let rejected =
        std::fs::read_to_string(inbox(&v).join("rejected/many.jsonl")).expect("rejected copy");
    assert_eq!(rejected.lines().count(), 2);
    let errors =
        std::fs::read_to_string(inbox(&v).join("rejected/many.jsonl.errors.txt")).expect("errors");
    assert!(
        errors.starts_with("line 2: entry rejected: not valid JSON"),
        "{errors}"
    );
    assert!(
        errors.contains("line 4: entry rejected: log_level \"LOUD\""),
        "{errors}"
    );
    // The daemon's own entries are on the day it wrote them: look at every
    // day (yesterday's holds the WARNING taken in, too).
    let find = || {
        v.all_entries()
            .into_iter()
            .find(|e| e["log_level"] == "WARNING" && e["actor"] == "audit_daemon")
    };
    wait_for("the WARNING", Duration::from_secs(10), || find().is_some());
    let warning = find().expect("a WARNING system_event");
    assert_eq!(warning["action_type"], "system_event");
    assert_eq!(warning["target"], "Logs/inbox/many.jsonl");
    assert_eq!(warning["parameters"]["rejected_lines"], 2);
    let (code, _) = d.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn a_file_still_being_written_is_taken_only_once_it_stops_changing() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    let d = Daemon::start(&v, &["--no-watch-vault"]);
    std::fs::create_dir_all(inbox(&v)).expect("inbox");
    // A careless writer: no temporary name, the last line not finished yet.
    let partial = format!(
        "{}\n{}",
        entry_json(&ts, "INFO", 1),
        &entry_json(&ts, "INFO", 2)[..40]
    );
    std::fs::write(inbox(&v).join("careless.jsonl"), &partial).expect("write");
    // Stamped with this process's clock, as `drop_file` explains.
    std::fs::File::options()
        .write(true)
        .open(inbox(&v).join("careless.jsonl"))
        .and_then(|f| f.set_modified(std::time::SystemTime::now()))
        .expect("stamp");
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        inbox(&v).join("careless.jsonl").exists(),
        "taken while still being written"
    );
    assert!(entries(&v, &date).is_empty());
    // It never finishes: after the grace period the complete line is logged
    // and the cut one rejected.
    wait_for("the grace period", Duration::from_secs(10), || {
        entries(&v, &date).len() == 1
    });
    wait_for("the rejection", Duration::from_secs(5), || {
        inbox(&v)
            .join("rejected/careless.jsonl.errors.txt")
            .exists()
    });
    d.terminate();
}

#[test]
fn vault_activity_is_recorded_once_per_create_and_move() {
    for poll in [None, Some("200ms")] {
        let v = Vault::new();
        std::fs::write(v.path().join("Pending_Approval/pay.md"), "# pay").expect("note");
        std::fs::write(v.path().join("Pending_Approval/refund.md"), "# refund").expect("note");
        std::fs::write(v.path().join("Done/old.md"), "# old").expect("note");
        let args: Vec<&str> = poll.map(|p| vec!["--poll", p]).unwrap_or_default();
        let d = Daemon::start(&v, &args);
        std::thread::sleep(Duration::from_millis(300));
        let root = v.path();
        std::fs::write(root.join("Inbox/email.md"), "# mail").expect("create");
        std::fs::write(root.join("Plans/plan.md"), "# plan").expect("create");
        std::fs::rename(
            root.join("Pending_Approval/pay.md"),
            root.join("Approved/pay.md"),
        )
        .expect("approve");
        std::fs::rename(
            root.join("Pending_Approval/refund.md"),
            root.join("Rejected/refund.md"),
        )
        .expect("reject");
        std::fs::rename(root.join("Done/old.md"), root.join("Plans/old.md")).expect("move");
        // Editors' saves and our own files are not activity.
        std::fs::write(root.join("Inbox/.email.md.swp"), "# mail 2").expect("swap");
        std::fs::rename(
            root.join("Inbox/.email.md.swp"),
            root.join("Inbox/email.md"),
        )
        .expect("save");
        std::fs::write(root.join(".obsidian-workspace"), "x").expect("dot");
        std::fs::write(root.join("Inbox/x.tmp"), "x").expect("tmp");
        // The daemon's own entries are on the day it wrote them: look at every day.
        let watched = || -> Vec<(String, String)> {
            v.all_entries()
                .iter()
                .filter(|e| e["actor"] == "vault_watcher")
                .map(|e| {
                    (
                        e["action_type"].as_str().unwrap_or("").to_owned(),
                        e["target"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        };
        wait_for("vault activity", Duration::from_secs(15), || {
            watched().len() >= 5
        });
        std::thread::sleep(Duration::from_millis(800));
        let mut seen = watched();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                ("approved".to_owned(), "Approved/pay.md".to_owned()),
                ("file_drop".into(), "Inbox/email.md".into()),
                ("file_moved".into(), "Plans/old.md".into()),
                ("plan_created".into(), "Plans/plan.md".into()),
                ("rejected".into(), "Rejected/refund.md".into()),
            ],
            "poll {poll:?}"
        );
        let approved = v
            .all_entries()
            .into_iter()
            .find(|e| e["action_type"] == "approved")
            .expect("approved");
        assert_eq!(
            (
                approved["approval_status"].as_str(),
                approved["approved_by"].as_str()
            ),
            (Some("approved"), Some("human"))
        );
        assert_eq!(approved["parameters"]["from"], "Pending_Approval/pay.md");
        d.terminate();
    }
}

#[test]
fn no_watch_vault_records_no_activity() {
    let v = Vault::new();
    let d = Daemon::start(&v, &["--no-watch-vault"]);
    std::fs::write(v.path().join("Inbox/email.md"), "# mail").expect("create");
    std::thread::sleep(Duration::from_millis(800));
    d.terminate();
    assert!(v
        .all_entries()
        .iter()
        .all(|e| e["actor"] != "vault_watcher"));
}

#[test]
fn failed_writes_are_replayed_once_at_start() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    let saved: String = (1..=3).map(|n| entry_json(&ts, "INFO", n) + "\n").collect();
    std::fs::write(v.logs().join("failed_writes.json"), saved).expect("write");
    let d = Daemon::start(&v, &["--no-watch-vault"]);
    wait_for("the replay", Duration::from_secs(10), || {
        entries(&v, &date).len() == 3
    });
    assert!(!v.logs().join("failed_writes.json").exists());
    d.terminate();
    let d = Daemon::start(&v, &["--no-watch-vault"]);
    std::thread::sleep(Duration::from_millis(500));
    d.terminate();
    assert_eq!(entries(&v, &date).len(), 3);
    // `vault-audit replay` does the same by hand.
    std::fs::write(
        v.logs().join("failed_writes.json"),
        entry_json(&ts, "INFO", 4) + "\n",
    )
    .expect("write");
    let done = v.cmd().arg("replay").run();
    done.assert_code(0);
    assert_eq!(done.response()["details"]["replayed"], 1);
    assert_eq!(entries(&v, &date).len(), 4);
}

#[test]
fn critical_entries_and_error_bursts_raise_alert_notes() {
    let v = Vault::new();
    let (_, ts) = days_ago(0);
    let d = Daemon::start(&v, &["--no-watch-vault"]);
    let errors: String = (1..=8)
        .map(|n| entry_json(&ts, "ERROR", n) + "\n")
        .collect();
    drop_file(&v, "errors.jsonl", &errors);
    drop_file(&v, "crit.jsonl", &(entry_json(&ts, "CRITICAL", 9) + "\n"));
    let alerts = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(v.path().join("Needs_Action"))
            .expect("ls")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("ALERT_"))
            .collect();
        names.sort();
        names
    };
    wait_for("two alert notes", Duration::from_secs(10), || {
        alerts().len() >= 2
    });
    std::thread::sleep(Duration::from_millis(300));
    let names = alerts();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.iter().any(|n| n.ends_with("_CRITICAL.md"))
            && names.iter().any(|n| n.ends_with("_ERROR.md")),
        "{names:?}"
    );
    let burst = std::fs::read_to_string(
        v.path().join("Needs_Action").join(
            names
                .iter()
                .find(|n| n.ends_with("_ERROR.md"))
                .expect("burst"),
        ),
    )
    .expect("read");
    assert!(
        burst.contains("# 5 ERROR entries within 15 minutes"),
        "{burst}"
    );
    d.terminate();
}

#[test]
fn sigkill_at_random_moments_loses_and_doubles_nothing() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    let mut expected = Vec::new();
    let mut n = 0u64;
    let mut rng_state = 0x2545_f491_4f6c_dd1du64;
    let mut random = move |below: u64| {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state % below
    };
    let mut interrupted = 0;
    for round in 0..20 {
        for f in 0..4 {
            let lines: String = (0..250)
                .map(|_| {
                    n += 1;
                    expected.push(n);
                    entry_json(&ts, "INFO", n) + "\n"
                })
                .collect();
            drop_file(&v, &format!("r{round:02}-f{f}.jsonl"), &lines);
        }
        let d = Daemon::start(&v, &["--no-watch-vault"]);
        std::thread::sleep(Duration::from_millis(random(250)));
        d.kill();
        let claimed = std::fs::read_dir(inbox(&v).join(".processing"))
            .map(|d| d.count())
            .unwrap_or(0);
        if claimed > 0 || v.logs().join(".audit/intent.json").exists() {
            interrupted += 1;
        }
    }
    eprintln!("{interrupted} of 20 kills landed in the middle of taking in a file");
    assert!(
        interrupted > 0,
        "no kill landed mid-intake: the test proves nothing"
    );
    let d = Daemon::start(&v, &["--no-watch-vault"]);
    wait_for("every file to be taken in", Duration::from_secs(60), || {
        inbox_empty(&v)
    });
    let (code, _) = d.terminate();
    assert_eq!(code, Some(0));
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for e in entries(&v, &date) {
        *counts
            .entry(e["parameters"]["n"].as_u64().expect("n"))
            .or_default() += 1;
    }
    let doubled: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(doubled.is_empty(), "entries written twice: {doubled:?}");
    let missing: Vec<_> = expected
        .iter()
        .filter(|n| !counts.contains_key(n))
        .collect();
    assert!(
        missing.is_empty(),
        "entries lost: {} of {}",
        missing.len(),
        expected.len()
    );
    let day: Value =
        serde_json::from_str(&std::fs::read_to_string(v.day(&date)).expect("read")).expect("json");
    assert_eq!(day["total_entries"], expected.len());
}

#[test]
fn systemd_hears_ready_watchdog_and_stopping_on_its_notify_socket() {
    use std::os::unix::net::UnixDatagram;
    let v = Vault::new();
    let sock_dir = tempfile::tempdir().expect("tempdir");
    let path = sock_dir.path().join("notify");
    let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let notify = path.to_string_lossy().into_owned();
    let d = Daemon::start_with(
        &v,
        &["--no-watch-vault"],
        &[("NOTIFY_SOCKET", &notify), ("WATCHDOG_USEC", "400000")],
    );
    let mut heard = Vec::new();
    let mut buf = [0u8; 256];
    // READY=1 first, then a watchdog ping every 200 ms or so.
    while heard
        .iter()
        .filter(|m: &&String| m.contains("WATCHDOG=1"))
        .count()
        < 2
    {
        let n = socket.recv(&mut buf).expect("a notification");
        heard.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(heard[0].contains("READY=1"), "{heard:?}");
    let (code, _) = d.terminate();
    assert_eq!(code, Some(0));
    let mut last = String::new();
    while let Ok(n) = socket.recv(&mut buf) {
        last = String::from_utf8_lossy(&buf[..n]).into_owned();
        if last.contains("STOPPING=1") {
            break;
        }
    }
    assert!(last.contains("STOPPING=1"), "{last:?}");
}

#[test]
fn an_alert_note_another_writer_raised_is_not_recorded_as_vault_activity() {
    let v = Vault::new();
    let (date, ts) = days_ago(0);
    let d = Daemon::start(&v, &["--poll", "200ms"]);
    let done = v
        .cmd()
        .args(["log", "--entry", &entry_json(&ts, "CRITICAL", 1)])
        .run();
    assert_eq!(done.code, 0, "{}", done.stderr);
    // A note of the user's own, after it: once it is recorded, the alert
    // note was seen too.
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(v.path().join("Needs_Action").join("task.md"), "# task").expect("task");
    let drops = || -> Vec<String> {
        entries(&v, &date)
            .iter()
            .filter(|e| e["action_type"] == "file_drop")
            .map(|e| e["target"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    wait_for("the task recorded", Duration::from_secs(10), || {
        drops().iter().any(|t| t == "Needs_Action/task.md")
    });
    d.terminate();
    let recorded = drops();
    assert!(
        !recorded.iter().any(|t| t.contains("ALERT_")),
        "{recorded:?}"
    );
}
