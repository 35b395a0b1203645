//! `vault-audit forward`: catch the configured sinks up once (for cron), show
//! where each stands, or print the PostgreSQL table's DDL.

use std::io::Write;
use std::sync::atomic::AtomicBool;

use serde_json::{json, Value};

use crate::cli::args::ForwardArgs;
use crate::cli::bar::Bar;
use crate::cli::exit;
use crate::cli::{CliError, Io};
use crate::config::Config;
use crate::forward::{self, config::Setup};

/// Runs `forward`.
pub fn run(config: &Config, args: &ForwardArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let (stdout, stderr) = (&mut *io.stdout, &mut *io.stderr);
    let settings = config.forwarding()?;
    if args.init_postgres {
        return init_postgres(config, settings.postgres.as_deref(), stdout, stderr);
    }
    let logger = config.logger()?;
    let vault = logger.vault().clone();
    if let Some(host) = vault.host() {
        return Err(CliError::Usage(format!(
            "this machine is the replica {host:?} (AUDIT_ROLE=replica): the primary forwards every machine's entries once it has taken them in; run forward there"
        )));
    }
    let Setup { sinks, pace, .. } = config.sinks(&vault)?;
    if sinks.is_empty() {
        return Err(CliError::Usage(
            "no sink is configured: set AUDIT_FORWARD_POSTGRES, AUDIT_FORWARD_SYSLOG, AUDIT_FORWARD_HTTP or AUDIT_FORWARD_CLOUDWATCH".into(),
        ));
    }
    let mut report = Vec::new();
    let mut failed = false;
    if args.status || logger.is_dry_run() {
        for sink in &sinks {
            let pending = forward::pending(&vault, sink.name()).map_err(|e| {
                CliError::unavailable(format!("read what sink {} lacks", sink.name()), e)
            })?;
            report.push(json!({"sink": sink.name(), "pending": pending}));
        }
        let mut out = json!({"sinks": report});
        if logger.is_dry_run() && !args.status {
            out["dry_run"] = true.into();
        }
        let _ = writeln!(stdout, "{out}");
        return Ok(exit::OK);
    }
    let stop = AtomicBool::new(false);
    for mut sink in sinks {
        let name = sink.name().to_owned();
        let (progress, error) =
            match forward::catch_up_metered(&vault, sink.as_mut(), &pace, &stop, &mut Bar::new()) {
                Ok(p) => (p, None),
                Err((p, e)) => (p, Some(e)),
            };
        let mut gaps = Vec::new();
        for (date, n) in &progress.lost {
            let day = date.format("%Y-%m-%d").to_string();
            gaps.push(json!({"day": day, "entries": n}));
            if let Some(e) = forward::gap_event(&name, *date, *n) {
                if let Err(err) = logger.log(e) {
                    tracing::warn!("could not log a forwarding gap: {err}");
                }
            }
        }
        if let Some(e) = forward::skip_event(&name, &progress.skipped) {
            if let Err(err) = logger.log(e) {
                tracing::warn!("could not log the entries a sink skipped: {err}");
            }
        }
        let pending = forward::pending(&vault, &name).ok();
        let mut line = json!({"sink": name, "sent": progress.sent, "pending": pending, "lost": gaps,
                              "skipped": progress.skipped.len()});
        if let Some(e) = error {
            failed = true;
            tracing::warn!("sink {name}: {e}; the entries stay in the day files and go next time");
            line["error"] = Value::String(e.to_string());
        }
        report.push(line);
    }
    let _ = writeln!(stdout, "{}", json!({"sinks": report}));
    Ok(if failed { exit::IO } else { exit::OK })
}

#[cfg(feature = "postgres")]
fn init_postgres(
    config: &Config,
    url: Option<&str>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<u8, CliError> {
    use crate::forward::config::ConfigError as ForwardConfigError;
    let _ = write!(stdout, "{}", forward::postgres::DDL);
    let Some(url) = url else {
        return Ok(exit::OK);
    };
    if config.dry_run {
        let _ = writeln!(
            stderr,
            "vault-audit: dry run: the table was not created (pass --no-dry-run)"
        );
        return Ok(exit::OK);
    }
    let mut sink = forward::postgres::PostgresSink::new(url, "").map_err(|source| {
        ForwardConfigError::Sink {
            name: crate::config::SINK_NAMES.postgres,
            source,
        }
    })?;
    match sink.init() {
        Ok(()) => {
            let _ = writeln!(stderr, "vault-audit: agent_audit_log is ready");
            Ok(exit::OK)
        }
        Err(e) => {
            let _ = writeln!(stderr, "vault-audit: PostgreSQL: {e}");
            Ok(exit::IO)
        }
    }
}

#[cfg(not(feature = "postgres"))]
fn init_postgres(
    _config: &Config,
    _url: Option<&str>,
    _stdout: &mut dyn Write,
    _stderr: &mut dyn Write,
) -> Result<u8, CliError> {
    Err(CliError::Usage(
        "this build has no PostgreSQL sink (build with the `postgres` feature)".into(),
    ))
}
