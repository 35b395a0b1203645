//! The tools' arguments checked: every wrong one named at once, by its
//! argument name, with what is accepted. A null argument is an absent one.

use serde_json::{Map, Value};

use super::tools::{DEFAULT_LIMIT, MAX_LIMIT};
use crate::entry::LogLevel;
use crate::query::{Filter, FilterSpec};
use crate::redact::Redactor;

/// The arguments of `log_action`, as `tools::LogAction` declares them.
pub const LOG_ACTION: [&str; 16] = [
    "action_type",
    "target",
    "log_level",
    "actor",
    "parameters",
    "result",
    "error_message",
    "approval_status",
    "approved_by",
    "dry_run",
    "session_id",
    "timestamp",
    "question",
    "options",
    "chosen",
    "confidence",
];

/// The arguments of `query_logs`, as `tools::QueryLogs` declares them.
pub const QUERY_LOGS: [&str; 11] = [
    "since",
    "until",
    "level",
    "action",
    "actor",
    "target",
    "result",
    "session",
    "approval_status",
    "contains",
    "limit",
];

/// Every argument not in `known`, named (redacted: a key may be a secret).
fn unknown(args: &Map<String, Value>, known: &[&str], tool: &str, red: &Redactor) -> Vec<String> {
    args.keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| {
            format!(
                "{}: not an argument of {tool}; accepted: {}",
                red.text(k),
                known.join(", ")
            )
        })
        .collect()
}

/// The entry `log_action`'s arguments make, for the entry's own checks,
/// and the problems found before them. Defaults fill absent fields; the
/// decision fields (`question`, `options`, `chosen`, `confidence`) go into
/// `parameters`, and with a question the action type and target default to
/// `decision`.
pub fn entry_value(
    mut args: Map<String, Value>,
    actor: &str,
    red: &Redactor,
) -> (Value, Vec<String>) {
    args.retain(|_, v| !v.is_null());
    let mut refused = unknown(&args, &LOG_ACTION, "log_action", red);
    let mut params = match args.remove("parameters") {
        None => Map::new(),
        Some(Value::Object(m)) => m,
        Some(mut other) => {
            red.value(&mut other);
            refused.push(format!(
                "parameters: {} is not accepted; give a JSON object",
                crate::entry::shorten_for_message(&other.to_string())
            ));
            Map::new()
        }
    };
    let is_decision = args.contains_key("question");
    for (from, to) in [
        ("question", "question"),
        ("options", "options_considered"),
        ("chosen", "chosen_option"),
        ("confidence", "confidence"),
    ] {
        if let Some(v) = args.remove(from) {
            params.insert(to.into(), v);
        }
    }
    let mut entry = Map::new();
    let decision = || is_decision.then(|| Value::from("decision"));
    let defaults: [(&str, Option<Value>); 12] = [
        ("timestamp", None),
        ("log_level", Some("INFO".into())),
        ("action_type", decision()),
        ("actor", Some(actor.into())),
        ("target", decision()),
        ("parameters", Some(Value::Object(params))),
        ("approval_status", Some("not_required".into())),
        ("approved_by", Some("N/A".into())),
        ("dry_run", Some(false.into())),
        ("result", Some("success".into())),
        ("error_message", Some(Value::Null)),
        ("session_id", None),
    ];
    for (field, default) in defaults {
        let value = match field {
            "parameters" => default,
            _ => args.remove(field).or(default),
        };
        if let Some(value) = value {
            entry.insert(field.into(), value);
        }
    }
    (Value::Object(entry), refused)
}

/// The filter and limit of a `query_logs` call, or every argument not
/// accepted, named by its argument name.
pub fn query_args(
    args: &Map<String, Value>,
    now: chrono::DateTime<chrono::Utc>,
    red: &Redactor,
) -> Result<(Filter, u64), Vec<String>> {
    let mut refused = unknown(args, &QUERY_LOGS, "query_logs", red);
    let levels = levels(args.get("level"), &mut refused);
    let limit = match args.get("limit") {
        None | Some(Value::Null) => Some(DEFAULT_LIMIT),
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
        _ => Err(refused),
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
                    refused.push(format!(
                        "level: {l} in the list is not accepted; accepted: {}",
                        LogLevel::accepted()
                    ));
                }
                level
            })
            .collect(),
        Some(other) => {
            refused.push(format!(
                "level: {other} is not accepted; accepted: {} or a list of them",
                LogLevel::accepted()
            ));
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::mcp::tools::{LogAction, QueryLogs};
    use serde_json::json;

    fn properties<T: schemars::JsonSchema>() -> Vec<String> {
        let schema = schemars::schema_for!(T);
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .expect("properties");
        props.keys().cloned().collect()
    }

    #[test]
    fn the_arguments_read_are_the_arguments_the_schemas_declare() {
        assert_eq!(properties::<LogAction>(), LOG_ACTION);
        assert_eq!(properties::<QueryLogs>(), QUERY_LOGS);
        let schema = schemars::schema_for!(LogAction);
        assert_eq!(
            schema.get("required"),
            Some(&json!(["action_type", "target"]))
        );
    }

    #[test]
    fn every_unknown_argument_and_bad_value_is_named_at_once() {
        let red = Redactor::default();
        let args = json!({"bogus": 1, "other": 2, "parameters": 3, "target": null});
        let Value::Object(args) = args else {
            unreachable!()
        };
        let (entry, refused) = entry_value(args, "me", &red);
        assert_eq!(refused.len(), 3, "{refused:?}");
        assert!(entry.get("target").is_none(), "null is absent");
        let Value::Object(args) = json!({"level": [1, "LOUD"], "limit": 900, "since": 5, "x": 1})
        else {
            unreachable!()
        };
        let now = chrono::DateTime::UNIX_EPOCH;
        let refused = query_args(&args, now, &red).expect_err("refused");
        assert_eq!(refused.len(), 5, "{refused:?}");
        assert!(
            refused.iter().any(|r| r.contains("level: 1 in the list")),
            "{refused:?}"
        );
        assert!(
            refused.iter().any(|r| r.contains("level \"LOUD\"")),
            "{refused:?}"
        );
    }
}
