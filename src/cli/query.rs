//! `vault-audit query` and `vault-audit tail`.

use std::io::{self, IsTerminal, Write};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cli::args::{QueryArgs, TailArgs};
use crate::cli::config::Config;
use crate::cli::exit;
use crate::cli::{CliError, Io};
use crate::entry::{ApprovalStatus, LogLevel, Outcome};
use crate::query::output::{Format, Printer};
use crate::query::{self, Filter, Lite};
use crate::time::{parse_day, parse_duration, parse_timestamp};

/// A `--since` / `--until` value: a duration back from now, an RFC 3339
/// time, or a date (its start, or with `end`, its last millisecond).
fn when(flag: &str, text: &str, now: DateTime<Utc>, end: bool) -> Result<DateTime<Utc>, CliError> {
    if let Ok(back) = parse_duration(text) {
        return chrono::Duration::from_std(back)
            .map(|d| now - d)
            .map_err(|e| CliError::Usage(e.to_string()));
    }
    if let Ok(t) = parse_timestamp(text) {
        return Ok(t);
    }
    if let Some(day) = parse_day(text) {
        let t = if end {
            day.and_hms_milli_opt(23, 59, 59, 999)
        } else {
            day.and_hms_opt(0, 0, 0)
        };
        if let Some(t) = t {
            return Ok(t.and_utc());
        }
    }
    Err(CliError::Usage(format!(
        "{flag} {text:?}: accepted: a duration back from now (30m, 1h, 7d), an RFC 3339 time (2026-11-22T10:00:00Z) or a date (2026-11-22)"
    )))
}

fn closed<T: std::str::FromStr<Err = String>>(
    flag: &str,
    text: &Option<String>,
) -> Result<Option<String>, CliError> {
    text.as_deref()
        .map(|t| {
            t.parse::<T>()
                .map(|_| t.to_owned())
                .map_err(|accepted| CliError::Usage(format!("{flag} {t:?}: accepted: {accepted}")))
        })
        .transpose()
}

/// The filter the flags describe.
pub fn filter(args: &QueryArgs, now: DateTime<Utc>) -> Result<Filter, CliError> {
    let levels = args
        .level
        .iter()
        .map(|l| {
            l.parse::<LogLevel>()
                .map(|l| l.as_str().to_owned())
                .map_err(|a| CliError::Usage(format!("--level {l:?}: accepted: {a}")))
        })
        .collect::<Result<_, _>>()?;
    let result = closed::<Outcome>("--result", &args.result)?.map(|r| r.to_lowercase());
    let approval_status = closed::<ApprovalStatus>("--approval-status", &args.approval_status)?
        .map(|s| s.to_lowercase());
    Ok(Filter {
        since: args
            .since
            .as_deref()
            .map(|s| when("--since", s, now, false))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|u| when("--until", u, now, true))
            .transpose()?,
        levels,
        action: args.action.clone(),
        actor: args.actor.clone(),
        target: args.target.clone(),
        result,
        session: args.session.clone(),
        approval_status,
        contains: args.contains.clone(),
    })
}

fn format_for(chosen: Option<Format>) -> (Format, bool) {
    let terminal = io::stdout().is_terminal();
    (
        chosen.unwrap_or(if terminal {
            Format::Table
        } else {
            Format::Jsonl
        }),
        terminal,
    )
}

/// Output errors: a closed pipe (`| head`) ends the command quietly.
fn finish(result: io::Result<()>, stderr: &mut dyn Write) -> u8 {
    match result {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            let _ = writeln!(stderr, "vault-audit: {e}");
            exit::IO
        }
    }
}

/// Runs `query`; returns the exit code.
pub fn run(config: &Config, args: &QueryArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let vault = config.existing_vault()?;
    let stdout = &mut *io.stdout;
    let filter = filter(args, Utc::now())?;
    let (format, terminal) = format_for(args.format);
    let result = (|| {
        if args.count || args.stats {
            let (count, mut stats) = query::aggregate(&vault, &filter, args.stats)?;
            if args.stats {
                let text =
                    serde_json::to_string_pretty(&stats.to_json()).map_err(io::Error::other)?;
                writeln!(stdout, "{text}")
            } else {
                writeln!(stdout, "{count}")
            }
        } else {
            let mut printer = Printer::new(stdout, format, terminal);
            printer.begin()?;
            let mut failure = None;
            query::scan(&vault, &filter, true, |line, e| {
                match printer.entry(line, e) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(err) => {
                        failure = Some(err);
                        ControlFlow::Break(())
                    }
                }
            })?;
            if let Some(err) = failure {
                return Err(err);
            }
            printer.end()
        }
    })();
    Ok(finish(result, io.stderr))
}

/// Runs `tail`; returns the exit code.
pub fn tail(config: &Config, args: &TailArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let vault = config.existing_vault()?;
    let stdout = &mut *io.stdout;
    let (format, terminal) = format_for(args.format);
    let stop = Arc::new(AtomicBool::new(false));
    if args.follow {
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(signal, Arc::clone(&stop))
                .map_err(|e| CliError::unavailable("handle signals", e))?;
        }
    }
    let result = (|| {
        // Where following starts is taken first: an entry written meanwhile is
        // shown twice rather than not at all.
        let mut at = query::end_of(&vault, Utc::now().date_naive())?;
        let mut printer = Printer::new(stdout, format, terminal);
        printer.begin()?;
        for line in query::last(&vault, args.lines)? {
            if let Ok(e) = serde_json::from_str::<Lite>(&line) {
                printer.entry(&line, &e)?;
            }
        }
        while args.follow && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(200));
            let (lines, next) = query::follow(&vault, at, Utc::now().date_naive())?;
            for line in &lines {
                if let Ok(e) = serde_json::from_str::<Lite>(line) {
                    printer.entry(line, &e)?;
                }
            }
            printer.flush()?;
            at = next;
        }
        printer.end()
    })();
    Ok(finish(result, io.stderr))
}
