//! `vault-audit log`: entries from flags, from `--entry JSON`, or from stdin.

use std::io::{BufRead, Read, Write};

use serde_json::{json, Map, Value};

use crate::cli::args::LogArgs;
use crate::cli::exit;
use crate::cli::response::Response;
use crate::cli::{CliError, Io};
use crate::config::Config;
use crate::entry::{Entry, EntryError, ParseMode};
use crate::error::Error;
use crate::logger::{AuditLogger, Receipt};
use crate::redact::Redactor;

/// Why one input entry was rejected.
#[derive(Debug, thiserror::Error)]
enum Rejected {
    /// It is not a valid entry.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// A stdin line that is not UTF-8.
    #[error("entry rejected: not valid UTF-8 (invalid byte at column {column}); accepted: UTF-8 JSON text")]
    NotUtf8 {
        /// Where the first bad byte is, from 1.
        column: usize,
    },
}

/// One input entry: where it came from ("line 3"), and what it parsed to.
struct Input {
    label: Option<String>,
    /// Its line (or array position) on stdin, from 1.
    line: Option<usize>,
    parsed: Result<Entry, Rejected>,
}

/// Runs `log` and returns the exit code. The response is the last line of
/// stdout (on an error, `cli::fail` prints it).
pub fn run(config: &Config, args: &LogArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let (code, response) = log(config, args, io.stdin, io.stderr)?;
    let _ = writeln!(io.stdout, "{}", response.to_line());
    Ok(code)
}

fn log(
    config: &Config,
    args: &LogArgs,
    stdin: &mut dyn BufRead,
    stderr: &mut dyn Write,
) -> Result<(u8, Response), CliError> {
    let logger = config.logger()?;
    // Every rejection message shows the value redacted before shortened.
    let red = logger.redactor();

    let parse = Parse {
        red,
        mode: logger.parse_mode(),
    };
    let inputs = match args.entry.as_deref() {
        Some("-") => read_stdin(stdin, parse)?,
        Some(text) => vec![Input {
            label: None,
            line: None,
            parsed: parse.json(text).map_err(Rejected::from),
        }],
        None => vec![Input {
            label: None,
            line: None,
            parsed: from_flags(args, parse)?,
        }],
    };
    if inputs.is_empty() {
        return Err(CliError::usage("no entries on stdin"));
    }

    let mut response = Response::new("success");
    let mut rejected_entries = 0usize;
    let mut valid = Vec::new();
    let mut lines = Vec::new();
    for input in inputs {
        let prepared = input
            .parsed
            .and_then(|e| Ok(logger.prepare(e).map_err(|e| red.error(e))?));
        match prepared {
            Ok(entry) => {
                valid.push(entry);
                lines.push(input.line);
            }
            Err(rejected) => {
                rejected_entries += 1;
                report_rejected(input.label.as_deref(), &rejected, &mut response, stderr);
            }
        }
    }
    let rejected = rejected_entries;
    response.details.insert("rejected".into(), rejected.into());
    if valid.is_empty() {
        response.status = "failed";
        response.details.insert("written".into(), 0.into());
        return Ok((exit::REJECTED, response));
    }

    let dates: Vec<_> = valid.iter().map(Entry::date).collect();
    let code = match logger.log_batch(valid) {
        Ok(receipt) => {
            if let Err(e) = logger.ensure_inbox() {
                tracing::warn!("{e}");
            }
            describe(&logger, &receipt, &mut response);
            if rejected > 0 {
                response.status = "partial";
                exit::REJECTED
            } else {
                exit::OK
            }
        }
        Err(error) => {
            let code = failed_write(&logger, &error, &mut response, stderr);
            say_what_was_written(&error, &dates, &lines, &mut response);
            code
        }
    };
    Ok((code, response))
}

/// Reports a rejected entry: one line on stderr naming every problem, and
/// one error per problem in the response.
fn report_rejected(
    label: Option<&str>,
    rejected: &Rejected,
    response: &mut Response,
    stderr: &mut dyn Write,
) {
    let labelled = |text: String| match label {
        Some(label) => format!("{label}: {text}"),
        None => text,
    };
    let _ = writeln!(stderr, "vault-audit: {}", labelled(rejected.to_string()));
    match rejected {
        Rejected::Entry(e) => response.errors.extend(
            e.problems()
                .iter()
                .map(|p| labelled(format!("entry rejected: {}", p.detail()))),
        ),
        other => response.errors.push(labelled(other.to_string())),
    }
}

/// Fills the response for a batch that was not written and hands its
/// entries back on stderr; returns the exit code.
fn failed_write(
    logger: &AuditLogger,
    error: &Error,
    response: &mut Response,
    stderr: &mut dyn Write,
) -> u8 {
    let message = logger.redactor().text(&error.to_string()).into_owned();
    let _ = writeln!(stderr, "vault-audit: {message}");
    response.status = match error {
        Error::LockTimeout { .. } => "fallback",
        _ => "failed",
    };
    if let Error::LockTimeout { fallback, .. } = error {
        response.path = Some(logger.vault().relative(fallback).into_owned());
    }
    if matches!(error, Error::Io { .. }) {
        // Hand the entries back: JSON Lines that `log --entry -` takes again.
        for entry in error.entries() {
            let _ = writeln!(stderr, "{}", entry.to_json_line());
        }
    }
    response.details.insert("written".into(), 0.into());
    response.errors.push(message);
    exit::for_error(error)
}

/// After an I/O failure part-way through a batch of several days: the days
/// before the failed one are written whole, the rest not at all. Says how
/// many entries were written and, for stdin, which lines were and were not.
fn say_what_was_written(
    error: &Error,
    dates: &[Option<chrono::NaiveDate>],
    lines: &[Option<usize>],
    response: &mut Response,
) {
    let Error::Io { entries, .. } = error else {
        return;
    };
    let failed_from = entries.iter().filter_map(Entry::date).min();
    let written: Vec<bool> = dates
        .iter()
        .map(|d| matches!((d, failed_from), (Some(d), Some(f)) if *d < f))
        .collect();
    let count = written.iter().filter(|w| **w).count();
    let d = &mut response.details;
    d.insert("written".into(), count.into());
    d.insert("not_written".into(), (written.len() - count).into());
    if lines.iter().all(Option::is_some) {
        let pick = |want: bool| -> Vec<usize> {
            let chosen = written.iter().zip(lines).filter(move |(w, _)| **w == want);
            chosen.filter_map(|(_, l)| *l).collect()
        };
        d.insert("written_lines".into(), pick(true).into());
        d.insert("not_written_lines".into(), pick(false).into());
    }
    if count > 0 {
        response.status = "partial";
    }
}

/// Fills the response from a receipt and reports repairs as warnings.
fn describe(logger: &AuditLogger, receipt: &Receipt, response: &mut Response) {
    let vault = logger.vault();
    let d = &mut response.details;
    d.insert("dry_run".into(), receipt.dry_run.into());
    if receipt.dry_run {
        d.insert("written".into(), 0.into());
        d.insert("validated".into(), receipt.entries.len().into());
        return;
    }
    d.insert("written".into(), receipt.entries.len().into());
    if let Some(last) = receipt.files.last() {
        response.path = Some(vault.relative(&last.path).into_owned());
        d.insert("total_entries".into(), last.total_entries.into());
    }
    let files: Vec<Value> = receipt
        .files
        .iter()
        .map(|f| {
            json!({
                "path": vault.relative(&f.path),
                "total_entries": f.total_entries,
                "size_bytes": f.size_bytes,
            })
        })
        .collect();
    d.insert("files".into(), files.into());
    let mut notes = Vec::new();
    for r in &receipt.recoveries {
        tracing::warn!("{r}");
        notes.push(Value::String(r.to_string()));
    }
    for p in &receipt.post_write_errors {
        tracing::warn!("after the write: {p}");
    }
    d.insert("recovered".into(), notes.into());
    d.insert("upkeep".into(), json!(receipt.notes));
    if !receipt.post_write_errors.is_empty() {
        d.insert("upkeep_errors".into(), json!(receipt.post_write_errors));
    }
}

/// How input is parsed: in the logger's mode, every refusal redacted
/// before its message shortens the value.
#[derive(Clone, Copy)]
struct Parse<'a> {
    red: &'a Redactor,
    mode: ParseMode,
}

impl Parse<'_> {
    fn json(self, text: &str) -> Result<Entry, EntryError> {
        Entry::from_json_in(text, self.mode).map_err(|e| self.red.error(e))
    }

    fn value(self, v: Value) -> Result<Entry, EntryError> {
        Entry::from_value_in(v, self.mode).map_err(|e| self.red.error(e))
    }
}

/// Reads stdin: one JSON object (possibly spread over lines), a JSON array
/// of objects, or JSON Lines.
fn read_stdin(stdin: &mut dyn Read, parse: Parse<'_>) -> Result<Vec<Input>, CliError> {
    let mut bytes = Vec::new();
    stdin
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::unavailable("read stdin", e))?;
    if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
        return Ok(match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| Input {
                    label: Some(format!("entry {}", i + 1)),
                    line: Some(i + 1),
                    parsed: parse.value(v).map_err(Rejected::from),
                })
                .collect(),
            v => vec![Input {
                label: None,
                line: None,
                parsed: parse.value(v).map_err(Rejected::from),
            }],
        });
    }
    let mut inputs = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = match std::str::from_utf8(raw) {
            Ok(text) => parse.json(text).map_err(Rejected::from),
            Err(e) => Err(Rejected::NotUtf8 {
                column: e.valid_up_to() + 1,
            }),
        };
        inputs.push(Input {
            label: Some(format!("line {}", i + 1)),
            line: Some(i + 1),
            parsed,
        });
    }
    Ok(inputs)
}

/// Builds the entry from `--level`, `--action`, ... with the documented defaults.
/// A usage error about a flag's value shows it redacted, then shortened.
fn from_flags(args: &LogArgs, parse: Parse<'_>) -> Result<Result<Entry, Rejected>, CliError> {
    let mut parameters = match &args.parameters {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(CliError::Usage(format!(
                    "--parameters {}: accepted: one JSON object, e.g. '{{\"file\":\"a.md\"}}'",
                    crate::entry::shorten_for_message(&parse.red.text(text))
                )))
            }
        },
    };
    for param in &args.params {
        let (key, value) = param
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "--param {}: accepted: KEY=VALUE with a non-empty KEY",
                    crate::entry::shorten_for_message(&parse.red.text(param))
                ))
            })?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        parameters.insert(key.to_owned(), value);
    }
    let mut v = json!({
        "log_level": args.level,
        "action_type": args.action,
        "actor": args.actor,
        "target": args.target,
        "parameters": parameters,
        "approval_status": args.approval_status.as_deref().unwrap_or("not_required"),
        "approved_by": args.approved_by.as_deref().unwrap_or("N/A"),
        "dry_run": args.entry_dry_run,
        "result": args.result.as_deref().unwrap_or("success"),
        "error_message": args.error,
    });
    if let Some(ts) = &args.timestamp {
        v["timestamp"] = Value::String(ts.clone());
    }
    Ok(parse.value(v).map_err(Rejected::from))
}
