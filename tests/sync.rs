//! One vault, several machines: a replica writes only under
//! `Logs/hosts/<host>/`, the primary takes its entries in exactly once
//! (a week offline included), sync tools' conflict copies and Git conflict
//! markers are merged once with the leftover kept aside, and the merge
//! driver makes a chained union of two versions of a day.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{days_before, entry_json, files_in, on_one_utc_day, wait_for, Daemon, Run, Vault};
use serde_json::Value;

const HOST: &str = "cloud-vm";

/// A run as the replica `cloud-vm`.
fn replica(v: &Vault) -> Run {
    v.cmd().env("AUDIT_ROLE", "replica").env("AUDIT_HOST", HOST)
}

/// Logs one entry with a distinguishing `n` at `ts` (none: now).
fn log(run: Run, ts: Option<&str>, n: u64) {
    let mut e: Value = serde_json::from_str(&entry_json("x", "INFO", n)).expect("json");
    match ts {
        Some(ts) => e["timestamp"] = ts.into(),
        None => {
            e.as_object_mut().expect("object").remove("timestamp");
        }
    }
    run.args(["log", "--entry", &e.to_string()])
        .run()
        .assert_code(0);
}

/// How many times each `n` occurs in the main day files, among entries
/// taken in from `host`.
fn taken(v: &Vault, host: &str) -> BTreeMap<u64, u64> {
    let mut seen = BTreeMap::new();
    for e in v.all_entries() {
        if e["parameters"]["host"] == host {
            *seen
                .entry(e["parameters"]["n"].as_u64().expect("n"))
                .or_default() += 1;
        }
    }
    seen
}

#[test]
fn a_replica_writes_only_its_own_files_and_the_primary_takes_them_in_once() {
    let v = Vault::new();
    std::fs::write(v.path().join("Dashboard.md"), "# Dashboard\n").expect("dashboard");
    let (today, n) = on_one_utc_day(|_| {
        for n in 1..=3 {
            log(replica(&v), None, n);
        }
        let main: Vec<String> = files_in(&v.logs());
        assert_eq!(
            main,
            vec!["hosts"],
            "a replica writes nothing else in Logs/"
        );
        let own = v.logs().join("hosts").join(HOST);
        let today = days_before(chrono::Utc::now(), 0).0;
        assert!(own.join(format!("{today}.json")).is_file());
        assert_eq!(
            std::fs::read_to_string(v.path().join("Dashboard.md")).expect("read"),
            "# Dashboard\n"
        );
        // The primary's next write takes them in.
        log(v.cmd(), None, 100);
        (today, taken(&v, HOST))
    });
    assert_eq!(n, BTreeMap::from([(1, 1), (2, 1), (3, 1)]));
    // Again, with no cursor at all and the replica's file replaced by a
    // copy of itself (a sync tool's rewrite): nothing is taken twice.
    let own = v
        .logs()
        .join("hosts")
        .join(HOST)
        .join(format!("{today}.json"));
    let bytes = std::fs::read(&own).expect("read");
    std::fs::remove_file(&own).expect("remove");
    std::fs::write(&own, bytes).expect("write");
    std::fs::remove_file(v.logs().join(".audit/hosts").join(format!("{HOST}.json")))
        .expect("cursor");
    v.cmd().arg("index").run().assert_code(0);
    log(replica(&v), None, 4);
    v.cmd().arg("index").run().assert_code(0);
    v.cmd().arg("index").run().assert_code(0);
    let n = taken(&v, HOST);
    assert_eq!(n, BTreeMap::from([(1, 1), (2, 1), (3, 1), (4, 1)]));
    let index: Value =
        serde_json::from_slice(&std::fs::read(v.logs().join("index.json")).expect("index"))
            .expect("json");
    let listed: u64 = index["log_files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["entry_count"].as_u64().expect("count"))
        .sum();
    assert_eq!(
        listed,
        v.all_entries().len() as u64,
        "the index counts them"
    );
    v.cmd().arg("verify").run().assert_code(0);
}

#[test]
fn a_replica_offline_for_a_week_is_taken_in_once_when_it_syncs() {
    let v = Vault::new();
    let elsewhere = Vault::new();
    let now = chrono::Utc::now();
    // The replica wrote for a week into its own copy of the vault...
    for day in (0..8).rev() {
        for k in 0..3 {
            let ts = days_before(now, day).1;
            log(replica(&elsewhere), Some(&ts), (day * 10 + k) as u64);
        }
    }
    log(v.cmd(), None, 1000);
    // ...and the week arrives at once.
    let from = elsewhere.logs().join("hosts");
    let to = v.logs().join("hosts");
    copy_dir(&from, &to);
    v.cmd().arg("index").run().assert_code(0);
    v.cmd().arg("index").run().assert_code(0);
    log(v.cmd(), None, 1001);
    let n = taken(&v, HOST);
    assert_eq!(n.len(), 24, "{n:?}");
    assert!(n.values().all(|c| *c == 1), "{n:?}");
    assert!(v.dates().len() >= 8, "{:?}", v.dates());
    let done = v.cmd().arg("verify").run();
    done.assert_code(0);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for item in std::fs::read_dir(from).expect("read dir") {
        let item = item.expect("item");
        let target = to.join(item.file_name());
        if item.file_type().expect("type").is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), target).expect("copy");
        }
    }
}

/// The `n`s of the entries in the main day file of `date`, in order.
fn ns(v: &Vault, date: &str) -> Vec<u64> {
    v.day_json(date)["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["parameters"]["n"].as_u64())
        .collect()
}

fn warnings(v: &Vault, how: &str) -> Vec<Value> {
    v.all_entries()
        .into_iter()
        .filter(|e| e["parameters"]["how"] == how)
        .collect()
}

#[test]
fn a_syncthing_conflict_copy_is_merged_once_and_kept_aside() {
    let v = Vault::new();
    let other = Vault::new();
    let now = chrono::Utc::now();
    let (day, _) = days_before(now, 1);
    // Noon yesterday, whatever the hour now.
    let noon = days_before(now, 1).1;
    // Both machines had entries 1 and 2; the other one also 3 and 4.
    for n in [1, 2] {
        log(v.cmd(), Some(&noon), n);
        log(other.cmd(), Some(&noon), n);
    }
    // The same two entries, byte for byte, then two more.
    std::fs::copy(v.day(&day), other.day(&day)).expect("copy");
    for n in [3, 4] {
        log(other.cmd(), Some(&noon), n);
    }
    log(v.cmd(), Some(&noon), 5);
    let copy = v
        .logs()
        .join(format!("{day}.sync-conflict-20260101-101010-ABCDEF7.json"));
    std::fs::copy(other.day(&day), &copy).expect("conflict copy");
    v.cmd().arg("index").run().assert_code(0);
    v.cmd().arg("index").run().assert_code(0);
    let mut got = ns(&v, &day);
    got.sort();
    assert_eq!(got, vec![1, 2, 3, 4, 5]);
    assert!(!copy.exists(), "the copy was moved aside");
    let kept: Vec<String> = files_in(&v.logs())
        .into_iter()
        .filter(|n| n.starts_with(&format!("{day}.conflict-")))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let warned = warnings(&v, "sync_conflict");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0]["log_level"], "WARNING");
    assert_eq!(warned[0]["parameters"]["device"], "ABCDEF7");
    v.cmd().arg("verify").run().assert_code(0);
}

/// Runs `git merge-file -p` on three texts: a real conflict.
fn git_conflict(ours: &[u8], base: &[u8], theirs: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |n: &str| dir.path().join(n);
    std::fs::write(path("ours"), ours).expect("ours");
    std::fs::write(path("base"), base).expect("base");
    std::fs::write(path("theirs"), theirs).expect("theirs");
    let out = std::process::Command::new("git")
        .args([
            "merge-file",
            "-p",
            "-L",
            "HEAD",
            "-L",
            "base",
            "-L",
            "laptop",
        ])
        .args([path("ours"), path("base"), path("theirs")])
        .output()
        .expect("git merge-file");
    assert!(String::from_utf8_lossy(&out.stdout).contains("<<<<<<< HEAD"));
    out.stdout
}

/// The same day in two vaults: `base` entries in both, then `ours` in
/// `v` and `theirs` in `other`; returns (base, ours, theirs) file bytes.
fn two_versions(v: &Vault, other: &Vault, day_ago: i64) -> (String, Vec<u8>, Vec<u8>, Vec<u8>) {
    let now = chrono::Utc::now();
    let (day, _) = days_before(now, day_ago);
    // Noon that day, whatever the hour now.
    let noon = days_before(now, day_ago).1;
    for n in 1..=2 {
        log(v.cmd(), Some(&noon), n);
    }
    let base = std::fs::read(v.day(&day)).expect("base");
    std::fs::write(other.day(&day), &base).expect("copy");
    std::fs::create_dir_all(other.logs().join(".audit")).expect("state");
    for n in 3..=4 {
        log(v.cmd(), Some(&noon), n);
    }
    for n in 5..=6 {
        log(other.cmd(), Some(&noon), n);
    }
    let ours = std::fs::read(v.day(&day)).expect("ours");
    let theirs = std::fs::read(other.day(&day)).expect("theirs");
    (day, base, ours, theirs)
}

#[test]
fn a_day_file_with_git_conflict_markers_is_merged_once_and_kept_aside() {
    let v = Vault::new();
    let other = Vault::new();
    let (day, base, ours, theirs) = two_versions(&v, &other, 1);
    // Git replaces the file it merges.
    let conflicted = git_conflict(&ours, &base, &theirs);
    std::fs::remove_file(v.day(&day)).expect("remove");
    std::fs::write(v.day(&day), conflicted).expect("conflict");
    v.cmd().arg("index").run().assert_code(0);
    v.cmd().arg("index").run().assert_code(0);
    assert_eq!(ns(&v, &day), vec![1, 2, 3, 4, 5, 6]);
    let kept = files_in(&v.logs())
        .into_iter()
        .filter(|n| n.starts_with(&format!("{day}.conflict-")))
        .count();
    assert_eq!(kept, 1);
    let warned = warnings(&v, "sync_conflict");
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert_eq!(warned[0]["parameters"]["device"], "laptop");
    v.cmd().arg("verify").run().assert_code(0);
}

#[test]
fn the_merge_driver_writes_a_chained_union_of_both_versions() {
    let v = Vault::new();
    let other = Vault::new();
    let (day, base, ours, theirs) = two_versions(&v, &other, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let (o, a, b) = (
        dir.path().join("O"),
        dir.path().join("A"),
        dir.path().join("B"),
    );
    std::fs::write(&o, &base).expect("O");
    std::fs::write(&a, &ours).expect("A");
    std::fs::write(&b, &theirs).expect("B");
    Run::new()
        .arg("merge-driver")
        .args([&o, &a, &b])
        .run()
        .assert_code(0);
    let merged = std::fs::read(&a).expect("merged");
    let file: Value = serde_json::from_slice(&merged).expect("valid JSON");
    assert_eq!(file["date"], day.as_str());
    let got: Vec<u64> = file["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["parameters"]["n"].as_u64().expect("n"))
        .collect();
    assert_eq!(got, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(file["total_entries"], 6);
    // The chain holds over the result, from ours' start.
    let text = String::from_utf8(merged).expect("utf-8");
    let date = vault_audit::time::parse_day(&day).expect("day");
    let head = vault_audit::daily::parse_head(text.as_bytes(), date).expect("our layout");
    let start = head.start.expect("chained");
    let lines: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .map(|l| l.strip_suffix(',').unwrap_or(l))
        .collect();
    let folder = vault_audit::chain::ChainKey::none()
        .folder(start.alg)
        .expect("folder");
    let values = folder.fold_all(start.value, lines.iter().map(|l| l.as_bytes()));
    let end = values.last().expect("values");
    assert_eq!(file["chain_end"], vault_audit::chain::to_hex(end).as_str());
    // Not a day file: left as a conflict.
    std::fs::write(&a, "not json").expect("A");
    std::fs::write(&b, "neither").expect("B");
    Run::new()
        .arg("merge-driver")
        .args([&o, &a, &b])
        .run()
        .assert_code(1);
}

#[test]
fn a_linked_hosts_folder_or_replica_file_is_never_read() {
    let v = Vault::new();
    let outside = Vault::new();
    log(replica(&outside), None, 7);
    // A link in place of Logs/hosts, then in place of a replica's day file.
    std::os::unix::fs::symlink(outside.logs().join("hosts"), v.logs().join("hosts")).expect("link");
    v.cmd().arg("index").run().assert_code(0);
    assert!(taken(&v, HOST).is_empty());
    std::fs::remove_file(v.logs().join("hosts")).expect("unlink");
    let own = v.logs().join("hosts").join(HOST);
    std::fs::create_dir_all(&own).expect("mkdir");
    for item in std::fs::read_dir(outside.logs().join("hosts").join(HOST)).expect("dir") {
        let item = item.expect("item");
        if item.file_type().expect("type").is_file() {
            std::os::unix::fs::symlink(item.path(), own.join(item.file_name())).expect("link");
        }
    }
    v.cmd().arg("index").run().assert_code(0);
    assert!(taken(&v, HOST).is_empty());
}

#[test]
fn a_hostile_replica_cannot_inject_invalid_or_unredacted_entries() {
    let v = Vault::new();
    let elsewhere = Vault::new();
    log(replica(&elsewhere), None, 1);
    let own = v.logs().join("hosts").join(HOST);
    copy_dir(&elsewhere.logs().join("hosts").join(HOST), &own);
    let day = days_before(chrono::Utc::now(), 0).0;
    let path = own.join(format!("{day}.json"));
    let text = std::fs::read_to_string(&path).expect("read");
    // A line that does not validate, one with a secret, and one that
    // claims another host: written by hand into the replica's file.
    let mut bad: Value = serde_json::from_str(&entry_json(
        &days_before(chrono::Utc::now(), 0).1,
        "LOUD",
        2,
    ))
    .expect("json");
    bad["log_level"] = "LOUD".into();
    let mut secret: Value = bad.clone();
    secret["log_level"] = "INFO".into();
    secret["parameters"] = serde_json::json!({"n": 3, "api_key": "sk-live-abcdefghijklmnopqrstuvwx", "host": "laptop"});
    let hostile = text.replace("\n  ],\n", &format!(",\n    {bad},\n    {secret}\n  ],\n"));
    std::fs::write(&path, hostile).expect("write");
    v.cmd().arg("index").run().assert_code(0);
    let all = v.all_entries();
    let text = serde_json::to_string(&all).expect("json");
    assert!(
        !text.contains("sk-live-abcdefghijklmnopqrstuvwx"),
        "redacted"
    );
    assert!(all.iter().all(|e| e["log_level"] != "LOUD"));
    let n = taken(&v, HOST);
    assert_eq!(n, BTreeMap::from([(1, 1), (3, 1)]));
    let refused: Vec<&Value> = all
        .iter()
        .filter(|e| e["parameters"]["event"] == "replica_entries_refused")
        .collect();
    assert_eq!(refused.len(), 1, "{all:?}");
    // The main chain holds.
    let done = v.cmd().arg("verify").run();
    assert!(
        !done.stdout.contains(&format!("Logs/{day}.json")),
        "{}",
        done.stdout
    );
}

#[test]
fn query_shows_a_replicas_entries_once_before_and_after_they_are_taken_in() {
    let v = Vault::new();
    for n in 1..=2 {
        log(replica(&v), None, n);
    }
    let count = |run: Run| {
        let done = run.args(["query", "--count", "--actor", "test"]).run();
        done.assert_code(0);
        done.stdout.trim().to_owned()
    };
    assert_eq!(count(replica(&v)), "2", "not taken in yet");
    let listed = replica(&v).args(["query", "--format", "jsonl"]).run();
    assert!(
        listed.stdout.contains(&format!("\"host\":\"{HOST}\"")),
        "{}",
        listed.stdout
    );
    v.cmd().arg("index").run().assert_code(0);
    assert_eq!(count(v.cmd()), "2", "taken in: counted once");
    assert_eq!(count(replica(&v)), "2");
}

#[test]
fn a_replica_refuses_to_write_the_index_or_the_dashboard_and_repairs_only_its_own_files() {
    let v = Vault::new();
    std::fs::write(v.path().join("Dashboard.md"), "# Dashboard\n").expect("dashboard");
    log(replica(&v), None, 1);
    for cmd in ["index", "dashboard"] {
        let done = replica(&v).arg(cmd).run();
        assert_ne!(done.code, 0, "{cmd}");
        assert!(done.stderr.contains("replica"), "{}", done.stderr);
    }
    let done = replica(&v)
        .args(["forward", "--once"])
        .env("AUDIT_FORWARD_SYSLOG", "udp://127.0.0.1:9")
        .run();
    assert_eq!(done.code, 2, "{}", done.stderr);
    assert!(done.stderr.contains("replica"), "{}", done.stderr);
    replica(&v).arg("repair").run().assert_code(0);
    replica(&v)
        .args(["rotate", "--days", "1"])
        .run()
        .assert_code(0);
    assert_eq!(files_in(&v.logs()), vec!["hosts"]);
    assert!(!v
        .logs()
        .join("hosts")
        .join(HOST)
        .join("index.json")
        .exists());
    assert_eq!(
        std::fs::read_to_string(v.path().join("Dashboard.md")).expect("read"),
        "# Dashboard\n"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

    /// Whatever a sync tool or a person leaves, reading it never panics.
    #[test]
    fn conflicts_and_merges_never_panic_on_any_input(
        a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        b in "(<<<<<<< x\n|=======\n|>>>>>>> y\n|\\|\\|\\|\\|\\|\\|\\| z\n|\\{\"date\":\"2026-11-22\"\\}\n|[ -~]{0,20}\n){0,12}",
        name in "[ -~]{0,60}",
    ) {
        let _ = vault_audit::daily::conflict_sides(&a);
        let _ = vault_audit::daily::conflict_sides(b.as_bytes());
        let key = vault_audit::chain::ChainKey::none();
        let _ = vault_audit::daily::merged(&a, b.as_bytes(), &key);
        let _ = vault_audit::daily::merged(b.as_bytes(), &a, &key);
        let _ = vault_audit::vault::conflict_copy_name(&name);
        let _ = vault_audit::vault::host_name(&name);
    }
}

#[test]
fn the_primarys_daemon_takes_a_replicas_new_entries_in_on_its_own() {
    let v = Vault::new();
    let daemon = Daemon::start(&v, &["--no-watch-vault"]);
    for n in 1..=3 {
        log(replica(&v), None, n);
    }
    wait_for(
        "the daemon to take the replica in",
        std::time::Duration::from_secs(20),
        || taken(&v, HOST).len() == 3,
    );
    let (code, _) = daemon.terminate();
    assert_eq!(code, Some(0));
    assert!(taken(&v, HOST).values().all(|c| *c == 1));
}

#[test]
fn a_replicas_daemon_keeps_to_its_own_files() {
    let v = Vault::new();
    std::fs::write(v.path().join("Dashboard.md"), "# Dashboard\n").expect("dashboard");
    let log = std::fs::File::create(v.path().join("replica-daemon.err")).expect("log");
    let mut child = std::process::Command::new(common::BIN)
        .arg("--vault")
        .arg(v.path())
        .args(["--no-dry-run", "daemon", "--no-watch-vault"])
        .env_remove("VAULT_PATH")
        .env("AUDIT_ROLE", "replica")
        .env("AUDIT_HOST", HOST)
        .current_dir(v.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn");
    wait_for(
        "the replica's daemon",
        std::time::Duration::from_secs(30),
        || {
            let out = replica(&v).args(["daemon", "status"]).run();
            out.code == 0 && out.stdout.contains("\"ready\":true")
        },
    );
    replica(&v).args(["daemon", "stop"]).run().assert_code(0);
    let _ = child.wait();
    assert_eq!(files_in(&v.logs()), vec!["hosts"]);
    assert_eq!(
        std::fs::read_to_string(v.path().join("Dashboard.md")).expect("read"),
        "# Dashboard\n"
    );
}

#[test]
fn a_take_in_cut_short_after_the_append_is_not_taken_twice() {
    let v = Vault::new();
    for n in 1..=2 {
        log(replica(&v), None, n);
    }
    v.cmd().arg("index").run().assert_code(0);
    // As a crash right after the append leaves it: the cursor still where
    // it was before, marked pending.
    let cursor = v.logs().join(".audit/hosts").join(format!("{HOST}.json"));
    let mut c: Value =
        serde_json::from_slice(&std::fs::read(&cursor).expect("cursor")).expect("json");
    for day in c["days"].as_object_mut().expect("days").values_mut() {
        day["count"] = 0.into();
        day["last"] = "".into();
        day["pending"] = true.into();
    }
    std::fs::write(&cursor, c.to_string()).expect("write");
    log(replica(&v), None, 3);
    v.cmd().arg("index").run().assert_code(0);
    v.cmd().arg("index").run().assert_code(0);
    assert_eq!(taken(&v, HOST), BTreeMap::from([(1, 1), (2, 1), (3, 1)]));
    v.cmd().arg("verify").run().assert_code(0);
}

/// The merge fixtures: one day in two vaults with an injected clock (the
/// merge driver reads no clock): two entries in both (the ancestor), then
/// two more in each. `UPDATE_GOLDEN=1` writes them to `fixtures/merge/`.
fn merge_fixtures() -> [(&'static str, String); 3] {
    use std::sync::Arc;
    use vault_audit::{ActionType, AuditLogger, Entry, FixedClock, LogLevel};
    let at = |ts: &str| vault_audit::time::parse_timestamp(ts).expect("timestamp");
    let entry = |n: u64, ts: &str| {
        Entry::new(
            LogLevel::Info,
            ActionType::new("system_event").expect("action"),
            "merge-test",
            "vault",
        )
        .at(at(ts))
        .param("n", n)
    };
    let dirs: Vec<tempfile::TempDir> = (0..2)
        .map(|_| {
            let d = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir(d.path().join("Logs")).expect("Logs");
            d
        })
        .collect();
    let logger = |dir: &Path| {
        AuditLogger::builder(dir)
            .clock(Arc::new(FixedClock::new(at("2026-11-22T18:00:00Z"))))
            .session_id("AI_EMP_20261122_MERGE1")
            .build()
            .expect("logger")
    };
    let (ours, theirs) = (logger(dirs[0].path()), logger(dirs[1].path()));
    let day = |d: &tempfile::TempDir| d.path().join("Logs/2026-11-22.json");
    for n in 1..=2 {
        ours.log(entry(n, &format!("2026-11-22T10:0{n}:00Z")))
            .expect("log");
    }
    let ancestor = std::fs::read_to_string(day(&dirs[0])).expect("ancestor");
    std::fs::write(day(&dirs[1]), &ancestor).expect("copy");
    for n in 3..=4 {
        ours.log(entry(n, &format!("2026-11-22T11:0{n}:00Z")))
            .expect("log");
        theirs
            .log(entry(n + 2, &format!("2026-11-22T11:0{n}:30Z")))
            .expect("log");
    }
    [
        ("ancestor.json", ancestor),
        (
            "ours.json",
            std::fs::read_to_string(day(&dirs[0])).expect("ours"),
        ),
        (
            "theirs.json",
            std::fs::read_to_string(day(&dirs[1])).expect("theirs"),
        ),
    ]
}

#[test]
fn the_merge_driver_on_the_fixtures_gives_the_golden_union() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/merge");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    if update {
        std::fs::create_dir_all(&fixtures).expect("mkdir");
        for (name, text) in merge_fixtures() {
            std::fs::write(fixtures.join(name), text).expect("write fixture");
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["ancestor.json", "ours.json", "theirs.json"] {
        std::fs::copy(fixtures.join(name), dir.path().join(name)).expect("copy fixture");
    }
    let path = |n: &str| dir.path().join(n);
    Run::new()
        .arg("merge-driver")
        .args([
            path("ancestor.json"),
            path("ours.json"),
            path("theirs.json"),
        ])
        .run()
        .assert_code(0);
    let merged = std::fs::read_to_string(path("ours.json")).expect("merged");
    let golden = fixtures.join("merged.json");
    if update {
        std::fs::write(&golden, &merged).expect("write golden");
    }
    assert_eq!(merged, std::fs::read_to_string(golden).expect("golden"));
    // The result is a day file of ours the library verifies as it stands.
    let v = tempfile::tempdir().expect("vault");
    std::fs::create_dir(v.path().join("Logs")).expect("Logs");
    std::fs::write(v.path().join("Logs/2026-11-22.json"), &merged).expect("day");
    let report = vault_audit::verify::verify(
        &vault_audit::Vault::new(v.path()),
        &vault_audit::chain::ChainKey::none(),
    )
    .expect("verify");
    let chain_problems: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.file == "Logs/2026-11-22.json")
        .collect();
    assert!(chain_problems.is_empty(), "{chain_problems:?}");
    assert_eq!(report.chained, 1);
}

#[test]
fn garbage_in_the_replicas_folders_and_cursors_is_survived() {
    let v = Vault::new();
    let (day, ts) = days_before(chrono::Utc::now(), 0);
    let own = v.logs().join("hosts").join(HOST);
    std::fs::create_dir_all(&own).expect("mkdir");
    // A day file in another layout (an array), one of garbage, a folder
    // named like a host that is none, and a cursor that is not JSON.
    let entry: Value = serde_json::from_str(&entry_json(&ts, "INFO", 9)).expect("json");
    std::fs::write(own.join(format!("{day}.json")), format!("[{entry}]")).expect("array");
    let yesterday = days_before(chrono::Utc::now(), 1).0;
    std::fs::write(own.join(format!("{yesterday}.json")), b"\x00\xff{{{[").expect("garbage");
    std::fs::create_dir_all(v.logs().join("hosts").join("Not A Host")).expect("mkdir");
    std::fs::create_dir_all(v.logs().join(".audit/hosts")).expect("mkdir");
    std::fs::write(
        v.logs().join(".audit/hosts").join(format!("{HOST}.json")),
        "{nope",
    )
    .expect("cursor");
    v.cmd().arg("index").run().assert_code(0);
    v.cmd().arg("index").run().assert_code(0);
    assert_eq!(taken(&v, HOST), BTreeMap::from([(9, 1)]));
}

#[test]
fn mcp_query_logs_on_a_replica_sees_the_main_files_and_its_own_entries_once() {
    let v = Vault::new();
    log(v.cmd(), None, 1);
    log(replica(&v), None, 2);
    let call = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "query_logs", "arguments": {"actor": "test"}}});
    // The MCP handshake comes first, as every client does it.
    let hello = serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}});
    let ready = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let asked = |run: Run| {
        let done = run
            .arg("mcp")
            .stdin(format!("{hello}\n{ready}\n{call}\n"))
            .run();
        let reply: Value = done
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|r| r["id"] == 1)
            .expect("the reply to the call");
        reply["result"]["structuredContent"]["matched"].clone()
    };
    assert_eq!(asked(replica(&v)), 2);
    v.cmd().arg("index").run().assert_code(0);
    assert_eq!(asked(replica(&v)), 2);
    assert_eq!(asked(v.cmd()), 2);
}
