//! The library's errors. Every variant that means "not written" hands the
//! entries back, so a caller can always keep them.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::daily::DayFileState;
use crate::entry::{Entry, EntryError};
use crate::fsutil::IoFailure;
use crate::lock::LockFailure;

/// Why a `log()` call did not write its entries to their day files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The vault folder does not exist.
    #[error("vault {} is not an existing folder; set --vault or VAULT_PATH to the vault's folder", path.display())]
    VaultNotFound {
        /// The path given.
        path: PathBuf,
    },
    /// A setting is not valid (a bad `AUDIT_REDACT_PATTERNS` regex, ...);
    /// nothing was written.
    #[error("{message}")]
    Config {
        /// What is wrong and what is accepted.
        message: String,
    },
    /// An entry failed validation; nothing was written.
    #[error("entry {position}: {source}")]
    Invalid {
        /// Its position in the batch, from 1.
        position: usize,
        /// What was wrong.
        #[source]
        source: EntryError,
        /// All entries of the call, handed back.
        entries: Vec<Entry>,
    },
    /// The lock was held past the deadline: the entries were saved, durably,
    /// to `failed_writes.json` instead of their day files.
    #[error(
        "lock {} was held by another writer for {} ms (limit {} ms); {} entries were saved to {} instead",
        lock.display(), waited.as_millis(), limit.as_millis(), entries.len(), fallback.display()
    )]
    LockTimeout {
        /// The lock file.
        lock: PathBuf,
        /// How long the call waited.
        waited: Duration,
        /// The configured limit.
        limit: Duration,
        /// Where the entries went.
        fallback: PathBuf,
        /// The entries, as saved.
        entries: Vec<Entry>,
    },
    /// A maintenance command could not take the writers' lock in time.
    #[error("lock {} was held by another writer for {} ms; try again", lock.display(), waited.as_millis())]
    Busy {
        /// The lock file.
        lock: PathBuf,
        /// How long the call waited.
        waited: Duration,
    },
    /// A file-system operation failed (disk full, permissions, ...). The
    /// entries not written are handed back.
    #[error("could not {op} {}: {source}; {} entries were not written", path.display(), entries.len())]
    Io {
        /// What was being done: "write", "sync", "open", ...
        op: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
        /// The entries not written, with their timestamps and sessions filled in.
        entries: Vec<Entry>,
        /// Day files of the same call that were written before the failure.
        written: Vec<DayFileState>,
    },
}

impl From<IoFailure> for Error {
    /// An I/O failure that hands back no entries.
    fn from(f: IoFailure) -> Error {
        Error::io(f, Vec::new(), Vec::new())
    }
}

impl Error {
    /// An I/O failure, handing back the entries not written and the day
    /// files written before it.
    pub fn io(f: IoFailure, entries: Vec<Entry>, written: Vec<DayFileState>) -> Error {
        Error::Io {
            op: f.op,
            path: f.path,
            source: f.source,
            entries,
            written,
        }
    }

    /// The writers' lock at `lock` was not had: held too long (`Busy`) or
    /// not openable (`Io`, handing back `entries`).
    pub fn lock(lock: PathBuf, failure: LockFailure, entries: Vec<Entry>) -> Error {
        match failure {
            LockFailure::TimedOut(waited) => Error::Busy { lock, waited },
            LockFailure::Io(source) => Error::io(
                IoFailure {
                    op: "lock",
                    path: lock,
                    source,
                },
                entries,
                Vec::new(),
            ),
        }
    }

    /// The entries this error hands back (none for `VaultNotFound`).
    pub fn entries(&self) -> &[Entry] {
        match self {
            Error::VaultNotFound { .. } | Error::Config { .. } | Error::Busy { .. } => &[],
            Error::Invalid { entries, .. }
            | Error::LockTimeout { entries, .. }
            | Error::Io { entries, .. } => entries,
        }
    }
}
