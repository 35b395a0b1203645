//! `vault-audit query` and `vault-audit tail`.

use std::io::{self, IsTerminal, Write};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anstream::ColorChoice;
use chrono::Utc;

use crate::cli::args::{QueryArgs, TailArgs};
use crate::cli::exit;
use crate::cli::{CliError, Io};
use crate::config::Config;
use crate::query::output::{Format, Printer};
use crate::query::{self, Field, Filter, FilterSpec, Lite};

impl From<&QueryArgs> for FilterSpec {
    fn from(args: &QueryArgs) -> Self {
        FilterSpec {
            since: args.since.clone(),
            until: args.until.clone(),
            levels: args.level.clone(),
            action: args.action.clone(),
            actor: args.actor.clone(),
            target: args.target.clone(),
            result: args.result.clone(),
            session: args.session.clone(),
            approval_status: args.approval_status.clone(),
            contains: args.contains.clone(),
        }
    }
}

/// The flag of a filter field: `--since`, `--approval-status`.
pub fn flag(field: Field) -> String {
    format!("--{}", field.name().replace('_', "-"))
}

/// The format (a table on a terminal, else JSON Lines) and whether to colour.
fn format_for(chosen: Option<Format>, colour: ColorChoice) -> (Format, bool) {
    let terminal = io::stdout().is_terminal();
    let colour = match colour {
        ColorChoice::Always | ColorChoice::AlwaysAnsi => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal,
    };
    let format = chosen.unwrap_or(if terminal {
        Format::Table
    } else {
        Format::Jsonl
    });
    (format, colour)
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

/// The replicas' entries the primary has not taken in yet that match
/// `filter`, in time order: what `query` and MCP's `query_logs` show after
/// the main files' (see [`crate::replica::untaken`]).
pub fn untaken_matching(vault: &crate::vault::Vault, filter: &Filter) -> io::Result<Vec<String>> {
    Ok(crate::replica::untaken(&vault.primary())?
        .into_iter()
        .filter(|line| serde_json::from_str::<Lite>(line).is_ok_and(|e| filter.matches(&e, line)))
        .collect())
}

/// Runs `query`; returns the exit code.
pub fn run(config: &Config, args: &QueryArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let vault = config.existing_vault()?;
    let stdout = &mut *io.stdout;
    let filter = Filter::new(&args.into(), Utc::now())?;
    let (format, colour) = format_for(args.format, config.colour);
    let result = (|| {
        let untaken = untaken_matching(&vault, &filter)?;
        let pending = untaken
            .iter()
            .filter_map(|line| Some((line.as_str(), serde_json::from_str::<Lite>(line).ok()?)));
        if args.count || args.stats {
            let (mut count, mut stats) = query::aggregate(&vault, &filter, args.stats)?;
            if args.archive {
                let problems = query::scan_archive(&vault, &filter, false, |_, e| {
                    count += 1;
                    if args.stats {
                        stats.add(e);
                    }
                    ControlFlow::Continue(())
                })?;
                warn(&problems, io.stderr);
            }
            for (_, e) in pending {
                count += 1;
                stats.add(&e);
            }
            if args.stats {
                let text =
                    serde_json::to_string_pretty(&stats.to_json()).map_err(io::Error::other)?;
                writeln!(stdout, "{text}")
            } else {
                writeln!(stdout, "{count}")
            }
        } else {
            let mut printer = Printer::new(stdout, format, colour);
            printer.begin()?;
            let mut failure = None;
            let mut print = |line: &str, e: &Lite<'_>| match printer.entry(line, e) {
                Ok(()) => ControlFlow::Continue(()),
                Err(err) => {
                    failure = Some(err);
                    ControlFlow::Break(())
                }
            };
            if args.archive {
                let problems = query::scan_archive(&vault, &filter, true, &mut print)?;
                warn(&problems, io.stderr);
            }
            query::scan(&vault, &filter, true, &mut print)?;
            if let Some(err) = failure {
                return Err(err);
            }
            // Then what replicas wrote that the primary has not taken in.
            for (line, e) in pending {
                printer.entry(line, &e)?;
            }
            printer.end()
        }
    })();
    Ok(finish(result, io.stderr))
}

/// Says on stderr what of the cold archive could not be read.
fn warn(problems: &[String], stderr: &mut dyn Write) {
    for problem in problems {
        let _ = writeln!(stderr, "vault-audit: warning: {problem}");
    }
}

/// Runs `tail`; returns the exit code.
pub fn tail(config: &Config, args: &TailArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let vault = config.existing_vault()?;
    let stdout = &mut *io.stdout;
    let (format, colour) = format_for(args.format, config.colour);
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
        let mut printer = Printer::new(stdout, format, colour);
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
