//! Exit codes, mapped in this one place and documented in the README.

use crate::cli::CliError;
use crate::error::Error;

/// Every entry was written (or, in dry run, validated).
pub const OK: u8 = 0;
/// Some entries were rejected as invalid; the valid ones were written.
pub const REJECTED: u8 = 1;
/// Bad arguments, environment or vault path; nothing was written.
pub const USAGE: u8 = 2;
/// The lock was not taken in time; the entries were saved to
/// `Logs/failed_writes.json` (for `index`, `dashboard`, `rotate`: nothing was done).
pub const FALLBACK: u8 = 3;
/// An I/O error; the entries not written are printed on stderr as JSON Lines.
pub const IO: u8 = 4;

/// The exit code for a library error.
pub fn for_error(error: &Error) -> u8 {
    match error {
        Error::VaultNotFound { .. } | Error::Config { .. } => USAGE,
        Error::Invalid { .. } => REJECTED,
        Error::LockTimeout { .. } | Error::Busy { .. } => FALLBACK,
        Error::Io { .. } => IO,
    }
}

/// The exit code for a command's failure.
pub fn code(error: &CliError) -> u8 {
    match error {
        CliError::Usage(_)
        | CliError::Forward(_)
        | CliError::Filter(_)
        | CliError::Hook(_)
        | CliError::Unavailable { .. } => USAGE,
        CliError::Write(_) => IO,
        CliError::Library(e) | CliError::Saved { source: e, .. } => for_error(e),
    }
}
