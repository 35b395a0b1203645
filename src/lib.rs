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
//!
//! # Words
//!
//! Each word means one thing here.
//!
//! | word | means |
//! |---|---|
//! | entry | one audit record: twelve fields, one compact JSON line on disk |
//! | day file | `Logs/YYYY-MM-DD.json`, the entries of one UTC day ([`daily`]) |
//! | line | an entry as stored, with its level ([`daily::Line`]) |
//! | layout | how a day file is laid out: ours, another program's object, an array, JSON Lines ([`daily::Layout`]) |
//! | append | the one way entries reach a day file ([`daily::append`]) |
//! | recovery | bringing a damaged or foreign day file back to our layout ([`daily::Recovery`]) |
//! | original | a day file in another layout, moved aside whole as `YYYY-MM-DD.orig-<unix>.json` when it was converted; `repair --prune-originals` deletes them |
//! | peer | another logger, and the shape of its entries, mapped to ours ([`entry::peer`]) |
//! | import | taking in a peer's day files, mapped, in time order, exactly once ([`import`]) |
//! | chain | the hash chain over stored lines; its record is `Logs/.audit/chain/<day>.bin` |
//! | views | what is derived from the day files: `Logs/index.json` and the Dashboard table |
//! | upkeep | what runs after every write: the alerts, the views, then retention when due ([`logger::upkeep`]) |
//! | alert | a note in `Needs_Action/` that a rule raised over entries just written: a CRITICAL entry, a burst of ERROR entries, sensitive data accessed, a failure spike of one actor, unusual activity ([`alert`]) |
//! | alert state | what the alert rules have seen so far, `Logs/.audit/alerts.json`, shared by every writer ([`alert::State`]) |
//! | retention | deleting day files older than the kept days, archiving their CRITICAL entries; `rotate` is the command that runs it by hand |
//! | report | a Markdown note over a period (a week by default) with Mermaid charts, for a person to read in Obsidian ([`report`]) |
//! | cold archive | `Logs/archive/YYYY-MM.jsonl.gz`: the stored lines of the day files retention took out of `Logs/`, one gzip **member** per day, kept `AUDIT_ARCHIVE_DAYS` ([`archive`]) |
//! | purge record | retention's own crash journal for one deletion |
//! | journal | the inbox's write-ahead record of a batch being appended ([`journal`]) |
//! | progress | how far each inbox claim is taken in ([`journal::Progress`]) |
//! | grace | how long an inbox file must be quiet (size and modification time unchanged) before it is claimed, and a claim before it is removed ([`inbox::Readiness`]) |
//! | claim | an inbox file renamed into `.processing/` so one process takes it in |
//! | set aside | an inbox file that cannot be taken in, moved whole to `Logs/inbox/rejected/` with its reason ([`inbox::set_aside`]) |
//! | take in | read claims and append their lines ([`inbox::take_in`]); the daemon drains the inbox with it |
//! | catch-up | one forwarding pass of a sink from its cursor ([`forward::CatchUp`]) |
//! | cursor | where a reader stands in one day file: entries passed, the offset after the last, that line's length and hash, the file's identity ([`daily::DayCursor`]); sinks keep one per day (how far they have sent), the primary one per replica day (how far it has taken in), `tail -f` one for today |
//! | role | what a machine sharing a synced vault does: the one **primary** writes the main day files and the views; each **replica** writes only its own files under `Logs/hosts/<host>/` |
//! | host | a machine's name as a folder under `Logs/hosts/` ([`vault::host_name`]) |
//! | merge | two versions of a day made one by stored line: Git conflict markers, a sync tool's conflict copy, the Git merge driver ([`daily::Recovery::Merged`]) |
//! | meter | how far a long run (`verify`, `repair`, `import`, a catch-up) has got, for a progress bar ([`meter::Meter`]) |
//!
//! # Layers
//!
//! One way down: a module uses only modules on floors below its own (never
//! its own floor, never above). `tests/house.rs` reads this table and the
//! `crate::` paths of every file under `src/` and fails on any other arrow.
//!
//! | floor | modules |
//! |---|---|
//! | 0 | time, fsutil, meter, markdown |
//! | 1 | vault, entry, lock |
//! | 2 | chain, redact |
//! | 3 | daily, archive |
//! | 4 | error, journal, index, dashboard, retention, query, replica |
//! | 5 | verify, forward, hook, alert |
//! | 6 | logger, repair, report |
//! | 7 | inbox, import |
//! | 8 | daemon |
//! | 9 | config |
//! | 10 | cli |
#![warn(missing_docs)]

pub mod alert;
pub mod archive;
pub mod chain;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod daily;
pub mod dashboard;
pub mod entry;
pub mod error;
pub mod forward;
pub mod fsutil;
pub mod hook;
pub mod import;
pub mod inbox;
pub mod index;
pub mod journal;
pub mod lock;
pub mod logger;
pub mod markdown;
pub mod meter;
pub mod query;
pub mod redact;
pub mod repair;
pub mod replica;
pub mod report;
pub mod retention;
pub mod time;
pub mod vault;
pub mod verify;

pub use daily::DayFileState;
pub use entry::{ActionType, ApprovalStatus, ApprovedBy, Entry, EntryError, LogLevel, Outcome};
pub use error::Error;
pub use logger::{AuditLogger, AuditLoggerBuilder, PostWrite, Receipt, StepContext, StepError};
pub use time::{Clock, FixedClock, SystemClock};
pub use vault::Vault;
