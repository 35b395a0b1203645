//! `vault-audit index`, `dashboard` and `rotate`: the post-write upkeep,
//! run by hand. Each prints one response line like `log`'s.

use serde_json::{json, Value};

use crate::cli::exit;
use crate::cli::response::Response;
use crate::cli::{CliError, Io};
use crate::config::Config;
use crate::dashboard::Refresh;
use crate::error::Error;
use crate::logger::AuditLogger;

/// Which upkeep to run.
#[derive(Debug, Clone, Copy)]
pub enum Task {
    /// Rebuild the index.
    Index,
    /// Refresh the Dashboard table.
    Dashboard,
    /// Run retention, keeping this many days (or the configured number).
    Rotate(Option<u32>),
}

/// Runs one task and prints its response; returns the exit code.
pub fn run(config: &Config, task: Task, io: &mut Io<'_>) -> Result<u8, CliError> {
    let response = perform(&config.logger()?, task)?;
    let code = if response.errors.is_empty() {
        exit::OK
    } else {
        for e in &response.errors {
            let _ = writeln!(io.stderr, "vault-audit: {e}");
        }
        exit::REJECTED
    };
    let _ = writeln!(io.stdout, "{}", response.to_line());
    Ok(code)
}

fn perform(logger: &AuditLogger, task: Task) -> Result<Response, Error> {
    let vault = logger.vault();
    let mut r = Response::new("success");
    r.details
        .insert("dry_run".into(), logger.is_dry_run().into());
    match task {
        Task::Index => {
            // On the primary, what the replicas wrote is taken in first.
            let synced = logger.sync_replicas()?;
            if !synced.notes.is_empty() {
                r.details.insert("synced".into(), json!(synced.notes));
            }
            let index = logger.rebuild_index()?;
            r.path = Some(vault.relative(&vault.index()).into_owned());
            r.details.insert(
                "index".into(),
                serde_json::to_value(&index).unwrap_or(Value::Null),
            );
        }
        Task::Dashboard => {
            let (outcome, table) = logger.refresh_dashboard()?;
            let result = match outcome {
                Refresh::NoDashboard => "no_dashboard",
                Refresh::Unchanged => "unchanged",
                Refresh::Written => "written",
                Refresh::WouldWrite => "would_write",
            };
            r.path = Some(vault.relative(&vault.dashboard()).into_owned());
            r.details.insert("result".into(), result.into());
            r.details
                .insert("rows".into(), table.len().saturating_sub(2).into());
            r.details.insert("table".into(), json!(table));
        }
        Task::Rotate(days) => {
            let report = logger.rotate(days)?;
            r.path = Some(vault.relative(&vault.logs()).into_owned());
            if let Value::Object(map) = serde_json::to_value(&report).unwrap_or(Value::Null) {
                r.details.extend(map);
            }
            if !report.kept_unreadable.is_empty() {
                r.status = "partial";
                r.errors.extend(report.kept_unreadable.iter().map(|f| {
                    format!("Logs/{f} is expired but could not be read as JSON; it was kept")
                }));
            }
        }
    }
    Ok(r)
}
