//! vault-audit: a durable, constant-cost audit log for Obsidian vaults that
//! agent skills and a human share.
//!
//! Entries are validated against a twelve-field schema and appended to
//! `Logs/YYYY-MM-DD.json` under a cross-process lock, with one positioned
//! write and one `fdatasync` per call, however large the day already is.
//!
//! ```no_run
//! use vault_audit::{ActionType, AuditLogger, Entry, LogLevel};
//!
//! let logger = AuditLogger::builder("/home/me/vault").build()?;
//! let entry = Entry::new(
//!     LogLevel::Info,
//!     ActionType::new("plan_created")?,
//!     "needs-action-processor",
//!     "Plans/request-01-Plan.md",
//! )
//! .param("source_file", "request-01.md");
//! let receipt = logger.log(entry)?;
//! println!("{} entries today", receipt.files[0].total_entries);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod chain;
pub mod cli;
pub mod daemon;
pub mod daily;
pub mod dashboard;
pub mod entry;
pub mod error;
pub mod forward;
pub mod fsutil;
pub mod hook;
pub mod inbox;
pub mod index;
pub mod journal;
pub mod lock;
pub mod logger;
pub mod query;
pub mod redact;
pub mod repair;
pub mod retention;
pub mod time;
pub mod upkeep;
pub mod vault;
pub mod verify;

pub use entry::{ActionType, ApprovalStatus, ApprovedBy, Entry, EntryError, LogLevel, Outcome};
pub use error::Error;
pub use logger::{AuditLogger, AuditLoggerBuilder, DayFileState, PostWrite, Receipt, StepContext};
pub use time::{Clock, FixedClock, SystemClock};
pub use vault::Vault;
