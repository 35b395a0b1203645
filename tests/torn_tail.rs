//! Property: whatever sequence of appends and torn writes happens, the day
//! file parses and holds every entry whose append returned Ok, in order.

use std::sync::Arc;

use proptest::prelude::*;
use vault_audit::daily::{self, Inspection, Line};
use vault_audit::{ActionType, AuditLogger, Entry, FixedClock, LogLevel};

#[derive(Debug, Clone)]
enum Op {
    /// Append a batch of entries with these levels and actors.
    Append(Vec<(usize, String)>),
    /// Power loss during an append: only the first `keep` per-mille of the
    /// bytes of that write reach the disk, over the old trailer.
    Torn(Vec<(usize, String)>, u16),
}

fn batch() -> impl Strategy<Value = Vec<(usize, String)>> {
    prop::collection::vec((0usize..4, "[a-z|<>\\[\\]#\n\"\\\\é ]{1,12}"), 1..4)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        batch().prop_map(Op::Append),
        (batch(), 0u16..1000).prop_map(|(b, k)| Op::Torn(b, k)),
    ]
}

fn entries(batch: &[(usize, String)], counter: &mut u64) -> Vec<Entry> {
    batch
        .iter()
        .map(|(level, actor)| {
            *counter += 1;
            let ts = vault_audit::time::parse_timestamp("2026-11-22T10:00:00Z").expect("ts");
            Entry::new(
                LogLevel::ALL[*level],
                ActionType::new("tool_call").expect("action"),
                format!("a{actor}"),
                "t",
            )
            .at(ts)
            .param("n", *counter)
            .session("S")
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn appends_survive_any_torn_tail(ops in prop::collection::vec(op(), 1..12)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(FixedClock::new(vault_audit::time::parse_timestamp("2026-11-22T12:00:00Z").expect("ts")));
        let logger = AuditLogger::builder(dir.path()).clock(clock).build().expect("logger");
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
        let path = dir.path().join("Logs/2026-11-22.json");
        let mut counter = 0;
        let mut acknowledged: Vec<u64> = Vec::new();
        let mut maybe: Vec<u64> = Vec::new();
        for op in ops {
            match op {
                Op::Append(b) => {
                    let batch = entries(&b, &mut counter);
                    let receipt = logger.log_batch(batch).expect("append");
                    acknowledged.extend(receipt.entries.iter().map(|e| e.parameters["n"].as_u64().expect("n")));
                }
                Op::Torn(b, per_mille) => {
                    if !path.exists() {
                        continue;
                    }
                    // Compute the bytes the append would write, on a copy.
                    let copy = dir.path().join("copy.json");
                    std::fs::copy(&path, &copy).expect("copy");
                    let mut f = std::fs::File::options().read(true).write(true).open(&copy).expect("open");
                    let found = daily::inspect(&mut f, date).expect("inspect");
                    let Inspection::Ours(state) = found else { continue };
                    let batch = entries(&b, &mut counter);
                    maybe.extend(batch.iter().map(|e| e.parameters["n"].as_u64().expect("n")));
                    let lines: Vec<Line> = batch.iter().map(|e| Line { json: e.to_json_line(), level: e.log_level }).collect();
                    let plan = daily::plan_append(date, &daily::Ready::Ours(state), &lines, logger.chain_key()).expect("plan");
                    drop(f);
                    let new_bytes = plan.bytes.as_bytes().to_vec();
                    let keep = new_bytes.len() * per_mille as usize / 1000;
                    // The torn write lands over the old trailer, in place.
                    let mut old = std::fs::read(&path).expect("read");
                    let off = state.trailer_offset as usize;
                    let end = off + keep;
                    if end > old.len() { old.resize(end, 0); }
                    old[off..end].copy_from_slice(&new_bytes[..keep]);
                    std::fs::write(&path, &old).expect("write torn");
                }
            }
        }
        // One more real append repairs whatever the last torn write left.
        let receipt = logger.log_batch(entries(&[(0, "final".into())], &mut counter)).expect("final append");
        acknowledged.push(counter);
        let text = std::fs::read_to_string(&path).expect("read");
        let v: serde_json::Value = serde_json::from_str(&text).expect("the day file parses");
        let stored: Vec<u64> = v["entries"].as_array().expect("entries").iter().map(|e| e["parameters"]["n"].as_u64().expect("n")).collect();
        // Every acknowledged entry is there, in order; anything else came from a torn write.
        let kept_acks: Vec<u64> = stored.iter().copied().filter(|n| acknowledged.contains(n)).collect();
        prop_assert_eq!(&kept_acks, &acknowledged);
        prop_assert!(stored.iter().all(|n| acknowledged.contains(n) || maybe.contains(n)));
        prop_assert_eq!(v["total_entries"].as_u64(), Some(stored.len() as u64));
        let mut summary = [0u64; 4];
        for e in v["entries"].as_array().expect("entries") {
            let level: LogLevel = e["log_level"].as_str().expect("level").parse().expect("known level");
            summary[level.index()] += 1;
        }
        for level in LogLevel::ALL {
            prop_assert_eq!(v["summary"][level.as_str()].as_u64(), Some(summary[level.index()]));
        }
        prop_assert_eq!(receipt.files[0].total_entries, stored.len() as u64);
        // The chain holds over whatever the repairs kept.
        let report = vault_audit::verify::verify(&vault_audit::Vault::new(dir.path()), logger.chain_key()).expect("verify");
        prop_assert!(report.ok, "{:?}", report.problems);
        // Nothing was ever quarantined: a torn tail is cut, not moved aside.
        let quarantined = std::fs::read_dir(dir.path().join("Logs")).expect("ls").filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().contains("corrupt"))).count();
        prop_assert_eq!(quarantined, 0);
    }
}
