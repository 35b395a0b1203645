//! `vault-audit daemon [status|stop]` and `vault-audit replay`.

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde_json::json;

use crate::cli::args::{DaemonAction, DaemonArgs, ReplayArgs};
use crate::cli::bar::Bar;
use crate::cli::exit;
use crate::cli::response::Response;
use crate::cli::{CliError, Io};
use crate::config::{Config, DaemonSettings};
use crate::daemon::{self, pidfile, DaemonConfig, DaemonError};
use crate::inbox;
use crate::journal;
use crate::vault::Vault;

/// Runs `daemon` (or its `status` / `stop`); returns the exit code.
pub fn run(config: &Config, args: &DaemonArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let vault = config.own_vault()?;
    match args.action {
        Some(DaemonAction::Status) => status(&vault, io.stdout),
        Some(DaemonAction::Stop) => stop(&vault, io.stdout, io.stderr),
        None => serve(config, args, &vault, io.stderr),
    }
}

fn status(vault: &Vault, stdout: &mut dyn Write) -> Result<u8, CliError> {
    let running = pidfile::running(vault)
        .map_err(|e| CliError::unavailable("read the daemon's pid file", e))?;
    let _ = writeln!(
        stdout,
        "{}",
        json!({
            "running": running.is_some(),
            "pid": running.map(|r| r.pid),
            "ready": running.is_some_and(|r| r.ready),
        })
    );
    Ok(if running.is_some() {
        exit::OK
    } else {
        exit::REJECTED
    })
}

#[cfg(unix)]
fn stop(vault: &Vault, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Result<u8, CliError> {
    match daemon::stop(vault, std::time::Duration::from_secs(10)) {
        Ok(Some(pid)) => {
            let _ = writeln!(stdout, "{}", json!({"stopped": true, "pid": pid}));
            Ok(exit::OK)
        }
        Ok(None) => {
            let _ = writeln!(stdout, "{}", json!({"stopped": false, "pid": null}));
            let _ = writeln!(
                stderr,
                "vault-audit: no daemon runs for {}",
                vault.root().display()
            );
            Ok(exit::REJECTED)
        }
        Err(e) => {
            let _ = writeln!(stderr, "vault-audit: {e}");
            Ok(exit::IO)
        }
    }
}

#[cfg(not(unix))]
fn stop(_vault: &Vault, _stdout: &mut dyn Write, _stderr: &mut dyn Write) -> Result<u8, CliError> {
    Err(CliError::Usage(
        "daemon stop needs a Unix system; stop the process from the service manager".into(),
    ))
}

fn serve(
    config: &Config,
    args: &DaemonArgs,
    vault: &Vault,
    stderr: &mut dyn Write,
) -> Result<u8, CliError> {
    if config.dry_run {
        return Err(CliError::Usage(
            "the daemon writes for real and DRY_RUN is on (the default): pass --no-dry-run or set AUDIT_DRY_RUN=false".into(),
        ));
    }
    config.writable_vault(vault.root())?;
    if let Some(problem) = config
        .alert_problem
        .as_ref()
        .or(config.dashboard_problem.as_ref())
    {
        return Err(CliError::Usage(problem.clone()));
    }
    let reports = config.reports.clone().map_err(CliError::Usage)?;
    let settings = daemon_settings(config)?;
    let logger = config
        .builder_for(vault.root(), false)
        .alerts(Some(alert_rules(config, args, settings)))
        .upkeep(false)
        .build()?;
    let cfg = DaemonConfig {
        poll: args.poll,
        watch_vault: !args.no_watch_vault,
        folders: settings.folders.clone(),
        grace: settings.grace,
        notify: config.systemd_notify,
        weekly_report: reports.weekly.then(|| daemon::WeeklyReport {
            folder: reports.folder.clone(),
            alert_folders: crate::report::alert_folders(&settings.folders.needs_action),
            zone: crate::time::Zone::Local,
        }),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| CliError::unavailable("handle signals", e))?;
    }
    let setup = config.sinks(vault)?;
    let bars = indicatif::MultiProgress::new();
    let mut forwarding = daemon::Forwarding {
        sinks: setup.sinks,
        pace: setup.pace,
        meter: std::sync::Arc::new(move || Box::new(Bar::new().in_group(&bars))),
    };
    if vault.host().is_some() && !forwarding.sinks.is_empty() {
        // The primary forwards every machine's entries once taken in.
        tracing::warn!(
            "this machine is a replica: the sinks are the primary's to feed; not forwarding"
        );
        forwarding.sinks.clear();
    }
    match daemon::run(logger, &cfg, forwarding, &stop) {
        Ok(()) => Ok(exit::OK),
        Err(e @ DaemonError::AlreadyRunning(_)) => {
            let _ = writeln!(stderr, "vault-audit: {e}");
            Ok(exit::FALLBACK)
        }
        Err(e) => {
            let _ = writeln!(stderr, "vault-audit: {e}");
            Ok(exit::IO)
        }
    }
}

/// `vault-audit replay`: takes in `failed_writes.json` (and any claim left
/// half done) now.
pub fn replay(config: &Config, args: &ReplayArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let (stdout, stderr) = (&mut *io.stdout, &mut *io.stderr);
    let logger = config.logger()?;
    let vault = logger.vault().clone();
    let mut response = Response::new("success");
    if args.orphans && !logger.is_dry_run() {
        let adopted = adopt_orphans(config, &logger)?;
        response.details.insert("orphans".into(), adopted.into());
    }
    if logger.is_dry_run() {
        let pending = std::fs::read_to_string(vault.failed_writes())
            .map(|t| t.lines().count())
            .unwrap_or(0);
        response.details.insert("dry_run".into(), true.into());
        response.details.insert("pending".into(), pending.into());
        let _ = writeln!(stdout, "{}", response.to_line());
        return Ok(exit::OK);
    }
    let mut progress = journal::load_progress(&vault);
    let mut replayed = 0;
    let mut rejected = Vec::new();
    let mut alerts = Vec::new();
    // Alerts batch by batch, as the daemon raises them (the lock is not
    // held while `seen` runs).
    let mut seen = |batch: &[crate::entry::Entry]| match logger.raise_alerts(batch) {
        Ok(notes) => alerts.extend(notes),
        Err(e) => tracing::warn!("alerts: {e}"),
    };
    let result = logger
        .with_writer_lock(|| journal::resolve(&vault))
        .and_then(|_| {
            if let Some(intake) = inbox::replay_failed_writes(&logger, &mut progress, &mut seen)? {
                replayed += intake.written;
                rejected.extend(intake.rejected);
            }
            Ok(())
        });
    response.details.insert("replayed".into(), replayed.into());
    response.details.insert("alerts".into(), alerts.into());
    response.path = Some(vault.relative(&vault.failed_writes()).into_owned());
    if !rejected.is_empty() {
        response.status = "partial";
        response.errors = rejected;
    }
    let code = match result {
        Ok(()) if response.errors.is_empty() => exit::OK,
        Ok(()) => exit::REJECTED,
        Err(e) => {
            let _ = writeln!(stderr, "vault-audit: {e}");
            response.status = "failed";
            response.errors.push(e.to_string());
            exit::for_error(&e)
        }
    };
    let _ = writeln!(stdout, "{}", response.to_line());
    Ok(code)
}

/// Moves the entries a hook saved in the state folder (it found no vault)
/// into this vault's `failed_writes.json`, under the writers' lock, for the
/// replay to take in. Returns how many lines moved.
fn adopt_orphans(config: &Config, logger: &crate::logger::AuditLogger) -> Result<usize, CliError> {
    let Some(file) = config
        .state_dir
        .as_ref()
        .map(|d| d.join("failed_writes.json"))
    else {
        return Ok(0);
    };
    let target = logger.vault().failed_writes();
    let moved = logger.with_writer_lock(|| {
        let bytes = match std::fs::read(&file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        crate::fsutil::append_durable(&target, &bytes)?;
        std::fs::remove_file(&file)?;
        Ok(bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count())
    })?;
    Ok(moved)
}

/// The alert rules the daemon raises by: the configured ones, with its
/// flags over them, and its Needs_Action folder.
fn alert_rules(
    config: &Config,
    args: &DaemonArgs,
    settings: &DaemonSettings,
) -> crate::alert::Rules {
    let mut rules = config.alerts.clone();
    if let Some(n) = args.alert_errors {
        rules.errors = n as usize;
    }
    if let Some(window) = args
        .alert_window
        .and_then(|w| chrono::Duration::from_std(w).ok())
    {
        rules.window = window;
    }
    rules.folder = settings.folders.needs_action.clone();
    rules
}

/// The daemon's settings, read for the `daemon` command.
fn daemon_settings(config: &Config) -> Result<&DaemonSettings, CliError> {
    config
        .daemon
        .as_ref()
        .ok_or_else(|| CliError::usage("the daemon's settings were not read for this command"))
}
