//! No write follows a symbolic link under `Logs/`: for every file we write
//! there, a link planted in its place (or in place of a folder above it)
//! leaves the file it points to byte for byte as it was, and the refusal is
//! reported.

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::{days_ago, entry_json, Daemon, Vault};

/// A file outside the vault with bytes that must never change.
struct Outside {
    _dir: tempfile::TempDir,
    path: PathBuf,
    bytes: Vec<u8>,
}

impl Outside {
    fn new() -> Outside {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("precious.txt");
        let bytes = "OUTSIDE-BYTES-NOT-OURS\n".repeat(217).into_bytes();
        std::fs::write(&path, &bytes).expect("write");
        Outside {
            _dir: dir,
            path,
            bytes,
        }
    }

    fn assert_untouched(&self, case: &str) {
        let now = std::fs::read(&self.path).expect("read outside");
        assert_eq!(
            now.len(),
            self.bytes.len(),
            "{case}: the outside file's length changed"
        );
        assert!(
            now == self.bytes,
            "{case}: the outside file's bytes changed"
        );
    }
}

fn plant(link: &Path, target: &Path) {
    std::fs::create_dir_all(link.parent().expect("parent")).expect("mkdir");
    let _ = std::fs::remove_file(link);
    symlink(target, link).expect("symlink");
}

fn log(v: &Vault, n: u64) -> common::Done {
    let (_, ts) = days_ago(0);
    v.cmd()
        .args(["log", "--entry", &entry_json(&ts, "INFO", n)])
        .run()
}

/// `verify` names the link.
fn verify_names(v: &Vault, link: &Path) {
    let done = v.cmd().arg("verify").run();
    let rel = link
        .strip_prefix(v.path())
        .expect("inside")
        .to_string_lossy()
        .into_owned();
    assert!(
        done.code == 1 && done.stdout.contains(&rel),
        "verify: {}",
        done.stdout
    );
}

#[test]
fn a_day_file_that_is_a_link_is_refused_with_exit_4() {
    let v = Vault::new();
    let out = Outside::new();
    let (date, _) = days_ago(0);
    plant(&v.day(&date), &out.path);
    let done = log(&v, 1);
    done.assert_code(4);
    assert!(
        done.stdout.contains("is a symbolic link"),
        "{}",
        done.stdout
    );
    out.assert_untouched("day file");
    verify_names(&v, &v.day(&date));
}

#[test]
fn a_chain_record_that_is_a_link_is_never_written_through() {
    let v = Vault::new();
    let out = Outside::new();
    log(&v, 1).assert_code(0);
    let (date, _) = days_ago(0);
    let record = v.logs().join(format!(".audit/chain/{date}.bin"));
    plant(&record, &out.path);
    log(&v, 2).assert_code(0);
    // A repair that cuts the record back does not reach it either.
    let mut day = std::fs::OpenOptions::new()
        .append(true)
        .open(v.day(&date))
        .expect("open");
    std::io::Write::write_all(&mut day, b"torn").expect("tear");
    drop(day);
    log(&v, 3).assert_code(0);
    out.assert_untouched("chain record");
    verify_names(&v, &record);
}

#[test]
fn a_linked_state_folder_is_refused_and_nothing_is_written_into_it() {
    let v = Vault::new();
    let outside = tempfile::tempdir().expect("tempdir");
    symlink(outside.path(), v.logs().join(".audit")).expect("symlink");
    let done = log(&v, 1);
    done.assert_code(4);
    assert!(
        done.stdout.contains("is a symbolic link"),
        "{}",
        done.stdout
    );
    let inside: Vec<_> = std::fs::read_dir(outside.path()).expect("ls").collect();
    assert!(inside.is_empty(), "{inside:?}");
}

#[test]
fn failed_writes_that_is_a_link_is_refused_and_the_entry_handed_back() {
    let v = Vault::new();
    let out = Outside::new();
    log(&v, 1).assert_code(0);
    plant(&v.logs().join("failed_writes.json"), &out.path);
    let held = vault_audit::lock::HeldLock::hold(&v.logs().join(".audit/lock")).expect("hold");
    let (_, ts) = days_ago(0);
    let entry = entry_json(&ts, "INFO", 2);
    let done = v
        .cmd()
        .env("AUDIT_LOCK_TIMEOUT_MS", "100")
        .args(["log", "--entry", &entry])
        .run();
    drop(held);
    done.assert_code(4);
    assert!(
        done.stderr.contains("is a symbolic link"),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr.contains("\"n\":2"),
        "the entry is handed back: {}",
        done.stderr
    );
    out.assert_untouched("failed_writes.json");
}

#[test]
fn a_critical_archive_that_is_a_link_stops_the_purge_before_anything_is_lost() {
    let v = Vault::new();
    let out = Outside::new();
    let (old_date, old_ts) = days_ago(10);
    v.cmd()
        .args(["log", "--entry", &entry_json(&old_ts, "CRITICAL", 1)])
        .run()
        .assert_code(0);
    plant(&v.logs().join("critical_archive.json"), &out.path);
    let done = v.cmd().args(["rotate", "--days", "5"]).run();
    assert_ne!(done.code, 0, "{}", done.stdout);
    assert!(
        done.stdout.contains("is a symbolic link"),
        "{}",
        done.stdout
    );
    out.assert_untouched("critical_archive.json");
    assert!(
        v.day(&old_date).is_file(),
        "the day is kept while its CRITICAL cannot be archived"
    );
}

#[test]
fn state_files_that_are_links_are_replaced_not_written_through() {
    let v = Vault::new();
    let out = Outside::new();
    log(&v, 1).assert_code(0);
    for name in ["retention.json", "anchors.json", "views-stale"] {
        plant(&v.logs().join(".audit").join(name), &out.path);
    }
    log(&v, 2).assert_code(0);
    v.cmd().args(["rotate", "--days", "30"]).run();
    out.assert_untouched("state files");
}

#[test]
fn a_journal_file_that_is_a_link_is_refused_with_exit_4_and_never_read() {
    for name in ["intent.json", "inbox-progress.json"] {
        let v = Vault::new();
        let out = Outside::new();
        log(&v, 1).assert_code(0);
        plant(&v.logs().join(".audit").join(name), &out.path);
        let done = log(&v, 2);
        if name == "intent.json" {
            done.assert_code(4);
            assert!(
                done.stdout.contains("is a symbolic link"),
                "{}",
                done.stdout
            );
        }
        out.assert_untouched(name);
        verify_names(&v, &v.logs().join(".audit").join(name));
    }
}

#[test]
fn a_pid_file_that_is_a_link_stops_the_daemon_from_starting() {
    let v = Vault::new();
    let out = Outside::new();
    plant(&v.logs().join(".audit/daemon.pid"), &out.path);
    let done = v.cmd().arg("daemon").run();
    assert_ne!(done.code, 0);
    assert!(
        done.stderr.contains("is a symbolic link"),
        "{}",
        done.stderr
    );
    out.assert_untouched("pid file");
}

#[test]
fn a_link_in_the_inbox_is_never_read_into_the_log_or_rejected() {
    let v = Vault::new();
    let out = Outside::new();
    let processing = v.logs().join("inbox/.processing");
    plant(
        &processing.join("0001790000000000-deadbeef-evil.jsonl"),
        &out.path,
    );
    plant(&v.logs().join("inbox/drop.jsonl"), &out.path);
    let d = Daemon::start(&v, &["--no-watch-vault"]);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    d.terminate();
    out.assert_untouched("inbox link");
    let copied = walkdir::WalkDir::new(v.logs())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .any(|e| {
            std::fs::read(e.path())
                .is_ok_and(|b| String::from_utf8_lossy(&b).contains("OUTSIDE-BYTES"))
        });
    assert!(!copied, "the outside file's content reached the vault");
}

#[test]
fn a_planted_purge_record_never_deletes_a_file_outside_or_a_day_not_expired() {
    let v = Vault::new();
    let out = Outside::new();
    log(&v, 1).assert_code(0);
    let (today, _) = days_ago(0);
    for file in [
        out.path.to_string_lossy().into_owned(),
        "../Dashboard.md".into(),
        format!("{today}.json"),
    ] {
        let record =
            serde_json::json!({"file": file, "archive_len": 0, "critical": 0, "phase": "logged"});
        std::fs::write(
            v.logs().join(".audit/retention-journal.json"),
            record.to_string(),
        )
        .expect("plant");
        std::fs::write(v.path().join("Dashboard.md"), "# mine\n").expect("dashboard");
        v.cmd().args(["rotate", "--days", "30"]).run();
        out.assert_untouched("purge record");
        assert!(
            v.day(&today).is_file(),
            "today's day file was deleted by a planted record"
        );
        assert!(v.path().join("Dashboard.md").is_file());
    }
}

#[test]
fn a_dashboard_that_is_a_link_to_a_secret_is_replaced_never_read() {
    let v = Vault::new();
    let out = Outside::new();
    symlink(&out.path, v.path().join("Dashboard.md")).expect("symlink");
    log(&v, 1).assert_code(0);
    out.assert_untouched("Dashboard link");
    let note = std::fs::read_to_string(v.path().join("Dashboard.md")).expect("dashboard");
    assert!(
        !note.contains("OUTSIDE-BYTES"),
        "the link's target was copied into the vault"
    );
    assert!(note.contains("## Recent Activity"), "{note}");
}

#[test]
fn a_pipe_planted_as_a_state_file_is_refused_without_hanging() {
    let v = Vault::new();
    log(&v, 1).assert_code(0);
    let fifo = v.logs().join(".audit/intent.json");
    let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let started = std::time::Instant::now();
    let done = log(&v, 2);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "hung on the pipe"
    );
    done.assert_code(4);
    assert!(
        done.stdout.contains("not a regular file"),
        "{}",
        done.stdout
    );
}

#[test]
fn a_dashboard_planted_in_the_project_does_not_move_the_hooks_log_out_of_the_vault() {
    let project = tempfile::tempdir().expect("tempdir");
    let vault = project.path().join("AI_Employee_Vault");
    std::fs::create_dir_all(vault.join("Logs")).expect("mkdir");
    std::fs::write(project.path().join("Dashboard.md"), "# planted").expect("plant");
    let payload = serde_json::json!({"hook_event_name": "SessionStart", "session_id": "s", "source": "startup"});
    common::Run::new()
        .arg("--no-dry-run")
        .arg("--vault")
        .arg(project.path())
        .args(["hook", "claude-code"])
        .stdin(payload.to_string())
        .run()
        .assert_code(0);
    assert!(
        !project.path().join("Logs").exists(),
        "a Logs/ appeared in the project root"
    );
    assert!(std::fs::read_dir(vault.join("Logs")).expect("ls").count() > 0);
}

#[test]
fn a_head_record_or_ledger_that_is_a_link_is_never_written_through() {
    let v = Vault::new();
    let head_out = Outside::new();
    let ledger_out = Outside::new();
    log(&v, 1).assert_code(0);
    let head = v.logs().join(".audit/head");
    let ledger = v.logs().join(".audit/ledger");
    plant(&head, &head_out.path);
    plant(&ledger, &ledger_out.path);
    // A back-dated entry moves the head off today: a ledger line is due.
    let (_, yesterday) = days_ago(1);
    v.cmd()
        .args(["log", "--entry", &entry_json(&yesterday, "INFO", 2)])
        .run();
    log(&v, 3);
    head_out.assert_untouched("head record");
    ledger_out.assert_untouched("ledger");
    verify_names(&v, &ledger);
}
