//! `vault-audit report`: the audit report note over a period.

use std::path::PathBuf;

use chrono::Utc;

use crate::cli::args::ReportArgs;
use crate::cli::response::Response;
use crate::cli::{exit, CliError, Io};
use crate::config::Config;
use crate::query::{Filter, FilterSpec};
use crate::report::{self, Request};
use crate::vault::Vault;

/// Where the note goes: printed, the path `--out` names, or a free name
/// in the reports folder of the vault.
enum Destination {
    Print,
    File(PathBuf),
}

fn destination(
    config: &Config,
    args: &ReportArgs,
    vault: &Vault,
    today: chrono::NaiveDate,
) -> Result<Destination, CliError> {
    let folder = &config
        .reports
        .as_ref()
        .map_err(|p| CliError::Usage(p.clone()))?
        .folder;
    match &args.out {
        _ if config.dry_run => Ok(Destination::Print),
        Some(out) if out.as_os_str() == "-" => Ok(Destination::Print),
        Some(out) if report::in_logs(vault, out) => Err(CliError::Usage(format!(
            "--out {} is in the vault's Logs/ folder, which holds only the log's own files; name a path outside Logs/",
            out.display()
        ))),
        Some(out) if !args.force && std::fs::symlink_metadata(out).is_ok() => {
            Err(CliError::Usage(format!(
                "{} exists; name another --out, or add --force to replace it",
                out.display()
            )))
        }
        Some(out) => Ok(Destination::File(out.clone())),
        None => Ok(Destination::File(report::free_path(
            &vault.root().join(report::default_note(folder, today)),
        ))),
    }
}

/// Runs `report`; returns the exit code.
pub fn run(config: &Config, args: &ReportArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let vault = config.existing_vault()?;
    let now = Utc::now();
    let spec = FilterSpec {
        since: Some(args.since.clone()),
        until: args.until.clone(),
        ..FilterSpec::default()
    };
    let filter = Filter::new(&spec, now)?;
    let (since, until) = (filter.since.unwrap_or(now), filter.until.unwrap_or(now));
    if since > until {
        return Err(CliError::Usage(format!(
            "--since {} is after --until {}: the period would be empty",
            args.since,
            args.until.as_deref().unwrap_or("(now)")
        )));
    }
    if let Some(problem) = report::period_problem(since, until) {
        return Err(CliError::Usage(format!(
            "--since {} --until {}: {problem}",
            args.since,
            args.until.as_deref().unwrap_or("(now)")
        )));
    }
    let folders = report::alert_folders(&config.alerts.folder);
    let where_to = destination(config, args, &vault, now.date_naive())?;
    let request = Request {
        since,
        until,
        generated_at: now,
        alert_folders: folders,
    };
    let text = report::build(&vault, &request).map_err(|e| {
        CliError::unavailable(
            format!("read the day files of {}", vault.root().display()),
            e,
        )
    })?;
    match where_to {
        Destination::Print => {
            let _ = io.stdout.write_all(text.as_bytes());
            Ok(exit::OK)
        }
        Destination::File(path) => {
            report::write(vault.root(), &path, &text)?;
            let mut r = Response::new("success");
            r.path = Some(vault.relative(&path).into_owned());
            r.details
                .insert("since".into(), crate::time::format_timestamp(&since).into());
            r.details
                .insert("until".into(), crate::time::format_timestamp(&until).into());
            let _ = writeln!(io.stdout, "{}", r.to_line());
            Ok(exit::OK)
        }
    }
}
