//! Every secret form, fed through every entry point (the `log` flags and
//! `--entry`, the library, the inbox with a good and a rejected line, the
//! Claude Code hook, the MCP server, `skill-run`, and the `failed_writes`
//! fallback), and then not one of them is anywhere in the vault's bytes.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{days_ago, Vault, BIN};
use serde_json::{json, Value};

/// Each secret, in the form it is given in, and the part that must not be stored.
const SECRETS: &[(&str, &str)] = &[
    ("password=S3cr3tPassw0rdA", "S3cr3tPassw0rdA"),
    ("token: tok9f8e7d6c5b4aB", "tok9f8e7d6c5b4aB"),
    ("api-key=ak_live_51HxyzSECRETC", "ak_live_51HxyzSECRETC"),
    ("Authorization: Bearer abcDEF123ghiJKL456D", "abcDEF123ghiJKL456D"),
    ("AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCE\nqhkiG9w0BAQ\n-----END RSA PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCE",
    ),
    ("ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"),
    ("xoxb-123456789012-abcdefghijklmnopF", "xoxb-123456789012-abcdefghijklmnopF"),
    (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    ("https://deploy:UrlPassw0rdG@git.example.com/repo.git", "UrlPassw0rdG"),
];

/// Values stored under secret-looking keys.
const KEYED: &[&str] = &[
    "KeyPwValue1",
    "KeyApiValue2",
    "KeySecretValue3",
    "KeyAuthValue4",
    "KeyCookieValue5",
    "KeyPrivValue6",
    "KeyTokValue7",
    "KeyPasswdValue8",
    "KeyApikeyValue9",
];

/// All the secret forms in one text, with ordinary words around them.
fn text() -> String {
    SECRETS
        .iter()
        .map(|(form, _)| format!("before {form} after"))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn keyed() -> Value {
    json!({
        "password": KEYED[0],
        "nested": {"Api_Key": KEYED[1], "list": [{"clientSecret": KEYED[2]}]},
        "Authorization": KEYED[3],
        "cookie": KEYED[4],
        "private_key": KEYED[5],
        "access_token": KEYED[6],
        "passwd": KEYED[7],
        "apikey": KEYED[8],
        "note": text(),
    })
}

fn entry(ts: &str) -> Value {
    json!({
        "timestamp": ts, "log_level": "ERROR", "action_type": "tool_call",
        "actor": "agent", "target": text(), "parameters": keyed(),
        "approval_status": "not_required", "approved_by": "N/A", "dry_run": false,
        "result": "failure", "error_message": text(), "session_id": "S1"
    })
}

/// Every byte of every file under the vault.
fn all_bytes(v: &Vault) -> Vec<(String, Vec<u8>)> {
    walkdir::WalkDir::new(v.path())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let bytes = std::fs::read(e.path()).expect("read");
            (e.path().display().to_string(), bytes)
        })
        .collect()
}

fn assert_no_secret(v: &Vault) {
    let files = all_bytes(v);
    for (name, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        for needle in SECRETS.iter().map(|(_, n)| *n).chain(KEYED.iter().copied()) {
            assert!(!text.contains(needle), "{needle} found in {name}");
        }
    }
}

#[test]
fn no_secret_reaches_the_disk_through_any_entry_point() {
    let v = Vault::new();
    let (_, ts) = days_ago(0);
    let keyed_text = keyed().to_string();
    let secret_text = text();

    // 1. `log` with flags, and with --entry.
    v.cmd()
        .args([
            "log",
            "--level",
            "ERROR",
            "--action",
            "tool_call",
            "--actor",
            "agent",
        ])
        .args([
            "--target",
            &secret_text,
            "--error",
            &secret_text,
            "--result",
            "failure",
        ])
        .args(["--parameters", &keyed_text])
        .arg("--param")
        .arg(format!("extra={secret_text}"))
        .run()
        .assert_code(0);
    v.cmd()
        .args(["log", "--entry", &entry(&ts).to_string()])
        .run()
        .assert_code(0);

    // 2. The library.
    let logger = vault_audit::AuditLogger::builder(v.path())
        .build()
        .expect("logger");
    let lib_entry = vault_audit::Entry::from_value(entry(&ts)).expect("entry");
    logger.log(lib_entry).expect("library log");

    // 3. The lock held past the deadline: the failed_writes.json fallback.
    std::fs::create_dir_all(v.logs().join(".audit")).expect("state");
    let held = vault_audit::lock::HeldLock::hold(&v.logs().join(".audit/lock")).expect("hold");
    let fell = v
        .cmd()
        .env("AUDIT_LOCK_TIMEOUT_MS", "100")
        .args(["log", "--entry", &entry(&ts).to_string()])
        .run();
    drop(held);
    fell.assert_code(3);
    assert!(v.logs().join("failed_writes.json").exists());

    // 4. The Claude Code hook: a Bash command and an MCP tool's input.
    for payload in [
        json!({"session_id": "s", "cwd": v.path(), "hook_event_name": "PostToolUse", "tool_name": "Bash",
               "tool_input": {"command": secret_text}, "tool_response": {"stdout": secret_text, "stderr": secret_text},
               "tool_use_id": "t1"}),
        json!({"session_id": "s", "cwd": v.path(), "hook_event_name": "PostToolUseFailure", "tool_name": "mcp__x__y",
               "tool_input": keyed(), "error": secret_text, "tool_use_id": "t2"}),
        json!({"session_id": "s", "cwd": v.path(), "hook_event_name": "UserPromptSubmit", "prompt": secret_text}),
    ] {
        v.cmd()
            .env("AUDIT_HOOK_PROMPT_TEXT", "true")
            .args(["hook", "claude-code"])
            .stdin(payload.to_string())
            .run()
            .assert_code(0);
    }

    // 5. The MCP server.
    let mut mcp = Command::new(BIN)
        .args(["--no-dry-run", "--vault"])
        .arg(v.path())
        .arg("mcp")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mcp");
    {
        let stdin = mcp.stdin.as_mut().expect("stdin");
        let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "log_action",
            "arguments": {"action_type": "tool_call", "target": secret_text, "error_message": secret_text, "parameters": keyed()}}});
        writeln!(stdin, "{call}").expect("send");
    }
    drop(mcp.stdin.take());
    assert!(mcp.wait().expect("wait").success());

    // 6. skill-run.
    v.cmd()
        .args(["skill-run", "deploy.skill", "failed", "12"])
        .arg(json!([secret_text]).to_string())
        .arg(keyed_text.clone())
        .run()
        .assert_code(0);

    // 7. The inbox, through the daemon: one good line, one rejected line.
    let inbox = v.logs().join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let mut bad = entry(&ts);
    bad["log_level"] = json!("LOUD");
    let lines = format!("{}\n{}\n", entry(&ts), bad);
    std::fs::write(inbox.join("drop.jsonl.tmp"), lines).expect("write");
    std::fs::rename(inbox.join("drop.jsonl.tmp"), inbox.join("drop.jsonl")).expect("rename");
    let mut daemon = Command::new(BIN)
        .args(["--no-dry-run", "--vault"])
        .arg(v.path())
        .args(["daemon", "--no-watch-vault"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("daemon");
    let deadline = Instant::now() + Duration::from_secs(20);
    let rejected = inbox.join("rejected/drop.jsonl");
    while !rejected.exists() || inbox.join("drop.jsonl").exists() {
        assert!(
            Instant::now() < deadline,
            "the daemon did not take the inbox file in"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The failed_writes entry is replayed at start too.
    std::thread::sleep(Duration::from_millis(500));
    unsafe_kill_term(&daemon);
    assert!(daemon.wait().expect("wait").success());

    // Every entry point wrote, and redacted. Most entries carry the binary's
    // real time, so UTC midnight may have fallen between them: every day file.
    let day: String = v
        .dates()
        .iter()
        .map(|date| std::fs::read_to_string(v.day(date)).expect("day file"))
        .collect();
    assert!(day.matches("[REDACTED]").count() > 50, "{day}");
    assert!(day.contains("before [REDACTED] after"));
    assert_no_secret(&v);
}

fn unsafe_kill_term(child: &std::process::Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
}

#[test]
fn redaction_off_must_be_explicit_and_is_noted_in_the_entry() {
    let v = Vault::new();
    let done = v
        .cmd()
        .env("AUDIT_REDACTION", "off")
        .args([
            "log",
            "--level",
            "INFO",
            "--action",
            "x",
            "--actor",
            "a",
            "--target",
            "password=visible1",
        ])
        .run();
    done.assert_code(0);
    // On the day of the binary's clock, which may no longer be today.
    let e = &v.all_entries()[0];
    assert_eq!(e["target"], "password=visible1");
    assert_eq!(e["parameters"]["redaction"], "off");
    let bad = v
        .cmd()
        .env("AUDIT_REDACT_PATTERNS", "(unclosed")
        .args([
            "log", "--level", "INFO", "--action", "x", "--actor", "a", "--target", "t",
        ])
        .run();
    bad.assert_code(2);
    assert!(
        bad.stderr.contains("AUDIT_REDACT_PATTERNS"),
        "{}",
        bad.stderr
    );
}

#[test]
fn long_strings_are_cut_with_a_marker() {
    let v = Vault::new();
    let long = "x".repeat(5000);
    v.cmd()
        .env("AUDIT_MAX_FIELD_CHARS", "1000")
        .args([
            "log", "--level", "INFO", "--action", "x", "--actor", "a", "--target", &long,
        ])
        .run()
        .assert_code(0);
    // On the day of the binary's clock, which may no longer be today.
    let target = v.all_entries()[0]["target"]
        .as_str()
        .expect("target")
        .to_owned();
    assert!(target.chars().count() <= 1000);
    assert!(target.starts_with(&"x".repeat(950)));
    assert!(target.contains("…[truncated 40"), "{target}");
    assert!(target.ends_with(" of 5000 characters]"), "{target}");
}
