//! `vault-audit mcp`: an MCP server over stdio (JSON-RPC 2.0, one message
//! per line) with two tools: `log_action` and `query_logs`.
//!
//! A small implementation of the stdio transport rather than the Rust SDK,
//! which needs an async runtime: `initialize`, `notifications/initialized`,
//! `ping`, `tools/list` and `tools/call`. Tool failures (a bad argument, an
//! entry that does not validate, a write that failed) are tool results with
//! `isError: true`, as MCP asks, so the agent sees the message; protocol
//! errors are JSON-RPC errors. Nothing but JSON-RPC goes to stdout.

use std::collections::VecDeque;
use std::ops::ControlFlow;

use serde_json::{json, Map, Value};

use crate::cli::config::Config;
use crate::cli::exit;
use crate::cli::{CliError, Io};
use crate::entry::EntryError;
use crate::logger::AuditLogger;
use crate::query::{Filter, FilterSpec};
use crate::redact::Redactor;

/// The protocol versions spoken, newest first.
const VERSIONS: &[&str] = &["2025-06-18", "2025-03-26", "2024-11-05"];

/// The most entries `query_logs` returns.
const MAX_LIMIT: u64 = 500;

/// Serves until stdin closes; returns the exit code.
pub fn run(config: &Config, io: &mut Io<'_>) -> Result<u8, CliError> {
    // Dry-run lines go to stderr: stdout carries only JSON-RPC.
    let given = config.vault()?;
    let vault = crate::cli::agent::resolve_vault(config, given)?.ok_or_else(|| {
        CliError::Usage(format!(
            "{} is not a vault (no Logs/, Dashboard.md or .obsidian/, nor one folder below it that is); pass the vault's folder, or --init to make this one",
            given.display()
        ))
    })?;
    let logger = config
        .builder_for(&vault, config.dry_run)
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

/// A JSON-RPC error: the request could not be handled at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RpcError {
    /// The JSON-RPC error code.
    pub code: i64,
    /// What went wrong.
    pub message: String,
}

impl RpcError {
    /// Not JSON.
    pub const PARSE: i64 = -32700;
    /// JSON, but not a request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// No such method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Bad parameters (an unknown tool, arguments that are not an object).
    pub const INVALID_PARAMS: i64 = -32602;

    fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
        }
    }

    /// The error response to request `id`.
    fn to_response(&self, id: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": self.code, "message": self.message}})
    }
}

/// Why a tool call failed: a tool result with `isError`, for the agent to read.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// Arguments not accepted, every one named by its argument name.
    #[error("{}", .0.join("; "))]
    Arguments(Vec<String>),
    /// The entry does not validate.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The entry was not written.
    #[error(transparent)]
    Write(Box<crate::Error>),
    /// The day files could not be read.
    #[error("could not read the logs: {0}")]
    Read(#[from] std::io::Error),
}

impl ToolError {
    fn argument(message: String) -> Self {
        ToolError::Arguments(vec![message])
    }

    /// The tool result that reports it, redacted.
    fn to_result(&self, red: &Redactor) -> Value {
        let message = match self {
            ToolError::Entry(e) => red.error(e.clone()).to_string(),
            other => other.to_string(),
        };
        let message = red.text(&message).into_owned();
        tool_result(
            message.clone(),
            json!({"ok": false, "error": message}),
            true,
        )
    }
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
                let e = RpcError::new(RpcError::PARSE, format!("parse error: {e}"));
                return Some(e.to_response(Value::Null).to_string());
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
            let e = RpcError::new(RpcError::INVALID_REQUEST, "invalid request: no method");
            return id.map(|id| e.to_response(id));
        };
        let params = msg.get("params").cloned().unwrap_or(json!({}));
        let id = id?; // notifications get no reply
        let result = match method {
            "initialize" => Ok(self.initialize(&params)),
            "ping" => Ok(json!({})),
            "tools/list" => Ok(json!({"tools": tools()})),
            "tools/call" => self.call(&params),
            other => Err(RpcError::new(
                RpcError::METHOD_NOT_FOUND,
                format!("method not found: {other}"),
            )),
        };
        Some(match result {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(mut e) => {
                // It may quote what the client sent (a method, a tool name).
                e.message = self.logger.redactor().text(&e.message).into_owned();
                e.to_response(id)
            }
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

    fn call(&self, params: &Value) -> Result<Value, RpcError> {
        let name = params.get("name").and_then(Value::as_str).unwrap_or("");
        let args = params.get("arguments").cloned().unwrap_or(json!({}));
        let Value::Object(args) = args else {
            return Err(RpcError::new(
                RpcError::INVALID_PARAMS,
                "arguments must be an object",
            ));
        };
        let result = match name {
            "log_action" => self.log_action(args),
            "query_logs" => self.query_logs(&args),
            other => {
                return Err(RpcError::new(
                    RpcError::INVALID_PARAMS,
                    format!("unknown tool: {other:?}; tools: log_action, query_logs"),
                ))
            }
        };
        Ok(result.unwrap_or_else(|e| e.to_result(self.logger.redactor())))
    }

    fn log_action(&self, mut args: Map<String, Value>) -> Result<Value, ToolError> {
        let red = self.logger.redactor();
        let value = decision_entry(&mut args, &self.actor, red)?;
        let entry = self
            .logger
            .entry_from_value(value)
            .map_err(|e| red.error(e))?;
        let receipt = self
            .logger
            .log(entry)
            .map_err(|e| ToolError::Write(Box::new(e)))?;
        let stored = receipt
            .entries
            .first()
            .map(|e| serde_json::to_value(e).unwrap_or(Value::Null));
        let file = receipt.files.last();
        let path = file.map(|f| self.logger.vault().relative(&f.path).into_owned());
        let text = match (&path, file) {
            (Some(p), Some(f)) => format!("logged to {p} ({} entries that day)", f.total_entries),
            _ => "validated (dry run: nothing written)".to_owned(),
        };
        Ok(tool_result(
            text,
            json!({"ok": true, "path": path, "total_entries": file.map(|f| f.total_entries), "dry_run": receipt.dry_run, "entry": stored}),
            false,
        ))
    }

    fn query_logs(&self, args: &Map<String, Value>) -> Result<Value, ToolError> {
        let (filter, limit) = query_args(args, self.logger.now())?;
        let mut matched = 0u64;
        let mut last: VecDeque<Value> = VecDeque::new();
        let mut keep = |line: &str| {
            matched += 1;
            if last.len() as u64 == limit {
                last.pop_front();
            }
            last.push_back(serde_json::from_str(line).unwrap_or(Value::Null));
        };
        // The main files (a replica's logger reads them too), then what
        // replicas wrote that the primary has not taken in yet.
        let vault = self.logger.vault().primary();
        crate::query::scan(&vault, &filter, true, |line, _| {
            keep(line);
            ControlFlow::Continue(())
        })?;
        for line in crate::cli::query::untaken_matching(&vault, &filter)? {
            keep(&line);
        }
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

/// The filter and limit of a `query_logs` call, or every argument not
/// accepted, named by its argument name.
fn query_args(
    args: &Map<String, Value>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Filter, u64), ToolError> {
    let mut refused = Vec::new();
    let levels = levels(args.get("level"), &mut refused);
    let limit = match args.get("limit") {
        None | Some(Value::Null) => Some(50),
        Some(v) => {
            let n = v.as_u64().filter(|n| (1..=MAX_LIMIT).contains(n));
            if n.is_none() {
                refused.push(format!(
                    "limit: {v} is not accepted; give a whole number from 1 to {MAX_LIMIT}"
                ));
            }
            n
        }
    };
    let mut text = |k: &str| match args.get(k) {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => Some(v.clone()),
        Some(other) => {
            refused.push(format!("{k}: {other} is not accepted; give a string"));
            None
        }
    };
    let spec = FilterSpec {
        since: text("since"),
        until: text("until"),
        levels,
        action: text("action"),
        actor: text("actor"),
        target: text("target"),
        result: text("result"),
        session: text("session"),
        approval_status: text("approval_status"),
        contains: text("contains"),
    };
    let filter = match Filter::new(&spec, now) {
        Ok(filter) => Some(filter),
        Err(e) => {
            refused.extend(e.fields.iter().map(ToString::to_string));
            None
        }
    };
    match (filter, limit) {
        (Some(filter), Some(limit)) if refused.is_empty() => Ok((filter, limit)),
        _ => Err(ToolError::Arguments(refused)),
    }
}

/// `level`: one level or a list of them.
fn levels(value: Option<&Value>, refused: &mut Vec<String>) -> Vec<String> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(l)) => vec![l.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|l| {
                let level = l.as_str().map(str::to_owned);
                if level.is_none() {
                    refused.push(format!("level: {l} is not a string"));
                }
                level
            })
            .collect(),
        Some(other) => {
            refused.push(format!(
                "level: {other} is not accepted; give a level or a list of levels"
            ));
            Vec::new()
        }
    }
}

/// The twelve fields from `log_action`'s arguments, with defaults; seed
/// 003's decision fields go into `parameters` with action type `decision`.
fn decision_entry(
    args: &mut Map<String, Value>,
    actor: &str,
    red: &Redactor,
) -> Result<Value, ToolError> {
    let mut params = match args.remove("parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(mut other) => {
            red.value(&mut other);
            return Err(ToolError::argument(format!(
                "parameters: {other} is not accepted; give a JSON object"
            )));
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
            return Err(ToolError::argument(format!(
                "{k}: only with question (a decision)"
            )));
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
        return Err(ToolError::argument(format!(
            "{extra}: not a field of log_action; see tools/list for its schema"
        )));
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
