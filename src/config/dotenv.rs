//! Which `.env` file a front end reads, and its settings, parsed (never
//! written to the process environment: [`super::layered`] puts them under
//! the real environment).
//!
//! - `--env-file PATH`: always read (it must exist).
//! - Otherwise, for `log` and the other commands run by a person or a skill:
//!   `.env` in the working folder itself (never its parents).
//! - `hook`, `mcp` and `skill-run` run inside an agent's project, which the
//!   agent can write: they read no `.env` unless `--env-file` names one.
//!
//! The real environment always wins over a file. When a `.env` (not
//! `--env-file`) turns redaction off, dry run on, or names the vault, stderr
//! says so ([`super::weakening_notes`]).

use std::path::{Path, PathBuf};

use super::ConfigError;

/// The commands an agent runs in its own project folder.
const AGENT_COMMANDS: [&str; 3] = ["hook", "mcp", "skill-run"];

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
pub fn read(file: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let items = dotenvy::from_path_iter(file).map_err(|source| ConfigError::EnvFileUnreadable {
        path: file.to_owned(),
        source,
    })?;
    items
        .map(|item| {
            item.map_err(|source| ConfigError::EnvFileParse {
                path: file.to_owned(),
                source,
            })
        })
        .collect()
}
