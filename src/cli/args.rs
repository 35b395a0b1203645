//! Raw command-line arguments (clap derive), flags only: the environment
//! under them is read by [`crate::config`], to which [`Args::overrides`]
//! hands them.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand};

use crate::config::{DaemonOverrides, Overrides};

/// A durable audit log for Obsidian vaults.
#[derive(Debug, Parser)]
#[command(name = "vault-audit", version, about, max_term_width = 100)]
pub struct Args {
    /// The vault folder (else VAULT_PATH).
    #[arg(long, global = true, value_name = "PATH")]
    pub vault: Option<PathBuf>,

    /// Validate and print entries, write nothing (the default when neither
    /// DRY_RUN nor AUDIT_DRY_RUN says false).
    #[arg(long, global = true, overrides_with = "no_dry_run")]
    pub dry_run: bool,

    /// Write for real, whatever DRY_RUN and AUDIT_DRY_RUN say.
    #[arg(long, global = true, overrides_with = "dry_run")]
    pub no_dry_run: bool,

    /// How long to wait for the writers' lock before saving entries to
    /// Logs/failed_writes.json (else AUDIT_LOCK_TIMEOUT_MS).
    #[arg(long, global = true, value_name = "MS")]
    pub lock_timeout_ms: Option<u64>,

    /// Days of logs to keep; older day files are purged after writes (else
    /// AUDIT_RETENTION_DAYS, else 90).
    #[arg(long, global = true, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub retention_days: Option<u32>,

    /// Session id for entries that carry none (else AUDIT_SESSION_ID, else
    /// a new AI_EMP_YYYYMMDD_XXXXXX).
    #[arg(long = "session", global = true, value_name = "ID")]
    pub session: Option<String>,

    /// Read settings from this file (the real environment wins). Without
    /// it, `.env` in the working folder is read, except by hook, mcp and
    /// skill-run, which read none.
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,

    /// Create Logs/ in a folder that is not a vault yet (one with Logs/,
    /// Dashboard.md or .obsidian/), on purpose.
    #[arg(long, global = true)]
    pub init: bool,

    /// More messages on stderr: -v debug (the daemon: what is taken in),
    /// -vv trace; RUST_LOG, when set, decides instead.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Fewer messages on stderr: -q warnings and errors only, -qq errors only.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate and append entries to the day files.
    Log(Box<LogArgs>),
    /// Rebuild Logs/index.json from the day files.
    Index,
    /// Refresh the Recent Activity table of Dashboard.md.
    Dashboard,
    /// Purge day files older than the retention period, archiving CRITICAL entries.
    Rotate(RotateArgs),
    /// Find entries: filters over the day files, in time order.
    Query(QueryArgs),
    /// Show the last entries, and with -f follow new ones.
    Tail(TailArgs),
    /// Write an audit report note with Mermaid charts (default: the last 7 days, into Briefings/).
    Report(ReportArgs),
    /// Run the daemon in the foreground (or: daemon status, daemon stop).
    Daemon(DaemonArgs),
    /// Append the entries saved in Logs/failed_writes.json to their day files, exactly once.
    Replay(ReplayArgs),
    /// Log one Claude Code hook event read from stdin (always exits 0).
    Hook(HookArgs),
    /// Log a skill run: <skill> <status> [duration_ms] [errors_json] [metadata_json] (seed 000).
    SkillRun(SkillRunArgs),
    /// Serve MCP over stdio: tools log_action and query_logs.
    Mcp,
    /// Check every day file, its counts, entries and hash chain, and the index (exit 1 on a problem).
    Verify(VerifyArgs),
    /// Fix torn tails, wrong counts, missing chain values and a stale index; leave evidence alone.
    Repair(RepairArgs),
    /// Take in day files another logger wrote (any layout), mapped to the twelve fields, exactly once.
    Import(ImportArgs),
    /// Write a new Ed25519 signing key to PATH (mode 0600) and its public key to PATH.pub.
    Keygen(KeygenArgs),
    /// Sign every day's present state and the head record with AUDIT_SIGNING_KEY (the vault must verify).
    Seal(CheckArgs),
    /// Copy the sample vault to a fresh folder and log a few entries in it for real.
    Demo(DemoArgs),
    /// Send the entries the configured sinks (AUDIT_FORWARD_*) lack, then exit (for cron).
    Forward(ForwardArgs),
    /// Set the vault up for a sync tool: `init-sync git` writes .gitattributes and .gitignore lines and registers the merge driver.
    InitSync(InitSyncArgs),
    /// Git merge driver for day files (`merge-driver %O %A %B`): writes the union of both versions into %A.
    MergeDriver(MergeDriverArgs),
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the manual page (roff): `vault-audit man | man -l -`.
    Man,
}

/// The sync tools `init-sync` sets a vault up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncTool {
    /// Git: the merge driver for day files, and what must not be committed.
    Git,
}

/// `vault-audit init-sync`.
#[derive(Debug, ClapArgs)]
pub struct InitSyncArgs {
    /// The sync tool.
    #[arg(value_enum)]
    pub tool: SyncTool,
}

/// `vault-audit merge-driver`.
#[derive(Debug, ClapArgs)]
pub struct MergeDriverArgs {
    /// The common ancestor's version (%O).
    pub ancestor: PathBuf,
    /// This side's version (%A), where the result is written.
    pub ours: PathBuf,
    /// The other side's version (%B).
    pub theirs: PathBuf,
}

/// `vault-audit completions`.
#[derive(Debug, ClapArgs)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `vault-audit forward`.
#[derive(Debug, ClapArgs)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["once", "status", "init_postgres"])))]
pub struct ForwardArgs {
    /// Catch every configured sink up, oldest entries first, then exit.
    #[arg(long)]
    pub once: bool,
    /// Print how many entries each sink still lacks; send nothing.
    #[arg(long)]
    pub status: bool,
    /// Print the PostgreSQL table's DDL; with AUDIT_FORWARD_POSTGRES set (and no dry run), create it.
    #[arg(long)]
    pub init_postgres: bool,
}

/// `vault-audit report`.
#[derive(Debug, ClapArgs)]
pub struct ReportArgs {
    /// From this time: a duration back from now (7d, 24h), an RFC 3339 time, or a date.
    #[arg(long, value_name = "WHEN", default_value = "7d")]
    pub since: String,
    /// Up to this time (same forms; a date means its end; default: now).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Write the note here (relative to the working folder; `-` prints it)
    /// instead of <AUDIT_FOLDER_BRIEFINGS>/YYYY-MM-DD_Audit_Report.md in the vault.
    #[arg(long, value_name = "PATH")]
    pub out: Option<std::path::PathBuf>,
    /// Replace the file --out names if it exists (else it is refused).
    #[arg(long, requires = "out")]
    pub force: bool,
}

/// `vault-audit query`.
#[derive(Debug, ClapArgs)]
pub struct QueryArgs {
    /// From this time: a duration back from now (30m, 1h, 7d), an RFC 3339 time, or a date.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Up to this time (same forms; a date means its end).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only this level (repeat for several): INFO, WARNING, ERROR, CRITICAL.
    #[arg(long, value_name = "L")]
    pub level: Vec<String>,
    /// Only this action_type.
    #[arg(long, value_name = "A")]
    pub action: Option<String>,
    /// Only this actor (exact).
    #[arg(long, value_name = "X")]
    pub actor: Option<String>,
    /// Only targets containing this text.
    #[arg(long, value_name = "SUBSTRING")]
    pub target: Option<String>,
    /// Only this result: success, failure, skipped.
    #[arg(long, value_name = "R")]
    pub result: Option<String>,
    /// Only this session_id.
    #[arg(long, value_name = "S")]
    pub session: Option<String>,
    /// Only this approval_status.
    #[arg(long, value_name = "S")]
    pub approval_status: Option<String>,
    /// Only entries containing this text anywhere.
    #[arg(long, value_name = "TEXT")]
    pub contains: Option<String>,
    /// Output: table (default on a terminal), json, jsonl (default otherwise), csv.
    #[arg(long, value_name = "F")]
    pub format: Option<crate::query::output::Format>,
    /// Print only the number of matching entries.
    #[arg(long, conflicts_with = "stats")]
    pub count: bool,
    /// Print counts by level, action, actor and result, and duration_ms figures per actor.
    #[arg(long)]
    pub stats: bool,
    /// Also read the cold archive (Logs/archive/, see AUDIT_ARCHIVE_DAYS):
    /// its days come first, oldest first, then the day files'.
    #[arg(long)]
    pub archive: bool,
}

/// `vault-audit tail`.
#[derive(Debug, ClapArgs)]
pub struct TailArgs {
    /// How many of the last entries to show.
    #[arg(short = 'n', default_value_t = 10, value_name = "N")]
    pub lines: usize,
    /// Keep following new entries (across midnight) until interrupted.
    #[arg(short, long)]
    pub follow: bool,
    /// Output: table (default on a terminal), json, jsonl (default otherwise), csv.
    #[arg(long, value_name = "F")]
    pub format: Option<crate::query::output::Format>,
}

/// `vault-audit daemon`.
#[derive(Debug, ClapArgs)]
pub struct DaemonArgs {
    /// `status` or `stop`; none runs the daemon.
    #[command(subcommand)]
    pub action: Option<DaemonAction>,

    /// Poll the vault at this interval (e.g. 2s) instead of waiting for file
    /// events: for network and synced folders where events do not arrive.
    #[arg(long, value_name = "DURATION", value_parser = crate::time::parse_duration)]
    pub poll: Option<std::time::Duration>,

    /// Do not record vault activity (notes created and moved).
    #[arg(long)]
    pub no_watch_vault: bool,

    /// ERROR entries within the alert window that raise an alert note
    /// (overrides AUDIT_ALERT_ERRORS, default 10; every writer raises alerts,
    /// the daemon too).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub alert_errors: Option<u32>,

    /// The window for ERROR bursts (overrides AUDIT_ALERT_WINDOW, default 15m).
    #[arg(long, value_parser = crate::time::parse_duration)]
    pub alert_window: Option<std::time::Duration>,

    /// How long an inbox file must be quiet (size and modification time
    /// unchanged) before it is claimed, and a claim before it is removed
    /// (at least 100ms; else AUDIT_INBOX_GRACE, else 1s).
    #[arg(long = "inbox-grace", value_parser = crate::config::parse_grace)]
    pub inbox_grace: Option<std::time::Duration>,

    /// The inbox folder's name (else AUDIT_FOLDER_INBOX, else Inbox).
    #[arg(long, hide_short_help = true)]
    pub folder_inbox: Option<String>,
    /// The Needs_Action folder's name (alert notes go there too) (else AUDIT_FOLDER_NEEDS_ACTION, else Needs_Action).
    #[arg(long, hide_short_help = true)]
    pub folder_needs_action: Option<String>,
    /// The Plans folder's name (else AUDIT_FOLDER_PLANS, else Plans).
    #[arg(long, hide_short_help = true)]
    pub folder_plans: Option<String>,
    /// The Pending_Approval folder's name (else AUDIT_FOLDER_PENDING_APPROVAL, else Pending_Approval).
    #[arg(long, hide_short_help = true)]
    pub folder_pending_approval: Option<String>,
    /// The Approved folder's name (else AUDIT_FOLDER_APPROVED, else Approved).
    #[arg(long, hide_short_help = true)]
    pub folder_approved: Option<String>,
    /// The Rejected folder's name (else AUDIT_FOLDER_REJECTED, else Rejected).
    #[arg(long, hide_short_help = true)]
    pub folder_rejected: Option<String>,
}

/// What to do with a running daemon.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum DaemonAction {
    /// Say whether a daemon runs for the vault, and its pid.
    Status,
    /// Stop the running daemon (SIGTERM) and wait for it to finish.
    Stop,
}

/// `vault-audit hook`.
#[derive(Debug, ClapArgs)]
pub struct HookArgs {
    /// Whose hook payload it is.
    #[arg(value_enum)]
    pub agent: HookAgent,
}

/// The agents whose hooks are understood.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum HookAgent {
    /// Claude Code command hooks.
    ClaudeCode,
}

/// `vault-audit skill-run`.
#[derive(Debug, ClapArgs)]
pub struct SkillRunArgs {
    /// The skill's name (the entry's actor).
    pub skill: String,
    /// success, or anything else (failed, timeout, ...) for a failure.
    pub status: String,
    /// How long it ran, in milliseconds ("" for unknown).
    pub duration_ms: Option<String>,
    /// A JSON array of error messages.
    pub errors_json: Option<String>,
    /// A JSON object of details.
    pub metadata_json: Option<String>,
}

/// `vault-audit seal`.
#[derive(Debug, ClapArgs)]
pub struct CheckArgs {
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `vault-audit verify`.
#[derive(Debug, ClapArgs)]
pub struct VerifyArgs {
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Check every signature (and the chains) with this public key file
    /// alone; no secret is needed.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// Compare the vault with the chain heads the PostgreSQL sink stored
    /// (table vault_audit_heads), under AUDIT_VAULT_NAME or the folder's name.
    #[arg(long, value_name = "URL")]
    pub against_postgres: Option<String>,
    /// Also check the cold archive (Logs/archive/): every member whole,
    /// every archived day's entries folding to its recorded chain values.
    #[arg(long)]
    pub archive: bool,
}

/// `vault-audit repair`.
#[derive(Debug, ClapArgs)]
pub struct RepairArgs {
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Also delete the originals that conversions kept aside
    /// (Logs/YYYY-MM-DD.orig-<unix>.json), saying which.
    #[arg(long)]
    pub prune_originals: bool,
    /// Accept this day (YYYY-MM-DD) as it now stands, after reading what
    /// verify reports of it: logs a WARNING saying what was accepted.
    #[arg(long, value_name = "DAY")]
    pub accept: Option<String>,
}

/// `vault-audit import`.
#[derive(Debug, ClapArgs)]
pub struct ImportArgs {
    /// Day files, or folders of them, in any layout (JSON Lines, arrays,
    /// objects with an `entries` list); none: the vault's own Logs/ day
    /// files that are in another layout.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// `vault-audit keygen`.
#[derive(Debug, ClapArgs)]
pub struct KeygenArgs {
    /// Where to write the private key (never inside the vault; PATH.pub gets the public key).
    pub path: PathBuf,
}

/// `vault-audit rotate`.
#[derive(Debug, ClapArgs)]
pub struct RotateArgs {
    /// Days to keep, this time (default --retention-days).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub days: Option<u32>,
}

/// `vault-audit log`.
#[derive(Debug, ClapArgs)]
pub struct LogArgs {
    /// One JSON entry, or `-` to read one JSON object or JSON Lines from stdin.
    #[arg(long, value_name = "JSON|-", conflicts_with_all = ["level", "action", "actor", "target", "params", "parameters", "approval_status", "approved_by", "result", "error", "timestamp", "entry_dry_run"])]
    pub entry: Option<String>,

    /// log_level: INFO, WARNING, ERROR or CRITICAL (any case).
    #[arg(long, required_unless_present = "entry", value_name = "L")]
    pub level: Option<String>,

    /// action_type: file_drop, plan_created, ... or any lower_snake_case name.
    #[arg(long, required_unless_present = "entry", value_name = "A")]
    pub action: Option<String>,

    /// actor: the skill or person that acted.
    #[arg(long, required_unless_present = "entry", value_name = "X")]
    pub actor: Option<String>,

    /// target: the file, folder, email or component acted on.
    #[arg(long, required_unless_present = "entry", value_name = "T")]
    pub target: Option<String>,

    /// One parameter; VALUE is stored as JSON when it parses as JSON, else as a string.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,

    /// All parameters as one JSON object (--param entries are added to it).
    #[arg(long, value_name = "JSON")]
    pub parameters: Option<String>,

    /// approval_status: not_required (default), pending, approved, rejected, expired.
    #[arg(long, value_name = "S")]
    pub approval_status: Option<String>,

    /// approved_by: human, system or N/A (default).
    #[arg(long, value_name = "B")]
    pub approved_by: Option<String>,

    /// result: success (default), failure or skipped.
    #[arg(long, value_name = "R")]
    pub result: Option<String>,

    /// error_message (default null).
    #[arg(long, value_name = "MSG")]
    pub error: Option<String>,

    /// timestamp, RFC 3339 with an offset or Z (default now).
    #[arg(long, value_name = "TS")]
    pub timestamp: Option<String>,

    /// Set the entry's own dry_run field: the action it records ran dry.
    #[arg(long)]
    pub entry_dry_run: bool,
}

/// `vault-audit demo`.
#[derive(Debug, ClapArgs)]
pub struct DemoArgs {
    /// Where to put the copy (must not exist yet; default a new temporary folder).
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,

    /// The vault to copy (default the sample vault built into the binary).
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
}

/// `replay`'s options.
#[derive(Debug, ClapArgs)]
pub struct ReplayArgs {
    /// Also take in the entries a hook saved in the state folder
    /// ($XDG_STATE_HOME/vault-audit/failed_writes.json) because it found no
    /// vault to write them to.
    #[arg(long)]
    pub orphans: bool,
}

impl Args {
    /// What the flags say, for the configuration to put over the
    /// environment.
    pub fn overrides(&self) -> Overrides {
        let dry_run = match (self.dry_run, self.no_dry_run) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        Overrides {
            vault: self.vault.clone(),
            dry_run,
            lock_timeout_ms: self.lock_timeout_ms,
            retention_days: self.retention_days,
            session_id: self.session.clone(),
            init: self.init,
            forwarding: self.command.forwards(),
            daemon: match &self.command {
                Command::Daemon(d) => Some(d.overrides()),
                _ => None,
            },
        }
    }
}

impl Command {
    /// Whether the command sends entries to the sinks.
    fn forwards(&self) -> bool {
        match self {
            Command::Forward(_) => true,
            Command::Verify(v) => v.against_postgres.is_some(),
            Command::Daemon(d) => d.action.is_none(),
            _ => false,
        }
    }
}

impl DaemonArgs {
    /// The daemon's flags that have a setting under them.
    fn overrides(&self) -> DaemonOverrides {
        DaemonOverrides {
            grace: self.inbox_grace,
            inbox: self.folder_inbox.clone(),
            needs_action: self.folder_needs_action.clone(),
            plans: self.folder_plans.clone(),
            pending_approval: self.folder_pending_approval.clone(),
            approved: self.folder_approved.clone(),
            rejected: self.folder_rejected.clone(),
        }
    }
}
