//! Vaults for the benchmarks, on the real disk under `target/` (/tmp may be
//! memory-backed, where a sync costs nothing).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use vault_audit::daily::{render_file, Summary, Trailer};
use vault_audit::{ActionType, AuditLogger, Entry, FixedClock, LogLevel};

pub fn bench_dir() -> tempfile::TempDir {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-tmp");
    std::fs::create_dir_all(&base).expect("bench dir");
    tempfile::tempdir_in(base).expect("tempdir")
}

/// A realistic entry for 2026-11-22.
pub fn entry(n: u64) -> Entry {
    let ts = vault_audit::time::parse_timestamp("2026-11-22T10:00:00.123Z").expect("ts");
    Entry::new(
        LogLevel::Info,
        ActionType::new("plan_created").expect("action"),
        "needs-action-processor",
        "Plans/request-01-Plan.md",
    )
    .at(ts)
    .param("source_file", "request-01.md")
    .param("n", n)
    .session("AI_EMP_20261122_A4F8F1")
}

pub fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(
        vault_audit::time::parse_timestamp("2026-11-22T12:00:00Z").expect("ts"),
    ))
}

/// The writer alone: day files only, no index, Dashboard or retention.
pub fn writer(dir: &Path) -> AuditLogger {
    AuditLogger::builder(dir)
        .clock(clock())
        .upkeep(false)
        .build()
        .expect("logger")
}

/// A vault whose day already holds `existing` entries, and its bare writer.
pub fn vault_with(existing: u64) -> (tempfile::TempDir, AuditLogger) {
    let dir = bench_dir();
    let log = writer(dir.path());
    let mut n = 0;
    while n < existing {
        let chunk = (existing - n).min(20_000);
        log.log_batch((n..n + chunk).map(entry).collect())
            .expect("prefill");
        n += chunk;
    }
    (dir, log)
}

/// A vault with the sample Dashboard, `earlier` day files of 1,000 entries
/// before today, and `existing` entries today; with the full logger (index,
/// Dashboard, retention), which has written once already.
pub fn full_vault(existing: u64, earlier: u32) -> (tempfile::TempDir, AuditLogger) {
    let (dir, raw) = vault_with(existing);
    let sample =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample-vault/Dashboard.md");
    std::fs::copy(sample, dir.path().join("Dashboard.md")).expect("dashboard");
    let today = raw.now().date_naive();
    for back in 1..=earlier {
        let date = today - chrono::Duration::days(i64::from(back));
        let lines: Vec<String> = (0..1000)
            .map(|n| {
                raw.prepare(entry(n))
                    .expect("valid")
                    .to_json_line()
                    .replace("2026-11-22", &date.to_string())
            })
            .collect();
        let trailer = Trailer {
            total_entries: 1000,
            summary: Summary([1000, 0, 0, 0]),
            chain: None,
        };
        let text = render_file(date, None, lines.iter().map(String::as_str), &trailer);
        std::fs::write(dir.path().join(format!("Logs/{date}.json")), text).expect("day");
    }
    let log = AuditLogger::builder(dir.path())
        .clock(clock())
        .build()
        .expect("logger");
    log.log(entry(0))
        .expect("first write builds the index and runs retention");
    (dir, log)
}

/// Starts the release daemon on `vault` (inbox only, no vault watching) and
/// returns once `daemon status` reports it ready.
pub fn start_daemon(vault: &Path) -> std::process::Child {
    use std::process::{Command, Stdio};
    let bin = env!("CARGO_BIN_EXE_vault-audit");
    let daemon = Command::new(bin)
        .arg("--vault")
        .arg(vault)
        .args(["--no-dry-run", "daemon", "--no-watch-vault"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("daemon");
    let ready = || {
        Command::new(bin)
            .arg("--vault")
            .arg(vault)
            .args(["daemon", "status"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("\"ready\":true"))
    };
    while !ready() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    daemon
}

/// The medians of `a` and `b`, timed in alternation (A B A B ...) after
/// `warm_up` untimed rounds, so the machine's drift weighs on both alike.
#[allow(dead_code)]
pub fn alternate(
    warm_up: usize,
    pairs: usize,
    mut a: impl FnMut() -> std::time::Duration,
    mut b: impl FnMut() -> std::time::Duration,
) -> (std::time::Duration, std::time::Duration) {
    for _ in 0..warm_up {
        a();
        b();
    }
    let (mut xs, mut ys): (Vec<_>, Vec<_>) = (0..pairs).map(|_| (a(), b())).unzip();
    xs.sort();
    ys.sort();
    (xs[xs.len() / 2], ys[ys.len() / 2])
}
