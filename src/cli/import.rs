//! `vault-audit import [PATH...]`: another logger's day files, mapped and
//! appended exactly once; prints one response line like `log`'s.

use std::io::Write;

use serde_json::{json, Value};

use crate::cli::args::ImportArgs;
use crate::cli::bar::Bar;
use crate::cli::exit;
use crate::cli::response::Response;
use crate::cli::{CliError, Io};
use crate::config::Config;
use crate::import::{self, Report};

/// Entries from which an import is large enough to show its progress.
const LARGE: usize = 1000;

/// Runs `import` and returns the exit code: 0 when every entry was taken
/// in (or had been before, or is older than the retention window), 1 when
/// some were rejected.
pub fn run(config: &Config, args: &ImportArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let logger = config.logger()?;
    // Where no bar can be drawn (a log, a pipe), large imports say how far they got.
    let mut quiet = Vec::new();
    let lines: &mut dyn Write = if large(&args.paths) {
        &mut *io.stderr
    } else {
        &mut quiet
    };
    let mut bar = Bar::new().notes_to(lines, "vault-audit: import: ");
    let report = if args.paths.is_empty() {
        import::import_own_logs(&logger, &mut bar)?
    } else {
        let files = import::files_in(&args.paths)
            .map_err(|e| CliError::unavailable("list the files to import", e))?;
        if files.is_empty() {
            return Err(CliError::usage(
                "no files to import: give day files (.json, .jsonl, .ndjson) or folders of them",
            ));
        }
        import::import_files(&logger, &files, &mut bar)?
    };
    drop(bar);
    let response = respond(&report);
    for line in report.rejected.iter().chain(&report.errors) {
        let _ = writeln!(io.stderr, "vault-audit: {line}");
    }
    if let Some(note) = beyond_note(&report) {
        let _ = writeln!(io.stderr, "vault-audit: {note}");
    }
    if report.dry_run {
        for shown in &report.preview {
            let _ = writeln!(io.stdout, "[DRY_RUN] import {}", shown["from"]);
            let _ = writeln!(io.stdout, "[DRY_RUN]   as {}", shown["to"]);
        }
    }
    let _ = writeln!(io.stdout, "{}", response.to_line());
    Ok(if report.rejected.is_empty() {
        exit::OK
    } else {
        exit::REJECTED
    })
}

/// Whether the files given come to enough bytes to be worth a progress
/// line (about [`LARGE`] entries); the vault's own logs always are.
fn large(paths: &[std::path::PathBuf]) -> bool {
    if paths.is_empty() {
        return true;
    }
    let bytes: u64 = import::files_in(paths)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.metadata().ok())
        .map(|m| m.len())
        .sum();
    bytes > (LARGE as u64) * 200
}

/// What to say of entries older than the retention window.
fn beyond_note(r: &Report) -> Option<String> {
    let oldest = r.oldest_beyond?;
    Some(format!(
        "{} entries are older than the retention window of {} days (the oldest on {}) and were not imported; --retention-days or AUDIT_RETENTION_DAYS keeps them",
        r.beyond_retention,
        r.retention_days,
        oldest.format("%Y-%m-%d")
    ))
}

/// The response: counts, files, days written, and every rejection.
fn respond(r: &Report) -> Response {
    let mut response = Response::new("success");
    response.errors = r.rejected.clone();
    if !r.rejected.is_empty() {
        response.status = if r.imported > 0 { "partial" } else { "failed" };
    }
    response.path = r.days.last().cloned();
    let d = &mut response.details;
    d.insert("dry_run".into(), r.dry_run.into());
    d.insert("files".into(), json!(r.files));
    d.insert("read".into(), r.read.into());
    let written = if r.dry_run { 0 } else { r.imported };
    d.insert("imported".into(), written.into());
    if r.dry_run {
        d.insert("would_import".into(), r.imported.into());
    }
    d.insert("already_imported".into(), r.already_imported.into());
    d.insert("rejected".into(), r.rejected.len().into());
    d.insert(
        "beyond_retention".into(),
        json!({
            "entries": r.beyond_retention,
            "oldest": r.oldest_beyond.map(|d| d.format("%Y-%m-%d").to_string()),
            "retention_days": r.retention_days,
            "note": beyond_note(r).map_or(Value::Null, Value::from),
        }),
    );
    d.insert("days".into(), json!(r.days));
    if !r.originals.is_empty() {
        d.insert("originals".into(), json!(r.originals));
    }
    if r.dry_run {
        d.insert("preview".into(), json!(r.preview));
    }
    if !r.errors.is_empty() {
        d.insert("upkeep_errors".into(), json!(r.errors));
    }
    response
}
