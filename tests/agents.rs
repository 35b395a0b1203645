//! The agent integrations end to end through the binary: the Claude Code
//! hook on the payloads in `fixtures/claude-code/`, `skill-run` with seed
//! 000's positional contract, and the MCP server over stdio.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::{Vault, BIN};
use serde_json::{json, Value};

fn fixture(v: &Vault, name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/claude-code/").to_owned() + name;
    std::fs::read_to_string(path)
        .expect("fixture")
        .replace("{{VAULT}}", &v.path().to_string_lossy())
}

/// Every entry logged, oldest day first: the binary timestamps them with
/// the real clock, so UTC midnight may fall between two of them.
fn logged(v: &Vault) -> Vec<Value> {
    v.all_entries()
}

/// Runs the hook on a fixture; returns the entry it logged, if any.
fn hook(v: &Vault, name: &str, env: &[(&str, &str)]) -> Option<Value> {
    let before = logged(v).len();
    let mut run = v
        .cmd()
        .args(["hook", "claude-code"])
        .stdin(fixture(v, name));
    for (k, val) in env {
        run = run.env(k, val);
    }
    let done = run.run();
    done.assert_code(0);
    assert_eq!(done.stdout, "", "a hook prints nothing on stdout");
    let after = logged(v);
    assert!(after.len() <= before + 1);
    after.get(before).cloned()
}

#[test]
fn each_tool_event_becomes_one_tool_call_entry() {
    let v = Vault::new();
    let bash = hook(&v, "post-tool-use-bash.json", &[]).expect("entry");
    assert_eq!(bash["action_type"], "tool_call");
    assert_eq!(bash["actor"], "claude_code");
    assert_eq!(bash["result"], "success");
    assert_eq!(bash["target"], "ls Needs_Action | wc -l");
    assert_eq!(bash["session_id"], "9f1c2e4a-7b3d-4c55-8e21-0a6b5d3f7c19");
    let p = &bash["parameters"];
    assert_eq!(p["tool_name"], "Bash");
    assert_eq!(p["tool_use_id"], "toolu_01HjK2mXb4Qk9Zr7Tn3Vw5Lp");
    assert_eq!(p["permission_mode"], "default");
    assert_eq!(p["exit_status"], 0);
    assert_eq!(p["output"], "3\n");

    let failed = hook(&v, "post-tool-use-failure-bash.json", &[]).expect("entry");
    assert_eq!(failed["log_level"], "ERROR");
    assert_eq!(failed["result"], "failure");
    assert!(failed["error_message"]
        .as_str()
        .expect("error")
        .contains("Connection refused"));
    assert_eq!(failed["parameters"]["is_interrupt"], false);
    assert_eq!(failed["parameters"]["exit_status"], 2);

    let write = hook(&v, "post-tool-use-write.json", &[]).expect("entry");
    assert_eq!(
        write["target"], "Plans/invoice-acme-Plan.md",
        "vault-relative"
    );
    assert_eq!(write["parameters"]["lines"], 5);
    assert!(
        !write.to_string().contains("Draft the invoice"),
        "never the contents"
    );

    let edit = hook(&v, "post-tool-use-edit.json", &[]).expect("entry");
    assert_eq!(edit["target"], "Dashboard.md");
    assert_eq!(edit["parameters"]["old_chars"], 12);
    assert!(
        !edit.to_string().contains("Pending: 3"),
        "never the contents"
    );

    let read = hook(&v, "post-tool-use-read.json", &[]).expect("entry");
    assert_eq!(read["target"], "Needs_Action/email-client-a.md");
    assert_eq!(read["parameters"]["lines"], 4);
    assert!(
        !read.to_string().contains("Please send"),
        "never the contents"
    );

    let grep = hook(&v, "post-tool-use-grep.json", &[]).expect("entry");
    assert_eq!(grep["target"], "Pending_Approval", "the path it searched");
    assert_eq!(grep["parameters"]["input"]["pattern"], "status: pending");

    let fetch = hook(&v, "post-tool-use-webfetch.json", &[]).expect("entry");
    assert_eq!(
        fetch["target"],
        "https://status.example.com/api/v2/status.json"
    );

    let mcp = hook(&v, "post-tool-use-mcp.json", &[]).expect("entry");
    assert_eq!(mcp["target"], "mcp__gmail__send_email");
    assert_eq!(mcp["parameters"]["input"]["to"], "client@example.com");

    let old = hook(&v, "post-tool-use-read-old.json", &[]).expect("entry");
    assert_eq!(old["target"], "Company_Handbook.md");
    assert!(old["parameters"].get("tool_use_id").is_none());
    assert!(old["parameters"].get("permission_mode").is_none());
    v.cmd().arg("verify").run().assert_code(0);
}

#[test]
fn session_and_prompt_events_are_system_events_and_pre_tool_use_is_opt_in() {
    let v = Vault::new();
    for (name, target) in [
        ("session-start.json", "session"),
        ("session-end.json", "session"),
        ("stop.json", "Stop"),
    ] {
        let e = hook(&v, name, &[]).expect("entry");
        assert_eq!(e["action_type"], "system_event", "{name}");
        assert_eq!(e["target"], target, "{name}");
    }
    let prompt = hook(&v, "user-prompt-submit.json", &[]).expect("entry");
    assert_eq!(prompt["parameters"]["prompt_length"], 65);
    assert!(
        !prompt.to_string().contains("Needs_Action and draft"),
        "no text unless enabled"
    );
    let with_text = hook(
        &v,
        "user-prompt-submit.json",
        &[("AUDIT_HOOK_PROMPT_TEXT", "true")],
    )
    .expect("entry");
    assert!(with_text["parameters"]["prompt"]
        .as_str()
        .expect("prompt")
        .starts_with("Process everything"));

    assert!(
        hook(&v, "pre-tool-use-bash.json", &[]).is_none(),
        "off by default"
    );
    let pre = hook(
        &v,
        "pre-tool-use-bash.json",
        &[("AUDIT_HOOK_PRE_TOOL_USE", "1")],
    )
    .expect("entry");
    assert_eq!(pre["result"], "skipped");
    assert_eq!(pre["parameters"]["phase"], "pre");
    let agent = hook(&v, "stop.json", &[("AUDIT_AGENT_ID", "ops_agent")]).expect("entry");
    assert_eq!(agent["actor"], "ops_agent");
}

#[test]
fn a_hook_never_blocks_the_agent() {
    let v = Vault::new();
    // Not JSON, no vault, bad flags: a warning and exit 0, never 2.
    let garbage = v
        .cmd()
        .args(["hook", "claude-code"])
        .stdin("{not json")
        .run();
    garbage.assert_code(0);
    assert!(garbage.stderr.contains("warning"), "{}", garbage.stderr);
    let nowhere = common::Run::new()
        .args([
            "--no-dry-run",
            "--vault",
            "/nonexistent/vault",
            "hook",
            "claude-code",
        ])
        .stdin(fixture(&v, "stop.json"))
        .run();
    nowhere.assert_code(0);
    assert!(nowhere.stderr.contains("warning"), "{}", nowhere.stderr);
    v.cmd()
        .args(["hook", "claude-code", "--bogus"])
        .stdin("{}")
        .run()
        .assert_code(0);
    // The lock held past the deadline: the entry goes to failed_writes.json.
    std::fs::create_dir_all(v.logs().join(".audit")).expect("state dir");
    let held = vault_audit::lock::HeldLock::hold(&v.logs().join(".audit/lock")).expect("hold");
    let done = v
        .cmd()
        .env("AUDIT_LOCK_TIMEOUT_MS", "200")
        .args(["hook", "claude-code"])
        .stdin(fixture(&v, "post-tool-use-bash.json"))
        .run();
    drop(held);
    done.assert_code(0);
    assert!(
        done.stderr.contains("failed_writes.json"),
        "{}",
        done.stderr
    );
    let saved = std::fs::read_to_string(v.logs().join("failed_writes.json")).expect("saved");
    assert!(saved.contains("toolu_01HjK2mXb4Qk9Zr7Tn3Vw5Lp"));
}

#[test]
fn skill_run_follows_seed_000s_contract() {
    let v = Vault::new();
    let ok = v
        .cmd()
        .args(["skill-run", "workflow.validate", "success", "150"])
        .run();
    ok.assert_code(0);
    let r = ok.response();
    assert_eq!(r["ok"], true);
    assert_eq!(r["details"]["status"], "success");
    assert_eq!(r["details"]["audit_entry"]["actor"], "workflow.validate");
    assert_eq!(r["details"]["audit_entry"]["action_type"], "skill_run");
    assert_eq!(
        r["details"]["audit_entry"]["parameters"]["duration_ms"],
        150
    );
    assert_eq!(r["details"]["total_entries"], 1);
    assert!(r["details"]["audit_log_path"]
        .as_str()
        .expect("path")
        .starts_with("Logs/"));

    let failed = v
        .cmd()
        .args([
            "skill-run",
            "workflow.compose",
            "timeout",
            "",
            r#"["Step 3 failed", "Timeout occurred"]"#,
            r#"{"api": "users.yaml", "endpoints": 12}"#,
        ])
        .run();
    failed.assert_code(0);
    let e = &failed.response()["details"]["audit_entry"];
    assert_eq!(e["result"], "failure");
    assert_eq!(e["log_level"], "ERROR");
    assert_eq!(e["parameters"]["status"], "timeout");
    assert!(
        e["parameters"].get("duration_ms").is_none(),
        "\"\" means absent"
    );
    assert_eq!(
        e["parameters"]["errors"],
        json!(["Step 3 failed", "Timeout occurred"])
    );
    assert_eq!(e["parameters"]["metadata"]["endpoints"], 12);

    for (args, needle) in [
        (
            vec!["skill-run", "s", "success", "soon"],
            "duration_ms: \"soon\"",
        ),
        (vec!["skill-run", "s", "failed", "1", "{}"], "errors_json"),
        (
            vec!["skill-run", "s", "failed", "1", "[]", "[1]"],
            "metadata_json",
        ),
    ] {
        let bad = v.cmd().args(&args).run();
        bad.assert_code(2);
        let r = bad.response();
        assert_eq!(r["ok"], false);
        assert!(
            r["errors"][0].as_str().expect("error").contains(needle),
            "{r}"
        );
    }
}

/// An MCP client over the server's stdio.
struct Client {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
    next: u64,
}

impl Client {
    fn start(v: &Vault) -> Client {
        Client::start_at(v.path())
    }

    fn start_at(folder: &std::path::Path) -> Client {
        let mut child = Command::new(BIN)
            .args(["--no-dry-run", "--vault"])
            .arg(folder)
            .arg("mcp")
            .env_remove("AUDIT_CHAIN_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mcp");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        Client {
            child,
            out,
            next: 1,
        }
    }

    fn send(&mut self, msg: &Value) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{msg}").expect("send");
        stdin.flush().expect("flush");
    }

    fn recv(&mut self) -> Value {
        let mut line = String::new();
        self.out.read_line(&mut line).expect("read");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let reply = self.recv();
        assert_eq!(reply["jsonrpc"], "2.0");
        assert_eq!(reply["id"], id);
        reply
    }

    fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}))["result"].clone()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

#[test]
fn the_mcp_server_logs_decisions_and_answers_queries_over_stdio() {
    let v = Vault::new();
    let mut c = Client::start(&v);
    let init = c.request(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
    );
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(init["result"]["serverInfo"]["name"], "vault-audit");
    assert!(init["result"]["capabilities"]["tools"].is_object());
    c.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let list = c.request("tools/list", json!({}));
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["log_action", "query_logs", "stats", "verify"]);

    let decided = c.call(
        "log_action",
        json!({
            "question": "Should we rollback deployment v1.2.3?",
            "options": [
                {"option": "rollback", "reasoning": "Error rate 5x baseline", "score": 0.85},
                {"option": "monitor", "reasoning": "Errors may be transient", "score": 0.2}
            ],
            "chosen": "rollback",
            "confidence": 0.85,
            "session_id": "conv-456"
        }),
    );
    assert_eq!(decided["isError"], false, "{decided}");
    let e = &decided["structuredContent"]["entry"];
    assert_eq!(e["action_type"], "decision");
    assert_eq!(e["parameters"]["chosen_option"], "rollback");
    assert_eq!(e["parameters"]["options_considered"][1]["score"], 0.2);

    let acted = c.call(
        "log_action",
        json!({"action_type": "email_sent", "target": "client@example.com", "log_level": "WARNING", "session_id": "conv-456"}),
    );
    assert_eq!(acted["isError"], false, "{acted}");
    let bad = c.call(
        "log_action",
        json!({"action_type": "Bad Type", "target": "x"}),
    );
    assert_eq!(bad["isError"], true);
    assert!(bad["content"][0]["text"]
        .as_str()
        .expect("text")
        .contains("action_type"));

    let found = c.call("query_logs", json!({"session": "conv-456", "limit": 1}));
    assert_eq!(found["structuredContent"]["matched"], 2);
    assert_eq!(found["structuredContent"]["returned"], 1);
    assert_eq!(
        found["structuredContent"]["entries"][0]["action_type"],
        "email_sent"
    );
    let stats = c.call("stats", json!({}));
    let index = &stats["structuredContent"];
    assert_eq!(index["total_entries_all_time"], 2, "{stats}");
    let days = index["log_files"].as_array().map(Vec::len);
    assert_eq!(index["total_log_files"].as_u64(), days.map(|d| d as u64));
    let verified = c.call("verify", json!({}));
    assert_eq!(verified["structuredContent"]["ok"], true, "{verified}");
    assert_eq!(verified["structuredContent"]["entries"], 2, "{verified}");
    let warn = c.call("query_logs", json!({"level": ["warning"]}));
    assert_eq!(warn["structuredContent"]["matched"], 1);
    let bad_q = c.call("query_logs", json!({"since": "yesterday-ish"}));
    assert_eq!(bad_q["isError"], true);
    // Every wrong argument at once, named as the tool names it.
    let bad_many = c.call(
        "query_logs",
        json!({"since": "yesterday-ish", "level": ["INFO", "LOUD"], "approval_status": "maybe", "actor": 7, "limit": 0}),
    );
    assert_eq!(bad_many["isError"], true);
    let text = bad_many["content"][0]["text"].as_str().expect("text");
    for part in [
        "since \"yesterday-ish\": accepted: a duration back from now",
        "level \"LOUD\": accepted: one of INFO, WARNING, ERROR, CRITICAL",
        "approval_status \"maybe\": accepted: one of",
        "actor: 7 is not accepted; give a string",
        "limit: 0 is not accepted",
    ] {
        assert!(text.contains(part), "{part} in {text}");
    }
    assert!(!text.contains("--"), "{text}");

    let unknown = c.request("no/such", json!({}));
    assert_eq!(unknown["error"]["code"], -32601);
    c.send(&json!({"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {"name": "nope", "arguments": {}}}));
    assert_eq!(c.recv()["error"]["code"], -32602);
    // Arguments that are not an object: invalid params, said so.
    let listed = c.request(
        "tools/call",
        json!({"name": "log_action", "arguments": [1, 2]}),
    );
    assert_eq!(listed["error"]["code"], -32602, "{listed}");
    assert!(listed["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("a JSON object")));
    // A line that is not JSON is ignored, as the official SDKs do (an
    // answer to garbage could start an error storm); the server goes on.
    let stdin = c.child.stdin.as_mut().expect("stdin");
    writeln!(stdin, "{{broken").expect("send");
    stdin.flush().expect("flush");
    assert!(c.request("ping", json!({}))["result"].is_object());
    // A JSON-RPC batch, removed from the protocol in 2025-06-18, is refused.
    c.send(&json!([{"jsonrpc": "2.0", "id": 100, "method": "ping"}]));
    assert_eq!(c.recv()["error"]["code"], -32600);
    assert_eq!(logged(&v).len(), 2);
}

#[test]
fn a_failure_spike_recorded_by_the_hook_raises_one_alert_note_with_no_daemon() {
    let v = Vault::new();
    let spike = [("AUDIT_ALERT_ACTOR_FAILURES", "1")];
    let first = hook(&v, "post-tool-use-failure-bash.json", &spike).expect("logged");
    assert!(
        first["log_level"] == "ERROR" || first["result"] == "failure",
        "{first}"
    );
    let notes =
        || -> usize { std::fs::read_dir(v.path().join("Needs_Action")).map_or(0, |d| d.count()) };
    assert_eq!(notes(), 0, "one failure is no spike");
    hook(&v, "post-tool-use-failure-bash.json", &spike).expect("logged");
    assert_eq!(notes(), 1);
}

#[test]
fn a_critical_entry_logged_over_mcp_raises_an_alert_note_with_no_daemon() {
    let v = Vault::new();
    let mut c = Client::start(&v);
    c.request(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
    );
    c.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let acted = c.call(
        "log_action",
        json!({"action_type": "payment_sent", "target": "invoice-7", "log_level": "CRITICAL"}),
    );
    assert_eq!(acted["isError"], false, "{acted}");
    drop(c);
    let notes: Vec<_> = std::fs::read_dir(v.path().join("Needs_Action"))
        .expect("Needs_Action")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].ends_with("_CRITICAL.md"), "{notes:?}");
}

#[test]
fn the_mcp_server_negotiates_2025_11_25_and_older_revisions() {
    let v = Vault::new();
    for (asked, agreed) in [
        ("2025-11-25", "2025-11-25"),
        ("2025-06-18", "2025-06-18"),
        ("2025-03-26", "2025-03-26"),
        ("2024-11-05", "2024-11-05"),
        ("1999-01-01", "2025-11-25"),
    ] {
        let mut c = Client::start(&v);
        let init = c.request(
            "initialize",
            json!({"protocolVersion": asked, "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
        );
        assert_eq!(init["result"]["protocolVersion"], agreed, "{init}");
    }
}

#[test]
fn the_mcp_tools_declare_required_fields_and_the_entry_s_own_values() {
    let v = Vault::new();
    let mut c = Client::start(&v);
    c.request(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
    );
    c.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let list = c.request("tools/list", json!({}));
    let tools = &list["result"]["tools"];
    let log = &tools[0];
    assert_eq!(log["name"], "log_action");
    let input = &log["inputSchema"];
    assert_eq!(input["required"], json!(["action_type", "target"]));
    assert_eq!(input["additionalProperties"], false);
    let p = &input["properties"];
    assert_eq!(
        p["result"]["enum"],
        json!(["success", "failure", "skipped", null])
    );
    assert_eq!(
        p["approval_status"]["enum"],
        json!([
            "not_required",
            "pending",
            "approved",
            "rejected",
            "expired",
            null
        ])
    );
    assert_eq!(
        p["approved_by"]["enum"],
        json!(["human", "system", "N/A", null])
    );
    assert!(log["outputSchema"]["properties"]["entry"].is_object());
    assert!(tools[1]["outputSchema"]["properties"]["entries"].is_object());
    // Every required field missing is named at once, with what is accepted.
    let missing = c.call("log_action", json!({}));
    assert_eq!(missing["isError"], true);
    let text = missing["content"][0]["text"].as_str().expect("text");
    assert!(text.contains("missing field \"action_type\""), "{text}");
    assert!(text.contains("missing field \"target\""), "{text}");
    let unknown = c.call(
        "log_action",
        json!({"action_type": "x", "target": "t", "colour": "red"}),
    );
    assert_eq!(unknown["isError"], true);
    assert!(unknown["content"][0]["text"]
        .as_str()
        .expect("text")
        .starts_with("colour: not an argument of log_action; accepted: action_type, target,"));
    assert_eq!(logged(&v).len(), 0);
}

/// The conformance test in `tests/mcp_conformance/`, with the official
/// Python SDK (`pip install mcp`, as `.ci/run` does). Without the package
/// it says so loudly and passes: CI installs it.
#[test]
fn the_official_python_sdk_finds_the_mcp_server_conformant() {
    let probe = Command::new("python3").args(["-c", "import mcp"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "\n\n*** SKIPPED: MCP conformance needs the Python `mcp` package: python3 -m pip install mcp ***\n\n"
        );
        return;
    }
    let v = Vault::new();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/mcp_conformance/conformance.py"
    );
    let done = Command::new("python3")
        .arg(script)
        .arg(BIN)
        .arg(v.path())
        .env_remove("AUDIT_CHAIN_KEY")
        .output()
        .expect("run python3");
    let out = String::from_utf8_lossy(&done.stdout);
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{out}\n{err}");
    assert!(out.contains("MCP conformance: ok"), "{out}\n{err}");
}

#[test]
fn the_mcp_server_given_a_project_folder_logs_into_the_vault_one_folder_down() {
    let project = tempfile::tempdir().expect("tempdir");
    let vault = project.path().join("AI_Employee_Vault");
    std::fs::create_dir_all(vault.join(".obsidian")).expect("mkdir");
    let mut c = Client::start_at(project.path());
    c.request(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
    );
    c.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let done = c.call(
        "log_action",
        json!({"question": "Ship it?", "options": [{"option": "yes", "reasoning": "tests pass", "score": 0.9}], "chosen": "yes", "confidence": 0.9}),
    );
    assert_eq!(done["isError"], false, "{done}");
    drop(c);
    assert!(
        !project.path().join("Logs").exists(),
        "nothing in the project root"
    );
    let days = std::fs::read_dir(vault.join("Logs"))
        .expect("the vault's Logs/")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().len() == 15)
        .count();
    assert_eq!(days, 1);
}

#[test]
fn the_mcp_server_refuses_a_folder_with_no_vault_in_it() {
    let bare = tempfile::tempdir().expect("tempdir");
    let done = Command::new(BIN)
        .args(["--no-dry-run", "--vault"])
        .arg(bare.path())
        .arg("mcp")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(done.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&done.stderr).contains("is not a vault"));
    assert!(std::fs::read_dir(bare.path()).expect("ls").next().is_none());
}
