//! The configuration: every setting vault-audit reads is named here and
//! nowhere else (as [`crate::vault`] names every path), and resolved once
//! into a checked [`Config`].
//!
//! A front end (the command line, the Python package) hands in what it was
//! told itself as [`Overrides`], and a lookup of the environment. The
//! library never reads the process environment: the front end passes
//! `|k| std::env::var(k).ok()`, or [`layered`] to put the settings of a
//! `.env` file ([`dotenv`]) under it. Each setting is taken, first found,
//! from the override (a flag), the environment, the `.env` file, the
//! default.

pub mod dotenv;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anstream::ColorChoice;

use crate::alert::Rules;
use crate::chain::ChainKey;
use crate::daemon::watch::Folders;
use crate::dashboard;
use crate::entry::ParseMode;
use crate::forward::config::{
    self as forward_config, aws, HttpSettings, Settings as ForwardSettings, SinkNames,
    SyslogSettings,
};
use crate::hook::HookSettings;
use crate::logger::{AuditLogger, AuditLoggerBuilder, DEFAULT_LOCK_TIMEOUT};
use crate::redact::Redactor;
use crate::time::{Zone, ZONE_ACCEPTED};

/// The names of the forwarding sinks' settings, for their messages.
pub const SINK_NAMES: SinkNames = SinkNames {
    postgres: "AUDIT_FORWARD_POSTGRES",
    syslog: "AUDIT_FORWARD_SYSLOG",
    http: "AUDIT_FORWARD_HTTP",
    http_format: "AUDIT_FORWARD_HTTP_FORMAT",
    http_headers: "AUDIT_FORWARD_HTTP_HEADERS",
    cloudwatch: "AUDIT_FORWARD_CLOUDWATCH",
};

/// A setting the configuration does not accept, or a vault it cannot use.
/// A message names the variable, its value and what is accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value that is not accepted.
    #[error("{name}={value:?} {why}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong, and what is accepted (`is not accepted: ...`).
        why: String,
    },
    /// A forwarding setting that is not accepted.
    #[error(transparent)]
    Forward(#[from] forward_config::ConfigError),
    /// The env file could not be read.
    #[error("could not read the env file {}: {source}", path.display())]
    EnvFileUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: dotenvy::Error,
    },
    /// A line of the env file does not parse.
    #[error("the env file {} does not parse: {source}", path.display())]
    EnvFileParse {
        /// The file.
        path: PathBuf,
        /// The parser's message (it quotes the line).
        #[source]
        source: dotenvy::Error,
    },
    /// No vault was named.
    #[error("no vault given: pass --vault PATH or set VAULT_PATH")]
    NoVault,
    /// The vault named is not a folder.
    #[error("vault {} is not an existing folder; set --vault or VAULT_PATH to the vault's folder", path.display())]
    NoFolder {
        /// The path named.
        path: PathBuf,
    },
    /// A folder that is not a vault, and `--init` was not given.
    #[error("{} is not a vault (it has no Logs/, Dashboard.md or .obsidian/); pass the vault's folder with --vault, or add --init to create Logs/ there on purpose", path.display())]
    NotAVault {
        /// The folder.
        path: PathBuf,
    },
    /// `Logs/` could not be created (`--init`).
    #[error("could not create {}: {source}", path.display())]
    CreateLogs {
        /// The `Logs/` folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The forwarding settings are read only for the commands that forward.
    #[error("the forwarding settings were not read for this command")]
    ForwardingNotRead,
    /// The logger refused the configuration (boxed: it is large).
    #[error(transparent)]
    Logger(Box<crate::Error>),
}

impl From<crate::Error> for ConfigError {
    fn from(error: crate::Error) -> Self {
        ConfigError::Logger(Box::new(error))
    }
}

fn invalid(name: &'static str, value: &str, why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        why: why.into(),
    }
}

/// What a front end was told itself (its flags, its arguments); `None`
/// leaves a setting to the environment, then to the default.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// The vault folder (`--vault`; else `VAULT_PATH`).
    pub vault: Option<PathBuf>,
    /// Dry run (`--dry-run`/`--no-dry-run`; else `AUDIT_DRY_RUN`, `DRY_RUN`, true).
    pub dry_run: Option<bool>,
    /// Milliseconds to wait for the writers' lock (else `AUDIT_LOCK_TIMEOUT_MS`).
    pub lock_timeout_ms: Option<u64>,
    /// Days of logs to keep (else `AUDIT_RETENTION_DAYS`, else 90).
    pub retention_days: Option<u32>,
    /// Session id for entries that carry none (else `AUDIT_SESSION_ID`);
    /// a blank one is none.
    pub session_id: Option<String>,
    /// Create `Logs/` in a folder that is not a vault yet.
    pub init: bool,
    /// Read the forwarding settings (the commands that forward).
    pub forwarding: bool,
    /// Read the daemon's settings (the `daemon` command), with its flags.
    pub daemon: Option<DaemonOverrides>,
}

/// The daemon's flags; `None` leaves a setting to the environment, then the
/// default.
#[derive(Debug, Clone, Default)]
pub struct DaemonOverrides {
    /// How long an inbox file must be quiet (else `AUDIT_INBOX_GRACE`, 1s).
    pub grace: Option<Duration>,
    /// The inbox folder (else `AUDIT_FOLDER_INBOX`, `Inbox`).
    pub inbox: Option<String>,
    /// The Needs_Action folder (else `AUDIT_FOLDER_NEEDS_ACTION`).
    pub needs_action: Option<String>,
    /// The Plans folder (else `AUDIT_FOLDER_PLANS`).
    pub plans: Option<String>,
    /// The Pending_Approval folder (else `AUDIT_FOLDER_PENDING_APPROVAL`).
    pub pending_approval: Option<String>,
    /// The Approved folder (else `AUDIT_FOLDER_APPROVED`).
    pub approved: Option<String>,
    /// The Rejected folder (else `AUDIT_FOLDER_REJECTED`).
    pub rejected: Option<String>,
}

/// The daemon's settings, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSettings {
    /// How long an inbox file must be quiet before it is claimed.
    pub grace: Duration,
    /// The workflow folders it watches.
    pub folders: Folders,
}

/// Everything the library needs to know from outside, checked: the front
/// ends build it with [`Config::new`]; nothing below reads the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// The vault folder, if one was named.
    pub vault: Option<PathBuf>,
    /// Whether the logger runs dry.
    pub dry_run: bool,
    /// How long to wait for the writers' lock.
    pub lock_timeout: Duration,
    /// Session id for entries that carry none.
    pub session_id: Option<String>,
    /// Days of logs to keep.
    pub retention_days: u32,
    /// Days the cold archive keeps expired day files' entries
    /// (`AUDIT_ARCHIVE_DAYS`; unset or empty: no cold archive).
    pub archive_days: Option<u32>,
    /// The hash chain's key (`AUDIT_CHAIN_KEY`) and the signing key read
    /// from the file `AUDIT_SIGNING_KEY` names.
    pub chain_key: ChainKey,
    /// How entries are redacted and cut (`AUDIT_REDACTION`,
    /// `AUDIT_REDACT_PATTERNS`, `AUDIT_MAX_FIELD_CHARS`).
    pub redactor: Redactor,
    /// What hooks record and the agent's id (`AUDIT_AGENT_ID`,
    /// `AUDIT_HOOK_PRE_TOOL_USE`, `AUDIT_HOOK_PROMPT_TEXT`); its redactor
    /// is [`Config::redactor`].
    pub hook: HookSettings,
    /// The agent's project folder (`CLAUDE_PROJECT_DIR`): a hook's vault
    /// when none is named.
    pub project_dir: Option<PathBuf>,
    /// The sinks to forward to (`AUDIT_FORWARD_*`, `AUDIT_VAULT_NAME`, and
    /// `HOSTNAME` where the system's host name cannot be read). Read only
    /// for the commands that forward (`forward`, `daemon`): a bad
    /// forwarding setting must not stop `log` or a hook from recording.
    pub forward: Option<ForwardSettings>,
    /// How entry values are read: `AUDIT_STRICT=1` accepts only the stored
    /// spellings, else the aliases are accepted too.
    pub parse_mode: ParseMode,
    /// The zone of times without an offset in imported entries
    /// (`AUDIT_IMPORT_TZ`: `local`, the default, `UTC` or an offset).
    pub import_zone: Zone,
    /// Create `Logs/` in a folder that is not a vault yet (`--init`).
    pub init: bool,
    /// This machine's name (`AUDIT_HOST`, else the host name), made a
    /// folder name.
    pub host: String,
    /// Whether this machine is a replica (`AUDIT_ROLE=replica`): it writes
    /// only under `Logs/hosts/<host>/`. The default, `primary`, writes the
    /// main day files and takes the replicas in.
    pub replica: bool,
    /// Where a hook keeps entries it has no vault for
    /// (`$XDG_STATE_HOME/vault-audit`, else `~/.local/state/vault-audit`).
    pub state_dir: Option<PathBuf>,
    /// Colour on standard output: `NO_COLOR` (any value) turns it off,
    /// `CLICOLOR_FORCE` on; otherwise a terminal gets it and a pipe does not.
    pub colour: ColorChoice,
    /// The alert rules every writer runs after its writes
    /// (`AUDIT_ALERT_ERRORS`, `AUDIT_ALERT_WINDOW`,
    /// `AUDIT_FOLDER_NEEDS_ACTION`); the defaults when one is bad.
    pub alerts: Rules,
    /// A bad alert setting: the daemon refuses to start on it; the other
    /// writers raise alerts by the defaults meanwhile, for a bad alert
    /// setting must not stop an entry from being recorded.
    pub alert_problem: Option<String>,
    /// Where reports go and when the daemon writes them
    /// (`AUDIT_FOLDER_BRIEFINGS`, `AUDIT_REPORT_SCHEDULE`), or what is wrong
    /// with them: `report` and the daemon refuse a bad one; other commands
    /// never read it.
    pub reports: Result<crate::report::Settings, String>,
    /// How the Dashboard is drawn (`AUDIT_DASHBOARD_TZ`); the defaults when
    /// a setting is bad.
    pub dashboard: dashboard::Settings,
    /// A bad Dashboard setting: like [`Config::alert_problem`], the daemon
    /// refuses to start on it and the other writers warn and draw the
    /// Dashboard by the defaults, for a display setting must not stop an
    /// entry from being recorded.
    pub dashboard_problem: Option<String>,
    /// systemd gave the daemon a socket to report readiness on
    /// (`NOTIFY_SOCKET`, a unit with `Type=notify`).
    pub systemd_notify: bool,
    /// The daemon's settings (`AUDIT_INBOX_GRACE`, `AUDIT_FOLDER_*`), read
    /// only for the `daemon` command.
    pub daemon: Option<DaemonSettings>,
}

/// A lookup of the environment: a variable's value, or `None` when unset.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The environment `real` over the settings of an env file, `file` (as
/// [`dotenv::read`] gives them; the first of a repeated key counts): the
/// lookup a front end passes to [`Config::new`]. Nothing is written to the
/// process environment.
pub fn layered(
    real: impl Fn(&str) -> Option<String>,
    file: Vec<(String, String)>,
) -> impl Fn(&str) -> Option<String> {
    let mut map = HashMap::new();
    for (key, value) in file {
        map.entry(key).or_insert(value);
    }
    move |name: &str| real(name).or_else(|| map.get(name).cloned())
}

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

/// The notes for stderr about the weakening settings a found env file
/// `file` gives, where the real environment `real` leaves them unset.
pub fn weakening_notes(
    real: impl Fn(&str) -> Option<String>,
    pairs: &[(String, String)],
    file: &Path,
) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    pairs
        .iter()
        .filter(|(key, _)| seen.insert(key.as_str()) && real(key).is_none())
        .filter_map(|(key, value)| weakening_note(key, value, file))
        .collect()
}

/// `RUST_LOG`: the filter of operational messages, when set.
pub fn log_filter(env: impl Fn(&str) -> Option<String>) -> Option<String> {
    env("RUST_LOG")
}

/// Whether `NO_COLOR` (any value but empty) turns colour off.
pub fn no_color(env: impl Fn(&str) -> Option<String>) -> bool {
    env("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// The colour conventions (no-color.org, `CLICOLOR_FORCE`), `NO_COLOR` first.
fn colour_choice(env: Lookup<'_>) -> ColorChoice {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty() && v != "0");
    if no_color(env) {
        ColorChoice::Never
    } else if set("CLICOLOR_FORCE") {
        ColorChoice::Always
    } else if env("TERM").as_deref() == Some("dumb") || env("CLICOLOR").as_deref() == Some("0") {
        ColorChoice::Never
    } else {
        ColorChoice::Auto
    }
}

/// Parses a boolean the way `.env` files spell them.
fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(
            name,
            value,
            "is not a boolean; accepted: true, false, 1, 0, yes, no, on, off",
        )),
    }
}

/// Dry run, first match wins: the override, `AUDIT_DRY_RUN`, `DRY_RUN`,
/// and true when none is set (the seed's default).
fn dry_run(given: Option<bool>, env: Lookup<'_>) -> Result<bool, ConfigError> {
    if let Some(dry) = given {
        return Ok(dry);
    }
    for name in ["AUDIT_DRY_RUN", "DRY_RUN"] {
        if let Some(v) = env(name) {
            return parse_bool(name, &v);
        }
    }
    Ok(true)
}

/// The vault: the override, else `VAULT_PATH` (which may not be empty).
fn vault(given: Option<&PathBuf>, env: Lookup<'_>) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(path) = given {
        return Ok(Some(path.clone()));
    }
    match env("VAULT_PATH") {
        Some(path) if path.is_empty() => Err(invalid(
            "VAULT_PATH",
            &path,
            "is not accepted: the vault folder's path (unset it to name none)",
        )),
        path => Ok(path.map(PathBuf::from)),
    }
}

/// The lock timeout: the override, else `AUDIT_LOCK_TIMEOUT_MS`, else the
/// default.
fn lock_timeout(given: Option<u64>, env: Lookup<'_>) -> Result<Duration, ConfigError> {
    let ms = match (given, env("AUDIT_LOCK_TIMEOUT_MS")) {
        (Some(ms), _) => ms,
        (None, None) => return Ok(DEFAULT_LOCK_TIMEOUT),
        (None, Some(text)) => text.trim().parse::<u64>().map_err(|_| {
            invalid(
                "AUDIT_LOCK_TIMEOUT_MS",
                &text,
                "is not accepted: a whole number of milliseconds",
            )
        })?,
    };
    Ok(Duration::from_millis(ms))
}

/// The days of logs kept: the override, else `AUDIT_RETENTION_DAYS`, else 90.
fn retention_days(given: Option<u32>, env: Lookup<'_>) -> Result<u32, ConfigError> {
    let Some(text) = given
        .is_none()
        .then(|| env("AUDIT_RETENTION_DAYS"))
        .flatten()
    else {
        return Ok(given.unwrap_or(90));
    };
    match text.trim().parse::<u32>() {
        Ok(days) if (1..=36_500).contains(&days) => Ok(days),
        _ => Err(invalid(
            "AUDIT_RETENTION_DAYS",
            &text,
            "is not accepted: a whole number of days, 1 to 36500",
        )),
    }
}

/// `AUDIT_ARCHIVE_DAYS`: unset or empty, no cold archive; else a number of
/// days more than the retention days.
fn archive_days(env: Lookup<'_>, retention_days: u32) -> Result<Option<u32>, ConfigError> {
    let Some(text) = env("AUDIT_ARCHIVE_DAYS").filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let why = match text.trim().parse::<u32>() {
        Ok(days) => match (crate::retention::Policy {
            days: retention_days,
            archive_days: Some(days),
        })
        .check()
        {
            Ok(()) => return Ok(Some(days)),
            Err(why) => why,
        },
        Err(_) => format!(
            "accepted: a whole number of days, more than the retention days ({retention_days}), or unset for no cold archive"
        ),
    };
    Err(invalid(
        "AUDIT_ARCHIVE_DAYS",
        &text,
        format!("is not accepted: {why}"),
    ))
}

/// `$XDG_STATE_HOME/vault-audit`, else `$HOME/.local/state/vault-audit`.
fn state_dir(env: Lookup<'_>) -> Option<PathBuf> {
    let base = match env("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(state) => PathBuf::from(state),
        None => PathBuf::from(env("HOME").filter(|v| !v.is_empty())?).join(".local/state"),
    };
    Some(base.join("vault-audit"))
}

/// The hash chain's key (`AUDIT_CHAIN_KEY`), with the signing key from the
/// file `AUDIT_SIGNING_KEY` names, if it is set.
fn chain_key(env: Lookup<'_>) -> Result<ChainKey, ConfigError> {
    let signer = match env("AUDIT_SIGNING_KEY").filter(|p| !p.trim().is_empty()) {
        None => None,
        Some(path) => Some(
            crate::chain::sign::SigningKey::read(Path::new(&path))
                .map_err(|e| invalid("AUDIT_SIGNING_KEY", &path, format!("cannot be used: {e}")))?,
        ),
    };
    Ok(env("AUDIT_CHAIN_KEY")
        .map(ChainKey::new)
        .unwrap_or_default()
        .with_signer(signer))
}

/// How entries are redacted and cut: `AUDIT_REDACTION` (`on`/`off`),
/// `AUDIT_REDACT_PATTERNS` (a JSON array of regular expressions, or one
/// per line) and `AUDIT_MAX_FIELD_CHARS` (at least 100).
pub fn redactor(env: impl Fn(&str) -> Option<String>) -> Result<Redactor, ConfigError> {
    let mut r = Redactor::new();
    if let Some(v) = env("AUDIT_REDACTION") {
        match v.trim().to_ascii_lowercase().as_str() {
            "" | "on" | "true" => {}
            "off" | "false" => r = r.off(),
            _ => {
                return Err(invalid(
                    "AUDIT_REDACTION",
                    &v,
                    "is not accepted; use on or off",
                ))
            }
        }
    }
    if let Some(text) = env("AUDIT_REDACT_PATTERNS") {
        let trimmed = text.trim();
        let list: Vec<String> = if trimmed.starts_with('[') {
            serde_json::from_str(trimmed).map_err(|e| {
                invalid("AUDIT_REDACT_PATTERNS", &text, format!("is not a JSON array of strings ({e}); give a JSON array or one pattern per line"))
            })?
        } else {
            trimmed
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        };
        r = r.patterns(&list).map_err(|e| {
            invalid(
                "AUDIT_REDACT_PATTERNS",
                &text,
                format!("is not accepted: {e}"),
            )
        })?;
    }
    if let Some(n) = env("AUDIT_MAX_FIELD_CHARS") {
        let Some(chars) = n.trim().parse::<usize>().ok().filter(|n| *n >= 100) else {
            return Err(invalid(
                "AUDIT_MAX_FIELD_CHARS",
                &n,
                "is not accepted; give a whole number of at least 100",
            ));
        };
        r = r.max_chars(chars);
    }
    Ok(r)
}

/// What hooks record and the agent's id: `AUDIT_AGENT_ID`,
/// `AUDIT_HOOK_PRE_TOOL_USE`, `AUDIT_HOOK_PROMPT_TEXT` (true/false).
fn hook_settings(env: Lookup<'_>, redactor: &Redactor) -> HookSettings {
    let flag = |name: &str| env(name).is_some_and(|v| is_on(&v));
    HookSettings {
        actor: env("AUDIT_AGENT_ID")
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| "claude_code".into()),
        pre_tool_use: flag("AUDIT_HOOK_PRE_TOOL_USE"),
        prompt_text: flag("AUDIT_HOOK_PROMPT_TEXT"),
        redactor: redactor.clone(),
    }
}

/// This machine's name and role, from `AUDIT_HOST` (else the system's host
/// name, else `HOSTNAME`) and `AUDIT_ROLE`.
fn host_and_role(env: Lookup<'_>) -> Result<(String, bool), ConfigError> {
    let raw = env("AUDIT_HOST")
        .filter(|h| !h.trim().is_empty())
        .or_else(crate::forward::syslog::system_hostname)
        .or_else(|| env("HOSTNAME"))
        .unwrap_or_else(|| "host".to_owned());
    let host = crate::vault::host_name(&raw).ok_or_else(|| {
        invalid(
            "AUDIT_HOST",
            &raw,
            "has no letter or digit; accepted: letters, digits, '-' and '_'",
        )
    })?;
    let replica = match env("AUDIT_ROLE").map(|r| r.trim().to_ascii_lowercase()) {
        None => false,
        Some(r) if r.is_empty() || r == "primary" => false,
        Some(r) if r == "replica" => true,
        Some(r) => {
            return Err(invalid(
                "AUDIT_ROLE",
                &r,
                "is not a role; accepted: primary, replica",
            ))
        }
    };
    Ok((host, replica))
}

/// How entry values are read: `AUDIT_STRICT` true accepts only the stored
/// spellings.
fn parse_mode(env: Lookup<'_>) -> Result<ParseMode, ConfigError> {
    Ok(match env("AUDIT_STRICT") {
        Some(v) if parse_bool("AUDIT_STRICT", &v)? => ParseMode::Strict,
        _ => ParseMode::Aliases,
    })
}

/// The zone of imported times without an offset: `AUDIT_IMPORT_TZ`, else local.
fn import_zone(env: Lookup<'_>) -> Result<Zone, ConfigError> {
    match env("AUDIT_IMPORT_TZ") {
        None => Ok(Zone::Local),
        Some(text) => Zone::parse(&text).ok_or_else(|| {
            invalid(
                "AUDIT_IMPORT_TZ",
                &text,
                format!("is not a zone; accepted: {ZONE_ACCEPTED}"),
            )
        }),
    }
}
/// A whole number of at least 1 for the alert setting `name`.
fn alert_count(name: &str, text: &str) -> Result<usize, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n as usize),
        _ => Err(format!(
            "{name}={text:?} is not accepted: a whole number, at least 1"
        )),
    }
}

/// A duration of more than 0 for the alert setting `name`.
fn alert_window(name: &str, text: &str) -> Result<chrono::Duration, String> {
    crate::time::parse_duration(text)
        .ok()
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .filter(|d| *d > chrono::Duration::zero())
        .ok_or_else(|| {
            format!(
                "{name}={text:?} is not accepted: a duration such as 90s, 15m or 2h, more than 0"
            )
        })
}

/// A factor of more than 1 (`3`, `2.5`) for the alert setting `name`.
fn alert_factor(name: &str, text: &str) -> Result<f64, String> {
    match text.trim().trim_end_matches(['x', 'X']).parse::<f64>() {
        Ok(f) if f.is_finite() && f > 1.0 && f <= 1000.0 => Ok(f),
        _ => Err(format!(
            "{name}={text:?} is not accepted: a factor more than 1 and at most 1000, such as 3 or 2.5, or off"
        )),
    }
}

/// Whether an alert setting turns its rule off.
fn alert_off(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "off" | "false" | "no" | "0"
    )
}

/// The alert rules from `AUDIT_ALERT_ERRORS`, `AUDIT_ALERT_WINDOW`,
/// `AUDIT_ALERT_SENSITIVE` (a window, or `off`),
/// `AUDIT_ALERT_ACTOR_FAILURES` (a number, or `off`),
/// `AUDIT_ALERT_ACTOR_WINDOW`, `AUDIT_ALERT_UNUSUAL` (a factor, or `off`),
/// `AUDIT_ALERT_UNUSUAL_MIN` and `AUDIT_FOLDER_NEEDS_ACTION` (unset or
/// empty: the default).
fn alert_rules(env: Lookup<'_>) -> Result<Rules, String> {
    let mut rules = Rules::default();
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if let Some(text) = set("AUDIT_ALERT_ERRORS") {
        rules.errors = alert_count("AUDIT_ALERT_ERRORS", &text)?;
    }
    if let Some(text) = set("AUDIT_ALERT_WINDOW") {
        rules.window = alert_window("AUDIT_ALERT_WINDOW", &text)?;
    }
    if let Some(text) = set("AUDIT_ALERT_SENSITIVE") {
        rules.sensitive = match alert_off(&text) {
            true => None,
            false => Some(alert_window("AUDIT_ALERT_SENSITIVE", &text)?),
        };
    }
    if let Some(text) = set("AUDIT_ALERT_ACTOR_FAILURES") {
        rules.actor_failures = match alert_off(&text) {
            true => None,
            false => Some(alert_count("AUDIT_ALERT_ACTOR_FAILURES", &text)?),
        };
    }
    if let Some(text) = set("AUDIT_ALERT_ACTOR_WINDOW") {
        rules.actor_window = alert_window("AUDIT_ALERT_ACTOR_WINDOW", &text)?;
    }
    if let Some(text) = set("AUDIT_ALERT_UNUSUAL") {
        rules.unusual = match alert_off(&text) {
            true => None,
            false => Some(alert_factor("AUDIT_ALERT_UNUSUAL", &text)?),
        };
    }
    if let Some(text) = set("AUDIT_ALERT_UNUSUAL_MIN") {
        rules.unusual_min = alert_count("AUDIT_ALERT_UNUSUAL_MIN", &text)? as u32;
    }
    if let Some(folder) = set("AUDIT_FOLDER_NEEDS_ACTION") {
        rules.folder = folder;
    }
    Ok(rules)
}

/// `AUDIT_FOLDER_BRIEFINGS` and `AUDIT_REPORT_SCHEDULE` (unset or empty:
/// the defaults), every problem at once.
fn report_settings(env: Lookup<'_>) -> Result<crate::report::Settings, String> {
    let mut settings = crate::report::Settings::default();
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let mut problems = Vec::new();
    if let Some(folder) = set("AUDIT_FOLDER_BRIEFINGS") {
        if crate::report::folder_ok(&folder) {
            settings.folder = folder.trim_end_matches('/').to_owned();
        } else {
            problems.push(format!("AUDIT_FOLDER_BRIEFINGS={folder:?} is not accepted: a folder inside the vault (a relative path, no `..`, not under Logs/)"));
        }
    }
    if let Some(text) = set("AUDIT_REPORT_SCHEDULE") {
        match text.trim().to_ascii_lowercase().as_str() {
            "weekly" => settings.weekly = true,
            "off" | "none" | "never" => settings.weekly = false,
            _ => problems.push(format!("AUDIT_REPORT_SCHEDULE={text:?} is not accepted: weekly (Mondays 07:00 local time) or off")),
        }
    }
    match problems.is_empty() {
        true => Ok(settings),
        false => Err(problems.join("; ")),
    }
}

/// A workflow folder setting: a folder inside the vault, named relative to
/// it (`Pending_Approval`, `Work/Pending`), never outside it.
fn vault_folder(name: &str, text: &str) -> Result<String, String> {
    let folder = text.trim().trim_end_matches(['/', '\\']);
    let inside = !folder.is_empty()
        && Path::new(folder)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    match inside {
        true => Ok(folder.to_owned()),
        false => Err(format!(
            "{name}={text:?} is not accepted: a folder inside the vault, relative to it, such as Pending_Approval (no `..`, not absolute)"
        )),
    }
}

/// The Dashboard's settings from `AUDIT_DASHBOARD_TZ` (`utc`, also when
/// unset or empty; `local`, the machine's zone; or a fixed offset) and
/// `AUDIT_FOLDER_PENDING_APPROVAL` (the folder whose notes wait for
/// approval, which the daemon also watches).
fn dashboard_settings(env: Lookup<'_>) -> Result<dashboard::Settings, String> {
    let mut settings = dashboard::Settings::default();
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if let Some(text) = set("AUDIT_DASHBOARD_TZ") {
        settings.zone = Zone::parse(&text).ok_or_else(|| {
            format!(
                "AUDIT_DASHBOARD_TZ={text:?} is not accepted: utc (the default), local (the machine's zone), or an offset such as +05:30 or -08:00"
            )
        })?;
    }
    if let Some(text) = set("AUDIT_FOLDER_PENDING_APPROVAL") {
        settings.pending_folder = vault_folder("AUDIT_FOLDER_PENDING_APPROVAL", &text)?;
    }
    Ok(settings)
}

/// The forwarding settings: `AUDIT_FORWARD_*` and `AUDIT_VAULT_NAME` (empty
/// values count as unset), the CloudWatch sink's AWS variables, and the
/// host name syslog messages carry (the system's, else `HOSTNAME`).
fn forward_settings(env: Lookup<'_>) -> Result<ForwardSettings, ConfigError> {
    use forward_config::invalid;
    let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let mut pace = crate::forward::Pace::default();
    if let Some(v) = get("AUDIT_FORWARD_BATCH") {
        pace.batch = match v.trim().parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                let why = "expected a number from 1 to 10000";
                return Err(invalid("AUDIT_FORWARD_BATCH", &v, why).into());
            }
        };
    }
    if let Some(v) = get("AUDIT_FORWARD_BACKOFF_MAX") {
        pace.max_backoff = crate::time::parse_duration(&v)
            .map_err(|e| invalid("AUDIT_FORWARD_BACKOFF_MAX", &v, e))?
            .max(pace.min_backoff);
    }
    let syslog = match get(SINK_NAMES.syslog) {
        None => None,
        Some(url) => Some(SyslogSettings {
            url: url.trim().to_owned(),
            facility: match get("AUDIT_FORWARD_SYSLOG_FACILITY") {
                None => 16,
                Some(f) => crate::forward::syslog::parse_facility(&f).ok_or_else(|| {
                    invalid("AUDIT_FORWARD_SYSLOG_FACILITY", &f, "expected a facility name (kern, user, daemon, auth, local0 to local7, ...) or 0 to 23")
                })?,
            },
        }),
    };
    let http = get(SINK_NAMES.http).map(|url| HttpSettings {
        url: url.trim().to_owned(),
        format: get(SINK_NAMES.http_format),
        headers: get(SINK_NAMES.http_headers),
    });
    let cloudwatch = match get(SINK_NAMES.cloudwatch) {
        None => None,
        Some(text) => Some(cloudwatch_settings(&get, &text)?),
    };
    Ok(ForwardSettings {
        postgres: get(SINK_NAMES.postgres).map(|u| u.trim().to_owned()),
        syslog,
        http,
        cloudwatch,
        pace,
        vault_name: get("AUDIT_VAULT_NAME"),
        hostname: crate::forward::syslog::system_hostname().or_else(|| get("HOSTNAME")),
    })
}

/// The CloudWatch Logs sink's settings, `target` being the value of
/// `AUDIT_FORWARD_CLOUDWATCH`. Endpoint: `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`,
/// else `AWS_ENDPOINT_URL`, else the region's. No message repeats a key, a
/// secret or a token.
fn cloudwatch_settings(
    get: &impl Fn(&str) -> Option<String>,
    target: &str,
) -> Result<aws::CloudWatchSettings, forward_config::ConfigError> {
    use forward_config::invalid;
    let name = SINK_NAMES.cloudwatch;
    let target = aws::parse_target(target).map_err(|why| invalid(name, target, why))?;
    let endpoint = match ["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ENDPOINT_URL"]
        .into_iter()
        .find_map(|name| get(name).map(|v| (name, v)))
    {
        Some((name, value)) => {
            Some(aws::check_endpoint(&value).map_err(|why| invalid(name, &value, why))?)
        }
        None => None,
    };
    Ok(aws::CloudWatchSettings {
        target,
        credentials: aws_credentials(get)?,
        endpoint,
    })
}

fn no_credentials(why: String) -> forward_config::ConfigError {
    forward_config::ConfigError::Credentials {
        name: SINK_NAMES.cloudwatch,
        why,
    }
}

/// The access key, first found: `AWS_ACCESS_KEY_ID` with
/// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`); else the profile
/// `AWS_PROFILE` (default `default`) of the file
/// `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`), read only
/// then.
fn aws_credentials(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<aws::Credentials, forward_config::ConfigError> {
    match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => {
            return Ok(aws::Credentials {
                access_key_id: id.trim().to_owned(),
                secret_access_key: secret.trim().to_owned(),
                session_token: get("AWS_SESSION_TOKEN").map(|t| t.trim().to_owned()),
            })
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(no_credentials(
                "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set; set both, or neither to use the profile file".into(),
            ))
        }
        (None, None) => {}
    }
    let profile = get("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
    let path = match get("AWS_SHARED_CREDENTIALS_FILE") {
        Some(p) => PathBuf::from(p.trim()),
        None => match get("HOME").or_else(|| get("USERPROFILE")) {
            Some(home) => PathBuf::from(home).join(".aws").join("credentials"),
            None => return Err(no_credentials(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE (there is no HOME for ~/.aws/credentials)".into(),
            )),
        },
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        no_credentials(format!(
            "no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are unset, and the profile file {} cannot be read ({e})",
            path.display()
        ))
    })?;
    aws::profile_credentials(&text, &profile)
        .map_err(|why| no_credentials(format!("profile file {}: {why}", path.display())))
}

/// An inbox grace: a duration of at least 100 ms (at zero, a writer that
/// writes under the final name would be cut short).
pub fn parse_grace(text: &str) -> Result<Duration, String> {
    let grace = crate::time::parse_duration(text).map_err(|e| e.to_string())?;
    if grace < Duration::from_millis(100) {
        return Err(format!(
            "{text:?} is too short; accepted: 100ms or more (for example 1s)"
        ));
    }
    Ok(grace)
}

/// The daemon's settings: its flags, else `AUDIT_INBOX_GRACE` and the
/// `AUDIT_FOLDER_*` folders, else the defaults.
fn daemon_settings(
    given: &DaemonOverrides,
    env: Lookup<'_>,
) -> Result<DaemonSettings, ConfigError> {
    let grace = match (given.grace, env("AUDIT_INBOX_GRACE")) {
        (Some(grace), _) => grace,
        (None, None) => Duration::from_secs(1),
        (None, Some(text)) => parse_grace(&text).map_err(|why| {
            invalid(
                "AUDIT_INBOX_GRACE",
                &text,
                format!("is not accepted: {why}"),
            )
        })?,
    };
    let pick = |flag: &Option<String>, name: &str, default: String| {
        flag.clone().or_else(|| env(name)).unwrap_or(default)
    };
    let d = Folders::default();
    let folders = Folders {
        inbox: pick(&given.inbox, "AUDIT_FOLDER_INBOX", d.inbox),
        needs_action: pick(
            &given.needs_action,
            "AUDIT_FOLDER_NEEDS_ACTION",
            d.needs_action,
        ),
        plans: pick(&given.plans, "AUDIT_FOLDER_PLANS", d.plans),
        pending_approval: pick(
            &given.pending_approval,
            "AUDIT_FOLDER_PENDING_APPROVAL",
            d.pending_approval,
        ),
        approved: pick(&given.approved, "AUDIT_FOLDER_APPROVED", d.approved),
        rejected: pick(&given.rejected, "AUDIT_FOLDER_REJECTED", d.rejected),
    };
    Ok(DaemonSettings { grace, folders })
}

impl Config {
    /// Builds the configuration from what the front end was told itself,
    /// `given`, and a lookup of the environment, `env` (the front end's:
    /// the library never reads the process environment).
    pub fn new(
        given: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let env: Lookup<'_> = &env;
        let retention_days = retention_days(given.retention_days, env)?;
        let session_id = given.session_id.clone().or_else(|| env("AUDIT_SESSION_ID"));
        let redactor = redactor(env)?;
        let forward = match given.forwarding {
            true => Some(forward_settings(env)?),
            false => None,
        };
        let daemon = match &given.daemon {
            Some(flags) => Some(daemon_settings(flags, env)?),
            None => None,
        };
        let (host, replica) = host_and_role(env)?;
        let (alerts, alert_problem) = match alert_rules(env) {
            Ok(rules) => (rules, None),
            Err(problem) => (Rules::default(), Some(problem)),
        };
        let (dashboard, dashboard_problem) = match dashboard_settings(env) {
            Ok(settings) => (settings, None),
            Err(problem) => (dashboard::Settings::default(), Some(problem)),
        };
        Ok(Config {
            alerts,
            alert_problem,
            reports: report_settings(env),
            dashboard,
            dashboard_problem,
            host,
            replica,
            vault: vault(given.vault.as_ref(), env)?,
            parse_mode: parse_mode(env)?,
            import_zone: import_zone(env)?,
            dry_run: dry_run(given.dry_run, env)?,
            lock_timeout: lock_timeout(given.lock_timeout_ms, env)?,
            session_id: session_id.filter(|s| !s.trim().is_empty()),
            retention_days,
            archive_days: archive_days(env, retention_days)?,
            chain_key: chain_key(env)?,
            hook: hook_settings(env, &redactor),
            redactor,
            project_dir: env("CLAUDE_PROJECT_DIR").map(PathBuf::from),
            forward,
            init: given.init,
            state_dir: state_dir(env),
            colour: colour_choice(env),
            systemd_notify: env("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty()),
            daemon,
        })
    }

    /// The logger for the configured vault.
    pub fn logger(&self) -> Result<AuditLogger, ConfigError> {
        self.logger_for(self.vault()?, self.dry_run)
    }

    /// A logger for `vault`, configured as the rest says.
    pub fn logger_for(&self, vault: &Path, dry_run: bool) -> Result<AuditLogger, ConfigError> {
        self.writable_vault(vault)?;
        if let (Some(problem), false) = (&self.alert_problem, dry_run) {
            tracing::warn!("{problem}; alerts are raised by the default rules meanwhile");
        }
        if let (Some(problem), false) = (&self.dashboard_problem, dry_run) {
            tracing::warn!("{problem}; the Dashboard is drawn by the defaults meanwhile");
        }
        Ok(self.builder_for(vault, dry_run).build()?)
    }

    /// Checks that `folder` is a vault before anything is written in it;
    /// with `init`, makes it one by creating `Logs/`.
    pub fn writable_vault(&self, folder: &Path) -> Result<(), ConfigError> {
        if crate::vault::is_vault(folder) || !folder.is_dir() {
            // A missing folder is refused by the logger with its own message.
            return Ok(());
        }
        if self.init {
            let logs = folder.join("Logs");
            return crate::fsutil::ensure_dir(&logs)
                .map_err(|source| ConfigError::CreateLogs { path: logs, source });
        }
        Err(ConfigError::NotAVault {
            path: folder.to_path_buf(),
        })
    }

    /// The builder behind [`Config::logger_for`].
    pub fn builder_for(&self, vault: &Path, dry_run: bool) -> AuditLoggerBuilder {
        let mut builder = AuditLogger::builder(vault)
            .dry_run(dry_run)
            .lock_timeout(self.lock_timeout)
            .retention_days(self.retention_days)
            .archive_days(self.archive_days)
            .chain_key(self.chain_key.clone())
            .redactor(self.redactor.clone())
            .parse_mode(self.parse_mode)
            .import_zone(self.import_zone)
            .alerts(Some(self.alerts.clone()))
            .dashboard(self.dashboard.clone())
            .replica(self.replica.then(|| self.host.clone()));
        if let Some(id) = &self.session_id {
            builder = builder.session_id(id);
        }
        builder
    }

    /// The vault, checked to be an existing folder (for commands that only
    /// read, where a wrong path would otherwise just find nothing).
    pub fn existing_vault(&self) -> Result<crate::vault::Vault, ConfigError> {
        let path = self.vault()?;
        if !path.is_dir() {
            return Err(ConfigError::NoFolder { path: path.clone() });
        }
        Ok(crate::vault::Vault::new(path.clone()))
    }

    /// Like [`Config::existing_vault`], as this machine writes it: a
    /// replica's own files under `Logs/hosts/<host>/` (its daemon, its lock).
    pub fn own_vault(&self) -> Result<crate::vault::Vault, ConfigError> {
        let vault = self.existing_vault()?;
        Ok(match self.replica {
            true => vault.replica(&self.host),
            false => vault,
        })
    }

    /// The forwarding settings, read for the commands that forward.
    pub fn forwarding(&self) -> Result<&ForwardSettings, ConfigError> {
        self.forward.as_ref().ok_or(ConfigError::ForwardingNotRead)
    }

    /// The sinks the forwarding settings ask for, made for `vault`.
    pub fn sinks(&self, vault: &crate::vault::Vault) -> Result<forward_config::Setup, ConfigError> {
        Ok(self.forwarding()?.setup(vault, &SINK_NAMES)?)
    }

    /// The id of the agent (`claude_code` unless `AUDIT_AGENT_ID` says
    /// otherwise): the actor of hook and MCP entries that name none.
    pub fn agent_id(&self) -> &str {
        &self.hook.actor
    }

    /// The vault, or the error that says how to name one.
    pub fn vault(&self) -> Result<&PathBuf, ConfigError> {
        self.vault.as_ref().ok_or(ConfigError::NoVault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(env: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    /// The configuration of `log` with these global flags.
    fn config(flags: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dry_run = match flags {
            ["--dry-run"] => Some(true),
            ["--no-dry-run"] => Some(false),
            _ => None,
        };
        let given = Overrides {
            dry_run,
            ..Overrides::default()
        };
        Config::new(&given, lookup(env))
    }

    /// The configuration of this command line, as the CLI gives it.
    fn command(argv: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let given = Overrides {
            forwarding: matches!(argv, ["forward", ..] | ["daemon"]),
            daemon: (argv.first() == Some(&"daemon")).then(DaemonOverrides::default),
            ..Overrides::default()
        };
        Config::new(&given, lookup(env))
    }

    #[test]
    fn dry_run_defaults_to_true_and_follows_flags_then_audit_dry_run_then_dry_run() {
        let dry = |argv: &[&str], env: &[(&str, &str)]| config(argv, env).expect("config").dry_run;
        assert!(dry(&[], &[]));
        assert!(!dry(&[], &[("DRY_RUN", "false")]));
        assert!(dry(&[], &[("DRY_RUN", "false"), ("AUDIT_DRY_RUN", "true")]));
        assert!(!dry(&[], &[("DRY_RUN", "true"), ("AUDIT_DRY_RUN", "0")]));
        assert!(!dry(&["--no-dry-run"], &[("AUDIT_DRY_RUN", "true")]));
        assert!(dry(&["--dry-run"], &[("AUDIT_DRY_RUN", "false")]));
    }

    #[test]
    fn the_chain_key_and_redaction_come_from_the_given_environment() {
        let plain = config(&[], &[]).expect("config");
        assert!(!plain.chain_key.is_set());
        assert!(plain.redactor.is_on());
        let set = config(
            &[],
            &[("AUDIT_CHAIN_KEY", "k1"), ("AUDIT_REDACTION", "off")],
        )
        .expect("config");
        assert!(set.chain_key.is_set());
        assert!(!set.redactor.is_on());
        let err = config(&[], &[("AUDIT_REDACT_PATTERNS", "(unclosed")]).expect_err("bad");
        assert!(err.to_string().contains("AUDIT_REDACT_PATTERNS"), "{err}");
    }

    #[test]
    fn hook_and_agent_settings_come_from_the_given_environment() {
        let plain = config(&[], &[]).expect("config");
        assert_eq!(plain.agent_id(), "claude_code");
        assert!(!plain.hook.pre_tool_use && plain.project_dir.is_none());
        let set = config(
            &[],
            &[
                ("AUDIT_AGENT_ID", "codex"),
                ("AUDIT_HOOK_PRE_TOOL_USE", "yes"),
                ("CLAUDE_PROJECT_DIR", "/work/project"),
                ("AUDIT_REDACTION", "off"),
            ],
        )
        .expect("config");
        assert_eq!(set.agent_id(), "codex");
        assert!(set.hook.pre_tool_use && !set.hook.redactor.is_on());
        assert_eq!(set.project_dir, Some(PathBuf::from("/work/project")));
    }

    #[test]
    fn forwarding_settings_are_read_only_for_the_commands_that_forward() {
        let bad = [("AUDIT_FORWARD_BATCH", "lots"), ("HOSTNAME", "h")];
        let log = config(&[], &bad).expect("log does not read them");
        assert!(log.forward.is_none());
        let status = command(&["daemon", "status"], &bad).expect("neither does status");
        assert!(status.forward.is_none());
        for argv in [&["forward", "--once"][..], &["daemon"]] {
            let err = command(argv, &bad).expect_err("rejected");
            assert!(
                err.to_string().contains("AUDIT_FORWARD_BATCH=\"lots\""),
                "{err}"
            );
        }
        let sinks = [("AUDIT_FORWARD_SYSLOG", "udp://127.0.0.1:514")];
        let fwd = command(&["forward", "--status"], &sinks).expect("config");
        let settings = fwd.forward.expect("read");
        assert!(settings.any_sink() && settings.hostname.is_some());
    }

    #[test]
    fn the_role_and_host_come_from_the_given_environment() {
        let plain = config(&[], &[("AUDIT_HOST", "Cloud VM.1")]).expect("config");
        assert!(!plain.replica);
        assert_eq!(plain.host, "cloud-vm-1");
        let replica =
            config(&[], &[("AUDIT_ROLE", "Replica"), ("AUDIT_HOST", "vm")]).expect("config");
        assert!(replica.replica);
        assert_eq!(replica.host, "vm");
        let err = config(&[], &[("AUDIT_ROLE", "leader")]).expect_err("rejected");
        assert!(err.to_string().contains("primary, replica"), "{err}");
        let err = config(&[], &[("AUDIT_HOST", "...")]).expect_err("rejected");
        assert!(err.to_string().contains("AUDIT_HOST"), "{err}");
    }

    #[test]
    fn the_alert_rules_come_from_the_given_environment_and_a_bad_one_is_kept_as_a_problem() {
        let plain = config(&[], &[]).expect("config");
        assert_eq!(plain.alerts, Rules::default());
        assert!(plain.alert_problem.is_none());
        let set = config(
            &[],
            &[
                ("AUDIT_ALERT_ERRORS", "3"),
                ("AUDIT_ALERT_WINDOW", "2m"),
                ("AUDIT_FOLDER_NEEDS_ACTION", "Alerts"),
            ],
        )
        .expect("config");
        assert_eq!(set.alerts.errors, 3);
        assert_eq!(set.alerts.window, chrono::Duration::minutes(2));
        assert_eq!(set.alerts.folder, "Alerts");
        let off = config(
            &[],
            &[
                ("AUDIT_ALERT_SENSITIVE", "off"),
                ("AUDIT_ALERT_ACTOR_FAILURES", "OFF"),
                ("AUDIT_ALERT_ACTOR_WINDOW", "1h"),
            ],
        )
        .expect("config");
        assert_eq!(off.alerts.sensitive, None);
        assert_eq!(off.alerts.actor_failures, None);
        assert_eq!(off.alerts.actor_window, chrono::Duration::hours(1));
        let unusual = config(
            &[],
            &[
                ("AUDIT_ALERT_UNUSUAL", "2.5x"),
                ("AUDIT_ALERT_UNUSUAL_MIN", "4"),
            ],
        )
        .expect("config");
        assert_eq!(unusual.alerts.unusual, Some(2.5));
        assert_eq!(unusual.alerts.unusual_min, 4);
        let quiet = config(&[], &[("AUDIT_ALERT_UNUSUAL", "off")]).expect("config");
        assert_eq!(quiet.alerts.unusual, None);
        let on = config(
            &[],
            &[
                ("AUDIT_ALERT_SENSITIVE", "10m"),
                ("AUDIT_ALERT_ACTOR_FAILURES", "4"),
            ],
        )
        .expect("config");
        assert_eq!(on.alerts.sensitive, Some(chrono::Duration::minutes(10)));
        assert_eq!(on.alerts.actor_failures, Some(4));
        for (name, value) in [
            ("AUDIT_ALERT_ERRORS", "0"),
            ("AUDIT_ALERT_ERRORS", "lots"),
            ("AUDIT_ALERT_WINDOW", "0s"),
            ("AUDIT_ALERT_WINDOW", "soon"),
            ("AUDIT_ALERT_SENSITIVE", "always"),
            ("AUDIT_ALERT_ACTOR_FAILURES", "-1"),
            ("AUDIT_ALERT_ACTOR_WINDOW", "0ms"),
            ("AUDIT_ALERT_UNUSUAL", "1"),
            ("AUDIT_ALERT_UNUSUAL", "NaN"),
            ("AUDIT_ALERT_UNUSUAL_MIN", "0"),
        ] {
            let bad = config(&[], &[(name, value)]).expect("log is not stopped");
            assert_eq!(bad.alerts, Rules::default());
            let problem = bad.alert_problem.expect("kept");
            assert!(problem.contains(&format!("{name}={value:?}")), "{problem}");
        }
    }

    #[test]
    fn the_dashboard_zone_comes_from_the_given_environment_and_a_bad_one_is_kept_as_a_problem() {
        let plain = config(&[], &[]).expect("config");
        assert_eq!(plain.dashboard.zone, Zone::utc());
        assert!(plain.dashboard_problem.is_none());
        for (value, zone) in [
            ("local", Zone::Local),
            ("LOCAL", Zone::Local),
            ("utc", Zone::utc()),
            ("", Zone::utc()),
            ("+05:30", Zone::parse("+0530").expect("zone")),
            ("-08:00", Zone::parse("-08").expect("zone")),
        ] {
            let set = config(&[], &[("AUDIT_DASHBOARD_TZ", value)]).expect("config");
            assert_eq!(set.dashboard.zone, zone, "{value:?}");
            assert!(set.dashboard_problem.is_none(), "{value:?}");
        }
        let folder =
            config(&[], &[("AUDIT_FOLDER_PENDING_APPROVAL", " Work/Waiting/ ")]).expect("config");
        assert_eq!(folder.dashboard.pending_folder, "Work/Waiting");
        for value in ["../outside", "/etc", "a/../../b", "./x", "/"] {
            let bad =
                config(&[], &[("AUDIT_FOLDER_PENDING_APPROVAL", value)]).expect("not stopped");
            assert_eq!(bad.dashboard, dashboard::Settings::default(), "{value:?}");
            let problem = bad.dashboard_problem.expect("kept");
            assert!(
                problem.contains(&format!("AUDIT_FOLDER_PENDING_APPROVAL={value:?}"))
                    && problem.contains("a folder inside the vault"),
                "{problem}"
            );
        }
        for value in ["Asia/Kolkata", "+25:00", "+05:75", "5:30", "tomorrow"] {
            let bad = config(&[], &[("AUDIT_DASHBOARD_TZ", value)]).expect("log is not stopped");
            assert_eq!(bad.dashboard.zone, Zone::utc());
            let problem = bad.dashboard_problem.expect("kept");
            assert!(
                problem.contains(&format!("AUDIT_DASHBOARD_TZ={value:?}"))
                    && problem.contains("utc (the default), local"),
                "{problem}"
            );
        }
    }

    #[test]
    fn a_bad_boolean_names_the_variable_and_the_accepted_values() {
        let err = config(&[], &[("DRY_RUN", "maybe")]).expect_err("rejected");
        assert!(
            err.to_string().contains("DRY_RUN=\"maybe\"")
                && err.to_string().contains("true, false"),
            "{err}"
        );
    }

    #[test]
    fn strict_values_and_the_import_zone_are_resolved_once() {
        let plain = config(&[], &[]).expect("config");
        assert_eq!(plain.parse_mode, ParseMode::Aliases);
        assert_eq!(plain.import_zone, Zone::Local);
        let set =
            config(&[], &[("AUDIT_STRICT", "1"), ("AUDIT_IMPORT_TZ", "+02:00")]).expect("config");
        assert_eq!(set.parse_mode, ParseMode::Strict);
        assert_eq!(set.import_zone, Zone::parse("+0200").expect("zone"));
        let err = config(&[], &[("AUDIT_IMPORT_TZ", "Mars/Olympus")]).expect_err("rejected");
        assert!(
            err.to_string().contains("AUDIT_IMPORT_TZ=\"Mars/Olympus\""),
            "{err}"
        );
    }

    #[test]
    fn a_flag_wins_over_the_environment_which_wins_over_the_env_file() {
        let file = vec![
            ("AUDIT_SESSION_ID".to_owned(), "from-file".to_owned()),
            ("AUDIT_RETENTION_DAYS".to_owned(), "30".to_owned()),
            ("AUDIT_LOCK_TIMEOUT_MS".to_owned(), "700".to_owned()),
            ("AUDIT_LOCK_TIMEOUT_MS".to_owned(), "900".to_owned()),
        ];
        let real = [("AUDIT_SESSION_ID", "from-env")];
        let env = layered(lookup(&real), file);
        let given = Overrides {
            retention_days: Some(45),
            ..Overrides::default()
        };
        let c = Config::new(&given, &env).expect("config");
        assert_eq!(c.session_id.as_deref(), Some("from-env"));
        assert_eq!(c.retention_days, 45);
        assert_eq!(c.lock_timeout, Duration::from_millis(700), "the first wins");
        let c = Config::new(&Overrides::default(), &env).expect("config");
        assert_eq!(c.retention_days, 30);
        let given = Overrides {
            session_id: Some("from-flag".into()),
            ..Overrides::default()
        };
        let c = Config::new(&given, &env).expect("config");
        assert_eq!(c.session_id.as_deref(), Some("from-flag"));
        let plain = Config::new(&Overrides::default(), lookup(&[])).expect("config");
        assert_eq!(plain.retention_days, 90);
        assert_eq!(plain.lock_timeout, DEFAULT_LOCK_TIMEOUT);
        assert_eq!(plain.session_id, None);
    }

    #[test]
    fn a_setting_under_a_flag_is_refused_naming_the_variable_not_the_flag() {
        for (name, value, accepted) in [
            ("AUDIT_RETENTION_DAYS", "0", "1 to 36500"),
            ("AUDIT_RETENTION_DAYS", "", "1 to 36500"),
            ("AUDIT_LOCK_TIMEOUT_MS", "soon", "milliseconds"),
            ("VAULT_PATH", "", "path"),
        ] {
            let err = config(&[], &[(name, value)]).expect_err("refused");
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("{name}={value:?} ")) && text.contains(accepted),
                "{text}"
            );
            assert!(!text.contains("--"), "{text}");
        }
        let err = command(&["daemon"], &[("AUDIT_INBOX_GRACE", "50ms")]).expect_err("short");
        assert!(err.to_string().contains("100ms or more"), "{err}");
        let log = config(&[], &[("AUDIT_INBOX_GRACE", "50ms")]).expect("log does not read it");
        assert!(log.daemon.is_none());
    }

    #[test]
    fn the_daemon_folders_come_from_its_flags_then_the_environment() {
        let env = [("AUDIT_FOLDER_INBOX", "In"), ("AUDIT_FOLDER_PLANS", "P")];
        let given = Overrides {
            daemon: Some(DaemonOverrides {
                plans: Some("Flagged".into()),
                ..DaemonOverrides::default()
            }),
            ..Overrides::default()
        };
        let daemon = Config::new(&given, lookup(&env))
            .expect("config")
            .daemon
            .expect("read");
        assert_eq!(daemon.folders.inbox, "In");
        assert_eq!(daemon.folders.plans, "Flagged");
        assert_eq!(daemon.folders.rejected, "Rejected");
        assert_eq!(daemon.grace, Duration::from_secs(1));
    }

    #[test]
    fn a_found_env_file_says_which_of_its_settings_weaken_auditing() {
        let file = Path::new(".env");
        let pairs = [
            ("AUDIT_REDACTION", "off"),
            ("DRY_RUN", "true"),
            ("VAULT_PATH", "/elsewhere"),
            ("AUDIT_DRY_RUN", "false"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let real = [("VAULT_PATH", "/mine")];
        let notes = weakening_notes(lookup(&real), &pairs, file);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].starts_with("note: AUDIT_REDACTION=off comes from .env"));
        assert!(notes[1].starts_with("note: DRY_RUN=true comes from .env"));
    }

    #[test]
    fn an_env_file_is_parsed_never_loaded() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(".env");
        std::fs::write(&path, "VAULT_AUDIT_TEST_ONLY=1\nAUDIT_AGENT_ID='codex'\n").expect("write");
        let pairs = dotenv::read(&path).expect("parsed");
        assert_eq!(pairs[1], ("AUDIT_AGENT_ID".into(), "codex".into()));
        assert!(std::env::var_os("VAULT_AUDIT_TEST_ONLY").is_none());
        std::fs::write(&path, "A='unclosed\n").expect("write");
        let err = dotenv::read(&path).expect_err("bad");
        assert!(err.to_string().contains("does not parse"), "{err}");
        let err = dotenv::read(&dir.path().join("none")).expect_err("missing");
        assert!(
            err.to_string().starts_with("could not read the env file"),
            "{err}"
        );
    }

    #[test]
    fn bad_redaction_settings_are_clear_errors() {
        let e = redactor(lookup(&[("AUDIT_REDACT_PATTERNS", "(unclosed")])).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("AUDIT_REDACT_PATTERNS=")
                && text.contains("\"(unclosed\" is not a valid regular expression"),
            "{e}"
        );
        let e = redactor(lookup(&[("AUDIT_MAX_FIELD_CHARS", "ten")])).unwrap_err();
        assert!(e.to_string().contains("AUDIT_MAX_FIELD_CHARS"), "{e}");
        let e = redactor(lookup(&[("AUDIT_REDACTION", "maybe")])).unwrap_err();
        assert!(e.to_string().contains("use on or off"), "{e}");
        let r = redactor(lookup(&[("AUDIT_REDACT_PATTERNS", r#"["CUST-[0-9]+"]"#)])).expect("ok");
        assert_eq!(r.text("id CUST-42 x"), "id [REDACTED] x");
    }

    fn sinks(env: &[(&str, &str)]) -> Result<ForwardSettings, ConfigError> {
        forward_settings(&lookup(env))
    }

    #[test]
    fn no_forwarding_setting_is_no_sink_and_the_default_pace() {
        let s = sinks(&[("AUDIT_FORWARD_HTTP", "  ")]).expect("ok");
        assert!(!s.any_sink());
        assert_eq!(s.pace, crate::forward::Pace::default());
    }

    #[test]
    fn bad_forwarding_values_name_the_variable_and_what_is_accepted() {
        let e = sinks(&[("AUDIT_FORWARD_BATCH", "0")]).expect_err("bad");
        assert_eq!(
            e.to_string(),
            "AUDIT_FORWARD_BATCH=\"0\": expected a number from 1 to 10000"
        );
        let e = sinks(&[
            ("AUDIT_FORWARD_SYSLOG", "udp://x"),
            ("AUDIT_FORWARD_SYSLOG_FACILITY", "local9"),
        ])
        .expect_err("bad");
        assert!(e
            .to_string()
            .contains("AUDIT_FORWARD_SYSLOG_FACILITY=\"local9\""));
    }

    #[test]
    fn a_sink_refusal_names_the_variable_and_what_is_accepted() {
        let vault = crate::vault::Vault::new(std::env::temp_dir());
        let s = sinks(&[("AUDIT_FORWARD_SYSLOG", "ftp://x")]).expect("parsed");
        let e = s.setup(&vault, &SINK_NAMES).err().expect("rejected");
        assert_eq!(
            e.to_string(),
            "AUDIT_FORWARD_SYSLOG: \"ftp://x\" is not accepted; expected udp://host:port or tcp://host:port"
        );
    }

    #[cfg(feature = "http")]
    #[test]
    fn a_bad_header_line_is_named_by_number_not_repeated() {
        let vault = crate::vault::Vault::new(std::env::temp_dir());
        let s = sinks(&[
            ("AUDIT_FORWARD_HTTP", "http://h:9428"),
            ("AUDIT_FORWARD_HTTP_HEADERS", "Authorization Bearer t0ken"),
        ])
        .expect("parsed");
        let e = s.setup(&vault, &SINK_NAMES).err().expect("rejected");
        assert_eq!(
            e.to_string(),
            "AUDIT_FORWARD_HTTP_HEADERS: header line 1 has no colon; expected `Name: value`"
        );
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn a_bad_connection_string_is_not_repeated() {
        let s = sinks(&[("AUDIT_FORWARD_POSTGRES", "postgres://u:hunter2@[bad")]).expect("parsed");
        let vault = crate::vault::Vault::new(std::env::temp_dir());
        let e = s.setup(&vault, &SINK_NAMES).err().expect("rejected");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn aws_credentials_come_from_the_variables_first() {
        let cloudwatch = |env: &[(&str, &str)]| sinks(env).map(|s| s.cloudwatch);
        let s = cloudwatch(&[
            ("AUDIT_FORWARD_CLOUDWATCH", "eu-west-1/g"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "s3cretKEY"),
            ("AWS_SESSION_TOKEN", "t0ken"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ])
        .expect("ok")
        .expect("set");
        assert_eq!(s.credentials.secret_access_key, "s3cretKEY");
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("t0ken") && !shown.contains("AKID"));
        let half = [
            ("AUDIT_FORWARD_CLOUDWATCH", "eu-west-1/g"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
        ];
        let e = cloudwatch(&half).expect_err("half").to_string();
        assert!(e.contains("set both"), "{e}");
        assert!(cloudwatch(&[]).expect("unset").is_none());
        let bad = [
            ("AUDIT_FORWARD_CLOUDWATCH", "eu-west-1/g"),
            ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "ftp://h"),
        ];
        let e = cloudwatch(&bad).expect_err("ftp").to_string();
        assert!(
            e.starts_with("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=\"ftp://h\""),
            "{e}"
        );
    }

    #[test]
    fn aws_credentials_come_from_the_named_profile_of_the_file() {
        let text = "[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n\n[ci]\naws_access_key_id=A2\naws_secret_access_key=S2\n";
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("credentials");
        std::fs::write(&path, text).expect("write");
        let p = path.to_string_lossy().into_owned();
        let env = [
            ("AUDIT_FORWARD_CLOUDWATCH", "eu-west-1/g/s"),
            ("AWS_SHARED_CREDENTIALS_FILE", p.as_str()),
            ("AWS_PROFILE", "ci"),
        ];
        let s = sinks(&env).expect("ok").cloudwatch.expect("set");
        assert_eq!(s.credentials.secret_access_key, "S2");
        let missing = [
            ("AUDIT_FORWARD_CLOUDWATCH", "eu-west-1/g"),
            ("HOME", "/nonexistent"),
        ];
        let e = sinks(&missing).expect_err("no file").to_string();
        assert!(e.contains("/nonexistent/.aws/credentials"), "{e}");
    }
}
