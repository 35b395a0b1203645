//! `log()` with its upkeep (index, Dashboard, retention), into a day of
//! 100,000 entries with 90 earlier day files, against a day of 10 entries
//! and no earlier file, measured in alternation (A B A B ...) so that the
//! machine's drift weighs on both alike. Prints medians and their ratio.
//!
//! Run: `cargo bench --bench upkeep_pair`.

use std::time::Instant;

#[path = "support.rs"]
mod support;

const WARM_UP: usize = 200;
const PAIRS: usize = 2000;

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let (_small_dir, small) = support::full_vault(10, 0);
    let (_big_dir, big) = support::full_vault(100_000, 90);
    let time = |log: &vault_audit::AuditLogger| {
        let started = Instant::now();
        log.log(support::entry(7)).expect("log");
        started.elapsed()
    };
    let (s, b) = support::alternate(WARM_UP, PAIRS, || time(&small), || time(&big));
    let ratio = b.as_secs_f64() / s.as_secs_f64();
    println!("log() with upkeep, {PAIRS} alternating pairs:");
    println!(
        "  day of 10 entries, 1 day file:              median {:?}",
        s
    );
    println!(
        "  day of 100,000 entries, 90 earlier files:   median {:?}",
        b
    );
    println!("  ratio of medians (100,000 / 10):            {ratio:.2}");
}
