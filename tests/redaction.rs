//! Every secret form, fed through every entry point (the `log` flags,
//! `--entry` and stdin, `--session`, the library, the inbox through the
//! daemon with good and rejected lines, `replay`, the Claude Code hook with
//! and without a vault, the MCP server, `skill-run`, and the
//! `failed_writes` fallback), as values, parameter keys and session ids:
//! then not one of them, nor any 12 characters of one, is anywhere in the
//! vault's bytes (hidden folders included) or in what the commands printed.

mod common;

use std::time::Duration;

use common::{days_ago, wait_for, Daemon, Done, Vault};
use serde_json::{json, Value};

/// Each secret, in the form it is given in, and the part that must not be
/// stored or printed.
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
    ("postgres://app:PgPassw0rd77@db.internal:5432/x", "PgPassw0rd77"),
    // Forms added for issue 12.
    ("sk-AbCdEf0123456789GhIjKlMnOpQrStUv", "sk-AbCdEf0123456789GhIjKlMnOpQrStUv"),
    ("sk-proj-Qw3rTy8UiOp2AsDfGhJkL9ZxCvBnM4", "sk-proj-Qw3rTy8UiOp2AsDfGhJkL9ZxCvBnM4"),
    (
        "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0-FeDcBaAA",
        "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0-FeDcBaAA",
    ),
    ("card 4539578763621486 paid", "4539578763621486"),
    ("card 5425 2334 3010 9903 paid", "5425 2334 3010 9903"),
    (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGRpZ3BvbGljeTEyMzQ1Njc4OTBhYmNkZWY\n=AbCd\n-----END PGP PRIVATE KEY BLOCK-----",
        "lQOYBGRpZ3BvbGljeTEyMzQ1Njc4OTBhYmNkZWY",
    ),
    ("passphrase=Correct-Horse-Battery-9", "Correct-Horse-Battery-9"),
    (r#"{"db_pass": "DbPassW0rd-Xyz42"}"#, "DbPassW0rd-Xyz42"),
    ("login?token%3DUrlEnc0dedTok3nValue%26next%3D1", "UrlEnc0dedTok3nValue"),
    (
        "%67%68%70_B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9",
        "ghp_B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9",
    ),
    ("mysql -u root -pMyS3cretSQLpw -h db", "MyS3cretSQLpw"),
    ("mysqldump --password=DumpPassw0rd9 db", "DumpPassw0rd9"),
];

/// Values stored under keys that name a secret.
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
    "KeyDbPassValue10",
    "KeyPhraseValue11",
    "KeyShortAuthValue12",
    "KeyCredValue13",
    "KeyCamelValue14",
    "KeyTokensValue15",
];

/// Parameter keys that are themselves secrets.
const SECRET_KEYS: &[&str] = &[
    "AKIAZZKEYAS0KEY12345",
    "ghp_KeyAsGitHubToken0123456789abcdefXYZ",
];

/// Everything that must appear nowhere.
fn needles() -> Vec<&'static str> {
    SECRETS
        .iter()
        .map(|(_, n)| *n)
        .chain(KEYED.iter().copied())
        .chain(SECRET_KEYS.iter().copied())
        .collect()
}

/// A needle and every run of 12 characters of it.
fn runs(needle: &str) -> Vec<String> {
    let chars: Vec<char> = needle.chars().collect();
    if chars.len() <= 12 {
        return vec![needle.to_owned()];
    }
    chars.windows(12).map(|w| w.iter().collect()).collect()
}

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
        "nested": {"Api_Key": KEYED[1], "list": [{"clientSecret": KEYED[2]}, {"deeper": {"db_pass": KEYED[9]}}]},
        "Authorization": KEYED[3],
        "cookie": KEYED[4],
        "private_key": KEYED[5],
        "access_token": KEYED[6],
        "passwd": KEYED[7],
        "apikey": KEYED[8],
        "passphrase": KEYED[10],
        "auth": KEYED[11],
        "credentials": {"user": "bob", "pw": KEYED[12]},
        "dbPassword": KEYED[13],
        "tokens": [KEYED[14]],
        "max_tokens": 1000,
        SECRET_KEYS[0]: "a key that is an AWS key id",
        "outer": {SECRET_KEYS[1]: {"note": text()}},
        "note": text(),
    })
}

fn entry(ts: &str) -> Value {
    json!({
        "timestamp": ts, "log_level": "ERROR", "action_type": "tool_call",
        "actor": "agent", "target": text(), "parameters": keyed(),
        "approval_status": "not_required", "approved_by": "N/A", "dry_run": false,
        "result": "failure", "error_message": text(), "session_id": text()
    })
}

/// Values the parser refuses, each holding secrets where a 60-character
/// cut would split them: a message shortened before redaction leaks them.
fn rejected_entries(ts: &str) -> Vec<Value> {
    let pad = "x ".repeat(20);
    let mut out = Vec::new();
    for (form, _) in SECRETS {
        let mut bad = entry(ts);
        bad["log_level"] = json!(format!("{pad}{form} and more"));
        out.push(bad);
    }
    let mut bad = entry(ts);
    bad["action_type"] = json!(format!("{pad}{}", SECRET_KEYS[1]));
    out.push(bad);
    let mut bad = entry(ts);
    bad["session_id"] = json!({"password": KEYED[0], "k": format!("{pad}{}", SECRETS[6].1)});
    out.push(bad);
    let mut bad = entry(ts);
    bad.as_object_mut()
        .map(|o| o.insert(SECRET_KEYS[0].to_owned(), json!(1)));
    out.push(bad);
    out.push(json!(format!("{pad}{}", SECRETS[11].1)));
    out.push(json!([{"password": KEYED[0]}, format!("{pad}{}", SECRETS[12].1)]));
    out
}

/// Every byte of every file under the vault, hidden folders included.
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

/// Fails naming every place a secret, or 12 characters of one, was found.
fn assert_nowhere(places: &[(String, String)]) {
    let mut found = Vec::new();
    for needle in needles() {
        for run in runs(needle) {
            for (name, text) in places {
                if text.contains(&run) {
                    found.push(format!("{run:?} (of {needle:?}) in {name}"));
                }
            }
        }
    }
    assert!(found.is_empty(), "secrets found:\n{}", found.join("\n"));
}

/// What the commands printed, gathered as they run.
#[derive(Default)]
struct Printed(Vec<(String, String)>);

impl Printed {
    fn keep(&mut self, what: &str, done: Done) -> Done {
        self.0
            .push((format!("{what}: stdout"), done.stdout.clone()));
        self.0
            .push((format!("{what}: stderr"), done.stderr.clone()));
        done
    }
}

#[test]
fn no_secret_nor_12_characters_of_one_escapes_through_any_entry_point() {
    let v = Vault::new();
    let dashboard = v.path().join("Dashboard.md");
    std::fs::write(
        &dashboard,
        "# Dashboard\n\n## Recent Activity\n\n## Notes\n",
    )
    .expect("note");
    let (_, ts) = days_ago(0);
    let mut out = Printed::default();
    log_every_way(&v, &ts, &mut out);
    fall_back_and_replay(&v, &ts, &mut out);
    hook_every_way(&v, &mut out);
    mcp_every_way(&v, &ts, &mut out);
    skill_run_every_way(&v, &mut out);
    inbox_through_the_daemon(&v, &ts);

    // Every entry point wrote, and redacted. Most entries carry the binary's
    // real time, so UTC midnight may have fallen between them: every day file.
    let day: String = v
        .dates()
        .iter()
        .map(|date| std::fs::read_to_string(v.day(date)).expect("day file"))
        .collect();
    assert!(day.matches("[REDACTED]").count() > 500, "{day}");
    assert!(day.contains("before [REDACTED] after"));
    assert!(day.contains("\"max_tokens\":1000"), "counts are kept");
    let rejected = v.logs().join("inbox/rejected");
    assert!(rejected.join("drop.jsonl.errors.txt").is_file());
    assert!(rejected.join("drop.json.errors.txt").is_file());
    let table = std::fs::read_to_string(&dashboard).expect("Dashboard.md");
    assert!(table.contains("REDACTED"), "{table}");
    let alerts = std::fs::read_dir(v.path().join("Needs_Action")).expect("notes");
    assert!(alerts.count() > 0, "an alert note was written");

    let mut places: Vec<(String, String)> = all_bytes(&v)
        .into_iter()
        .map(|(name, bytes)| (name, String::from_utf8_lossy(&bytes).into_owned()))
        .collect();
    places.extend(out.0);
    assert_nowhere(&places);
}

/// `log` from flags (with `--session`), `--entry`, stdin (JSON Lines with
/// rejected lines), refused flags, and the library.
fn log_every_way(v: &Vault, ts: &str, out: &mut Printed) {
    let secret_text = text();
    let keyed_text = keyed().to_string();
    let done = v
        .cmd()
        .args(["--session", &secret_text, "log", "--level", "ERROR"])
        .args(["--action", "tool_call", "--actor", &secret_text])
        .args(["--target", &secret_text, "--error", &secret_text])
        .args(["--result", "failure", "--parameters", &keyed_text])
        .arg("--param")
        .arg(format!("extra={secret_text}"))
        .run();
    out.keep("log flags", done).assert_code(0);
    let done = v
        .cmd()
        .args(["log", "--entry", &entry(ts).to_string()])
        .run();
    out.keep("log --entry", done).assert_code(0);
    for bad in rejected_entries(ts) {
        let done = v.cmd().args(["log", "--entry", &bad.to_string()]).run();
        out.keep("log --entry rejected", done).assert_code(1);
    }
    let mut lines = vec![entry(ts).to_string()];
    lines.extend(rejected_entries(ts).iter().map(Value::to_string));
    lines.push(format!("not json {secret_text}"));
    let done = v
        .cmd()
        .args(["log", "--entry", "-"])
        .stdin(lines.join("\n"))
        .run();
    out.keep("log stdin", done).assert_code(1);
    let refused: [&[&str]; 3] = [
        &["--param", SECRETS[6].1],
        &["--parameters", r#"{"db_pass": "DbPassW0rd-Xyz42", "#],
        &["--retention-days", SECRETS[6].1],
    ];
    for flags in refused {
        let done = v
            .cmd()
            .args(["log", "--level", "INFO", "--action", "x", "--actor", "a"])
            .args(["--target", "t"])
            .args(flags)
            .run();
        out.keep("log refused flag", done).assert_code(2);
    }

    // A refused query filter is quoted back whole.
    let done = v.cmd().args(["query", "--level", &secret_text]).run();
    out.keep("query refused", done).assert_code(2);

    let logger = vault_audit::AuditLogger::builder(v.path())
        .session_id(secret_text.clone())
        .build()
        .expect("logger");
    let mut lib_entry = vault_audit::Entry::from_value(entry(ts)).expect("entry");
    lib_entry.session_id = None;
    logger.log(lib_entry).expect("library log");
}

/// The lock held past the deadline: `failed_writes.json`, then a bad line
/// added by hand and `replay`.
fn fall_back_and_replay(v: &Vault, ts: &str, out: &mut Printed) {
    std::fs::create_dir_all(v.logs().join(".audit")).expect("state");
    let held = vault_audit::lock::HeldLock::hold(&v.logs().join(".audit/lock")).expect("hold");
    let fell = v
        .cmd()
        .env("AUDIT_LOCK_TIMEOUT_MS", "100")
        .args(["log", "--entry", &entry(ts).to_string()])
        .run();
    drop(held);
    out.keep("log fallback", fell).assert_code(3);
    let failed = v.logs().join("failed_writes.json");
    let saved = std::fs::read_to_string(&failed).expect("failed_writes.json");
    assert!(saved.contains("[REDACTED]"), "{saved}");
    let bad = rejected_entries(ts)[6].to_string();
    std::fs::write(&failed, format!("{saved}{bad}\n")).expect("add a bad line");
    let done = v.cmd().arg("replay").run();
    let done = out.keep("replay", done);
    assert_eq!(done.response()["details"]["replayed"], 1, "{}", done.stdout);
}

/// The Claude Code hook: a Bash command, an MCP tool's input, a prompt, a
/// session event, each with a secret as its session id; and a hook that
/// finds no vault, its entry kept in the state folder (here inside the
/// vault, so searched too) and adopted by `replay --orphans`.
fn hook_every_way(v: &Vault, out: &mut Printed) {
    let secret_text = text();
    let state = v.path().join(".state");
    let nowhere = state.join("not-a-vault");
    std::fs::create_dir_all(&nowhere).expect("folder");
    let payloads = [
        json!({"session_id": secret_text, "cwd": v.path(), "hook_event_name": "PostToolUse", "tool_name": "Bash",
               "tool_input": {"command": secret_text}, "tool_response": {"stdout": secret_text, "stderr": secret_text},
               "tool_use_id": "t1"}),
        json!({"session_id": secret_text, "cwd": v.path(), "hook_event_name": "PostToolUseFailure", "tool_name": "mcp__x__y",
               "tool_input": keyed(), "error": secret_text, "tool_use_id": "t2"}),
        json!({"session_id": secret_text, "cwd": v.path(), "hook_event_name": "UserPromptSubmit", "prompt": secret_text}),
        json!({"session_id": secret_text, "cwd": v.path(), "hook_event_name": "SessionStart", "source": secret_text}),
    ];
    for payload in payloads {
        let done = v
            .cmd()
            .env("AUDIT_HOOK_PROMPT_TEXT", "true")
            .args(["hook", "claude-code"])
            .stdin(payload.to_string())
            .run();
        out.keep("hook", done).assert_code(0);
    }
    let orphan = json!({"session_id": secret_text, "cwd": nowhere, "hook_event_name": "PostToolUse",
        "tool_name": "Bash", "tool_input": {"command": secret_text}, "tool_response": {"stdout": secret_text}});
    let done = common::Run::new()
        .args(["--no-dry-run", "hook", "claude-code"])
        .env("XDG_STATE_HOME", &state.display().to_string())
        .env("CLAUDE_PROJECT_DIR", &nowhere.display().to_string())
        .cwd(&nowhere)
        .stdin(orphan.to_string())
        .run();
    let done = out.keep("hook orphan", done);
    assert!(done.stderr.contains("replay --orphans"), "{}", done.stderr);
    let kept = std::fs::read_to_string(state.join("vault-audit/failed_writes.json"));
    assert!(kept.expect("orphan kept").contains("[REDACTED]"));
    // A copy stays where the test can search it after the replay moves it.
    let copy = std::fs::read(state.join("vault-audit/failed_writes.json")).expect("orphan");
    std::fs::write(state.join("orphan-copy.json"), copy).expect("copy");
    let done = v
        .cmd()
        .env("XDG_STATE_HOME", &state.display().to_string())
        .args(["replay", "--orphans"])
        .run();
    out.keep("replay --orphans", done).assert_code(0);
}

/// The MCP server: a good call, refused arguments, a rejected value, an
/// unknown tool and an unknown method, each quoting a secret.
fn mcp_every_way(v: &Vault, ts: &str, out: &mut Printed) {
    let secret_text = text();
    let call = |id: u64, name: &str, arguments: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": arguments}})
            .to_string()
    };
    let hello = [
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}).to_string(),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
    ];
    let messages = [
        call(
            1,
            "log_action",
            json!({"action_type": "tool_call", "target": secret_text,
            "error_message": secret_text, "parameters": keyed(), "session_id": secret_text}),
        ),
        call(
            2,
            "log_action",
            json!({"action_type": "tool_call", "target": "t", "parameters": secret_text}),
        ),
        call(
            3,
            "log_action",
            json!({"action_type": "tool_call", "target": "t",
            "log_level": rejected_entries(ts)[6]["log_level"]}),
        ),
        call(
            4,
            "log_action",
            json!({"action_type": "tool_call", "target": "t", SECRET_KEYS[0]: 1}),
        ),
        call(5, SECRETS[6].1, json!({})),
        json!({"jsonrpc": "2.0", "id": 6, "method": SECRETS[4].1}).to_string(),
        call(
            7,
            "query_logs",
            json!({"level": secret_text, "limit": secret_text}),
        ),
    ];
    let all = [&hello[..], &messages[..]].concat();
    let done = v.cmd().arg("mcp").stdin(all.join("\n") + "\n").run();
    let done = out.keep("mcp", done);
    done.assert_code(0);
    assert_eq!(
        done.stdout.lines().count(),
        messages.len() + 1,
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("[REDACTED]"), "{}", done.stdout);
}

/// `skill-run`, good and with refused arguments quoting a secret.
fn skill_run_every_way(v: &Vault, out: &mut Printed) {
    let secret_text = text();
    let done = v
        .cmd()
        .args(["skill-run", "deploy.skill", "failed", "12"])
        .arg(json!([secret_text]).to_string())
        .arg(keyed().to_string())
        .run();
    out.keep("skill-run", done).assert_code(0);
    let pad = "x ".repeat(20);
    for args in [
        [
            "s",
            "failed",
            "12",
            "[]",
            &format!("{pad}{} }}", SECRETS[6].1),
        ],
        ["s", "failed", "12", &format!("{pad}{}", SECRETS[7].1), "{}"],
        ["s", "failed", &format!("{pad}{}", SECRETS[4].1), "[]", "{}"],
    ] {
        let done = v.cmd().arg("skill-run").args(args).run();
        out.keep("skill-run refused", done).assert_code(2);
    }
}

/// The inbox, through the daemon: a `.jsonl` and a `.json` file, each with
/// good and rejected lines (a line too long to read whole among them, a
/// secret across where it is cut). The daemon's own output is kept in the
/// vault (`daemon.err`), so it is searched too.
fn inbox_through_the_daemon(v: &Vault, ts: &str) {
    let inbox = v.logs().join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let mut lines: Vec<String> = (0..6).map(|_| entry(ts).to_string()).collect();
    lines.extend(rejected_entries(ts).iter().map(Value::to_string));
    lines.push(format!("not json {}", text()));
    // Over 1 MiB: only its first 4,096 bytes are kept, cut inside a token.
    let token = SECRETS[6].1;
    let head = format!("{{\"note\": \"{}", "y".repeat(4096 - 12 - 20));
    lines.push(format!("{head} {token} {}\"}}", "z".repeat(1 << 20)));
    let array = std::iter::once(entry(ts)).chain(rejected_entries(ts));
    let named = format!("{}.jsonl", SECRETS[4].1);
    let txt = format!("{}.txt", SECRETS[6].1);
    let drops = [
        ("drop.jsonl".to_owned(), lines.join("\n") + "\n"),
        (
            "drop.json".to_owned(),
            Value::Array(array.collect()).to_string(),
        ),
        // Names that hold a secret: one set aside whole, one taken in.
        (
            format!("{}.txt", SECRETS[6].1),
            "not an inbox file\n".to_owned(),
        ),
        (
            named.clone(),
            format!("{}\n{}\n", entry(ts), rejected_entries(ts)[0]),
        ),
    ];
    for (name, body) in drops {
        let tmp = inbox.join(format!("{name}.tmp"));
        std::fs::write(&tmp, body).expect("write");
        std::fs::rename(&tmp, inbox.join(name)).expect("rename");
    }
    // Strings kept whole up to 10,000 characters: the 4,096 bytes kept of
    // the long line are not cut again.
    let envs = [("AUDIT_MAX_FIELD_CHARS", "10000")];
    let daemon = Daemon::start_with(v, &["--no-watch-vault"], &envs);
    let rejected = inbox.join("rejected");
    wait_for(
        "the daemon to take the inbox in",
        Duration::from_secs(60),
        || {
            let taken = ["drop.jsonl", "drop.json", &named, &txt];
            // Each leaves its rejected lines and their reasons; the .txt
            // goes whole, with its reason.
            taken.iter().all(|name| {
                !inbox.join(name).exists() && rejected.join(format!("{name}.errors.txt")).exists()
            })
        },
    );
    // Its WARNING entries about the rejected lines follow the files.
    std::thread::sleep(Duration::from_millis(800));
    let (code, _) = daemon.terminate();
    assert_eq!(code, Some(0));
}

#[test]
fn a_secret_in_a_rejected_value_is_redacted_before_the_message_shortens_it() {
    let v = Vault::new();
    let token = SECRETS[6].1;
    let bad = json!({"log_level": format!("{}{token}", "x ".repeat(20))});
    let done = v.cmd().args(["log", "--entry", &bad.to_string()]).run();
    done.assert_code(1);
    // Shortened first, 18 of the token's 40 characters were shown.
    assert!(!done.stderr.contains("ghp_"), "{}", done.stderr);
    assert!(done.stderr.contains("[REDACTED]"), "{}", done.stderr);
    assert!(!done.stdout.contains("ghp_"), "{}", done.stdout);
}

#[test]
fn a_secret_as_the_session_id_is_redacted() {
    let v = Vault::new();
    let (_, ts) = days_ago(0);
    let token = SECRETS[6].1;
    v.cmd()
        .args([
            "--session",
            token,
            "log",
            "--level",
            "INFO",
            "--action",
            "x",
        ])
        .args(["--actor", "a", "--target", "t"])
        .run()
        .assert_code(0);
    let mut e = entry(&ts);
    e["session_id"] = json!(format!("s-{}", SECRETS[10].0));
    v.cmd()
        .args(["log", "--entry", &e.to_string()])
        .run()
        .assert_code(0);
    let sessions: Vec<Value> = v
        .all_entries()
        .iter()
        .map(|e| e["session_id"].clone())
        .collect();
    assert_eq!(
        sessions,
        [
            json!("[REDACTED]"),
            json!("s-postgres://[REDACTED]@db.internal:5432/x")
        ]
    );
}

#[test]
fn a_secret_as_a_parameter_key_is_redacted_in_the_key() {
    let v = Vault::new();
    let params = json!({SECRET_KEYS[0]: "x", "nested": [{SECRET_KEYS[1]: 2}], "plain": "kept"});
    v.cmd()
        .args(["log", "--level", "INFO", "--action", "x", "--actor", "a"])
        .args(["--target", "t", "--parameters", &params.to_string()])
        .run()
        .assert_code(0);
    let stored = &v.all_entries()[0]["parameters"];
    assert_eq!(
        stored,
        &json!({"[REDACTED]": "x", "nested": [{"[REDACTED]": 2}], "plain": "kept"})
    );
}

#[test]
fn a_card_number_is_redacted_and_an_order_number_failing_luhn_is_kept() {
    let v = Vault::new();
    v.cmd()
        .args(["log", "--level", "INFO", "--action", "x", "--actor", "a"])
        .args(["--target", "card 4539578763621486, order 4539578763621487"])
        .run()
        .assert_code(0);
    assert_eq!(
        v.all_entries()[0]["target"],
        "card [REDACTED], order 4539578763621487"
    );
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
