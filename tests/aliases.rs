//! The value aliases, every row of the table, through `log` and the inbox,
//! stored canonical; `AUDIT_STRICT=1` refuses them; and an entry with three
//! wrong fields is refused once, naming all three.

mod common;

use std::time::Duration;

use common::{days_ago, entry_json, Vault};
use serde_json::Value;
use vault_audit::entry::{ParseMode, ALIASES};
use vault_audit::inbox::{self, Reading};
use vault_audit::journal::Progress;
use vault_audit::AuditLogger;

/// One line per alias row: the seed entry with the alias (spaced and in
/// upper case, to show both are folded) in its field, `n` its row.
fn alias_lines(ts: &str) -> String {
    let mut out = String::new();
    for (n, a) in ALIASES.iter().enumerate() {
        let mut v: Value = serde_json::from_str(&entry_json(ts, "INFO", n as u64)).expect("json");
        v[a.field] = Value::String(format!(" {} ", a.alias.to_uppercase()));
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

/// The stored entries by their `n`.
fn stored_by_n(v: &Vault) -> Vec<Value> {
    let mut all: Vec<Value> = v
        .all_entries()
        .into_iter()
        .filter(|e| e["actor"] == "test")
        .collect();
    all.sort_by_key(|e| e["parameters"]["n"].as_u64());
    all
}

fn assert_canonical(stored: &[Value]) {
    assert_eq!(stored.len(), ALIASES.len());
    for (a, e) in ALIASES.iter().zip(stored) {
        assert_eq!(e[a.field], a.canonical, "{a:?}: {e}");
        if a.field == "result" && a.alias == "pending" {
            assert_eq!(e["approval_status"], "pending", "{e}");
        }
    }
}

#[test]
fn every_alias_row_through_log_is_stored_canonical() {
    let v = Vault::new();
    let (_, ts) = days_ago(0);
    let done = v
        .cmd()
        .args(["log", "--entry", "-"])
        .stdin(alias_lines(&ts))
        .run();
    done.assert_code(0);
    assert_eq!(done.response()["details"]["written"], ALIASES.len());
    assert_canonical(&stored_by_n(&v));
    // Flags take them too.
    let flags = v
        .cmd()
        .args(["log", "--level", "info", "--action", "x", "--actor", "test"])
        .args([
            "--target",
            "t",
            "--result",
            "Failed",
            "--approval-status",
            "n/a",
        ])
        .args(["--param", "n=1000"])
        .run();
    flags.assert_code(0);
    let last = stored_by_n(&v).pop().expect("entry");
    assert_eq!(
        (&last["result"], &last["approval_status"]),
        (&Value::from("failure"), &Value::from("not_required"))
    );
}

#[test]
fn audit_strict_refuses_every_alias_through_log() {
    let v = Vault::new();
    let (_, ts) = days_ago(0);
    let done = v
        .cmd()
        .env("AUDIT_STRICT", "1")
        .args(["log", "--entry", "-"])
        .stdin(alias_lines(&ts))
        .run();
    done.assert_code(1);
    let r = done.response();
    assert_eq!(r["details"]["rejected"], ALIASES.len(), "{r}");
    assert_eq!(r["details"]["written"], 0);
    assert!(v.all_entries().is_empty());
}

/// Drops the alias lines in the inbox and takes them in with `logger`.
fn through_the_inbox(v: &Vault, logger: &AuditLogger) -> usize {
    let vault = logger.vault().clone();
    std::fs::create_dir_all(vault.inbox()).expect("inbox");
    std::fs::create_dir_all(vault.state_dir()).expect("state folder");
    let dropped = vault.inbox().join("aliases.jsonl");
    std::fs::write(&dropped, alias_lines(&days_ago(0).1)).expect("write");
    let claim = inbox::claim(&vault, &dropped, 0).expect("claim");
    let intakes = inbox::take_in(
        logger,
        &[claim],
        &mut Progress::new(),
        &mut Reading::new(Duration::ZERO),
        &|| false,
        &mut |_| {},
    )
    .expect("take in");
    let _ = v;
    intakes.iter().map(|i| i.rejected_count).sum()
}

#[test]
fn every_alias_row_through_the_inbox_is_stored_canonical_unless_strict() {
    let v = Vault::new();
    let logger = AuditLogger::builder(v.path())
        .upkeep(false)
        .build()
        .expect("logger");
    assert_eq!(through_the_inbox(&v, &logger), 0);
    assert_canonical(&stored_by_n(&v));

    let strict_vault = Vault::new();
    let strict = AuditLogger::builder(strict_vault.path())
        .upkeep(false)
        .parse_mode(ParseMode::Strict)
        .build()
        .expect("logger");
    assert_eq!(through_the_inbox(&strict_vault, &strict), ALIASES.len());
    assert!(stored_by_n(&strict_vault).is_empty());
}

#[test]
fn an_entry_with_three_wrong_fields_is_one_rejection_naming_all_three() {
    let v = Vault::new();
    let (_, ts) = days_ago(0);
    let mut e: Value = serde_json::from_str(&entry_json(&ts, "INFO", 1)).expect("json");
    let o = e.as_object_mut().expect("object");
    o.remove("log_level");
    o.insert("dry_run".into(), "maybe".into());
    o.insert("result".into(), "exploded".into());
    let done = v
        .cmd()
        .args(["log", "--entry", "-"])
        .stdin(format!("{e}\n"))
        .run();
    done.assert_code(1);
    let lines: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.contains("rejected"))
        .collect();
    assert_eq!(lines.len(), 1, "one line for the entry: {}", done.stderr);
    for needle in [
        "3 problems",
        "missing field \"log_level\" (one of INFO",
        "dry_run \"maybe\" is not true or false",
        "result \"exploded\" is not one of success, failure, skipped",
    ] {
        assert!(lines[0].contains(needle), "{needle}: {}", lines[0]);
    }
    let r = done.response();
    assert_eq!(r["details"]["rejected"], 1);
    let errors = r["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 3, "one error per problem: {r}");
    assert!(errors.iter().all(|e| e
        .as_str()
        .is_some_and(|s| s.starts_with("entry rejected: "))));
}
