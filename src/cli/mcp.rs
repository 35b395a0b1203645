//! `vault-audit mcp`: an MCP server over stdio (JSON-RPC 2.0, one message
//! per line) with two tools: `log_action` and `query_logs`.
//!
//! A small implementation of the stdio transport rather than the Rust SDK,
//! which needs an async runtime: `initialize`, `notifications/initialized`,
//! `ping`, `tools/list` and `tools/call`. Tool failures (a bad argument, an
//! entry that does not validate, a write that failed) are tool results with
//! `isError: true`, as MCP asks, so the agent sees the message; protocol
//! errors are JSON-RPC errors. Nothing but JSON-RPC goes to stdout.

use std::ops::ControlFlow;

use serde_json::{json, Map, Value};

use crate::cli::args::QueryArgs;
use crate::cli::config::Config;
use crate::cli::exit;
use crate::cli::{CliError, Io};
use crate::entry::Entry;
use crate::logger::AuditLogger;

/// The protocol versions spoken, newest first.
const VERSIONS: &[&str] = &["2025-06-18", "2025-03-26", "2024-11-05"];

/// The most entries `query_logs` returns.
const MAX_LIMIT: u64 = 500;

/// Serves until stdin closes; returns the exit code.
pub fn run(config: &Config, io: &mut Io<'_>) -> Result<u8, CliError> {
    // Dry-run lines go to stderr: stdout carries only JSON-RPC.
    let logger = config
        .builder_for(config.vault()?, config.dry_run)
        .dry_run_output(std::io::stderr())
        .build()?;
    let server = Server {
        logger: &logger,
        actor: config.agent_id().to_owned(),
    };
    let mut line = String::new();
    loop {
        line.clear();
        match io.stdin.read_line(&mut line) {
            Ok(0) => return Ok(exit::OK),
            Ok(_) => {}
            Err(e) => {
                let _ = writeln!(io.stderr, "vault-audit mcp: reading stdin: {e}");
                return Ok(exit::IO);
            }
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some(reply) = server.message(line.trim()) {
            if writeln!(io.stdout, "{reply}")
                .and_then(|()| io.stdout.flush())
                .is_err()
            {
                return Ok(exit::OK);
            }
        }
    }
}

/// The server's state: the logger and the default actor.
pub struct Server<'a> {
    /// Where entries go.
    pub logger: &'a AuditLogger,
    /// The actor of entries that name none.
    pub actor: String,
}

fn error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

fn tool_result(text: String, structured: Value, is_error: bool) -> Value {
    json!({
        "content": [{"type": "text", "text": text}],
        "structuredContent": structured,
        "isError": is_error,
    })
}

impl Server<'_> {
    /// Handles one line: a message or a batch; the reply, if any.
    pub fn message(&self, text: &str) -> Option<String> {
        let parsed: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                return Some(error(Value::Null, -32700, format!("parse error: {e}")).to_string())
            }
        };
        match parsed {
            Value::Array(batch) => {
                let replies: Vec<Value> = batch.into_iter().filter_map(|m| self.one(m)).collect();
                (!replies.is_empty()).then(|| Value::Array(replies).to_string())
            }
            single => self.one(single).map(|v| v.to_string()),
        }
    }

    fn one(&self, msg: Value) -> Option<Value> {
        let id = msg.get("id").cloned();
        let Some(method) = msg.get("method").and_then(Value::as_str) else {
            // A response from the client (we send no requests) or garbage.
            return id.map(|id| error(id, -32600, "invalid request: no method"));
        };
        let params = msg.get("params").cloned().unwrap_or(json!({}));
        let id = id?; // notifications get no reply
        let result = match method {
            "initialize" => Ok(self.initialize(&params)),
            "ping" => Ok(json!({})),
            "tools/list" => Ok(json!({"tools": tools()})),
            "tools/call" => self.call(&params),
            other => Err((-32601, format!("method not found: {other}"))),
        };
        Some(match result {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err((code, message)) => error(id, code, message),
        })
    }

    fn initialize(&self, params: &Value) -> Value {
        let asked = params.get("protocolVersion").and_then(Value::as_str);
        let version = asked
            .filter(|v| VERSIONS.contains(v))
            .unwrap_or(VERSIONS[0]);
        json!({
            "protocolVersion": version,
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": {"name": "vault-audit", "version": env!("CARGO_PKG_VERSION")},
            "instructions": "Record what you do with log_action (decisions: question, options, chosen, confidence) and read your history with query_logs."
        })
    }

    fn call(&self, params: &Value) -> Result<Value, (i64, String)> {
        let name = params.get("name").and_then(Value::as_str).unwrap_or("");
        let args = params.get("arguments").cloned().unwrap_or(json!({}));
        let Value::Object(args) = args else {
            return Err((-32602, "arguments must be an object".into()));
        };
        match name {
            "log_action" => Ok(self.log_action(args)),
            "query_logs" => Ok(self.query_logs(&args)),
            other => Err((
                -32602,
                format!("unknown tool: {other:?}; tools: log_action, query_logs"),
            )),
        }
    }

    fn log_action(&self, mut args: Map<String, Value>) -> Value {
        let entry = match decision_entry(&mut args, &self.actor)
            .and_then(|v| Entry::from_value(v).map_err(|e| e.to_string()))
        {
            Ok(e) => e,
            Err(message) => {
                return tool_result(
                    message.clone(),
                    json!({"ok": false, "error": message}),
                    true,
                )
            }
        };
        match self.logger.log(entry) {
            Ok(receipt) => {
                let stored = receipt
                    .entries
                    .first()
                    .map(|e| serde_json::to_value(e).unwrap_or(Value::Null));
                let file = receipt.files.last();
                let path = file.map(|f| self.logger.vault().relative(&f.path).into_owned());
                let text = match (&path, file) {
                    (Some(p), Some(f)) => {
                        format!("logged to {p} ({} entries that day)", f.total_entries)
                    }
                    _ => "validated (dry run: nothing written)".to_owned(),
                };
                tool_result(
                    text,
                    json!({"ok": true, "path": path, "total_entries": file.map(|f| f.total_entries), "dry_run": receipt.dry_run, "entry": stored}),
                    false,
                )
            }
            Err(e) => tool_result(
                e.to_string(),
                json!({"ok": false, "error": e.to_string()}),
                true,
            ),
        }
    }

    fn query_logs(&self, args: &Map<String, Value>) -> Value {
        match self.try_query(args) {
            Ok(v) => v,
            Err(message) => tool_result(
                message.clone(),
                json!({"ok": false, "error": message}),
                true,
            ),
        }
    }

    fn try_query(&self, args: &Map<String, Value>) -> Result<Value, String> {
        let s = |k: &str| -> Result<Option<String>, String> {
            match args.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(v)) => Ok(Some(v.clone())),
                Some(other) => Err(format!("{k}: {other} is not accepted; give a string")),
            }
        };
        let level = match args.get("level") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(l)) => vec![l.clone()],
            Some(Value::Array(list)) => list
                .iter()
                .map(|l| {
                    l.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("level: {l} is not a string"))
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(format!(
                    "level: {other} is not accepted; give a level or a list of levels"
                ))
            }
        };
        let limit = match args.get("limit") {
            None | Some(Value::Null) => 50,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    format!("limit: {v} is not accepted; give a whole number from 1 to {MAX_LIMIT}")
                })?,
        };
        let q = QueryArgs {
            since: s("since")?,
            until: s("until")?,
            level,
            action: s("action")?,
            actor: s("actor")?,
            target: s("target")?,
            result: s("result")?,
            session: s("session")?,
            approval_status: s("approval_status")?,
            contains: s("contains")?,
            format: None,
            count: false,
            stats: false,
        };
        let filter = crate::cli::query::filter(&q, self.logger.now())
            .map_err(|e| e.to_string().replace("--", ""))?;
        let mut matched = 0u64;
        let mut last: std::collections::VecDeque<Value> = std::collections::VecDeque::new();
        crate::query::scan(self.logger.vault(), &filter, true, |line, _| {
            matched += 1;
            if last.len() as u64 == limit {
                last.pop_front();
            }
            last.push_back(serde_json::from_str(line).unwrap_or(Value::Null));
            ControlFlow::Continue(())
        })
        .map_err(|e| format!("could not read the logs: {e}"))?;
        let entries: Vec<Value> = last.into();
        let text = serde_json::to_string(&entries).unwrap_or_default();
        Ok(tool_result(
            format!(
                "{matched} entries match; the last {} in time order: {text}",
                entries.len()
            ),
            json!({"ok": true, "matched": matched, "returned": entries.len(), "entries": entries}),
            false,
        ))
    }
}

/// The twelve fields from `log_action`'s arguments, with defaults; seed
/// 003's decision fields go into `parameters` with action type `decision`.
fn decision_entry(args: &mut Map<String, Value>, actor: &str) -> Result<Value, String> {
    let mut params = match args.remove("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(format!(
                "parameters: {other} is not accepted; give a JSON object"
            ))
        }
    };
    let question = args.remove("question");
    let is_decision = question.is_some();
    if let Some(q) = question {
        params.insert("question".into(), q);
        for (from, to) in [
            ("options", "options_considered"),
            ("options_considered", "options_considered"),
            ("chosen", "chosen_option"),
            ("confidence", "confidence"),
        ] {
            if let Some(v) = args.remove(from) {
                params.insert(to.into(), v);
            }
        }
    }
    for k in ["options", "options_considered", "chosen", "confidence"] {
        if args.contains_key(k) {
            return Err(format!("{k}: only with question (a decision)"));
        }
    }
    let mut take = |k: &str, default: Value| args.remove(k).unwrap_or(default);
    let entry = json!({
        "timestamp": take("timestamp", Value::Null),
        "log_level": take("log_level", "INFO".into()),
        "action_type": take("action_type", if is_decision { "decision".into() } else { Value::Null }),
        "actor": take("actor", actor.into()),
        "target": take("target", if is_decision { "decision".into() } else { Value::Null }),
        "parameters": params,
        "approval_status": take("approval_status", "not_required".into()),
        "approved_by": take("approved_by", "N/A".into()),
        "dry_run": take("dry_run", false.into()),
        "result": take("result", "success".into()),
        "error_message": take("error_message", Value::Null),
        "session_id": take("session_id", Value::Null),
    });
    if let Some(extra) = args.keys().next() {
        return Err(format!(
            "{extra}: not a field of log_action; see tools/list for its schema"
        ));
    }
    Ok(entry)
}

/// The two tools and their input schemas.
fn tools() -> Value {
    let s = |d: &str| json!({"type": "string", "description": d});
    json!([
        {
            "name": "log_action",
            "description": "Record an action (or, with question, a decision) in the vault's audit log. Secrets are redacted before anything is written.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "action_type": s("lower_snake_case, up to 64 characters (e.g. tool_call, email_sent); default decision when question is given"),
                    "target": s("what was acted on: a vault path, an email, a URL"),
                    "log_level": {"type": "string", "enum": ["INFO", "WARNING", "ERROR", "CRITICAL"]},
                    "actor": s("who acted (default: the agent id)"),
                    "parameters": {"type": "object", "description": "details of the action"},
                    "result": {"type": "string", "enum": ["success", "failure", "partial", "skipped"]},
                    "error_message": s("what went wrong"),
                    "approval_status": {"type": "string", "enum": ["not_required", "pending", "approved", "rejected"]},
                    "approved_by": s("human, system, auto or N/A"),
                    "dry_run": {"type": "boolean"},
                    "session_id": s("the session (default: the server's)"),
                    "timestamp": s("RFC 3339; default now"),
                    "question": s("a decision: the question decided"),
                    "options": {"type": "array", "description": "options considered", "items": {"type": "object", "properties": {"option": {"type": "string"}, "reasoning": {"type": "string"}, "score": {"type": "number"}}}},
                    "chosen": s("the option chosen"),
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1}
                }
            }
        },
        {
            "name": "query_logs",
            "description": "Read the audit log: entries matching all filters given, in time order, the last `limit` of them.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "since": s("a duration back from now (30m, 1h, 7d), an RFC 3339 time or a date"),
                    "until": s("as since"),
                    "level": {"type": ["string", "array"], "items": {"type": "string"}, "description": "INFO, WARNING, ERROR, CRITICAL; a list means any of them"},
                    "action": s("action_type, exact"),
                    "actor": s("actor, exact"),
                    "target": s("text in the target"),
                    "result": s("success, failure, partial, skipped"),
                    "session": s("session_id, exact"),
                    "approval_status": s("not_required, pending, approved, rejected"),
                    "contains": s("text anywhere in the entry"),
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}
                }
            }
        }
    ])
}
