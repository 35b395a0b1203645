//! The PostgreSQL sink: one row per entry in `agent_audit_log`, keyed by
//! vault, day file and position, so a batch sent twice inserts nothing twice.

use std::time::Duration;

use postgres::Client;
use serde_json::{json, Map, Value};

use super::{Record, Sink, SinkConfigError, SinkError};
use crate::chain::head::Head;

pub mod tls;

/// The table, its key and its indexes; `forward --init-postgres` prints and
/// runs it, and the sink runs it only when a table is missing (so a role
/// with INSERT and SELECT alone is enough once the tables exist).
pub const DDL: &str = r#"CREATE TABLE IF NOT EXISTS agent_audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vault           text        NOT NULL,
    day_file        date        NOT NULL,
    position        integer     NOT NULL,
    "timestamp"     timestamptz NOT NULL,
    log_level       text        NOT NULL,
    action_type     text        NOT NULL,
    actor           text        NOT NULL,
    target          text        NOT NULL,
    parameters      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    approval_status text        NOT NULL,
    approved_by     text        NOT NULL,
    dry_run         boolean     NOT NULL DEFAULT false,
    result          text        NOT NULL,
    error_message   text,
    session_id      text,
    received_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agent_audit_log_entry UNIQUE (vault, day_file, position)
);
CREATE INDEX IF NOT EXISTS agent_audit_log_time    ON agent_audit_log ("timestamp");
CREATE INDEX IF NOT EXISTS agent_audit_log_actor   ON agent_audit_log (actor, "timestamp");
CREATE INDEX IF NOT EXISTS agent_audit_log_action  ON agent_audit_log (action_type, "timestamp");
CREATE INDEX IF NOT EXISTS agent_audit_log_session ON agent_audit_log (session_id);
CREATE TABLE IF NOT EXISTS vault_audit_heads (
    vault       text        NOT NULL,
    seq         bigint      NOT NULL,
    day_file    date        NOT NULL,
    entries     bigint      NOT NULL,
    chain       text,
    line        text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (vault, seq)
);
"#;

/// One chain head, kept once per sequence number.
const INSERT_HEAD: &str = r#"INSERT INTO vault_audit_heads (vault, seq, day_file, entries, chain, line)
VALUES ($1, $2, $3::text::date, $4, $5, $6)
ON CONFLICT (vault, seq) DO NOTHING"#;

/// The chain heads stored for `vault` (head lines, by sequence number), for
/// `verify --against-postgres`.
pub fn fetch_heads(url: &str, vault: &str) -> Result<Vec<String>, SinkError> {
    let mut sink = PostgresSink::new(url, vault).map_err(|e| SinkError::Rejected(e.to_string()))?;
    let client = sink.client()?;
    let rows = client
        .query(
            "SELECT line FROM vault_audit_heads WHERE vault = $1 ORDER BY seq",
            &[&vault],
        )
        .map_err(|e| classify(&e))?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

/// One statement per batch: the rows go as one JSON array.
const INSERT: &str = r#"INSERT INTO agent_audit_log
    (vault, day_file, position, "timestamp", log_level, action_type, actor, target,
     parameters, approval_status, approved_by, dry_run, result, error_message, session_id)
SELECT $1, r.day_file, r.position, r.ts, r.log_level, r.action_type, r.actor, r.target,
       coalesce(r.parameters, '{}'::jsonb), r.approval_status, r.approved_by,
       coalesce(r.dry_run, false), r.result, r.error_message, r.session_id
FROM jsonb_to_recordset($2::text::jsonb) AS r(
    day_file date, position integer, ts timestamptz, log_level text, action_type text,
    actor text, target text, parameters jsonb, approval_status text, approved_by text,
    dry_run boolean, result text, error_message text, session_id text)
ON CONFLICT ON CONSTRAINT agent_audit_log_entry DO NOTHING"#;

/// Sends entries to PostgreSQL.
pub struct PostgresSink {
    config: postgres::Config,
    tls: tls::TlsOptions,
    vault: String,
    client: Option<Client>,
}

/// PostgreSQL refuses NUL in text and jsonb: each becomes U+FFFD.
fn without_nul(v: &Value) -> Value {
    match v {
        Value::String(s) if s.contains('\0') => Value::String(s.replace('\0', "\u{fffd}")),
        Value::Array(a) => Value::Array(a.iter().map(without_nul).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.replace('\0', "\u{fffd}"), without_nul(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The row of one entry, with defaults for what a foreign entry lacks.
fn row(r: &Record) -> Value {
    let text = |name: &str, default: &str| {
        let s = r.field(name);
        Value::String(if s.is_empty() { default } else { s }.to_owned())
    };
    // A timestamp PostgreSQL cannot read would refuse the whole batch: the
    // day's midnight stands in for it (the entry's own text stays in the day file).
    let ts = chrono::DateTime::parse_from_rfc3339(r.field("timestamp"))
        .map(|t| t.to_rfc3339())
        .unwrap_or_else(|_| format!("{}T00:00:00Z", r.date.format("%Y-%m-%d")));
    let parameters = match r.value.get("parameters") {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        Some(other) => json!({ "value": other }),
        None => Value::Object(Map::new()),
    };
    let optional = |name: &str| match r.value.get(name) {
        Some(Value::String(s)) => Value::String(s.clone()),
        Some(Value::Null) | None => Value::Null,
        Some(other) => Value::String(other.to_string()),
    };
    without_nul(&json!({
        "day_file": r.date.format("%Y-%m-%d").to_string(),
        "position": r.position,
        "ts": ts,
        "log_level": text("log_level", "INFO"),
        "action_type": text("action_type", "unknown"),
        "actor": text("actor", "unknown"),
        "target": text("target", ""),
        "parameters": parameters,
        "approval_status": text("approval_status", "not_required"),
        "approved_by": text("approved_by", "N/A"),
        "dry_run": r.value.get("dry_run").and_then(Value::as_bool).unwrap_or(false),
        "result": text("result", "success"),
        "error_message": optional("error_message"),
        "session_id": optional("session_id"),
    }))
}

fn classify(e: &postgres::Error) -> SinkError {
    // A server-side error on the statement (bad data, no privilege) is a
    // refusal; anything about the connection is an outage.
    match e.as_db_error() {
        Some(db) if !e.is_closed() => {
            let class = &db.code().code()[..2];
            // 08: connection exception, 53: insufficient resources, 57: operator
            // intervention (shutdown), 58: system error: the server, not the data.
            if matches!(class, "08" | "53" | "57" | "58" | "40") {
                SinkError::Unavailable(db.to_string())
            } else {
                SinkError::Rejected(db.to_string())
            }
        }
        _ => SinkError::Unavailable(with_causes(e)),
    }
}

/// The error and its causes, `: `-joined (a TLS failure says why).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text = format!("{text}: {part}");
        }
        cause = c.source();
    }
    text
}

impl PostgresSink {
    /// A sink for a `postgres://` URL or a `key=value` connection string.
    /// `sslmode` and `sslrootcert` are libpq's (see [`tls`]).
    pub fn new(url: &str, vault: &str) -> Result<PostgresSink, SinkConfigError> {
        let (rest, tls) = tls::split(url).map_err(|reason| SinkConfigError::Postgres { reason })?;
        // The connector is built once here so a bad sslrootcert is a
        // configuration error, not an outage retried forever.
        tls.connector()
            .map_err(|reason| SinkConfigError::Postgres { reason })?;
        let mut config: postgres::Config =
            rest.parse()
                .map_err(|e: postgres::Error| SinkConfigError::Postgres {
                    reason: e.to_string(),
                })?;
        config.ssl_mode(tls.mode());
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("vault-audit");
        }
        Ok(PostgresSink {
            config,
            tls,
            vault: vault.to_owned(),
            client: None,
        })
    }

    fn client(&mut self) -> Result<&mut Client, SinkError> {
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        if self.client.is_none() {
            let connector = self.tls.connector().map_err(SinkError::Rejected)?;
            let mut client = self.config.connect(connector).map_err(|e| classify(&e))?;
            create_if_missing(&mut client)?;
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| SinkError::Unavailable("not connected".into()))
    }

    /// Runs the DDL (`forward --init-postgres`): creates what is missing.
    pub fn init(&mut self) -> Result<(), SinkError> {
        let client = self.client()?;
        client.batch_execute(DDL).map_err(|e| classify(&e))
    }
}

/// Runs the DDL when a table is missing; a role that may not create it gets
/// a refusal naming the command that will.
fn create_if_missing(client: &mut Client) -> Result<(), SinkError> {
    let row = client
        .query_one(
            "SELECT to_regclass('agent_audit_log') IS NOT NULL \
             AND to_regclass('vault_audit_heads') IS NOT NULL",
            &[],
        )
        .map_err(|e| classify(&e))?;
    if row.try_get::<_, bool>(0).unwrap_or(false) {
        return Ok(());
    }
    client.batch_execute(DDL).map_err(|e| match classify(&e) {
        SinkError::Rejected(reason) => SinkError::Rejected(format!(
            "the tables are missing and this role may not create them ({reason}): \
             run `vault-audit forward --init-postgres --no-dry-run` as their owner"
        )),
        other => other,
    })
}

impl Sink for PostgresSink {
    fn name(&self) -> &str {
        "postgres"
    }

    fn send(&mut self, batch: &[Record]) -> Result<(), SinkError> {
        let rows = Value::Array(batch.iter().map(row).collect()).to_string();
        let vault = self.vault.clone();
        let client = self.client()?;
        match client.execute(INSERT, &[&vault, &rows]) {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = classify(&e);
                if matches!(err, SinkError::Unavailable(_)) {
                    self.client = None;
                }
                Err(err)
            }
        }
    }

    fn send_head(&mut self, head: &Head) -> Result<(), SinkError> {
        let vault = self.vault.clone();
        let day = head.state.day.format("%Y-%m-%d").to_string();
        let chain = head.state.chain.map(|c| crate::chain::to_hex(&c));
        let seq = head.seq as i64;
        let entries = head.state.entries as i64;
        let client = self.client()?;
        let params: [&(dyn postgres::types::ToSql + Sync); 6] =
            [&vault, &seq, &day, &entries, &chain, &head.line];
        client
            .execute(INSERT_HEAD, &params)
            .map(|_| ())
            .map_err(|e| classify(&e))
    }

    fn health(&mut self) -> Result<(), SinkError> {
        let client = self.client()?;
        client
            .simple_query("SELECT 1")
            .map(|_| ())
            .map_err(|e| classify(&e))
    }
}
