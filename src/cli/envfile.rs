//! Which `.env` file fills the environment, and the rule that keeps a
//! project's files from weakening auditing.
//!
//! - `--env-file PATH`: always read (it must exist).
//! - Otherwise, for `log` and the other commands run by a person or a skill:
//!   `.env` in the working folder itself (never its parents).
//! - `hook`, `mcp` and `skill-run` run inside an agent's project, which the
//!   agent can write: they read no `.env` unless `--env-file` names one.
//!
//! The real environment always wins over a file. When a `.env` (not
//! `--env-file`) turns redaction off, dry run on, or names the vault, stderr
//! says so.

use std::path::{Path, PathBuf};

use crate::cli::CliError;

/// The commands an agent runs in its own project folder.
const AGENT_COMMANDS: [&str; 3] = ["hook", "mcp", "skill-run"];

/// Whether a setting's value weakens auditing.
type Weakens = fn(&str) -> bool;

/// Settings that weaken or redirect auditing, and whether a value does.
const WEAKENING: [(&str, Weakens); 4] = [
    ("AUDIT_REDACTION", |v| is_off(v)),
    ("AUDIT_DRY_RUN", |v| is_on(v)),
    ("DRY_RUN", |v| is_on(v)),
    ("VAULT_PATH", |_| true),
];

fn is_on(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

fn is_off(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "off" | "false" | "0" | "no" | "none"
    )
}

/// The commands that print what the argument definitions generate and read
/// nothing else.
const GENERATORS: [&str; 2] = ["completions", "man"];

/// The `.env` file to read for `command`, if any.
pub fn choose(command: Option<&str>, explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_owned());
    }
    if command.is_some_and(|c| AGENT_COMMANDS.contains(&c) || GENERATORS.contains(&c)) {
        return None;
    }
    let here = PathBuf::from(".env");
    here.is_file().then_some(here)
}

/// The settings of the env file `file`, in order, parsed as dotenvy reads
/// them (the Python package fills `os.environ` from these).
pub fn read(file: &Path) -> Result<Vec<(String, String)>, CliError> {
    let items = dotenvy::from_path_iter(file).map_err(|e| {
        CliError::Usage(format!(
            "could not read the env file {}: {e}",
            file.display()
        ))
    })?;
    items
        .map(|item| {
            item.map_err(|e| {
                CliError::Usage(format!(
                    "the env file {} does not parse: {e}",
                    file.display()
                ))
            })
        })
        .collect()
}

/// The note to print when a found (not named) env file sets `key` to a
/// value that weakens auditing: off redaction, dry run on, another vault.
pub fn weakening_note(key: &str, value: &str, file: &Path) -> Option<String> {
    WEAKENING
        .iter()
        .any(|(k, weakens)| *k == key && weakens(value))
        .then(|| {
            format!(
                "note: {key}={value} comes from {} (the real environment and --env-file take precedence)",
                file.display()
            )
        })
}

/// Fills the process environment from `file` where it is unset (the real
/// environment wins). Returns notes for stderr about weakening settings
/// taken from a `.env` that was found rather than named.
pub fn load(file: &Path, named: bool) -> Result<Vec<String>, CliError> {
    let mut notes = Vec::new();
    for (key, value) in read(file)? {
        if std::env::var_os(&key).is_some() {
            continue;
        }
        if !named {
            notes.extend(weakening_note(&key, &value, file));
        }
        std::env::set_var(&key, value);
    }
    Ok(notes)
}
