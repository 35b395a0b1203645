//! `vault-audit verify`, `repair`, `keygen` and `seal`.

use std::io::Write;

use crate::chain::sign::{PublicKey, SigningKey};
use crate::cli::args::{CheckArgs, KeygenArgs, RepairArgs, VerifyArgs};
use crate::cli::bar::Bar;
use crate::cli::exit;
use crate::cli::{CliError, Io};
use crate::config::Config;
use crate::repair;
use crate::verify::{self, Report};

/// Runs `verify`: exit 0 when everything holds, 1 with one line per problem.
pub fn verify(config: &Config, args: &VerifyArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let vault = config.existing_vault()?;
    let mut checks = verify::Checks::default();
    if let Some(path) = &args.public_key {
        let key =
            PublicKey::read(path).map_err(|e| CliError::usage(format!("--public-key: {e}")))?;
        checks.public_key = Some(key);
    }
    if let Some(url) = &args.against_postgres {
        checks.central = central_heads(config, &vault, url)?;
    }
    // The lines the primary stores for replica entries, as this
    // configuration would store them (a logger that writes nothing).
    let logger = config
        .builder_for(vault.root(), true)
        .replica(None)
        .build()?;
    let oldest = crate::retention::cutoff(logger.now().date_naive(), logger.retention_days());
    let stored = |host: &str, value: &serde_json::Value| logger.replica_line(host, value);
    let mut report = verify::verify_replicas(
        &vault,
        &config.chain_key,
        &checks,
        &stored,
        oldest,
        &mut Bar::new(),
    )
    .map_err(|e| CliError::unavailable(format!("read {}", vault.logs().display()), e))?;
    if args.archive {
        verify::check_archive(&vault, &config.chain_key, &mut report).map_err(|e| {
            CliError::unavailable(format!("read {}", vault.archive_dir().display()), e)
        })?;
    }
    let mut text: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    text.extend(report.notes.iter().map(|n| format!("note: {n}")));
    text.push(summary(&report));
    print(io.stdout, args.json, &report, &text);
    Ok(if report.ok { exit::OK } else { exit::REJECTED })
}

/// The chain heads the PostgreSQL sink stored for this vault.
#[cfg(feature = "postgres")]
fn central_heads(
    config: &Config,
    vault: &crate::vault::Vault,
    url: &str,
) -> Result<Vec<String>, CliError> {
    let name = config.forwarding()?.vault_name(vault);
    crate::forward::postgres::fetch_heads(url, &name)
        .map_err(|e| CliError::usage(format!("--against-postgres: {e}")))
}

#[cfg(not(feature = "postgres"))]
fn central_heads(_: &Config, _: &crate::vault::Vault, _: &str) -> Result<Vec<String>, CliError> {
    Err(CliError::usage(
        "--against-postgres: this build has no PostgreSQL support (feature `postgres`)",
    ))
}

/// Runs `keygen`: a new signing key pair.
pub fn keygen(args: &KeygenArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let key = SigningKey::generate();
    let public = key
        .write_pair(&args.path)
        .map_err(|e| CliError::unavailable(format!("write {}", args.path.display()), e))?;
    let _ = writeln!(
        io.stdout,
        "wrote the private key to {} (mode 0600: keep it outside the vault; AUDIT_SIGNING_KEY names it) and the public key to {} (`vault-audit verify --public-key` checks with it)",
        args.path.display(),
        public.display()
    );
    Ok(exit::OK)
}

/// Runs `seal`: signs the days not yet signed and the head record.
pub fn seal(config: &Config, args: &CheckArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    config.existing_vault()?;
    let logger = config.logger_for(config.vault()?, false)?;
    match logger.seal() {
        Ok(sealed) => {
            let mut text: Vec<String> =
                sealed.days.iter().map(|d| format!("{d}: signed")).collect();
            text.push(format!("signed the head record (seq {})", sealed.seq));
            print(io.stdout, args.json, &sealed, &text);
            Ok(exit::OK)
        }
        Err(crate::Error::Config { message }) => {
            let _ = writeln!(io.stdout, "{message}");
            Ok(exit::REJECTED)
        }
        Err(e) => Err(e.into()),
    }
}

/// Prints the report as JSON with `--json`, else as its text lines.
fn print(out: &mut dyn Write, json: bool, report: &impl serde::Serialize, text: &[String]) {
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string(report).unwrap_or_default());
    } else {
        for line in text {
            let _ = writeln!(out, "{line}");
        }
    }
}

/// The last line of the text report.
fn summary(r: &Report) -> String {
    let mut line = format!(
        "verified {} day files, {} entries ({} chained)",
        r.files, r.entries, r.chained
    );
    if r.archived_days > 0 {
        line.push_str(&format!(
            ", and {} archived days, {} entries",
            r.archived_days, r.archived_entries
        ));
    }
    if !r.unchained.is_empty() {
        line.push_str(&format!(
            "; unchained (not evidence of tampering; `repair` re-anchors them): {}",
            r.unchained.join(", ")
        ));
    }
    if !r.kept_aside.is_empty() {
        line.push_str(&format!(
            "; kept aside by repairs, for a person to read and then delete: {}",
            r.kept_aside.join(", ")
        ));
    }
    if r.ok {
        line.push_str(": all hold");
    } else {
        line.push_str(&format!(": {} problems", r.problems.len()));
    }
    line
}

/// Deletes the originals that conversions kept aside (under the writers'
/// lock; in dry run only names them). One line per file.
fn prune_originals(logger: &crate::AuditLogger) -> Result<Vec<String>, CliError> {
    let vault = logger.vault();
    let logs = vault.logs();
    let found = crate::vault::originals_in(&logs)
        .map_err(|e| CliError::unavailable(format!("read {}", logs.display()), e))?;
    let names: Vec<String> = found
        .iter()
        .map(|p| vault.relative(p).into_owned())
        .collect();
    if found.is_empty() {
        return Ok(vec!["no originals to prune".into()]);
    }
    if logger.is_dry_run() {
        return Ok(names
            .iter()
            .map(|n| format!("{n}: would delete (an original kept aside by a conversion)"))
            .collect());
    }
    logger.with_writer_lock(|| {
        for path in &found {
            std::fs::remove_file(path)?;
        }
        crate::fsutil::sync_dir(&logs)
    })?;
    Ok(names
        .iter()
        .map(|n| format!("{n}: deleted (an original kept aside by a conversion)"))
        .collect())
}

/// Runs `repair` (under the writers' lock; in dry run it only says what it
/// would do). Exit 0 when nothing is left, 1 when evidence remains, 3 when
/// the lock was not free, 4 on an I/O error.
pub fn repair(config: &Config, args: &RepairArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    config.existing_vault()?;
    let logger = config.logger()?;
    if let Some(day) = &args.accept {
        return accept(&logger, day, args.json, io);
    }
    let vault = logger.vault();
    let key = logger.chain_key();
    let now = logger.now();
    let result = if logger.is_dry_run() {
        let dry = repair::repair_metered(vault, key, now, true, &mut Bar::new());
        crate::fsutil::at("read", &vault.logs(), dry).map_err(crate::Error::from)
    } else {
        logger.with_writer_lock(|| {
            crate::journal::resolve(vault)?;
            repair::repair_metered(vault, key, now, false, &mut Bar::new())
        })
    };
    let report = result?;
    let mut text = Vec::new();
    if !report.recoveries.is_empty() {
        // What other programs wrote: kept aside already, validated and taken in now.
        let taken = logger.with_writer_lock_at(|| Ok(logger.take_in_foreign(&report.recoveries)));
        if let Err(e) = taken.and_then(|r| r) {
            text.push(format!(
                "could not take in what other programs wrote (kept aside): {e}"
            ));
        }
    }
    if report.dry_run {
        text.push("dry run: nothing changed (--no-dry-run or DRY_RUN=false to repair)".into());
    }
    text.extend(report.done.iter().cloned());
    if report.done.is_empty() {
        text.push("nothing to repair".into());
    }
    text.extend(report.left.iter().map(|p| format!("left as it is: {p}")));
    if args.prune_originals {
        text.extend(prune_originals(&logger)?);
    }
    print(io.stdout, args.json, &report, &text);
    Ok(if report.left.is_empty() {
        exit::OK
    } else {
        exit::REJECTED
    })
}

/// `repair --accept DAY`: accepts a day as it now stands (in dry run, says
/// what would be accepted).
fn accept(
    logger: &crate::logger::AuditLogger,
    day: &str,
    json: bool,
    io: &mut Io<'_>,
) -> Result<u8, CliError> {
    let date = crate::time::parse_day(day)
        .ok_or_else(|| CliError::usage(format!("--accept {day:?}: expected a day, YYYY-MM-DD")))?;
    if logger.is_dry_run() {
        let _ = writeln!(io.stdout, "dry run: would accept Logs/{day}.json as it now stands and log a WARNING saying so (--no-dry-run or DRY_RUN=false to accept)");
        return Ok(exit::OK);
    }
    match logger.accept_day(date) {
        Ok(done) => {
            let mut text = vec![format!(
                "{}: accepted as it stands ({} entries); a WARNING entry says so",
                done.file, done.entries
            )];
            text.extend(done.problems.iter().map(|p| format!("accepted: {p}")));
            print(io.stdout, json, &done, &text);
            Ok(exit::OK)
        }
        Err(crate::Error::Config { message }) => {
            let _ = writeln!(io.stdout, "{message}");
            Ok(exit::REJECTED)
        }
        Err(e) => Err(e.into()),
    }
}
