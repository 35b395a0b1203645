//! Many writer processes at once lose nothing.

mod common;

use std::collections::BTreeSet;

use common::{days_ago, entry_json, Vault};

#[test]
fn eight_writer_processes_of_250_entries_each_lose_nothing() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    std::thread::scope(|s| {
        for p in 0..8u64 {
            let v = &v;
            let ts = &ts;
            s.spawn(move || {
                for i in 0..250u64 {
                    let n = p * 1000 + i;
                    let level = ["INFO", "WARNING", "ERROR", "CRITICAL"][(n % 4) as usize];
                    let done = v
                        .cmd()
                        .env("AUDIT_LOCK_TIMEOUT_MS", "60000")
                        .args(["log", "--entry", &entry_json(ts, level, n)])
                        .run();
                    done.assert_code(0);
                }
            });
        }
    });
    let day = v.day_json(&date);
    assert_eq!(day["total_entries"], 2000);
    // Per process, i % 4 over 0..250 gives 63, 63, 62, 62.
    assert_eq!(
        day["summary"],
        serde_json::json!({"INFO": 504, "WARNING": 504, "ERROR": 496, "CRITICAL": 496})
    );
    let seen: BTreeSet<u64> = day["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["parameters"]["n"].as_u64().expect("n"))
        .collect();
    let expected: BTreeSet<u64> = (0..8)
        .flat_map(|p| (0..250).map(move |i| p * 1000 + i))
        .collect();
    assert_eq!(seen, expected);
    assert!(!v.logs().join("failed_writes.json").exists());
}
