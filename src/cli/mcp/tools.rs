//! The MCP tools' arguments and results as Rust types. Their JSON Schemas
//! (`inputSchema`, `outputSchema`) are generated from these types, whose
//! closed values are the entry's own ([`LogLevel`], [`Outcome`], ...): a
//! value a schema offers is a value the server takes.
//!
//! The server reads arguments as JSON itself ([`Arguments`]) so that it can
//! name every wrong one at once; `calls.rs` checks what these types declare.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::entry::{ActionType, ApprovalStatus, ApprovedBy, LogLevel, Outcome};

/// The most entries `query_logs` returns.
pub const MAX_LIMIT: u64 = 500;

/// A duration back from now as `since` / `until` take it, short enough
/// that now minus it is a time there is.
const WHEN_DURATION: &str = "^[0-9]{1,7}(ms|s|m|h|d)$";

/// How many entries `query_logs` returns when no `limit` is given.
pub const DEFAULT_LIMIT: u64 = 50;

/// A tool's arguments as given: the JSON object, with the schema of `T`.
/// Reading never fails here; the tool checks every argument itself and
/// names all the wrong ones in one answer.
#[derive(Debug, Clone, Default)]
pub struct Arguments<T> {
    /// The arguments object.
    pub object: Map<String, Value>,
    _schema: std::marker::PhantomData<fn() -> T>,
}

impl<'de, T> Deserialize<'de> for Arguments<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Arguments {
            object: Map::deserialize(d)?,
            _schema: std::marker::PhantomData,
        })
    }
}

impl<T: JsonSchema> JsonSchema for Arguments<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// The arguments of `log_action`: the entry's fields, and a decision's.
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)] // only its schema is used: see `Arguments`
pub struct LogAction {
    /// What kind of action: lower_snake_case (tool_call, email_sent,
    /// decision, ...).
    pub action_type: ActionType,
    /// What was acted on: a vault path, an email address, a URL.
    #[schemars(regex(pattern = r"\S"))]
    pub target: String,
    /// Severity (default INFO).
    pub log_level: Option<LogLevel>,
    /// Who acted (default: the agent id, AUDIT_AGENT_ID).
    #[schemars(regex(pattern = r"\S"))]
    pub actor: Option<String>,
    /// Details of the action, any JSON object.
    pub parameters: Option<Map<String, Value>>,
    /// How the action ended (default success).
    pub result: Option<Outcome>,
    /// What went wrong.
    pub error_message: Option<String>,
    /// Where the action stands in approval (default not_required).
    pub approval_status: Option<ApprovalStatus>,
    /// Who approved it (default N/A).
    pub approved_by: Option<ApprovedBy>,
    /// Whether the action itself was a dry run (default false).
    pub dry_run: Option<bool>,
    /// The session (default: the server's).
    #[schemars(regex(pattern = r"\S"))]
    pub session_id: Option<String>,
    /// When it happened, RFC 3339 (default now); at most 5 minutes ahead of
    /// the clock and within the retention window.
    #[schemars(extend("format" = "date-time"))]
    pub timestamp: Option<String>,
    /// A decision: the question decided (stored in parameters).
    pub question: Option<String>,
    /// A decision: the options considered.
    pub options: Option<Vec<DecisionOption>>,
    /// A decision: the option chosen.
    pub chosen: Option<String>,
    /// A decision: how sure, from 0 to 1.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub confidence: Option<f64>,
}

/// One option a decision weighed.
#[derive(Debug, JsonSchema)]
#[allow(dead_code)]
pub struct DecisionOption {
    /// The option.
    pub option: String,
    /// Why (or why not).
    pub reasoning: Option<String>,
    /// How good it looked.
    pub score: Option<f64>,
}

/// The arguments of `query_logs`: the filters of `vault-audit query`.
#[derive(Debug, JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)] // only its schema is used: see `Arguments`
pub struct QueryLogs {
    /// From this time: a duration back from now (30m, 1h, 7d), an RFC 3339
    /// time or a date (its start).
    #[schemars(extend("anyOf" = [{"pattern": WHEN_DURATION}, {"format": "date-time"}, {"format": "date"}]))]
    pub since: Option<String>,
    /// Up to this time: the same forms (a date means its end).
    #[schemars(extend("anyOf" = [{"pattern": WHEN_DURATION}, {"format": "date-time"}, {"format": "date"}]))]
    pub until: Option<String>,
    /// A level, or a list of levels meaning any of them.
    pub level: Option<Levels>,
    /// This action_type, exactly.
    pub action: Option<String>,
    /// This actor, exactly.
    pub actor: Option<String>,
    /// Targets containing this text.
    pub target: Option<String>,
    /// This result.
    pub result: Option<Outcome>,
    /// This session_id, exactly.
    pub session: Option<String>,
    /// This approval status.
    pub approval_status: Option<ApprovalStatus>,
    /// This text anywhere in the entry.
    pub contains: Option<String>,
    /// How many of the last matching entries to return (default 50).
    #[schemars(range(min = 1, max = MAX_LIMIT), extend("default" = DEFAULT_LIMIT))]
    pub limit: Option<u64>,
}

/// One level or a list of them.
#[derive(Debug, JsonSchema)]
#[schemars(untagged)]
#[allow(dead_code)]
pub enum Levels {
    /// One level.
    One(LogLevel),
    /// Any of these.
    Any(Vec<LogLevel>),
}

/// What `log_action` answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Logged {
    /// Always true (a failure is a tool error).
    pub ok: bool,
    /// The day file written, vault-relative (null in a dry run).
    pub path: Option<String>,
    /// The entries in that day file now (null in a dry run).
    pub total_entries: Option<u64>,
    /// Whether nothing was written (the server runs in dry-run mode).
    pub dry_run: bool,
    /// The entry as stored: redacted, defaults filled in.
    pub entry: Option<Value>,
}

/// What `query_logs` answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Found {
    /// Always true (a failure is a tool error).
    pub ok: bool,
    /// How many entries match.
    pub matched: u64,
    /// How many are returned.
    pub returned: u64,
    /// The last `limit` matching entries, in time order.
    pub entries: Vec<Value>,
}
