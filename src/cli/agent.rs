//! `vault-audit hook claude-code` and `vault-audit skill-run`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::cli::args::{HookArgs, SkillRunArgs};
use crate::cli::exit;
use crate::cli::response::Response;
use crate::cli::{CliError, Io};
use crate::config::Config;
use crate::entry::{ActionType, Entry, LogLevel, Outcome};
use crate::error::Error;
use crate::hook;
use crate::logger::AuditLogger;
use crate::redact::Redactor;

/// The largest hook payload read (a tool response can be big).
const MAX_PAYLOAD: u64 = 16 << 20;

/// The vault of a hook: `--vault`/`VAULT_PATH`, else `CLAUDE_PROJECT_DIR`,
/// else the payload's `cwd`.
fn hook_vault(config: &Config, payload: &Value) -> Option<PathBuf> {
    if let Ok(v) = config.vault() {
        return Some(v.clone());
    }
    config.project_dir.clone().or_else(|| {
        payload
            .get("cwd")
            .and_then(Value::as_str)
            .map(PathBuf::from)
    })
}

/// Runs the Claude Code hook. Never fails the agent: a problem is an error
/// that `cli::fail` turns into a warning on stderr and exit 0.
/// Entries that could not be written go to `Logs/failed_writes.json` where
/// possible. Nothing is printed on stdout (Claude Code adds a `SessionStart`
/// hook's stdout to the conversation).
pub fn hook(config: &Config, _args: &HookArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let mut text = Vec::new();
    (&mut *io.stdin)
        .take(MAX_PAYLOAD)
        .read_to_end(&mut text)
        .map_err(|e| CliError::unavailable("read the hook payload", e))?;
    let payload: Value = serde_json::from_slice(&text).map_err(|e| {
        CliError::Usage(format!(
            "the hook payload is not JSON ({e}); nothing logged"
        ))
    })?;
    let given = hook_vault(config, &payload)
        .ok_or_else(|| CliError::usage("no vault: set --vault or VAULT_PATH"))?;
    let Some(vault) = resolve_vault(config, &given)? else {
        let entry = hook::entry_for(&payload, &given, &config.hook)?;
        return keep_orphan(config, &given, entry, io.stderr);
    };
    let logger = config
        .builder_for(&vault, config.dry_run)
        .dry_run_output(std::io::stderr())
        .build()?;
    let Some(entry) = hook::entry_for(&payload, &vault, &config.hook)? else {
        return Ok(exit::OK);
    };
    match logger.log(entry) {
        Ok(receipt) => {
            for p in &receipt.post_write_errors {
                tracing::warn!("hook: after the write: {p}");
            }
            Ok(exit::OK)
        }
        Err(e @ Error::LockTimeout { .. }) => Err(e.into()),
        Err(e) => Err(match logger.save_failed(e.entries()) {
            Ok(saved) if !e.entries().is_empty() => CliError::Saved {
                source: Box::new(e),
                saved,
            },
            _ => e.into(),
        }),
    }
}

/// The vault an agent's folder stands for: the folder itself if it is a
/// vault, else its one child that is (`project/AI_Employee_Vault/`), else
/// the folder made one with `--init`; `None` when there is no vault.
pub fn resolve_vault(config: &Config, folder: &Path) -> Result<Option<PathBuf>, CliError> {
    if let Some(vault) = crate::vault::find_vault(folder) {
        return Ok(Some(vault));
    }
    if config.init && folder.is_dir() {
        config.writable_vault(folder)?;
        return Ok(Some(folder.to_owned()));
    }
    Ok(None)
}

/// A hook with no vault keeps its entry (redacted, stamped) in the state
/// folder for `vault-audit replay --orphans`, says so in one line, and
/// exits 0.
fn keep_orphan(
    config: &Config,
    folder: &Path,
    entry: Option<Entry>,
    stderr: &mut dyn Write,
) -> Result<u8, CliError> {
    let Some(mut entry) = entry else {
        return Ok(exit::OK);
    };
    let Some(dir) = config.state_dir.as_ref() else {
        return Err(CliError::Usage(format!(
            "{} is not a vault and no state folder is known (set XDG_STATE_HOME or HOME); nothing logged",
            folder.display()
        )));
    };
    config.redactor.entry(&mut entry);
    entry.timestamp.get_or_insert_with(chrono::Utc::now);
    let file = dir.join("failed_writes.json");
    crate::fsutil::ensure_dir(dir)
        .and_then(|()| {
            crate::fsutil::append_durable(&file, format!("{}\n", entry.to_json_line()).as_bytes())
        })
        .map_err(|e| CliError::unavailable(format!("write {}", file.display()), e))?;
    let _ = writeln!(
        stderr,
        "vault-audit hook: warning: {} is not a vault (no Logs/, Dashboard.md or .obsidian/, nor one folder below it that is); the entry was kept in {} for `vault-audit replay --orphans`",
        folder.display(),
        file.display()
    );
    Ok(exit::OK)
}

/// Runs `skill-run`: seed 000's positional contract. Prints the seed's
/// response object; exit codes as for `log`.
pub fn skill_run(config: &Config, args: &SkillRunArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let entry = skill_entry(args, &config.redactor)?;
    let (code, response) = record(&config.logger()?, entry, io.stderr);
    let _ = writeln!(io.stdout, "{}", response.to_line());
    Ok(code)
}

fn record(logger: &AuditLogger, entry: Entry, stderr: &mut dyn Write) -> (u8, Response) {
    match logger.log(entry) {
        Ok(receipt) => {
            let mut r = Response::new("success");
            let stored = receipt
                .entries
                .first()
                .map(|e| serde_json::to_value(e).unwrap_or(Value::Null));
            r.details.insert("status".into(), "success".into());
            r.details
                .insert("audit_entry".into(), stored.unwrap_or(Value::Null));
            r.details.insert("dry_run".into(), receipt.dry_run.into());
            if let Some(f) = receipt.files.last() {
                let path = logger.vault().relative(&f.path).into_owned();
                r.path = Some(path.clone());
                r.details.insert("audit_log_path".into(), path.into());
                r.details
                    .insert("total_entries".into(), f.total_entries.into());
            }
            (exit::OK, r)
        }
        Err(e) => {
            let message = logger.redactor().text(&e.to_string()).into_owned();
            let _ = writeln!(stderr, "vault-audit: {message}");
            let mut r = Response::failed(message.clone());
            r.details.insert(
                "error".into(),
                json!({"error": "AuditWriteError", "message": message, "details": {}}),
            );
            if let Error::LockTimeout { fallback, .. } = &e {
                r.status = "fallback";
                r.path = Some(logger.vault().relative(fallback).into_owned());
            }
            (exit::for_error(&e), r)
        }
    }
}

/// The entry of a skill run, or a usage error naming the argument (its
/// value redacted, then shortened).
fn skill_entry(args: &SkillRunArgs, red: &Redactor) -> Result<Entry, CliError> {
    let skill = args.skill.trim();
    if skill.is_empty() {
        return Err(CliError::Usage(
            "skill: \"\" is empty; give the skill's name".into(),
        ));
    }
    let status = args.status.trim();
    if status.is_empty() {
        return Err(CliError::Usage(
            "status: \"\" is empty; accepted: success, failed, timeout or any other word".into(),
        ));
    }
    let duration = match args.duration_ms.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => Some(
            d.parse::<u64>()
                .map(Value::from)
                .or_else(|_| d.parse::<f64>().ok().filter(|f| f.is_finite() && *f >= 0.0).map(Value::from).ok_or(()))
                .map_err(|_| CliError::Usage(format!("duration_ms: {} is not accepted; give a number of milliseconds, or \"\" for none", crate::entry::shorten_for_message(&red.text(d)))))?,
        ),
    };
    let errors = match args.errors_json.as_deref() {
        None | Some("") => Vec::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(list)) => list,
            _ => {
                return Err(CliError::Usage(format!(
                "errors_json: {} is not accepted; give a JSON array, such as '[\"Step 3 failed\"]'",
                crate::entry::shorten_for_message(&red.text(text))
            )))
            }
        },
    };
    let metadata = match args.metadata_json.as_deref() {
        None | Some("") => None,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => Some(v),
            _ => {
                return Err(CliError::Usage(format!(
                    "metadata_json: {} is not accepted; give a JSON object, such as '{{\"api\": \"users.yaml\"}}'",
                    crate::entry::shorten_for_message(&red.text(text))
                )))
            }
        },
    };
    let ok = status == "success";
    let action = ActionType::new("skill_run").map_err(|e| CliError::Usage(e.to_string()))?;
    let (level, result) = if ok {
        (LogLevel::Info, Outcome::Success)
    } else {
        (LogLevel::Error, Outcome::Failure)
    };
    let mut entry = Entry::new(level, action, skill, skill)
        .result(result)
        .param("status", status);
    if let Some(d) = duration {
        entry = entry.param("duration_ms", d);
    }
    if !errors.is_empty() || !ok {
        entry = entry.param("errors", Value::Array(errors.clone()));
    }
    if let Some(m) = metadata {
        entry = entry.param("metadata", m);
    }
    if !ok {
        let message = errors
            .iter()
            .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join("; ");
        entry = entry.error(if message.is_empty() {
            format!("skill ended with status {status}")
        } else {
            message
        });
    }
    Ok(entry)
}
