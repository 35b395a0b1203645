//! Why a command could not do its work; [`crate::cli::exit::code`] maps
//! each to its exit code.

use std::io;
use std::path::PathBuf;

/// A command's failure. Outcomes a command reports itself (entries
/// rejected, problems found by `verify`) are exit codes, not errors.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments, a bad value or a missing vault; nothing was done.
    #[error("{0}")]
    Usage(String),
    /// A bad forwarding setting (`AUDIT_FORWARD_*`).
    #[error(transparent)]
    Forward(#[from] crate::forward::config::ConfigError),
    /// A hook payload that cannot be recorded.
    #[error(transparent)]
    Hook(#[from] crate::hook::HookError),
    /// Query filters that are not accepted, named by their flags.
    #[error("{}", .0.describe(crate::cli::query::flag))]
    Filter(#[from] crate::query::FilterError),
    /// Something the command needs before it starts could not be read or
    /// set up (the logs folder, the pid file, stdin, signal handlers).
    #[error("could not {what}: {source}")]
    Unavailable {
        /// What was being done, e.g. "read stdin".
        what: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A file that is not an entry (a report) could not be written.
    #[error(transparent)]
    Write(#[from] crate::fsutil::IoFailure),
    /// The library refused or failed (boxed: it carries the entries).
    #[error(transparent)]
    Library(Box<crate::Error>),
    /// The entries were not written to their day files, and were saved for
    /// `vault-audit replay` instead.
    #[error("{source}; saved to {} for `vault-audit replay`", saved.display())]
    Saved {
        /// Why they were not written.
        source: Box<crate::Error>,
        /// Where they were saved.
        saved: PathBuf,
    },
}

impl From<crate::Error> for CliError {
    fn from(error: crate::Error) -> Self {
        CliError::Library(Box::new(error))
    }
}

/// A setting that is not accepted is a usage error (exit 2), with the
/// configuration's message; a vault that cannot be set up keeps its kind.
impl From<crate::config::ConfigError> for CliError {
    fn from(error: crate::config::ConfigError) -> Self {
        use crate::config::ConfigError;
        match error {
            ConfigError::Forward(e) => CliError::Forward(e),
            ConfigError::Logger(e) => CliError::Library(e),
            ConfigError::CreateLogs { path, source } => {
                CliError::unavailable(format!("create {}", path.display()), source)
            }
            other => CliError::Usage(other.to_string()),
        }
    }
}

impl CliError {
    /// A usage error with this message.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    /// What could not be done, and why.
    pub fn unavailable(what: impl Into<String>, source: io::Error) -> Self {
        CliError::Unavailable {
            what: what.into(),
            source,
        }
    }
}
