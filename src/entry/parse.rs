//! Strict parsing of an entry from JSON: every key and every value is checked.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Entry, EntryError, ParseMode, FIELDS, MAX_ENTRY_BYTES, MAX_FUTURE_SKEW};
use crate::entry::{ActionType, ApprovalStatus, ApprovedBy, LogLevel, Outcome, ValueError};
use crate::time::{format_timestamp, parse_timestamp};

/// How many characters of an offending value an error message shows.
const SHOWN_CHARS: usize = 60;

const NON_EMPTY: &str = "a non-empty string";

/// Renders a value for an error message: as JSON (so newlines and quotes show
/// escaped), cut to a readable length.
pub(crate) fn shorten(value: &Value) -> String {
    shorten_text(&value.to_string())
}

/// Cuts text to a readable length, marking the cut with an ellipsis.
pub(crate) fn shorten_text(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(SHOWN_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

fn invalid(field: &'static str, value: &Value, accepted: impl Into<String>) -> EntryError {
    EntryError::InvalidValue {
        field,
        value: value.to_string(),
        accepted: accepted.into(),
    }
}

/// The twelve fields of one JSON object, by position in [`FIELDS`], taken
/// out one by one.
#[derive(Default)]
pub(super) struct Fields([Option<Value>; 12]);

impl Fields {
    fn remove(&mut self, field: &str) -> Option<Value> {
        let i = FIELDS.iter().position(|f| *f == field)?;
        self.0[i].take()
    }

    fn take(&mut self, field: &'static str, accepted: &'static str) -> Result<Value, EntryError> {
        self.remove(field).ok_or_else(|| EntryError::MissingField {
            field,
            accepted: accepted.to_owned(),
        })
    }

    /// A field that may be missing or null.
    fn take_optional(&mut self, field: &'static str) -> Option<Value> {
        self.remove(field).filter(|v| !v.is_null())
    }

    fn string(&mut self, field: &'static str) -> Result<String, EntryError> {
        match self.take(field, NON_EMPTY)? {
            Value::String(s) if !s.trim().is_empty() => Ok(s),
            other => Err(invalid(field, &other, NON_EMPTY)),
        }
    }

    /// A field of a closed (or checked) value set; in [`ParseMode::Aliases`]
    /// an alias or a spelling with other case or spaces is read as its
    /// canonical value.
    fn parsed<T: FromStr<Err = ValueError>>(
        &mut self,
        field: &'static str,
        accepted: fn() -> String,
        mode: ParseMode,
    ) -> Result<T, EntryError> {
        let value = self.remove(field).ok_or_else(|| EntryError::MissingField {
            field,
            accepted: accepted(),
        })?;
        match &value {
            Value::String(s) => s.parse::<T>().or_else(|e| {
                mode.canonical(field, s)
                    .and_then(|c| c.parse::<T>().ok())
                    .ok_or_else(|| invalid(field, &value, e.accepted))
            }),
            _ => Err(invalid(field, &value, accepted())),
        }
    }

    /// A `result` of `pending` (with aliases on) makes the approval pending
    /// when none, or `not_required`, is given.
    fn pending_result(&mut self, mode: ParseMode) {
        let i = |field: &str| FIELDS.iter().position(|f| *f == field).unwrap_or(0);
        let pending =
            matches!(&self.0[i("result")], Some(Value::String(s)) if mode.is_pending_result(s));
        if !pending {
            return;
        }
        let approval = &mut self.0[i("approval_status")];
        let not_required = match approval {
            None => true,
            Some(Value::String(s)) => {
                mode.canonical("approval_status", s).as_deref() == Some("not_required")
            }
            Some(_) => false,
        };
        if not_required {
            *approval = Some(Value::String("pending".into()));
        }
    }
}

/// Validates a JSON value as an entry, naming every problem at once.
pub(super) fn entry_from_value(value: Value, mode: ParseMode) -> Result<Entry, EntryError> {
    let map = match value {
        Value::Object(map) => map,
        other => {
            return Err(EntryError::NotAnObject {
                found: other.to_string(),
            })
        }
    };
    let mut f = Fields::default();
    let mut problems = Vec::new();
    for (key, value) in map {
        match FIELDS.iter().position(|k| *k == key) {
            Some(i) => f.0[i] = Some(value),
            None => problems.push(EntryError::UnknownField { field: key }),
        }
    }
    entry_from_fields(f, mode, problems)
}

/// Reads an entry's text straight into its twelve fields, without building
/// a map of the whole object (the hot path of every intake). `None` when the
/// text is not an object of known keys: the caller then takes the slow path,
/// which says precisely what is wrong.
pub(super) fn fields_from_json(text: &str) -> Option<Fields> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

    struct Key;
    impl<'de> DeserializeSeed<'de> for Key {
        type Value = Option<usize>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
            d.deserialize_str(Key)
        }
    }
    impl Visitor<'_> for Key {
        type Value = Option<usize>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a field name")
        }
        fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Option<usize>, E> {
            Ok(FIELDS.iter().position(|k| *k == key))
        }
    }
    struct Object;
    impl<'de> Visitor<'de> for Object {
        type Value = Option<Fields>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an entry object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Fields>, A::Error> {
            let mut fields = Fields::default();
            let mut known = true;
            while let Some(slot) = map.next_key_seed(Key)? {
                match slot {
                    Some(i) => fields.0[i] = Some(map.next_value()?),
                    None => {
                        known = false;
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(known.then_some(fields))
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let fields = de.deserialize_map(Object).ok()?;
    de.end().ok()?;
    fields
}

/// Sets `slot` to a field's value, or adds its problem to the list.
fn keep<T>(problems: &mut Vec<EntryError>, slot: &mut T, r: Result<T, EntryError>) {
    match r {
        Ok(v) => *slot = v,
        Err(e) => problems.push(e),
    }
}

/// Validates the fields of an entry; `problems` already found (unknown
/// keys) come first, then every field that is missing or wrong, in order.
pub(super) fn entry_from_fields(
    mut f: Fields,
    mode: ParseMode,
    mut problems: Vec<EntryError>,
) -> Result<Entry, EntryError> {
    f.pending_result(mode);
    let p = &mut problems;
    // Filled in field by field; returned only if no field is wrong.
    let mut e = Entry::new(LogLevel::Info, ActionType::system_event(), "", "");
    keep(p, &mut e.timestamp, timestamp_of(&mut f));
    let level = f.parsed::<LogLevel>("log_level", LogLevel::accepted, mode);
    keep(p, &mut e.log_level, level);
    let action = f.parsed::<ActionType>("action_type", ActionType::accepted, mode);
    keep(p, &mut e.action_type, action);
    keep(p, &mut e.actor, f.string("actor"));
    keep(p, &mut e.target, f.string("target"));
    let parameters = f.take("parameters", "a JSON object").and_then(|v| match v {
        Value::Object(map) => Ok(map),
        other => Err(invalid("parameters", &other, "a JSON object")),
    });
    keep(p, &mut e.parameters, parameters);
    let approval = f.parsed::<ApprovalStatus>("approval_status", ApprovalStatus::accepted, mode);
    keep(p, &mut e.approval_status, approval);
    let by = f.parsed::<ApprovedBy>("approved_by", ApprovedBy::accepted, mode);
    keep(p, &mut e.approved_by, by);
    let dry_run = f.take("dry_run", "true or false").and_then(|v| match v {
        Value::Bool(b) => Ok(b),
        other => Err(invalid("dry_run", &other, "true or false")),
    });
    keep(p, &mut e.dry_run, dry_run);
    keep(
        p,
        &mut e.result,
        f.parsed::<Outcome>("result", Outcome::accepted, mode),
    );
    let error_message = f
        .take("error_message", "null or a string")
        .and_then(|v| match v {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            other => Err(invalid("error_message", &other, "null or a string")),
        });
    keep(p, &mut e.error_message, error_message);
    let session_id = match f.take_optional("session_id") {
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s)),
        Some(other) => Err(invalid("session_id", &other, NON_EMPTY)),
    };
    keep(p, &mut e.session_id, session_id);
    if problems.is_empty() {
        Ok(e)
    } else {
        Err(EntryError::of(problems))
    }
}

/// The timestamp, if one is given.
fn timestamp_of(f: &mut Fields) -> Result<Option<DateTime<Utc>>, EntryError> {
    match f.take_optional("timestamp") {
        None => Ok(None),
        Some(Value::String(s)) => parse_timestamp(&s).map(Some).map_err(|_| {
            invalid(
                "timestamp",
                &Value::String(s.clone()),
                crate::time::ACCEPTED,
            )
        }),
        Some(other) => Err(invalid("timestamp", &other, crate::time::ACCEPTED)),
    }
}

/// The checks the types cannot make; returns the stored line, serialized
/// once for the size check and kept for the writer.
pub(super) fn check_entry(entry: &Entry, now: DateTime<Utc>) -> Result<String, EntryError> {
    for (field, text) in [("actor", &entry.actor), ("target", &entry.target)] {
        if text.trim().is_empty() {
            return Err(invalid(field, &Value::String(text.clone()), NON_EMPTY));
        }
    }
    if let Some(session) = &entry.session_id {
        if session.trim().is_empty() {
            return Err(invalid(
                "session_id",
                &Value::String(session.clone()),
                NON_EMPTY,
            ));
        }
    }
    // Re-check the action type: the field is public and could be built from
    // a name that was never checked.
    ActionType::new(entry.action_type.as_str()).map_err(|e| {
        invalid(
            "action_type",
            &Value::String(entry.action_type.as_str().to_owned()),
            e.accepted,
        )
    })?;
    if let Some(ts) = entry.timestamp {
        if ts > now + MAX_FUTURE_SKEW {
            return Err(EntryError::FutureTimestamp {
                value: format_timestamp(&ts),
                now: format_timestamp(&now),
            });
        }
    }
    let line = entry.to_json_line();
    if line.len() > MAX_ENTRY_BYTES {
        return Err(EntryError::TooLarge { size: line.len() });
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    fn valid() -> Value {
        json!({
            "timestamp": "2026-11-22T10:00:00.123Z",
            "log_level": "INFO",
            "action_type": "plan_created",
            "actor": "needs-action-processor",
            "target": "Plans/request-01-Plan.md",
            "parameters": {"source_file": "request-01.md"},
            "approval_status": "pending",
            "approved_by": "N/A",
            "dry_run": false,
            "result": "success",
            "error_message": null,
            "session_id": "AI_EMP_20261122_A4F8F1"
        })
    }

    fn with(key: &str, value: Value) -> Result<Entry, EntryError> {
        let mut v = valid();
        v[key] = value;
        Entry::from_value(v)
    }

    fn message(r: Result<Entry, EntryError>) -> String {
        r.expect_err("should be rejected").to_string()
    }

    #[test]
    fn the_seed_example_is_accepted() {
        let e = Entry::from_value(valid()).expect("valid");
        assert_eq!(e.log_level, LogLevel::Info);
        assert_eq!(e.approval_status, ApprovalStatus::Pending);
    }

    #[test]
    fn rejections_name_field_value_and_accepted_values() {
        let m = message(with("log_level", json!("DEBUG")));
        assert_eq!(
            m,
            "entry rejected: log_level \"DEBUG\" is not one of INFO, WARNING, ERROR, CRITICAL"
        );
        let m = message(with("approval_status", json!("maybe")));
        assert!(
            m.contains("approval_status \"maybe\"") && m.contains("not_required"),
            "{m}"
        );
        let m = message(with("approved_by", json!("robot")));
        assert!(m.contains("human, system, N/A"), "{m}");
        let m = message(with("result", json!(true)));
        assert!(m.contains("result true is not one of success"), "{m}");
        let m = message(with("dry_run", json!("false")));
        assert!(m.contains("dry_run \"false\" is not true or false"), "{m}");
        let m = message(with("parameters", json!([1])));
        assert!(m.contains("parameters [1] is not a JSON object"), "{m}");
        let m = message(with("actor", json!("  ")));
        assert!(m.contains("actor \"  \" is not a non-empty string"), "{m}");
        let m = message(with("error_message", json!(5)));
        assert!(m.contains("null or a string"), "{m}");
        let m = message(with("action_type", json!("Plan Created")));
        assert!(
            m.contains("action_type \"Plan Created\"") && m.contains("lower_snake_case"),
            "{m}"
        );
        let m = message(with("timestamp", json!("2026-11-22 10:00:00")));
        assert!(
            m.contains("timestamp \"2026-11-22 10:00:00\"") && m.contains("offset"),
            "{m}"
        );
    }

    #[test]
    fn unknown_and_missing_keys_are_rejected() {
        let m = message(with("extra", json!(1)));
        assert!(
            m.starts_with("entry rejected: unknown field \"extra\""),
            "{m}"
        );
        let mut v = valid();
        v.as_object_mut().map(|o| o.remove("target"));
        let m = message(Entry::from_value(v));
        assert!(m.contains("missing field \"target\""), "{m}");
    }

    #[test]
    fn missing_timestamp_and_session_are_left_for_the_logger() {
        let mut v = valid();
        let o = v.as_object_mut().expect("object");
        o.remove("timestamp");
        o.remove("session_id");
        let e = Entry::from_value(v).expect("valid");
        assert_eq!((e.timestamp, e.session_id), (None, None));
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let m = message(with("log_level", json!("X".repeat(10_000))));
        assert!(m.len() < 200 && m.contains('…'), "{m}");
    }

    #[test]
    fn future_timestamps_and_huge_entries_are_rejected() {
        let e = Entry::from_value(valid()).expect("valid");
        let now = parse_timestamp("2026-11-22T09:54:00Z").expect("ts");
        assert!(matches!(
            e.validate(now),
            Err(EntryError::FutureTimestamp { .. })
        ));
        let now = parse_timestamp("2026-11-22T09:56:00Z").expect("ts");
        assert!(e.validate(now).is_ok());
        let big = e.clone().param("blob", "x".repeat(MAX_ENTRY_BYTES));
        assert!(matches!(
            big.validate(now),
            Err(EntryError::TooLarge { .. })
        ));
    }

    #[test]
    fn stored_form_has_the_twelve_keys_in_order() {
        let e = Entry::from_value(valid()).expect("valid");
        let line = e.to_json_line();
        let back: Map<String, Value> = serde_json::from_str(&line).expect("json");
        let keys: Vec<&str> = back.keys().map(String::as_str).collect();
        assert_eq!(keys, FIELDS);
        assert_eq!(Entry::from_json(&line), Ok(e));
    }
}
