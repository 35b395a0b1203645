//! The audit entry: its twelve fields, their typed values and validation.
//!
//! An [`Entry`] is built in code with [`Entry::new`] and its setters, or parsed
//! from JSON with [`Entry::from_json`], which checks every key and value and
//! names the field, the value and what is accepted when it refuses one.

mod alias;
mod parse;
pub mod peer;
mod values;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::time::format_timestamp;
pub use alias::{Alias, ParseMode, ALIASES};
pub use values::{ActionType, ApprovalStatus, ApprovedBy, LogLevel, Outcome, ValueError};

/// The twelve keys of an entry, in the order they are stored.
pub const FIELDS: [&str; 12] = [
    "timestamp",
    "log_level",
    "action_type",
    "actor",
    "target",
    "parameters",
    "approval_status",
    "approved_by",
    "dry_run",
    "result",
    "error_message",
    "session_id",
];

/// The largest serialized entry accepted, in bytes.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// How far in the future a timestamp may lie before it is refused (clock skew).
pub const MAX_FUTURE_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// One audit entry.
///
/// `timestamp` and `session_id` may be left empty: the logger fills them in
/// (with the time of the call and its session id) before the entry is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    /// When the action happened; `None` means "now".
    #[serde(serialize_with = "serialize_timestamp")]
    pub timestamp: Option<DateTime<Utc>>,
    /// Severity.
    pub log_level: LogLevel,
    /// What kind of action this was.
    pub action_type: ActionType,
    /// The skill or person that acted.
    pub actor: String,
    /// The file, folder, email or component acted on.
    pub target: String,
    /// Free-form details of the action.
    pub parameters: Map<String, Value>,
    /// Where the action stands in the approval workflow.
    pub approval_status: ApprovalStatus,
    /// Who approved it.
    pub approved_by: ApprovedBy,
    /// Whether the action itself ran in dry-run mode.
    pub dry_run: bool,
    /// How the action ended.
    pub result: Outcome,
    /// What went wrong, if anything.
    pub error_message: Option<String>,
    /// The session the action belongs to; `None` means the logger's session.
    pub session_id: Option<String>,
}

fn serialize_timestamp<S: serde::Serializer>(
    ts: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match ts {
        Some(ts) => s.serialize_str(&format_timestamp(ts)),
        None => s.serialize_none(),
    }
}

impl Entry {
    /// A new entry with the usual defaults: no parameters, approval not
    /// required, approved by `N/A`, not a dry run, result success, no error.
    pub fn new(
        log_level: LogLevel,
        action_type: ActionType,
        actor: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        Entry {
            timestamp: None,
            log_level,
            action_type,
            actor: actor.into(),
            target: target.into(),
            parameters: Map::new(),
            approval_status: ApprovalStatus::NotRequired,
            approved_by: ApprovedBy::NotApplicable,
            dry_run: false,
            result: Outcome::Success,
            error_message: None,
            session_id: None,
        }
    }

    /// Sets the timestamp.
    pub fn at(mut self, timestamp: DateTime<Utc>) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Adds one parameter.
    pub fn param(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.parameters.insert(key.into(), value.into());
        self
    }

    /// Sets the approval status and who approved.
    pub fn approval(mut self, status: ApprovalStatus, by: ApprovedBy) -> Self {
        self.approval_status = status;
        self.approved_by = by;
        self
    }

    /// Sets the result.
    pub fn result(mut self, result: Outcome) -> Self {
        self.result = result;
        self
    }

    /// Sets the error message.
    pub fn error(mut self, message: impl Into<String>) -> Self {
        self.error_message = Some(message.into());
        self
    }

    /// Sets the session id.
    pub fn session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// Marks the action as a dry run (or not).
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Parses and validates one entry from JSON text, accepting the
    /// value [`ALIASES`] (see [`Entry::from_json_in`] for strict parsing).
    ///
    /// Exactly the twelve [`FIELDS`] are accepted; `timestamp` and
    /// `session_id` may be missing (or null) and are then filled in by the
    /// logger. A refusal names every field that is wrong at once.
    pub fn from_json(text: &str) -> Result<Entry, EntryError> {
        Entry::from_json_in(text, ParseMode::Aliases)
    }

    /// Like [`Entry::from_json`], reading values as `mode` says.
    pub fn from_json_in(text: &str, mode: ParseMode) -> Result<Entry, EntryError> {
        if let Some(fields) = parse::fields_from_json(text) {
            return parse::entry_from_fields(fields, mode, Vec::new());
        }
        let value: Value = serde_json::from_str(text).map_err(|e| EntryError::Json {
            message: e.to_string(),
        })?;
        Entry::from_value_in(value, mode)
    }

    /// Validates one entry given as a JSON value, accepting the value
    /// [`ALIASES`].
    pub fn from_value(value: Value) -> Result<Entry, EntryError> {
        Entry::from_value_in(value, ParseMode::Aliases)
    }

    /// Like [`Entry::from_value`], reading values as `mode` says.
    pub fn from_value_in(value: Value, mode: ParseMode) -> Result<Entry, EntryError> {
        parse::entry_from_value(value, mode)
    }

    /// Checks what the types alone cannot: non-empty strings, the size limit
    /// and (given the current time) that the timestamp is not in the future.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), EntryError> {
        parse::check_entry(self, now).map(|_| ())
    }

    /// Validates like [`Entry::validate`] and returns the stored line.
    pub fn validated_line(&self, now: DateTime<Utc>) -> Result<String, EntryError> {
        parse::check_entry(self, now)
    }

    /// The entry as one compact line of JSON, the way it is stored.
    pub fn to_json_line(&self) -> String {
        // Serializing plain strings, enums and a JSON map cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The UTC date of the entry's timestamp (`None` if not yet filled in).
    pub fn date(&self) -> Option<chrono::NaiveDate> {
        self.timestamp.map(|t| t.date_naive())
    }
}

/// Why an entry was refused. Every message names the field, the value
/// (shortened) and what is accepted.
///
/// The variants keep the offending value whole and only the message
/// shortens it, so that a redactor can run over the whole value first
/// (`Redactor::error`): a secret cut in half is a secret the patterns no
/// longer recognise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The text is not JSON at all.
    #[error("entry rejected: not valid JSON: {message}")]
    Json {
        /// What the parser said, with line and column.
        message: String,
    },
    /// The JSON is not an object.
    #[error("entry rejected: expected a JSON object with the fields {}, got {}", FIELDS.join(", "), parse::shorten_text(found))]
    NotAnObject {
        /// The JSON value found, as JSON, whole.
        found: String,
    },
    /// A key that is not one of the twelve.
    #[error("entry rejected: unknown field \"{}\"; accepted fields are {}", parse::shorten_text(field), FIELDS.join(", "))]
    UnknownField {
        /// The key, whole.
        field: String,
    },
    /// A required key is absent.
    #[error("entry rejected: missing field \"{field}\" ({accepted})")]
    MissingField {
        /// The key.
        field: &'static str,
        /// What the field accepts.
        accepted: String,
    },
    /// A value of the wrong type or outside the accepted set.
    #[error(
        "entry rejected: {field} {} is not {accepted}",
        parse::shorten_text(value)
    )]
    InvalidValue {
        /// The key.
        field: &'static str,
        /// The value found, as JSON, whole.
        value: String,
        /// What the field accepts.
        accepted: String,
    },
    /// The timestamp lies too far in the future.
    #[error("entry rejected: timestamp \"{value}\" is more than 5 minutes in the future (now is {now}); accepted: a time up to 5 minutes ahead of the clock")]
    FutureTimestamp {
        /// The timestamp given.
        value: String,
        /// The clock's time.
        now: String,
    },
    /// The timestamp lies before the retention window: the entry would be
    /// deleted as soon as it was written.
    #[error("entry rejected: timestamp \"{value}\" is older than the retention window of {days} days (the oldest day kept is {oldest}); accepted: a time on or after {oldest}, or raise AUDIT_RETENTION_DAYS")]
    BeyondRetention {
        /// The timestamp given.
        value: String,
        /// The retention period in days.
        days: u32,
        /// The oldest day kept, `YYYY-MM-DD`.
        oldest: String,
    },
    /// Several fields are wrong: every problem, in field order (unknown
    /// keys first), on one line.
    #[error("entry rejected: {} problems: {}", problems.len(), joined(problems))]
    Several {
        /// The problems, each one of the other variants.
        problems: Vec<EntryError>,
    },
    /// The serialized entry is too large.
    #[error("entry rejected: the serialized entry is {size} bytes; at most {MAX_ENTRY_BYTES} bytes are accepted")]
    TooLarge {
        /// Its size in bytes.
        size: usize,
    },
}

impl EntryError {
    /// One error for a list of problems: the problem itself when there is
    /// one, else [`EntryError::Several`].
    pub fn of(mut problems: Vec<EntryError>) -> EntryError {
        match problems.len() {
            1 => problems.remove(0),
            _ => EntryError::Several { problems },
        }
    }

    /// Every problem: the list of [`EntryError::Several`], else this one.
    pub fn problems(&self) -> &[EntryError] {
        match self {
            EntryError::Several { problems } => problems,
            one => std::slice::from_ref(one),
        }
    }

    /// The message without its leading `entry rejected: `.
    pub fn detail(&self) -> String {
        let text = self.to_string();
        match text.strip_prefix("entry rejected: ") {
            Some(rest) => rest.to_owned(),
            None => text,
        }
    }

    /// The field the error is about, if it is about one (for several
    /// problems, the first one's).
    pub fn field(&self) -> Option<&str> {
        match self {
            EntryError::UnknownField { field } => Some(field),
            EntryError::MissingField { field, .. } | EntryError::InvalidValue { field, .. } => {
                Some(field)
            }
            EntryError::FutureTimestamp { .. } | EntryError::BeyondRetention { .. } => {
                Some("timestamp")
            }
            EntryError::Several { problems } => problems.first().and_then(EntryError::field),
            _ => None,
        }
    }
}

/// The problems' messages, joined with `; `.
fn joined(problems: &[EntryError]) -> String {
    let parts: Vec<String> = problems.iter().map(EntryError::detail).collect();
    parts.join("; ")
}

/// Quotes and shortens user text for an error message (JSON string form, so
/// newlines and control characters show escaped). Redact the text first: a
/// secret cut short is one no pattern recognises.
pub fn shorten_for_message(text: &str) -> String {
    parse::shorten(&Value::String(text.to_owned()))
}
