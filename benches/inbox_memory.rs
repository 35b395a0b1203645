//! The daemon's peak resident memory while it takes in one large inbox
//! file: a 200 MB `.json` array, then a 200 MB `.jsonl` file, each dropped
//! into a fresh vault (written under a `.tmp` name, then renamed). Reports
//! the daemon's VmHWM (Linux: /proc), its resident memory when idle before
//! the drop, and how long the intake took.
//!
//! Run: `cargo bench --bench inbox_memory` (`INBOX_MEMORY_MB=50` for a
//! smaller file).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

#[path = "support.rs"]
mod support;

/// A field of `/proc/<pid>/status` in KiB (`VmHWM`, `VmRSS`).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("unknown".to_owned(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    })
}

/// Writes about `bytes` bytes of entries, timestamped a second ago; returns
/// how many.
fn write_file(path: &Path, json: bool, bytes: u64) -> u64 {
    let ts = (chrono::Utc::now() - chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut out =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let mut written = 0u64;
    let mut n = 0u64;
    if json {
        out.write_all(b"[\n").expect("write");
    }
    while written < bytes {
        n += 1;
        let line = serde_json::json!({
            "timestamp": ts,
            "log_level": "INFO",
            "action_type": "plan_created",
            "actor": "needs-action-processor",
            "target": "Plans/request-01-Plan.md",
            "parameters": {"source_file": "request-01.md", "n": n},
            "approval_status": "not_required",
            "approved_by": "N/A",
            "dry_run": false,
            "result": "success",
            "error_message": null,
            "session_id": "AI_EMP_20261122_A4F8F1"
        })
        .to_string();
        let sep = match (json, n) {
            (false, _) => "",
            (true, 1) => "  ",
            (true, _) => ",\n  ",
        };
        write!(out, "{sep}{line}{}", if json { "" } else { "\n" }).expect("write");
        written += (sep.len() + line.len() + 1) as u64;
    }
    if json {
        out.write_all(b"\n]\n").expect("write");
    }
    out.into_inner().expect("flush").sync_all().expect("sync");
    n
}

/// Entries in the vault's day files, from their trailers.
fn total(vault: &Path) -> u64 {
    let v = vault_audit::Vault::new(vault);
    v.day_files()
        .unwrap_or_default()
        .into_iter()
        .map(|date| {
            let Ok(mut file) = std::fs::File::open(v.day_file(date)) else {
                return 0;
            };
            match vault_audit::daily::inspect(&mut file, date) {
                Ok(vault_audit::daily::Inspection::Ours(s)) => s.trailer.total_entries,
                _ => 0,
            }
        })
        .sum()
}

fn run(ext: &str, bytes: u64) {
    let dir = support::bench_dir();
    let vault = dir.path();
    let inbox = vault.join("Logs/inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let tmp = inbox.join(format!("big.{ext}.tmp"));
    let entries = write_file(&tmp, ext == "json", bytes);
    let size = std::fs::metadata(&tmp).expect("meta").len();
    let mut daemon = support::start_daemon(vault);
    let pid = daemon.id();
    let idle = status_kib(pid, "VmRSS:");
    let started = Instant::now();
    std::fs::rename(&tmp, inbox.join(format!("big.{ext}"))).expect("drop");
    let processing = inbox.join(".processing");
    let busy = || {
        inbox.join(format!("big.{ext}")).exists()
            || std::fs::read_dir(&processing).is_ok_and(|mut d| d.next().is_some())
    };
    while busy() {
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "intake did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = started.elapsed();
    let peak = status_kib(pid, "VmHWM:");
    // Besides the file's, the daemon's own start entry.
    let logged = total(vault).saturating_sub(1);
    assert_eq!(logged, entries, "entries logged");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = daemon.wait();
    println!(
        "{ext:>5}: {:.0} MB, {entries} entries in {:.1} s (including the 1 s grace): peak RSS {} (idle before the drop {})",
        size as f64 / 1e6,
        took.as_secs_f64(),
        mib(peak),
        mib(idle)
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let mb: u64 = std::env::var("INBOX_MEMORY_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    for ext in ["json", "jsonl"] {
        run(ext, mb * 1_000_000);
    }
}
