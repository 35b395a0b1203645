//! The daemon's intake: 100 inbox files of 1,000 entries each, dropped at
//! once; entries per second from the first drop until the last entry is
//! synced into its day file, and the daemon's peak resident memory, with the
//! day already holding 1,000 and then 1,000,000 entries.
//!
//! Run: `cargo bench --bench daemon_intake` (Linux: reads /proc for memory).

use std::path::Path;
use std::time::{Duration, Instant};

#[path = "support.rs"]
mod support;

const FILES: u64 = 100;
const PER_FILE: u64 = 1_000;

/// The day's entry count, from its trailer.
fn total(path: &Path, date: chrono::NaiveDate) -> u64 {
    let Ok(mut file) = std::fs::File::open(path) else {
        return 0;
    };
    match vault_audit::daily::inspect(&mut file, date) {
        Ok(vault_audit::daily::Inspection::Ours(state)) => state.trailer.total_entries,
        _ => 0,
    }
}

/// Peak resident memory of a process, in KiB (VmHWM).
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn run(existing: u64) {
    let (dir, _writer) = support::vault_with(existing);
    let vault = dir.path();
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
    let day = vault.join("Logs/2026-11-22.json");
    let inbox = vault.join("Logs/inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let writer = support::writer(vault);
    let mut names = Vec::new();
    for f in 0..FILES {
        let lines: String = (0..PER_FILE)
            .map(|i| {
                writer
                    .prepare(support::entry(f * PER_FILE + i))
                    .expect("valid")
                    .to_json_line()
                    + "\n"
            })
            .collect();
        let tmp = inbox.join(format!("f{f:03}.jsonl.tmp"));
        std::fs::write(&tmp, lines).expect("write");
        names.push(tmp);
    }
    let mut daemon = support::start_daemon(vault);
    let pid = daemon.id();
    std::thread::sleep(Duration::from_millis(300));
    let target = existing + FILES * PER_FILE;
    let started = Instant::now();
    for tmp in &names {
        let name = tmp
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".tmp"))
            .expect("name");
        std::fs::rename(tmp, inbox.join(name)).expect("drop");
    }
    while total(&day, date) < target {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "intake did not finish"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = started.elapsed();
    let peak = peak_kib(pid);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = daemon.wait();
    println!(
        "day holding {existing:>9} entries: {} entries in {:.3} s = {:.0} entries/s, peak RSS {}",
        FILES * PER_FILE,
        took.as_secs_f64(),
        (FILES * PER_FILE) as f64 / took.as_secs_f64(),
        peak.map_or("unknown".to_owned(), |k| format!(
            "{:.1} MiB",
            k as f64 / 1024.0
        ))
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    for existing in [1_000, 1_000_000] {
        run(existing);
    }
}
