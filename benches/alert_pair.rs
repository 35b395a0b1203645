//! What the alert rules add to one `log()` with its upkeep: a vault whose
//! alert state holds a full week of hourly counts for 50 actors (the
//! unusual-activity rule's history, the largest the state gets for them),
//! against the same vault logged with the alert rules off, measured in
//! alternation (A B A B ...). Prints medians and their ratio, and the
//! state's size.
//!
//! Run: `cargo bench --bench alert_pair`.

use std::sync::Arc;
use std::time::Instant;

use vault_audit::{ActionType, AuditLogger, Entry, FixedClock, LogLevel};

#[path = "support.rs"]
mod support;

const ACTORS: usize = 50;
const HOURS: i64 = 168;
const WARM_UP: usize = 200;
const PAIRS: usize = 2000;

fn logger(dir: &std::path::Path, clock: Arc<FixedClock>, alerts: bool) -> AuditLogger {
    let builder = AuditLogger::builder(dir).clock(clock);
    let builder = match alerts {
        true => builder,
        false => builder.alerts(None),
    };
    builder.build().expect("logger")
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let dir = support::bench_dir();
    std::fs::create_dir(dir.path().join("Logs")).expect("Logs");
    let clock = support::clock();
    let now = vault_audit::Clock::now(&*clock);
    let history = logger(dir.path(), clock.clone(), true);
    for hour in (1..=HOURS).rev() {
        clock.set(now - chrono::Duration::hours(hour));
        let batch = (0..ACTORS)
            .map(|a| {
                Entry::new(
                    LogLevel::Info,
                    ActionType::new("plan_created").expect("action"),
                    format!("skill-{a:02}"),
                    "Plans/x.md",
                )
            })
            .collect();
        history.log_batch(batch).expect("history");
    }
    clock.set(now);
    let state =
        std::fs::metadata(dir.path().join("Logs/.audit/alerts.json")).map_or(0, |m| m.len());
    let with = logger(dir.path(), clock.clone(), true);
    let without = logger(dir.path(), clock.clone(), false);
    let time = |log: &AuditLogger| {
        let started = Instant::now();
        log.log(support::entry(7).at(now)).expect("log");
        started.elapsed()
    };
    let (off, on) = support::alternate(WARM_UP, PAIRS, || time(&without), || time(&with));
    println!("log() with upkeep, {PAIRS} alternating pairs, alert state {state} bytes ({ACTORS} actors x {HOURS} h):");
    println!("  alert rules off:  median {:?}", off);
    println!("  alert rules on:   median {:?}", on);
    println!(
        "  ratio on/off: {:.2}",
        on.as_secs_f64() / off.as_secs_f64()
    );
}
