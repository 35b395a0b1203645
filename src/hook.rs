//! Claude Code hook events as audit entries.
//!
//! A command hook receives one JSON object on stdin: `session_id`,
//! `transcript_path`, `cwd`, `permission_mode`, `hook_event_name`, and per
//! event more (`tool_name`, `tool_input`, `tool_response`, `tool_use_id`,
//! `error`, `is_interrupt`, `prompt`, `source`, `reason`, ...). Unknown fields
//! are ignored and optional ones may be missing (older versions lack
//! `permission_mode` and `tool_use_id`).
//!
//! Summaries never carry file contents: Write and Edit record sizes, Read
//! records the line count, Bash the command, exit status and the first 500
//! characters of output; other tools their input with every string cut to 500
//! characters. Redaction then runs over the whole entry, as for every entry.

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::entry::{ActionType, Entry, LogLevel, Outcome, ValueError};
use crate::redact::Redactor;

/// How long a string of a summary may be, in characters.
pub const SUMMARY_CHARS: usize = 500;

/// What the hook records besides the defaults.
#[derive(Debug, Clone)]
pub struct HookSettings {
    /// The entries' actor (`claude_code`, or `AUDIT_AGENT_ID`).
    pub actor: String,
    /// Whether `PreToolUse` events are recorded (`AUDIT_HOOK_PRE_TOOL_USE`).
    pub pre_tool_use: bool,
    /// Whether a prompt's text is recorded, not only its length
    /// (`AUDIT_HOOK_PROMPT_TEXT`).
    pub prompt_text: bool,
    /// Redacts strings before they are shortened, so that a cut never
    /// leaves part of a secret the patterns would no longer recognise.
    pub redactor: Redactor,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings {
            actor: "claude_code".into(),
            pre_tool_use: false,
            prompt_text: false,
            redactor: Redactor::default(),
        }
    }
}

/// One hook event being turned into an entry.
struct Event<'a> {
    obj: &'a Map<String, Value>,
    name: &'a str,
    cwd: Option<&'a str>,
    vault: &'a Path,
    settings: &'a HookSettings,
}

/// What an event records, before it becomes an entry.
struct Recorded {
    level: LogLevel,
    result: Outcome,
    target: String,
    error: Option<String>,
    action: &'static str,
}

impl Recorded {
    /// A `system_event` at INFO that succeeded.
    fn system(target: String) -> Recorded {
        Recorded {
            level: LogLevel::Info,
            result: Outcome::Success,
            target,
            error: None,
            action: "system_event",
        }
    }
}

impl Event<'_> {
    fn str_of(&self, key: &str) -> Option<&str> {
        self.obj.get(key).and_then(Value::as_str)
    }
}

/// Why a hook payload could not be turned into an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// The payload is JSON, but not an object.
    #[error("the hook payload is {found}, not a JSON object; accepted: the JSON object Claude Code sends a command hook on stdin")]
    NotAnObject {
        /// What it is: `an array`, `a string`, ...
        found: &'static str,
    },
    /// The payload names no event.
    #[error("the hook payload has no hook_event_name; accepted: an object whose hook_event_name is a string (PostToolUse, SessionStart, ...)")]
    NoEventName,
    /// The event's action type is refused (the built-in names are valid,
    /// so this means a change to them broke the schema).
    #[error("the hook event's {0}")]
    Action(#[from] ValueError),
}

/// What kind of JSON value `v` is, for a message: `an array`, `null`, ...
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The entry for one hook event, or `None` for an event not recorded
/// (`PreToolUse` unless enabled). `vault` makes paths inside it relative.
pub fn entry_for(
    payload: &Value,
    vault: &Path,
    settings: &HookSettings,
) -> Result<Option<Entry>, HookError> {
    let obj = payload.as_object().ok_or(HookError::NotAnObject {
        found: kind_of(payload),
    })?;
    let name = obj
        .get("hook_event_name")
        .and_then(Value::as_str)
        .ok_or(HookError::NoEventName)?;
    let event = Event {
        obj,
        name,
        cwd: obj.get("cwd").and_then(Value::as_str),
        vault,
        settings,
    };
    let mut params = Map::new();
    params.insert("hook_event".into(), name.into());
    for key in ["cwd", "permission_mode"] {
        if let Some(v) = event.str_of(key) {
            params.insert(key.into(), v.into());
        }
    }
    let recorded = match name {
        "PreToolUse" if !settings.pre_tool_use => return Ok(None),
        "PostToolUse" | "PostToolUseFailure" | "PreToolUse" => tool_event(&event, &mut params),
        "UserPromptSubmit" => prompt_event(&event, &mut params),
        // SessionStart, SessionEnd, Stop and any event added later.
        _ => session_event(&event, &mut params),
    };
    let action = ActionType::new(recorded.action)?;
    let mut entry = Entry::new(
        recorded.level,
        action,
        settings.actor.clone(),
        recorded.target,
    )
    .result(recorded.result);
    entry.parameters = params;
    if let Some(e) = recorded.error {
        entry = entry.error(e);
    }
    if let Some(s) = event.str_of("session_id").filter(|s| !s.trim().is_empty()) {
        entry = entry.session(s);
    }
    Ok(Some(entry))
}

/// `PreToolUse`, `PostToolUse` and `PostToolUseFailure`: a `tool_call`.
fn tool_event(event: &Event<'_>, params: &mut Map<String, Value>) -> Recorded {
    let tool = event.str_of("tool_name").unwrap_or("unknown_tool");
    let input = event.obj.get("tool_input").cloned().unwrap_or(Value::Null);
    params.insert("tool_name".into(), tool.into());
    if let Some(id) = event.str_of("tool_use_id") {
        params.insert("tool_use_id".into(), id.into());
    }
    let red = &event.settings.redactor;
    let target = tool_target(tool, &input, event.cwd, event.vault, red);
    let mut error = None;
    let (level, result) = match event.name {
        "PreToolUse" => {
            params.insert("phase".into(), "pre".into());
            (LogLevel::Info, Outcome::Skipped)
        }
        "PostToolUseFailure" => {
            let text = event
                .obj
                .get("error")
                .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
                .unwrap_or_else(|| "the tool call failed".into());
            let interrupt = event.obj.get("is_interrupt").cloned();
            params.insert("is_interrupt".into(), interrupt.unwrap_or(false.into()));
            error = Some(text);
            (LogLevel::Error, Outcome::Failure)
        }
        _ => (LogLevel::Info, Outcome::Success),
    };
    let call = ToolCall {
        tool,
        input: &input,
        response: event.obj.get("tool_response"),
        error: error.as_deref(),
        event: event.name,
    };
    summarize(&call, params, event.cwd, event.vault, red);
    Recorded {
        level,
        result,
        target,
        error,
        action: "tool_call",
    }
}

/// `UserPromptSubmit`: its length, and its text only when enabled.
fn prompt_event(event: &Event<'_>, params: &mut Map<String, Value>) -> Recorded {
    let prompt = event.str_of("prompt").unwrap_or("");
    params.insert("prompt_length".into(), prompt.chars().count().into());
    if event.settings.prompt_text {
        params.insert("prompt".into(), prompt.into());
    }
    Recorded::system("prompt".to_owned())
}

/// Session events and any other: what they say about themselves.
fn session_event(event: &Event<'_>, params: &mut Map<String, Value>) -> Recorded {
    let keys = [
        "source",
        "reason",
        "stop_hook_active",
        "model",
        "trigger",
        "message",
    ];
    for key in keys {
        if let Some(v) = event.obj.get(key) {
            let red = &event.settings.redactor;
            params.insert(key.into(), shorten_all(v.clone(), red));
        }
    }
    Recorded::system(match event.name {
        "SessionStart" | "SessionEnd" => "session".to_owned(),
        other => other.to_owned(),
    })
}

/// What the tool acted on: a path (vault-relative inside the vault), a
/// command, a URL, a pattern or a query; else the tool's name.
fn tool_target(
    tool: &str,
    input: &Value,
    cwd: Option<&str>,
    vault: &Path,
    red: &Redactor,
) -> String {
    let s = |k: &str| input.get(k).and_then(Value::as_str);
    if let Some(p) = s("file_path").or(s("notebook_path")).or(s("path")) {
        return vault_relative(p, cwd, vault);
    }
    for key in ["command", "url", "pattern", "query"] {
        if let Some(v) = s(key) {
            return shorten(v, red);
        }
    }
    tool.to_owned()
}

/// `path` relative to the vault when it lies inside it (a relative path is
/// taken from `cwd`).
fn vault_relative(path: &str, cwd: Option<&str>, vault: &Path) -> String {
    let p = Path::new(path);
    let full = match cwd {
        Some(cwd) if p.is_relative() => Path::new(cwd).join(p),
        _ => p.to_path_buf(),
    };
    let roots = [Some(vault.to_path_buf()), vault.canonicalize().ok()];
    for root in roots.iter().flatten() {
        if let Ok(rel) = full.strip_prefix(root) {
            return rel.to_string_lossy().into_owned();
        }
    }
    path.to_owned()
}

/// One tool call, as the payload gives it.
struct ToolCall<'a> {
    tool: &'a str,
    input: &'a Value,
    response: Option<&'a Value>,
    error: Option<&'a str>,
    event: &'a str,
}

/// Adds the tool's summary to `params`.
fn summarize(
    call: &ToolCall<'_>,
    params: &mut Map<String, Value>,
    cwd: Option<&str>,
    vault: &Path,
    red: &Redactor,
) {
    let input = call.input;
    let s = |k: &str| input.get(k).and_then(Value::as_str);
    let path = s("file_path")
        .or(s("notebook_path"))
        .map(|p| vault_relative(p, cwd, vault));
    match call.tool {
        "Bash" => bash_summary(call, params, red),
        "Write" => {
            let content = s("content").unwrap_or("");
            params.insert("path".into(), path.into());
            params.insert("bytes".into(), content.len().into());
            params.insert("lines".into(), content.lines().count().into());
        }
        "Edit" | "MultiEdit" | "NotebookEdit" => {
            params.insert("path".into(), path.into());
            edit_summary(input, params);
        }
        "Read" => {
            params.insert("path".into(), path.into());
            read_summary(input, call.response, params);
        }
        _ => {
            params.insert("input".into(), shorten_all(input.clone(), red));
        }
    }
}

/// Bash: the command, its exit status, and the start of its output.
fn bash_summary(call: &ToolCall<'_>, params: &mut Map<String, Value>, red: &Redactor) {
    if let Some(c) = call.input.get("command").and_then(Value::as_str) {
        params.insert("command".into(), shorten(c, red).into());
    }
    let r = call.response.unwrap_or(&Value::Null);
    let code = ["exit_code", "exitCode", "returncode", "return_code"]
        .iter()
        .find_map(|k| r.get(*k).and_then(Value::as_i64))
        .or_else(|| call.error.and_then(exit_code_in))
        .or((call.event == "PostToolUse").then_some(0));
    if let Some(code) = code {
        params.insert("exit_status".into(), code.into());
    }
    if let Some(out) = r.get("stdout").and_then(Value::as_str).or(r.as_str()) {
        params.insert("output".into(), shorten(out, red).into());
    }
    let stderr = r.get("stderr").and_then(Value::as_str);
    if let Some(err) = stderr.filter(|e| !e.is_empty()) {
        params.insert("stderr".into(), shorten(err, red).into());
    }
    if let Some(i) = r.get("interrupted") {
        params.insert("interrupted".into(), i.clone());
    }
}

/// Edits: how many, and how many characters went out and came in.
fn edit_summary(input: &Value, params: &mut Map<String, Value>) {
    let edits: Vec<&Value> = match input.get("edits").and_then(Value::as_array) {
        Some(list) => list.iter().collect(),
        None => vec![input],
    };
    let chars = |k: &str| -> usize {
        edits
            .iter()
            .filter_map(|e| e.get(k).and_then(Value::as_str))
            .map(|t| t.chars().count())
            .sum()
    };
    params.insert("edits".into(), edits.len().into());
    params.insert("old_chars".into(), chars("old_string").into());
    let new_chars = chars("new_string") + chars("new_source");
    params.insert("new_chars".into(), new_chars.into());
    if let Some(all) = input.get("replace_all") {
        params.insert("replace_all".into(), all.clone());
    }
}

/// Read: the range asked for and the lines read, never the content.
fn read_summary(input: &Value, response: Option<&Value>, params: &mut Map<String, Value>) {
    for k in ["offset", "limit"] {
        if let Some(v) = input.get(k) {
            params.insert(k.into(), v.clone());
        }
    }
    let file = response.and_then(|r| r.get("file"));
    let lines = file
        .and_then(|f| f.get("numLines"))
        .and_then(Value::as_u64)
        .or_else(|| {
            file.and_then(|f| f.get("content"))
                .and_then(Value::as_str)
                .map(|c| c.lines().count() as u64)
        });
    if let Some(n) = lines {
        params.insert("lines".into(), n.into());
    }
}

/// The number after "Exit code" in a failed command's error text.
fn exit_code_in(error: &str) -> Option<i64> {
    let at = error.find("Exit code")? + "Exit code".len();
    error[at..]
        .trim_start()
        .split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .next()?
        .parse()
        .ok()
}

/// `s` redacted, then cut to [`SUMMARY_CHARS`] characters, with a marker when cut.
pub fn shorten(s: &str, red: &Redactor) -> String {
    let s = red.text(s);
    match s.char_indices().nth(SUMMARY_CHARS) {
        Some((end, _)) => format!("{}…[+{} characters]", &s[..end], s[end..].chars().count()),
        None => s.into_owned(),
    }
}

/// Every string in `v` redacted (keys too) and cut (see [`shorten`]).
pub fn shorten_all(mut v: Value, red: &Redactor) -> Value {
    red.value(&mut v);
    cut_all(v)
}

fn cut_all(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(shorten(&s, &Redactor::new().off())),
        Value::Array(items) => Value::Array(items.into_iter().map(cut_all).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, cut_all(v))).collect())
        }
        other => other,
    }
}

/// The `.claude/settings.json` hooks that turn recording on.
pub fn settings_snippet() -> Value {
    let hook = json!([{"matcher": "*", "hooks": [{"type": "command", "command": "vault-audit --no-dry-run --vault \"$CLAUDE_PROJECT_DIR\" hook claude-code"}]}]);
    let session = json!([{"hooks": [{"type": "command", "command": "vault-audit --no-dry-run --vault \"$CLAUDE_PROJECT_DIR\" hook claude-code"}]}]);
    json!({"hooks": {
        "PostToolUse": hook,
        "PostToolUseFailure": hook,
        "SessionStart": session,
        "SessionEnd": session,
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_that_cannot_be_recorded_say_why() {
        let (vault, settings) = (Path::new("/vault"), HookSettings::default());
        let e = entry_for(&json!([1]), vault, &settings).expect_err("an array");
        assert_eq!(e, HookError::NotAnObject { found: "an array" });
        assert!(
            e.to_string()
                .starts_with("the hook payload is an array, not a JSON object; accepted: "),
            "{e}"
        );
        let e = entry_for(&json!({"hook_event_name": 7}), vault, &settings).expect_err("no name");
        assert_eq!(e, HookError::NoEventName);
        let ok = entry_for(&json!({"hook_event_name": "Stop"}), vault, &settings);
        assert!(matches!(ok, Ok(Some(_))));
    }
}
