//! Tampering by someone who can write the vault but lacks the keys, through
//! the binary: the four attacks of issue 13 and a peer program's rewrite,
//! each with and without AUDIT_CHAIN_KEY; signed days checked with the
//! public key alone; chain heads off the machine catching a rollback.

mod common;

use chrono::Utc;
use common::{days_before, entry_json, Done, Run, Vault};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The environment of a run: the chain key, when the case has one.
fn with_key(run: Run, key: Option<&str>) -> Run {
    match key {
        Some(k) => run.env("AUDIT_CHAIN_KEY", k),
        None => run,
    }
}

/// Logs `n` entries (numbered from `first`) on `date`: at noon for a day
/// before today, a second ago for today.
fn log_on(v: &Vault, key: Option<&str>, date: &str, first: u64, n: u64) {
    let (today, now) = days_before(Utc::now() - chrono::Duration::seconds(1), 0);
    let ts = if *date == today {
        now
    } else {
        format!("{date}T12:00:00.000Z")
    };
    let lines: String = (first..first + n)
        .map(|i| entry_json(&ts, "INFO", i) + "\n")
        .collect();
    with_key(v.cmd().args(["log", "--entry", "-"]), key)
        .stdin(lines)
        .run()
        .assert_code(0);
}

/// A vault with 6 entries yesterday and 5 today (dates from one reading of
/// the clock); returns the two dates.
fn two_days(key: Option<&str>) -> (Vault, String, String) {
    let v = Vault::new();
    let now = Utc::now();
    let (yesterday, _) = days_before(now, 1);
    let (today, _) = days_before(now, 0);
    log_on(&v, key, &yesterday, 1, 6);
    log_on(&v, key, &today, 100, 5);
    (v, yesterday, today)
}

fn verify(v: &Vault, key: Option<&str>) -> Done {
    with_key(v.cmd().arg("verify"), key).run()
}

/// The entry lines of a day file in our layout (without their commas).
fn entry_lines(v: &Vault, date: &str) -> Vec<String> {
    std::fs::read_to_string(v.day(date))
        .expect("read")
        .lines()
        .filter(|l| l.starts_with("    {"))
        .map(|l| l.trim_start().trim_end_matches(',').to_owned())
        .collect()
}

/// The 32-byte values of a day's chain record.
fn chain_record(v: &Vault, date: &str) -> Vec<Vec<u8>> {
    std::fs::read(v.logs().join(format!(".audit/chain/{date}.bin")))
        .expect("chain record")
        .chunks(32)
        .map(<[u8]>::to_vec)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a day file in our layout with `lines` as entries, keeping the
/// header as it is and `chain_end` as given.
fn write_ours(v: &Vault, date: &str, lines: &[String], chain_end: &str) {
    let text = std::fs::read_to_string(v.day(date)).expect("read");
    let header_end = text.find("\"entries\": [").expect("entries") + "\"entries\": [".len();
    let body: Vec<String> = lines.iter().map(|l| format!("\n    {l}")).collect();
    let trailer = format!(
        "\n  ],\n  \"total_entries\": {},\n  \"summary\": {{\"INFO\": {}, \"WARNING\": 0, \"ERROR\": 0, \"CRITICAL\": 0}},\n  \"chain_end\": \"{chain_end}\"\n}}\n",
        lines.len(),
        lines.len()
    );
    std::fs::write(
        v.day(date),
        format!("{}{}{trailer}", &text[..header_end], body.join(",")),
    )
    .expect("write");
}

fn assert_has(done: &Done, needles: &[&str]) {
    for needle in needles {
        assert!(
            done.stdout.contains(needle),
            "missing {needle:?} in:\n{}",
            done.stdout
        );
    }
}

const KEYS: [Option<&str>; 2] = [None, Some("a key the attacker lacks")];

#[test]
fn a_chained_day_rewritten_in_another_layout_with_an_entry_edited_is_caught() {
    for key in KEYS {
        let (v, yesterday, _) = two_days(key);
        let day = v.day_json(&yesterday);
        let mut entries = day["entries"].as_array().expect("entries").clone();
        entries[2]["target"] = "edited".into();
        let seed_layout = serde_json::json!({
            "date": yesterday, "total_entries": 6,
            "summary": {"INFO": 6, "WARNING": 0, "ERROR": 0, "CRITICAL": 0},
            "entries": entries,
        });
        std::fs::write(
            v.day(&yesterday),
            serde_json::to_string_pretty(&seed_layout).expect("json"),
        )
        .expect("write");
        with_key(v.cmd().arg("index"), key).run().assert_code(0);
        let done = verify(&v, key);
        done.assert_code(1);
        let file = format!("Logs/{yesterday}.json");
        assert_has(
            &done,
            &[
                &format!("{file}: the file was rewritten by another program"),
                &format!("{file}: entry 3: changed since it was written"),
            ],
        );
        assert!(
            !done.stdout.contains("unchained (not evidence"),
            "{}",
            done.stdout
        );
    }
}

#[test]
fn an_edit_laundered_through_a_repair_stays_evident() {
    for key in KEYS {
        let (v, _, today) = two_days(key);
        let mut lines = entry_lines(&v, &today);
        lines[1] = lines[1].replacen("\"target\":\"vault\"", "\"target\":\"vaulT\"", 1);
        // The tail damaged so that the file no longer parses: the next
        // writer quarantines it and salvages its entries.
        let text = std::fs::read_to_string(v.day(&today)).expect("read");
        let header_end = text.find("\"entries\": [").expect("entries");
        let damaged = format!(
            "{}\"entries\": (\n    {}\n  ], \"total_en",
            &text[..header_end],
            lines.join(",\n    ")
        );
        std::fs::write(v.day(&today), damaged).expect("write");
        log_on(&v, key, &today, 900, 1);
        let done = verify(&v, key);
        done.assert_code(1);
        let file = format!("Logs/{today}.json");
        assert_has(
            &done,
            &[&format!("{file}: entry 2 changed since it was written")],
        );
        // The edited entry was not chained again: it is only in the file kept aside.
        assert!(!std::fs::read_to_string(v.day(&today))
            .expect("read")
            .contains("vaulT"));
        // A person who looked accepts the day; a WARNING says what was accepted.
        let accepted = with_key(v.cmd().args(["repair", "--accept", &today]), key).run();
        accepted.assert_code(0);
        assert_has(&accepted, &[&format!("{file}: accepted as it stands")]);
        verify(&v, key).assert_code(0);
        let warning = v
            .all_entries()
            .into_iter()
            .find(|e| e["parameters"]["event"] == "tamper_accepted")
            .expect("the WARNING");
        assert_eq!(warning["log_level"], "WARNING");
        assert_eq!(warning["target"], file.as_str());
        let said = warning["parameters"]["accepted_problems"].to_string();
        assert!(
            said.contains("entry 2 changed since it was written"),
            "{said}"
        );
    }
}

#[test]
fn the_last_entry_removed_with_chain_end_copied_from_the_chain_record_is_caught() {
    for key in KEYS {
        let (v, _, today) = two_days(key);
        let mut lines = entry_lines(&v, &today);
        lines.pop();
        let record = chain_record(&v, &today);
        write_ours(&v, &today, &lines, &hex(&record[lines.len() - 1]));
        let cut = v.logs().join(format!(".audit/chain/{today}.bin"));
        std::fs::write(&cut, record[..lines.len()].concat()).expect("cut");
        with_key(v.cmd().arg("index"), key).run().assert_code(0);
        let done = verify(&v, key);
        done.assert_code(1);
        assert_has(
            &done,
            &[&format!(
                "Logs/{today}.json: 1 entry recorded by vault-audit is missing"
            )],
        );
    }
}

#[test]
fn a_day_cut_short_with_the_head_record_deleted_is_caught() {
    for key in KEYS {
        // One day only: the ledger has no line yet.
        let v = Vault::new();
        let (today, _) = days_before(Utc::now(), 0);
        log_on(&v, key, &today, 1, 4);
        let mut lines = entry_lines(&v, &today);
        lines.pop();
        let record = chain_record(&v, &today);
        write_ours(&v, &today, &lines, &hex(&record[lines.len() - 1]));
        std::fs::remove_file(v.logs().join(".audit/head")).expect("rm head");
        let done = verify(&v, key);
        done.assert_code(1);
        assert_has(
            &done,
            &["Logs/.audit/head: missing, though chained day files exist"],
        );
    }
}

#[test]
fn the_newest_day_deleted_with_its_chain_record_is_caught() {
    for key in KEYS {
        let (v, _, today) = two_days(key);
        std::fs::remove_file(v.day(&today)).expect("rm");
        std::fs::remove_file(v.logs().join(format!(".audit/chain/{today}.bin"))).expect("rm");
        with_key(v.cmd().arg("index"), key).run().assert_code(0);
        let done = verify(&v, key);
        done.assert_code(1);
        assert_has(
            &done,
            &[&format!(
                "Logs/{today}.json: 5 entries recorded by vault-audit are missing: the file was deleted"
            )],
        );
    }
}

#[test]
fn a_peer_rewriting_a_chained_day_as_an_array_leaves_a_trace() {
    for key in KEYS {
        let (v, _, today) = two_days(key);
        let (_, ts) = days_before(Utc::now(), 0);
        let peer = format!("[{}]", entry_json(&ts, "INFO", 777));
        std::fs::write(v.day(&today), peer).expect("peer");
        let file = format!("Logs/{today}.json");
        let before = verify(&v, key);
        before.assert_code(1);
        assert_has(
            &before,
            &[
                &format!("{file}: the file was rewritten by another program"),
                "recorded by vault-audit are missing",
            ],
        );
        // The next log converts it; the 5 chained entries stay accounted for.
        log_on(&v, key, &today, 901, 1);
        let after = verify(&v, key);
        after.assert_code(1);
        assert_has(&after, &[&format!("{file}: "), "recorded by vault-audit"]);
        assert!(after
            .stdout
            .contains("entries recorded by vault-audit are missing"));
    }
}

#[test]
fn untouched_vaults_with_back_dated_entries_and_repairs_verify_clean() {
    for key in KEYS {
        let (v, yesterday, today) = two_days(key);
        log_on(&v, key, &yesterday, 50, 2);
        log_on(&v, key, &today, 60, 1);
        with_key(v.cmd().arg("repair"), key).run().assert_code(0);
        let done = verify(&v, key);
        done.assert_code(0);
    }
}

/// The sha-256 chain of `lines` from `start` (hex), as the values after each.
fn sha_chain(start: &[u8], lines: &[String]) -> Vec<Vec<u8>> {
    let mut at = start.to_vec();
    lines
        .iter()
        .map(|l| {
            let mut h = Sha256::new();
            h.update(&at);
            h.update(l.as_bytes());
            at = h.finalize().to_vec();
            at.clone()
        })
        .collect()
}

/// A copy of the vault's files in a new folder (what an auditor receives).
fn copy_of(v: &Vault) -> Vault {
    let copy = Vault::new();
    for item in walkdir::WalkDir::new(v.logs()).min_depth(1) {
        let item = item.expect("walk");
        let rel = item.path().strip_prefix(v.logs()).expect("rel");
        let to = copy.logs().join(rel);
        if item.file_type().is_dir() {
            std::fs::create_dir_all(&to).expect("mkdir");
        } else {
            std::fs::copy(item.path(), &to).expect("copy");
        }
    }
    copy
}

#[test]
fn signed_days_verify_with_the_public_key_alone_and_catch_a_re_chained_edit() {
    let keys = tempfile::tempdir().expect("keys");
    let private = keys.path().join("audit.key");
    let made = Run::new().arg("keygen").arg(&private).run();
    made.assert_code(0);
    let public = keys.path().join("audit.key.pub");
    assert!(public.is_file());
    let private_s = private.to_string_lossy().into_owned();
    let signing = |run: Run| run.env("AUDIT_SIGNING_KEY", &private_s);

    let v = Vault::new();
    let now = Utc::now();
    let (yesterday, _) = days_before(now, 1);
    let (today, _) = days_before(now, 0);
    let (_, now_ts) = days_before(now, 0);
    for (date, first) in [(&yesterday, 1), (&today, 100)] {
        let ts = match *date == today {
            true => now_ts.clone(),
            false => format!("{date}T12:00:00.000Z"),
        };
        let lines: String = (first..first + 4)
            .map(|i| entry_json(&ts, "INFO", i) + "\n")
            .collect();
        signing(v.cmd().args(["log", "--entry", "-"]))
            .stdin(lines)
            .run()
            .assert_code(0);
    }
    // The first write of today signed yesterday's final state.
    assert!(v
        .logs()
        .join(format!(".audit/signatures/{yesterday}.sig"))
        .is_file());
    signing(v.cmd().arg("seal")).run().assert_code(0);

    let public_s = public.to_string_lossy().into_owned();
    let audit = |vault: &Vault| {
        vault
            .cmd()
            .args(["verify", "--public-key", &public_s])
            .run()
    };
    let copy = copy_of(&v);
    audit(&copy).assert_code(0);

    // An edit re-chained by someone without the private key (plain SHA-256
    // anyone can recompute, with the per-entry record to match).
    let edited = copy_of(&v);
    let mut lines = entry_lines(&edited, &yesterday);
    lines[1] = lines[1].replacen("\"actor\":\"test\"", "\"actor\":\"evil\"", 1);
    let values = sha_chain(&[0; 32], &lines);
    write_ours(
        &edited,
        &yesterday,
        &lines,
        &hex(values.last().expect("value")),
    );
    std::fs::write(
        edited.logs().join(format!(".audit/chain/{yesterday}.bin")),
        values.concat(),
    )
    .expect("record");
    let done = audit(&edited);
    done.assert_code(1);
    assert_has(
        &done,
        &[
            &format!("Logs/{yesterday}.json: entries changed since they were written"),
            &format!("signatures/{yesterday}.sig (signed)"),
        ],
    );

    // A signature removed is reported.
    let removed = copy_of(&v);
    std::fs::remove_file(
        removed
            .logs()
            .join(format!(".audit/signatures/{yesterday}.sig")),
    )
    .expect("rm");
    let done = audit(&removed);
    done.assert_code(1);
    assert_has(
        &done,
        &[&format!("signatures/{yesterday}.sig: missing"), "removed"],
    );
}

#[test]
fn a_local_rollback_is_caught_against_the_heads_in_postgresql() {
    let pg = common::servers::Postgres::start();
    let url = pg.url();
    let v = Vault::new();
    let (today, _) = days_before(Utc::now(), 0);
    let forward = |v: &Vault| {
        v.cmd()
            .args(["forward", "--once"])
            .env("AUDIT_FORWARD_POSTGRES", &url)
            .env("AUDIT_VAULT_NAME", "rollback-vault")
            .run()
            .assert_code(0);
    };
    log_on(&v, None, &today, 1, 3);
    forward(&v);
    let saved = copy_of(&v);
    log_on(&v, None, &today, 10, 4);
    forward(&v);
    let mut db = pg.client();
    let heads: i64 = db
        .query_one(
            "SELECT count(*) FROM vault_audit_heads WHERE vault = 'rollback-vault'",
            &[],
        )
        .expect("query")
        .get(0);
    assert_eq!(
        heads, 2,
        "one chain head per forwarding pass that found a new one"
    );
    // Day file, chain record and head record all put back as they were.
    std::fs::remove_dir_all(v.logs()).expect("rm");
    std::fs::rename(saved.logs(), v.logs()).expect("restore");
    verify(&v, None).assert_code(0);
    let done = v
        .cmd()
        .args(["verify", "--against-postgres", &url])
        .env("AUDIT_VAULT_NAME", "rollback-vault")
        .run();
    done.assert_code(1);
    assert_has(
        &done,
        &[
            "Logs/.audit/head: at seq",
            "rolled back",
            &format!("Logs/{today}.json: 4 entries recorded by vault-audit are missing"),
        ],
    );
    let _: Option<Value> = None;
}

/// The property: over any sequence of appends (some back-dated within the
/// retention window), retention runs and repairs, with one tampering step
/// somewhere or none, `verify` is clean exactly when nothing was tampered
/// with. The clock is injected (the library, not the binary).
mod property {
    use std::path::Path;
    use std::sync::Arc;

    use chrono::{DateTime, Duration, Utc};
    use proptest::prelude::*;
    use serde_json::Value;
    use vault_audit::chain::ChainKey;
    use vault_audit::{AuditLogger, FixedClock};

    #[derive(Debug, Clone)]
    enum Step {
        /// `n` entries, `back` days before the clock's day.
        Append {
            back: i64,
            n: u64,
        },
        NextDay,
        Retention,
        Repair,
    }

    #[derive(Debug, Clone, Copy)]
    enum Tamper {
        EditFirstEntry,
        DropLastWithChainEnd,
        DeleteNewestWithRecord,
        ForeignLayoutEdited,
        PeerArray,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0..3i64, 1..4u64).prop_map(|(back, n)| Step::Append { back, n }),
            2 => Just(Step::NextDay),
            1 => Just(Step::Retention),
            1 => Just(Step::Repair),
        ]
    }

    fn tamper() -> impl Strategy<Value = Tamper> {
        prop_oneof![
            Just(Tamper::EditFirstEntry),
            Just(Tamper::DropLastWithChainEnd),
            Just(Tamper::DeleteNewestWithRecord),
            Just(Tamper::ForeignLayoutEdited),
            Just(Tamper::PeerArray),
        ]
    }

    fn entry(at: DateTime<Utc>, n: u64) -> vault_audit::Entry {
        vault_audit::Entry::new(
            vault_audit::LogLevel::Info,
            vault_audit::ActionType::new("file_drop").expect("action"),
            "prop",
            "Inbox/x.md",
        )
        .at(at)
        .param("n", n)
        .session("AI_EMP_20261122_PROP01")
    }

    fn run(logger: &AuditLogger, clock: &FixedClock, step: &Step, counter: &mut u64) {
        match step {
            Step::Append { back, n } => {
                let now = clock_now(clock);
                let at = if *back == 0 {
                    now
                } else {
                    (now - Duration::days(*back))
                        .date_naive()
                        .and_hms_opt(12, 0, 0)
                        .expect("noon")
                        .and_utc()
                };
                let batch = (0..*n)
                    .map(|_| {
                        *counter += 1;
                        entry(at, *counter)
                    })
                    .collect();
                logger.log_batch(batch).expect("append");
            }
            Step::NextDay => clock.set(clock_now(clock) + Duration::days(1)),
            Step::Retention => {
                logger.rotate(None).expect("retention");
            }
            Step::Repair => {
                let vault = logger.vault().clone();
                let key = logger.chain_key().clone();
                let now = logger.now();
                logger
                    .with_writer_lock(|| vault_audit::repair::repair(&vault, &key, now, false))
                    .expect("repair");
            }
        }
    }

    fn clock_now(clock: &FixedClock) -> DateTime<Utc> {
        vault_audit::Clock::now(clock)
    }

    /// Applies `t` to the newest day file; false when there is none.
    fn apply(logs: &Path, t: Tamper, now: DateTime<Utc>) -> bool {
        let Some(date) = vault_audit::vault::day_files_in(logs)
            .expect("days")
            .into_iter()
            .max()
        else {
            return false;
        };
        let day = date.format("%Y-%m-%d").to_string();
        let path = logs.join(format!("{day}.json"));
        let bin = logs.join(format!(".audit/chain/{day}.bin"));
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("    {")).collect();
        match t {
            Tamper::EditFirstEntry => {
                // Every entry has a session id (the first may be one of the
                // logger's own, by another actor than the property's).
                let edited = text.replacen("\"session_id\":\"", "\"session_id\":\"X", 1);
                std::fs::write(&path, edited).expect("write");
            }
            Tamper::DropLastWithChainEnd => {
                let keep: Vec<&str> = lines[..lines.len() - 1]
                    .iter()
                    .map(|l| l.trim_end_matches(','))
                    .collect();
                let record = std::fs::read(&bin).unwrap_or_default();
                let end = match keep.len() {
                    0 => "0".repeat(64),
                    k => record[(k - 1) * 32..k * 32]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect(),
                };
                let start = text.find("\n    {").expect("an entry");
                let body: Vec<String> = keep.iter().map(|l| format!("\n{l}")).collect();
                let new = format!(
                    "{}{}\n  ],\n  \"total_entries\": {},\n  \"summary\": {{\"INFO\": {}, \"WARNING\": 0, \"ERROR\": 0, \"CRITICAL\": 0}},\n  \"chain_end\": \"{end}\"\n}}\n",
                    &text[..start],
                    body.join(","),
                    keep.len(),
                    keep.len()
                );
                std::fs::write(&path, new).expect("write");
                if !record.is_empty() {
                    std::fs::write(&bin, &record[..keep.len() * 32]).expect("cut");
                }
            }
            Tamper::DeleteNewestWithRecord => {
                std::fs::remove_file(&path).expect("rm");
                let _ = std::fs::remove_file(&bin);
            }
            Tamper::ForeignLayoutEdited => {
                let v: Value = serde_json::from_str(&text).expect("json");
                let mut entries = v["entries"].as_array().expect("entries").clone();
                entries[0]["target"] = "edited".into();
                let seed = serde_json::json!({"date": day, "total_entries": entries.len(),
                    "summary": v["summary"], "entries": entries});
                std::fs::write(&path, serde_json::to_string_pretty(&seed).expect("json"))
                    .expect("write");
            }
            Tamper::PeerArray => {
                let at = now.min(date.and_hms_opt(12, 0, 0).expect("noon").and_utc());
                let peer = serde_json::to_string(&entry(at, 999_999)).expect("json");
                std::fs::write(&path, format!("[{peer}]")).expect("write");
            }
        }
        true
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn verify_is_clean_exactly_when_nothing_was_tampered_with(
            steps in proptest::collection::vec(step(), 1..10),
            tampering in proptest::option::of((0..10usize, tamper())),
            keyed in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir(dir.path().join("Logs")).expect("Logs");
            let start = vault_audit::time::parse_timestamp("2026-11-22T12:00:00Z").expect("ts");
            let clock = Arc::new(FixedClock::new(start));
            let key = if keyed { ChainKey::new("property key") } else { ChainKey::none() };
            let logger = AuditLogger::builder(dir.path())
                .clock(clock.clone())
                .upkeep(false)
                .retention_days(3)
                .chain_key(key.clone())
                .build()
                .expect("logger");
            let mut counter = 0;
            let mut tampered = false;
            for (i, s) in steps.iter().enumerate() {
                // After the tampering, nothing may delete the evidence on
                // purpose: retention and the clock stand still.
                if tampered && matches!(s, Step::NextDay | Step::Retention) {
                    continue;
                }
                run(&logger, &clock, s, &mut counter);
                if let Some((at, t)) = tampering {
                    if at == i && !tampered {
                        tampered = apply(&logger.vault().logs(), t, clock_now(&clock));
                    }
                }
            }
            let report = vault_audit::verify::verify(logger.vault(), &key).expect("verify");
            // The index is upkeep's (off here), not tamper evidence.
            let problems: Vec<String> = report
                .problems
                .iter()
                .filter(|p| p.kind != vault_audit::verify::Kind::Index)
                .map(ToString::to_string)
                .collect();
            prop_assert_eq!(problems.is_empty(), !tampered, "tampered: {}, problems: {:#?}", tampered, problems);
        }
    }
}
