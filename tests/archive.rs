//! The cold archive tier (`AUDIT_ARCHIVE_DAYS`): a year of day files moved
//! to `Logs/archive/` and out of it on time, still queryable and
//! verifiable; crashes at each step of the move, then a rerun, neither lose
//! nor duplicate an archived entry; a link at `Logs/archive` is refused.

mod common;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;
use vault_audit::archive::{self, ArchivedDay};
use vault_audit::daily::{render_file, Summary, Trailer};
use vault_audit::retention::Policy;
use vault_audit::{ActionType, AuditLogger, Entry, FixedClock, LogLevel};

/// Every archived day of the vault at `root`, month by month.
fn archived(root: &Path) -> Vec<ArchivedDay> {
    let vault = vault_audit::Vault::new(root);
    let mut days = Vec::new();
    for (_, path) in vault.archive_months().expect("months") {
        let read = archive::read(&path).expect("read");
        assert!(read.torn.is_empty(), "{}", path.display());
        assert!(read.unreadable.is_empty(), "{}", path.display());
        days.extend(read.days);
    }
    days
}

/// An entry at `ts`, CRITICAL when `critical`.
fn entry_at(ts: DateTime<Utc>, n: i64, critical: bool) -> Entry {
    let level = if critical {
        LogLevel::Critical
    } else {
        LogLevel::Info
    };
    Entry::new(
        level,
        ActionType::new("system_event").expect("action"),
        "archive-test",
        format!("target-{n}"),
    )
    .at(ts)
    .session("S")
}

/// A year and a month of chained day files, written by the library with
/// the real clock: two entries on each of the 400 days before `now`'s day.
fn year_of_days(root: &Path, now: DateTime<Utc>) {
    let logger = AuditLogger::builder(root)
        .retention_days(36_500)
        .upkeep(false)
        .session_id("S")
        .build()
        .expect("logger");
    let mut entries = Vec::new();
    for back in (1..=400).rev() {
        let day = (now - Duration::days(back)).date_naive();
        for n in 0..2 {
            let ts = day
                .and_hms_opt(10 + n as u32, 0, 0)
                .expect("time")
                .and_utc();
            entries.push(entry_at(ts, back * 10 + n, back % 7 == 0 && n == 1));
        }
    }
    logger.log_batch(entries).expect("write a year");
}

/// What a run of the binary found, gathered on one UTC day.
struct YearRun {
    today: NaiveDate,
    rotate: common::Done,
    rotate_again_same: bool,
    day_files: Vec<String>,
    archived: Vec<ArchivedDay>,
    planted_gone: bool,
    count_hot: String,
    count_all: String,
    found_old: String,
    verify: common::Done,
}

fn run_a_year(v: &common::Vault) -> YearRun {
    common::on_one_utc_day(|now| {
        let _ = std::fs::remove_dir_all(v.logs());
        std::fs::create_dir_all(v.logs()).expect("Logs");
        year_of_days(v.path(), now);
        // A month archive from well over a year ago, which must go.
        let old = (now - Duration::days(430)).date_naive();
        let planted = vault_audit::Vault::new(v.path()).archive_month(old);
        std::fs::create_dir_all(planted.parent().expect("dir")).expect("mkdir");
        std::fs::write(&planted, b"").expect("plant");
        let tiered = |run: common::Run| {
            run.env("AUDIT_RETENTION_DAYS", "90")
                .env("AUDIT_ARCHIVE_DAYS", "365")
        };
        let rotate = tiered(v.cmd()).arg("rotate").run();
        let first = archived(v.path());
        tiered(v.cmd()).arg("rotate").run().assert_code(0);
        let old_target = format!("target-{}", 200 * 10 + 1);
        YearRun {
            today: now.date_naive(),
            rotate,
            rotate_again_same: archived(v.path()) == first,
            day_files: v.dates(),
            archived: first,
            planted_gone: !planted.exists(),
            count_hot: tiered(v.cmd()).args(["query", "--count"]).run().stdout,
            count_all: tiered(v.cmd())
                .args(["query", "--count", "--archive"])
                .run()
                .stdout,
            found_old: tiered(v.cmd())
                .args(["query", "--archive", "--format", "jsonl", "--target"])
                .arg(&old_target)
                .run()
                .stdout,
            verify: tiered(v.cmd()).args(["verify", "--archive"]).run(),
        }
    })
}

#[test]
fn a_year_of_day_files_moves_to_the_archive_and_out_of_it_on_time() {
    let v = common::Vault::new();
    let r = run_a_year(&v);
    r.rotate.assert_code(0);
    let cutoff = r.today - Duration::days(90);
    let cold_cutoff = r.today - Duration::days(365);
    // Day files older than 90 days are gone from Logs/.
    let oldest = r.day_files.first().expect("day files");
    assert_eq!(oldest, &cutoff.format("%Y-%m-%d").to_string());
    // Exactly the days from 365 to 91 days back are archived, once each,
    // in order, with their two stored lines.
    let days: Vec<NaiveDate> = r.archived.iter().map(|d| d.day).collect();
    let expected: Vec<NaiveDate> = (91..=365)
        .rev()
        .map(|b| r.today - Duration::days(b))
        .collect();
    assert_eq!(days, expected);
    assert_eq!(days.first(), Some(&cold_cutoff));
    assert!(r.archived.iter().all(|d| d.lines.len() == 2));
    assert!(r
        .archived
        .iter()
        .all(|d| d.start.is_some() && d.end.is_some()));
    assert!(r.rotate_again_same, "a second run changes nothing");
    assert!(
        r.planted_gone,
        "a month archive older than 365 days is deleted"
    );
    // query --archive finds what is only in the archive.
    let hot: u64 = r.count_hot.trim().parse().expect("count");
    let all: u64 = r.count_all.trim().parse().expect("count");
    assert_eq!(all, hot + 2 * 275, "{}", r.count_all);
    let found: Vec<Value> = r
        .found_old
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    assert_eq!(found.len(), 1, "{}", r.found_old);
    assert_eq!(found[0]["log_level"], "INFO");
    r.verify.assert_code(0);
    assert!(
        r.verify.stdout.contains("275 archived days, 550 entries"),
        "{}",
        r.verify.stdout
    );
}

/// Rewrites the archive at `path` with one line of one day edited.
fn edit_archived_line(path: &Path) {
    let mut read = archive::read(path).expect("read");
    let day = &mut read.days[1];
    day.lines[0] = day.lines[0].replace("archive-test", "someone-else");
    let mut bytes = Vec::new();
    for d in &read.days {
        bytes.extend(archive::member(d).expect("member"));
    }
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn verify_archive_finds_an_edited_archived_line() {
    let v = common::Vault::new();
    let r = run_a_year(&v);
    r.verify.assert_code(0);
    let vault = vault_audit::Vault::new(v.path());
    let (_, month) = vault.archive_months().expect("months").remove(1);
    edit_archived_line(&month);
    let found = v
        .cmd()
        .env("AUDIT_RETENTION_DAYS", "90")
        .env("AUDIT_ARCHIVE_DAYS", "365")
        .args(["verify", "--archive"])
        .run();
    found.assert_code(1);
    assert!(found.stdout.contains("chain mismatch"), "{}", found.stdout);
    assert!(found.stdout.contains("Logs/archive/"), "{}", found.stdout);
    // Without --archive the day files alone still hold.
    v.cmd()
        .env("AUDIT_RETENTION_DAYS", "90")
        .arg("verify")
        .run()
        .assert_code(0);
}

#[test]
fn archive_days_not_above_retention_days_are_refused() {
    let v = common::Vault::new();
    for bad in ["90", "30", "x", "40000"] {
        let done = v
            .cmd()
            .env("AUDIT_RETENTION_DAYS", "90")
            .env("AUDIT_ARCHIVE_DAYS", bad)
            .arg("rotate")
            .run();
        done.assert_code(2);
        assert!(
            done.stderr.contains("AUDIT_ARCHIVE_DAYS"),
            "{}",
            done.stderr
        );
    }
}

#[test]
fn a_linked_logs_archive_is_refused_and_nothing_is_lost() {
    use std::os::unix::fs::symlink;
    let v = common::Vault::new();
    let outside = tempfile::tempdir().expect("tempdir");
    symlink(outside.path(), v.logs().join("archive")).expect("symlink");
    let (old, ts) = common::days_ago(100);
    let line = common::entry_json(&ts, "INFO", 1);
    v.cmd()
        .env("AUDIT_RETENTION_DAYS", "36500")
        .args(["log", "--entry", "-"])
        .stdin(line)
        .run()
        .assert_code(0);
    let rotate = v
        .cmd()
        .env("AUDIT_RETENTION_DAYS", "90")
        .env("AUDIT_ARCHIVE_DAYS", "365")
        .arg("rotate")
        .run();
    assert_ne!(rotate.code, 0, "{}", rotate.stdout);
    assert!(rotate.stderr.contains("symbolic link"), "{}", rotate.stderr);
    assert!(v.day(&old).is_file(), "the day file is kept");
    assert_eq!(std::fs::read_dir(outside.path()).expect("ls").count(), 0);
    let query = v.cmd().args(["query", "--archive", "--count"]).run();
    assert_ne!(query.code, 0);
    assert!(query.stderr.contains("symbolic link"), "{}", query.stderr);
}

// ---- crashes, with the injected clock ----

const NOW: &str = "2026-11-22T10:00:00Z";

fn now() -> DateTime<Utc> {
    vault_audit::time::parse_timestamp(NOW).expect("ts")
}

/// A vault with an unchained day file for each of the 120 days before
/// today: three entries each, the third CRITICAL on every fifth day.
fn vault_of_120_days() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("Logs")).expect("mkdir");
    let today = now().date_naive();
    for back in 1..=120 {
        let date = today - Duration::days(back);
        let lines: Vec<String> = (0..3)
            .map(|n| {
                let level = if back % 5 == 0 && n == 2 { "CRITICAL" } else { "INFO" };
                serde_json::json!({"timestamp": format!("{date}T12:00:0{n}.000Z"), "log_level": level,
                    "action_type": "system_event", "actor": "a", "target": format!("{date}/{n}"),
                    "parameters": {}, "approval_status": "not_required", "approved_by": "N/A",
                    "dry_run": false, "result": "success", "error_message": null, "session_id": "S"})
                .to_string()
            })
            .collect();
        let trailer = Trailer {
            total_entries: 3,
            summary: Summary([3, 0, 0, 0]),
            chain: None,
        };
        let text = render_file(date, None, lines.iter().map(String::as_str), &trailer);
        std::fs::write(dir.path().join(format!("Logs/{date}.json")), text).expect("write");
    }
    dir
}

fn tiered(dir: &Path) -> AuditLogger {
    AuditLogger::builder(dir)
        .clock(Arc::new(FixedClock::new(now())))
        .session_id("S")
        .retention_days(90)
        .archive_days(Some(365))
        .build()
        .expect("logger")
}

/// Each month archive's name and bytes, and the CRITICAL archive's.
type Archives = Vec<(String, Vec<u8>)>;

/// The month archives and the CRITICAL archive, byte for byte.
fn archives(dir: &Path) -> Archives {
    let vault = vault_audit::Vault::new(dir);
    let mut all: Vec<(String, Vec<u8>)> = vault
        .archive_months()
        .expect("months")
        .into_iter()
        .map(|(m, p)| (m.to_string(), std::fs::read(p).expect("read")))
        .collect();
    all.push((
        "critical".into(),
        std::fs::read(vault.critical_archive()).unwrap_or_default(),
    ));
    all
}

/// What a clean run leaves: the archives, and the oldest day's member.
fn reference() -> (Archives, Vec<u8>) {
    let dir = vault_of_120_days();
    let report = tiered(dir.path()).rotate(None).expect("rotate");
    assert_eq!(report.deleted, 30);
    assert_eq!(report.cold_archived, 30);
    let first = archived(dir.path()).remove(0);
    assert_eq!(first.day, now().date_naive() - Duration::days(120));
    (
        archives(dir.path()),
        archive::member(&first).expect("member"),
    )
}

/// Leaves the vault as a crash during the oldest day's purge would: the
/// journal at `phase`, its month archive holding `month_bytes`, then
/// reruns and checks the archives are byte for byte those of a clean run.
fn crash_then_rerun(
    phase: &str,
    month_bytes: &[u8],
    logged: bool,
    deleted: bool,
) -> tempfile::TempDir {
    crash_then_rerun_in(vault_of_120_days(), phase, month_bytes, logged, deleted)
}

/// [`crash_then_rerun`] in the vault `dir`.
fn crash_then_rerun_in(
    dir: tempfile::TempDir,
    phase: &str,
    month_bytes: &[u8],
    logged: bool,
    deleted: bool,
) -> tempfile::TempDir {
    let (expected, _) = reference_once();
    let vault = vault_audit::Vault::new(dir.path());
    let oldest = now().date_naive() - Duration::days(120);
    let file = format!("{oldest}.json");
    std::fs::create_dir_all(vault.archive_dir()).expect("mkdir");
    std::fs::write(vault.archive_month(oldest), month_bytes).expect("month");
    let critical_done = phase != "archiving";
    let critical = std::fs::read_to_string(vault.day_file(oldest))
        .expect("day")
        .lines()
        .find(|l| l.contains("CRITICAL"))
        .map(|l| l.trim().trim_end_matches(',').to_owned() + "\n")
        .expect("a CRITICAL line");
    std::fs::write(
        vault.critical_archive(),
        if critical_done { critical.as_str() } else { "" },
    )
    .expect("critical");
    if logged {
        common::log_retention_entry(dir.path(), &file, now());
    }
    if deleted {
        std::fs::remove_file(vault.day_file(oldest)).expect("rm");
    }
    std::fs::create_dir_all(vault.state_dir()).expect("mkdir");
    let journal = serde_json::json!({"file": file, "archive_len": 0, "critical": 1,
        "phase": phase, "cold_len": 0});
    std::fs::write(vault.retention_journal(), journal.to_string()).expect("journal");

    let report = tiered(dir.path()).rotate(None).expect("rerun");
    assert_eq!(report.deleted, 30, "{phase}");
    assert_eq!(
        &archives(dir.path()),
        expected,
        "{phase}: every day archived exactly once"
    );
    assert!(!vault.retention_journal().exists());
    assert!(!vault.day_file(oldest).exists());
    dir
}

/// The files `Logs/archive/` holds besides the month archives.
fn kept_aside(dir: &Path) -> Vec<Vec<u8>> {
    std::fs::read_dir(dir.join("Logs/archive"))
        .expect("ls")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".torn-"))
        .map(|e| std::fs::read(e.path()).expect("read"))
        .collect()
}

#[test]
fn a_crash_before_or_during_the_archive_append_is_redone_once() {
    let (_, member) = reference();
    for cut in [0, 1, 10, member.len() / 2, member.len() - 1, member.len()] {
        let dir = crash_then_rerun("archiving", &member[..cut], false, false);
        assert!(
            kept_aside(dir.path()).is_empty(),
            "our own bytes need no keeping: cut {cut}"
        );
    }
}

#[test]
fn bytes_past_the_journalled_length_that_are_not_ours_are_kept_aside() {
    let garbage = b"\x1f\x8b\x08 not a member of ours";
    let dir = crash_then_rerun("archiving", garbage, false, false);
    assert_eq!(kept_aside(dir.path()), vec![garbage.to_vec()]);
    // Bytes an earlier crash kept aside, at the same second, are kept too.
    let dir = vault_of_120_days();
    let vault = vault_audit::Vault::new(dir.path());
    let oldest = now().date_naive() - Duration::days(120);
    let earlier = vault.archive_torn(oldest, now().timestamp(), 1);
    std::fs::create_dir_all(vault.archive_dir()).expect("mkdir");
    std::fs::write(&earlier, b"earlier").expect("earlier");
    let dir = crash_then_rerun_in(dir, "archiving", garbage, false, false);
    let mut aside = kept_aside(dir.path());
    aside.sort();
    assert_eq!(aside, vec![garbage.to_vec(), b"earlier".to_vec()]);
}

#[test]
fn a_crash_after_archiving_or_logging_never_appends_again() {
    let (_, member) = reference();
    crash_then_rerun("archived", &member, false, false);
    crash_then_rerun("logged", &member, true, false);
    crash_then_rerun("logged", &member, true, true);
}

#[test]
fn a_failing_purge_log_stops_after_the_archive_and_the_rerun_finishes() {
    let (expected, _) = reference();
    let dir = vault_of_120_days();
    let vault = vault_audit::Vault::new(dir.path());
    let failing = |_: Vec<Entry>| -> Result<(), vault_audit::retention::AppendError> {
        Err("injected: the disk is full".into())
    };
    let policy = Policy {
        days: 90,
        archive_days: Some(365),
    };
    let key = Default::default();
    std::fs::create_dir_all(vault.state_dir()).expect("state dir");
    let stopped =
        vault_audit::retention::run(&vault, &key, now(), policy, "S", false, &[], &failing);
    let error = stopped.expect_err("the purge log fails");
    assert!(error.to_string().contains("injected"), "{error}");
    assert_eq!(archived(dir.path()).len(), 1, "the first day is archived");
    assert!(vault.retention_journal().exists());
    let report = tiered(dir.path()).rotate(None).expect("rerun");
    assert_eq!(report.deleted, 30);
    assert_eq!(archives(dir.path()), expected);
}

#[test]
fn a_torn_member_left_by_another_program_is_reported_and_later_days_still_read() {
    let dir = vault_of_120_days();
    tiered(dir.path()).rotate(None).expect("rotate");
    let vault = vault_audit::Vault::new(dir.path());
    let cutoff = now().date_naive() - Duration::days(90);
    let month = vault.archive_month(cutoff);
    let before = std::fs::read(&month).unwrap_or_default();
    let torn = &archive::member(&archived(dir.path())[0]).expect("member")[..40];
    let mut bytes = before.clone();
    bytes.extend_from_slice(torn);
    std::fs::write(&month, &bytes).expect("tear");
    // A day later, the next day expires and is appended after the torn bytes.
    let later = AuditLogger::builder(dir.path())
        .clock(Arc::new(FixedClock::new(now() + Duration::days(1))))
        .session_id("S")
        .retention_days(90)
        .archive_days(Some(365))
        .build()
        .expect("logger");
    assert_eq!(later.rotate(None).expect("rotate").cold_archived, 1);
    let read = archive::read(&month).expect("read");
    let start = before.len() as u64;
    assert_eq!(
        read.torn,
        vec![(start, start + 40)],
        "reported, not dropped"
    );
    assert_eq!(read.days.last().map(|d| d.day), Some(cutoff));
    let mut report = vault_audit::verify::Report::default();
    vault_audit::verify::check_archive(&vault, &Default::default(), &mut report).expect("check");
    assert!(!report.ok);
    assert!(report.problems[0].problem.contains("no whole gzip member"));
}

/// A clean run's archives and the oldest day's member, made once.
fn reference_once() -> &'static (Archives, Vec<u8>) {
    static ONCE: std::sync::OnceLock<(Archives, Vec<u8>)> = std::sync::OnceLock::new();
    ONCE.get_or_init(reference)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

    /// A crash anywhere in the archive append, with or without bytes of
    /// another program after it, then a rerun: the archives are those of a
    /// clean run, and only bytes that were not ours are kept aside.
    #[test]
    fn a_crash_anywhere_in_the_append_then_a_rerun_archives_each_day_once(
        per_mille in 0usize..=1000,
        foreign in proptest::option::of(proptest::collection::vec(proptest::prelude::any::<u8>(), 1..40)),
    ) {
        let (_, member) = reference_once();
        let mut tail = member[..member.len() * per_mille / 1000].to_vec();
        tail.extend(foreign.iter().flatten());
        let dir = crash_then_rerun("archiving", &tail, false, false);
        let aside = kept_aside(dir.path());
        if member.starts_with(&tail) {
            proptest::prop_assert!(aside.is_empty());
        } else {
            proptest::prop_assert_eq!(aside, vec![tail]);
        }
    }
}

#[test]
fn rotate_in_dry_run_says_which_days_would_go_to_the_archive_and_changes_nothing() {
    let v = common::Vault::new();
    let (old, ts) = common::days_ago(100);
    v.cmd()
        .env("AUDIT_RETENTION_DAYS", "36500")
        .args(["log", "--entry", "-"])
        .stdin(common::entry_json(&ts, "INFO", 1))
        .run()
        .assert_code(0);
    let tiered = |run: common::Run| {
        run.env("AUDIT_RETENTION_DAYS", "90")
            .env("AUDIT_ARCHIVE_DAYS", "365")
    };
    let before = v.snapshot();
    let dry = tiered(v.cmd()).args(["--dry-run", "rotate"]).run();
    dry.assert_code(0);
    let files = &dry.response()["details"]["files"];
    assert_eq!(
        files,
        &serde_json::json!([{"file": format!("{old}.json"), "critical": 0, "cold": true}])
    );
    assert_eq!(v.snapshot(), before, "dry run changed the vault");
    let done = tiered(v.cmd()).arg("rotate").run();
    done.assert_code(0);
    assert_eq!(done.response()["details"]["cold_archived"], 1);
    assert!(!v.day(&old).exists());
    let found = tiered(v.cmd())
        .args(["query", "--archive", "--format", "jsonl", "--until", &old])
        .run();
    assert_eq!(found.stdout.lines().count(), 1, "{}", found.stdout);
}
