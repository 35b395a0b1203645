//! The shapes other loggers write ("peers"), mapped to our twelve fields:
//! applied by `import` and when a day file in another layout is converted.
//! Nothing is dropped: a key that maps to none of the twelve goes into
//! `parameters` under its own name.

use serde_json::{Map, Value};

use super::{ActionType, ParseMode, FIELDS};
use crate::time::{format_timestamp, parse_foreign_time, Zone};

/// Peer keys and the field each stands for, first match first: a key is
/// used only when the field is not given itself nor by an earlier key (so
/// `tool_name` names the action only when nothing else does).
pub const PEER_KEYS: &[(&str, &str)] = &[
    ("level", "log_level"),
    ("severity", "log_level"),
    ("action", "action_type"),
    ("event", "action_type"),
    ("tool_name", "action_type"),
    ("executor", "actor"),
    ("agent", "actor"),
    ("agent_id", "actor"),
    ("user", "actor"),
    ("to", "target"),
    ("file", "target"),
    ("path", "target"),
    ("resource", "target"),
    ("status", "result"),
    ("execution_status", "result"),
    ("outcome", "result"),
    ("error", "error_message"),
    ("error_msg", "error_message"),
    ("time", "timestamp"),
    ("ts", "timestamp"),
];

/// Levels peers use that are not ours, and the level stored (the original
/// is kept in `parameters`).
const LEVELS: &[(&str, &str)] = &[
    ("warn", "WARNING"),
    ("err", "ERROR"),
    ("fatal", "CRITICAL"),
    ("crit", "CRITICAL"),
    ("alert", "CRITICAL"),
    ("emerg", "CRITICAL"),
    ("emergency", "CRITICAL"),
    ("debug", "INFO"),
    ("trace", "INFO"),
    ("notice", "INFO"),
    ("verbose", "INFO"),
];

/// The `result` values that mean the action ran dry: stored as `dry_run:
/// true` and `result: skipped`.
const DRY_RUN_RESULTS: [&str; 3] = ["dry_run", "dry-run", "dryrun"];

/// How to map: the zone of times without an offset, and the file the
/// entries come from (`parameters.imported_from`), if any.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mapping<'a> {
    /// The zone of times without an offset.
    pub zone: Zone,
    /// The file name recorded in `parameters.imported_from`.
    pub imported_from: Option<&'a str>,
}

/// Maps one object of a peer's shape to ours, for [`super::Entry::from_value`]
/// to validate. What cannot be mapped is left for validation to name; a
/// value that is not an object is returned as it is.
pub fn map_peer(value: Value, how: &Mapping<'_>) -> Value {
    let Value::Object(mut src) = value else {
        return value;
    };
    let mut params = match src.remove("parameters") {
        Some(Value::Object(map)) => map,
        Some(other) => Map::from_iter([("parameters".to_owned(), other)]),
        None => Map::new(),
    };
    let mut out = Map::new();
    for field in FIELDS.iter().filter(|f| **f != "parameters") {
        if let Some(v) = src.remove(*field) {
            out.insert((*field).to_owned(), v);
        }
    }
    let mut from: Map<String, Value> = Map::new();
    for (peer, field) in PEER_KEYS {
        if !out.contains_key(*field) {
            if let Some(v) = src.remove(*peer) {
                out.insert((*field).to_owned(), v);
                from.insert((*field).to_owned(), Value::from(*peer));
            }
        }
    }
    for (key, v) in src {
        let key = if params.contains_key(&key) {
            format!("peer_{key}")
        } else {
            key
        };
        params.insert(key, v);
    }
    let origin = |field: &str| {
        from.get(field)
            .and_then(Value::as_str)
            .unwrap_or(field)
            .to_owned()
    };
    normalize(&mut out, &mut params, how, &origin);
    if let Some(name) = how.imported_from {
        params.insert("imported_from".into(), Value::from(name));
    }
    out.insert("parameters".into(), Value::Object(params));
    // In the stored order of the fields.
    let mut ordered = Map::new();
    for field in FIELDS {
        if let Some(v) = out.remove(field) {
            ordered.insert(field.to_owned(), v);
        }
    }
    Value::Object(ordered)
}

/// Brings each mapped value to our form and fills the defaults. `origin`
/// names the key a field came from (to keep an original that changed).
fn normalize(
    out: &mut Map<String, Value>,
    params: &mut Map<String, Value>,
    how: &Mapping<'_>,
    origin: &dyn Fn(&str) -> String,
) {
    if let Some(v) = out.get_mut("timestamp") {
        if let Some(t) = parse_foreign_time(v, how.zone) {
            *v = Value::from(format_timestamp(&t));
        }
    }
    for field in ["actor", "target", "session_id"] {
        if let Some(v) = out.get_mut(field) {
            if !v.is_string() && !v.is_null() {
                *v = Value::from(v.to_string());
            }
        }
    }
    if let Some(Value::String(action)) = out.get("action_type") {
        let slug = action_slug(action);
        if slug != *action {
            params.insert(origin("action_type"), Value::from(action.clone()));
            out.insert("action_type".into(), Value::from(slug));
        }
    }
    match out.get("error_message") {
        None => {
            out.insert("error_message".into(), Value::Null);
        }
        Some(Value::Null | Value::String(_)) => {}
        Some(other) => {
            let text = other.to_string();
            out.insert("error_message".into(), Value::from(text));
        }
    }
    dry_run_and_result(out);
    level(out, params, origin);
    let approval = canonical(out, "approval_status");
    if approval.is_none() {
        out.insert("approval_status".into(), Value::from("not_required"));
    }
    if canonical(out, "approved_by").is_none() {
        out.insert("approved_by".into(), Value::from("N/A"));
    }
}

/// The field's string value in canonical form (aliases applied, written
/// back); `None` when the field is missing.
fn canonical(out: &mut Map<String, Value>, field: &str) -> Option<String> {
    let v = out.get_mut(field)?;
    if let Value::String(s) = v {
        if let Some(c) = ParseMode::Aliases.canonical(field, s) {
            *s = c;
        }
    }
    Some(v.as_str().unwrap_or_default().to_owned())
}

/// `dry_run` as a boolean (default false); a `result` of `dry_run` is a
/// skipped dry run, a `result` of `pending` a skipped action waiting for
/// approval.
fn dry_run_and_result(out: &mut Map<String, Value>) {
    let dry = match out.get("dry_run") {
        None | Some(Value::Null) => Some(false),
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" | "" => Some(false),
            _ => None,
        },
        Some(Value::Number(n)) => n.as_f64().map(|n| n != 0.0),
        Some(_) => None,
    };
    if let Some(dry) = dry {
        out.insert("dry_run".into(), Value::Bool(dry));
    }
    let Some(Value::String(result)) = out.get("result") else {
        return;
    };
    let folded = result.trim().to_ascii_lowercase();
    if DRY_RUN_RESULTS.contains(&folded.as_str()) {
        out.insert("dry_run".into(), Value::Bool(true));
        out.insert("result".into(), Value::from("skipped"));
    } else if folded == "pending" {
        let approval = canonical(out, "approval_status");
        if approval.is_none_or(|a| a == "not_required") {
            out.insert("approval_status".into(), Value::from("pending"));
        }
        out.insert("result".into(), Value::from("skipped"));
    } else {
        canonical(out, "result");
    }
}

/// `log_level` in our spelling: a peer level folded to ours (the original
/// kept in `parameters` when it names another level), or inferred from the
/// result when missing (failure: ERROR, otherwise INFO).
fn level(
    out: &mut Map<String, Value>,
    params: &mut Map<String, Value>,
    origin: &dyn Fn(&str) -> String,
) {
    match out.get("log_level") {
        None | Some(Value::Null) => {
            let failed = out.get("result").and_then(Value::as_str) == Some("failure");
            let inferred = if failed { "ERROR" } else { "INFO" };
            out.insert("log_level".into(), Value::from(inferred));
        }
        Some(Value::String(given)) => {
            let folded = given.trim().to_ascii_lowercase();
            if let Some((_, ours)) = LEVELS.iter().find(|(l, _)| *l == folded) {
                params.insert(origin("log_level"), Value::from(given.clone()));
                out.insert("log_level".into(), Value::from(*ours));
            } else {
                out.insert("log_level".into(), Value::from(folded.to_uppercase()));
            }
        }
        Some(_) => {}
    }
}

/// A name as an `action_type`: lower case, every run of other characters
/// one `_`, starting with a letter, at most 64 characters (`Plan Created`
/// is `plan_created`, `Bash` is `bash`).
pub fn action_slug(name: &str) -> String {
    if ActionType::new(name).is_ok() {
        return name.to_owned();
    }
    let mut slug = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('_') {
            slug.push('_');
        }
    }
    let mut slug = slug.trim_end_matches('_').to_owned();
    if !slug.starts_with(|c: char| c.is_ascii_lowercase()) {
        slug.insert_str(0, "action_");
    }
    slug.truncate(ActionType::MAX_LEN);
    slug.trim_end_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Entry, LogLevel, Outcome};
    use serde_json::json;

    fn utc() -> Mapping<'static> {
        Mapping {
            zone: Zone::parse("UTC").expect("zone"),
            imported_from: Some("peer.jsonl"),
        }
    }

    fn mapped(v: Value) -> Entry {
        let m = map_peer(v.clone(), &utc());
        Entry::from_value(m).unwrap_or_else(|e| panic!("{v} -> {e}"))
    }

    #[test]
    fn a_peer_entry_maps_to_the_twelve_fields_with_nothing_dropped() {
        let e = mapped(json!({
            "timestamp": "2026-03-30T21:05:04.804678",
            "tool_name": "Bash",
            "executor": "claude",
            "file": "notes/a.md",
            "execution_status": "failed",
            "error_msg": "exit 1",
            "duration_ms": 12,
            "approval_status": "n/a"
        }));
        assert_eq!(e.to_json_line().matches("timestamp").count(), 1);
        assert_eq!(
            e.timestamp.map(|t| format_timestamp(&t)).as_deref(),
            Some("2026-03-30T21:05:04.804Z")
        );
        assert_eq!(e.action_type.as_str(), "bash");
        assert_eq!(
            (e.actor.as_str(), e.target.as_str()),
            ("claude", "notes/a.md")
        );
        assert_eq!(e.result, Outcome::Failure);
        assert_eq!(e.log_level, LogLevel::Error, "inferred from the failure");
        assert_eq!(e.error_message.as_deref(), Some("exit 1"));
        assert_eq!(e.parameters["duration_ms"], 12);
        assert_eq!(e.parameters["tool_name"], "Bash");
        assert_eq!(e.parameters["imported_from"], "peer.jsonl");
        assert_eq!(e.approval_status.as_str(), "not_required");
        assert_eq!(e.approved_by.as_str(), "N/A");
    }

    #[test]
    fn dry_run_as_a_status_is_a_skipped_dry_run() {
        let e = mapped(json!({
            "ts": "2026-03-30T21:05:04+02:00", "level": "warn", "action": "Send Email",
            "agent": "mailer", "to": "a@example.com", "status": "dry_run"
        }));
        assert!(e.dry_run);
        assert_eq!(e.result, Outcome::Skipped);
        assert_eq!(e.log_level, LogLevel::Warning);
        assert_eq!(e.action_type.as_str(), "send_email");
        assert_eq!(e.parameters["action"], "Send Email");
        assert_eq!(e.parameters["level"], "warn");
        assert_eq!(
            e.timestamp.map(|t| format_timestamp(&t)).as_deref(),
            Some("2026-03-30T19:05:04.000Z")
        );
    }

    #[test]
    fn an_entry_of_ours_maps_to_itself_but_its_origin() {
        let ours = json!({
            "timestamp": "2026-03-30T21:05:04.804Z", "log_level": "INFO",
            "action_type": "plan_created", "actor": "a", "target": "t",
            "parameters": {"k": 1}, "approval_status": "pending", "approved_by": "human",
            "dry_run": false, "result": "success", "error_message": null,
            "session_id": "S"
        });
        let how = Mapping {
            imported_from: None,
            ..utc()
        };
        assert_eq!(map_peer(ours.clone(), &how), ours);
    }

    #[test]
    fn slugs_are_action_types() {
        for (name, slug) in [
            ("Plan Created", "plan_created"),
            ("mcp__FS__Read", "mcp_fs_read"),
            ("42", "action_42"),
            ("tool_call", "tool_call"),
        ] {
            assert_eq!(action_slug(name), slug);
            assert!(ActionType::new(&action_slug(name)).is_ok());
        }
    }
}
