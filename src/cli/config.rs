//! Arguments and environment, turned once into a validated [`Config`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use anstream::ColorChoice;

use crate::alert::Rules;
use crate::chain::{ChainKey, KEY_VAR, SIGNING_KEY_VAR};
use crate::cli::args::{Args, Command};
use crate::cli::CliError;
use crate::dashboard;
use crate::entry::ParseMode;
use crate::forward::config::Settings as ForwardSettings;
use crate::hook::{self, HookSettings};
use crate::logger::{AuditLogger, AuditLoggerBuilder, DEFAULT_LOCK_TIMEOUT};
use crate::redact::Redactor;
use crate::time::{Zone, ZONE_ACCEPTED};

/// Everything a command needs to know from outside; commands never read the
/// environment themselves.
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
}

/// The colour conventions (no-color.org, `CLICOLOR_FORCE`), `NO_COLOR` first.
fn colour_choice(env: &impl Fn(&str) -> Option<String>) -> ColorChoice {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty() && v != "0");
    if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
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
fn parse_bool(name: &str, value: &str) -> Result<bool, CliError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(CliError::Usage(format!(
            "{name}={value:?} is not a boolean; accepted: true, false, 1, 0, yes, no, on, off"
        ))),
    }
}

/// `AUDIT_ARCHIVE_DAYS`: unset or empty, no cold archive; else a number of
/// days more than the retention days.
fn archive_days(value: Option<String>, retention_days: u32) -> Result<Option<u32>, CliError> {
    let Some(text) = value.filter(|v| !v.trim().is_empty()) else {
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
    Err(CliError::Usage(format!(
        "AUDIT_ARCHIVE_DAYS={text:?} is not accepted: {why}"
    )))
}

/// `$XDG_STATE_HOME/vault-audit`, else `$HOME/.local/state/vault-audit`.
fn state_dir(env: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = match env("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(state) => PathBuf::from(state),
        None => PathBuf::from(env("HOME").filter(|v| !v.is_empty())?).join(".local/state"),
    };
    Some(base.join("vault-audit"))
}

/// The signing key from the file `AUDIT_SIGNING_KEY` names, if it is set.
fn signing_key(
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<crate::chain::sign::SigningKey>, CliError> {
    let Some(path) = env(SIGNING_KEY_VAR).filter(|p| !p.trim().is_empty()) else {
        return Ok(None);
    };
    crate::chain::sign::SigningKey::read(Path::new(&path))
        .map(Some)
        .map_err(|e| CliError::Usage(format!("{SIGNING_KEY_VAR}={path:?}: {e}")))
}

/// This machine's name and role, from `AUDIT_HOST` (else the system's host
/// name, else `HOSTNAME`) and `AUDIT_ROLE`.
fn host_and_role(env: &impl Fn(&str) -> Option<String>) -> Result<(String, bool), CliError> {
    let raw = env("AUDIT_HOST")
        .filter(|h| !h.trim().is_empty())
        .or_else(crate::forward::syslog::system_hostname)
        .or_else(|| env("HOSTNAME"))
        .unwrap_or_else(|| "host".to_owned());
    let host = crate::vault::host_name(&raw).ok_or_else(|| {
        CliError::Usage(format!(
            "AUDIT_HOST={raw:?} has no letter or digit; accepted: letters, digits, '-' and '_'"
        ))
    })?;
    let replica = match env("AUDIT_ROLE").map(|r| r.trim().to_ascii_lowercase()) {
        None => false,
        Some(r) if r.is_empty() || r == "primary" => false,
        Some(r) if r == "replica" => true,
        Some(r) => {
            return Err(CliError::Usage(format!(
                "AUDIT_ROLE={r:?} is not a role; accepted: primary, replica"
            )))
        }
    };
    Ok((host, replica))
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
fn alert_rules(env: &impl Fn(&str) -> Option<String>) -> Result<Rules, String> {
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
fn report_settings(
    env: &impl Fn(&str) -> Option<String>,
) -> Result<crate::report::Settings, String> {
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
fn dashboard_settings(
    env: &impl Fn(&str) -> Option<String>,
) -> Result<dashboard::Settings, String> {
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

/// Whether the command sends entries to the sinks.
fn forwards(command: &Command) -> bool {
    match command {
        Command::Forward(_) => true,
        Command::Verify(v) => v.against_postgres.is_some(),
        Command::Daemon(d) => d.action.is_none(),
        _ => false,
    }
}

/// The forwarding settings; the host name is the system's, else `HOSTNAME`.
fn forward_settings(env: &impl Fn(&str) -> Option<String>) -> Result<ForwardSettings, CliError> {
    let mut settings = ForwardSettings::from_vars(env)?;
    settings.hostname = crate::forward::syslog::system_hostname()
        .or_else(|| env("HOSTNAME").filter(|h| !h.trim().is_empty()));
    Ok(settings)
}

impl Config {
    /// Builds the configuration from parsed arguments and an environment
    /// lookup (the process environment, after `.env` was loaded).
    ///
    /// Dry run, first match wins: `--dry-run`/`--no-dry-run`, `AUDIT_DRY_RUN`,
    /// `DRY_RUN`, and true when none is set (the seed's default).
    pub fn new(args: &Args, env: impl Fn(&str) -> Option<String>) -> Result<Config, CliError> {
        let dry_run = if args.dry_run {
            true
        } else if args.no_dry_run {
            false
        } else if let Some(v) = env("AUDIT_DRY_RUN") {
            parse_bool("AUDIT_DRY_RUN", &v)?
        } else if let Some(v) = env("DRY_RUN") {
            parse_bool("DRY_RUN", &v)?
        } else {
            true
        };
        let lock_timeout = args
            .lock_timeout_ms
            .map_or(DEFAULT_LOCK_TIMEOUT, Duration::from_millis);
        let session_id = args.session.clone().filter(|s| !s.trim().is_empty());
        let chain_key = env(KEY_VAR)
            .map(ChainKey::new)
            .unwrap_or_default()
            .with_signer(signing_key(&env)?);
        let redactor = Redactor::from_vars(&env)?;
        let hook = HookSettings {
            redactor: redactor.clone(),
            ..hook::settings_from(&env)
        };
        let forward = if forwards(&args.command) {
            Some(forward_settings(&env)?)
        } else {
            None
        };
        let parse_mode = match env("AUDIT_STRICT") {
            Some(v) if parse_bool("AUDIT_STRICT", &v)? => ParseMode::Strict,
            _ => ParseMode::Aliases,
        };
        let import_zone = match env("AUDIT_IMPORT_TZ") {
            None => Zone::Local,
            Some(text) => Zone::parse(&text).ok_or_else(|| {
                CliError::Usage(format!(
                    "AUDIT_IMPORT_TZ={text:?} is not a zone; accepted: {ZONE_ACCEPTED}"
                ))
            })?,
        };
        let (host, replica) = host_and_role(&env)?;
        let (alerts, alert_problem) = match alert_rules(&env) {
            Ok(rules) => (rules, None),
            Err(problem) => (Rules::default(), Some(problem)),
        };
        let (dashboard, dashboard_problem) = match dashboard_settings(&env) {
            Ok(settings) => (settings, None),
            Err(problem) => (dashboard::Settings::default(), Some(problem)),
        };
        Ok(Config {
            alerts,
            alert_problem,
            reports: report_settings(&env),
            dashboard,
            dashboard_problem,
            host,
            replica,
            vault: args.vault.clone(),
            parse_mode,
            import_zone,
            dry_run,
            lock_timeout,
            session_id,
            retention_days: args.retention_days,
            archive_days: archive_days(env("AUDIT_ARCHIVE_DAYS"), args.retention_days)?,
            chain_key,
            redactor,
            hook,
            project_dir: env("CLAUDE_PROJECT_DIR").map(PathBuf::from),
            forward,
            init: args.init,
            state_dir: state_dir(&env),
            colour: colour_choice(&env),
            systemd_notify: env("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty()),
        })
    }

    /// The logger for the configured vault.
    pub fn logger(&self) -> Result<AuditLogger, CliError> {
        self.logger_for(self.vault()?, self.dry_run)
    }

    /// A logger for `vault`, configured as the rest says.
    pub fn logger_for(&self, vault: &Path, dry_run: bool) -> Result<AuditLogger, CliError> {
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
    /// with `--init`, makes it one by creating `Logs/`.
    pub fn writable_vault(&self, folder: &Path) -> Result<(), CliError> {
        if crate::vault::is_vault(folder) || !folder.is_dir() {
            // A missing folder is refused by the logger with its own message.
            return Ok(());
        }
        if self.init {
            let logs = folder.join("Logs");
            return crate::fsutil::ensure_dir(&logs)
                .map_err(|e| CliError::unavailable(format!("create {}", logs.display()), e));
        }
        Err(CliError::Usage(format!(
            "{} is not a vault (it has no Logs/, Dashboard.md or .obsidian/); pass the vault's folder with --vault, or add --init to create Logs/ there on purpose",
            folder.display()
        )))
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
    pub fn existing_vault(&self) -> Result<crate::vault::Vault, CliError> {
        let path = self.vault()?;
        if !path.is_dir() {
            return Err(CliError::Usage(format!(
                "vault {} is not an existing folder; set --vault or VAULT_PATH to the vault's folder",
                path.display()
            )));
        }
        Ok(crate::vault::Vault::new(path.clone()))
    }

    /// Like [`Config::existing_vault`], as this machine writes it: a
    /// replica's own files under `Logs/hosts/<host>/` (its daemon, its lock).
    pub fn own_vault(&self) -> Result<crate::vault::Vault, CliError> {
        let vault = self.existing_vault()?;
        Ok(match self.replica {
            true => vault.replica(&self.host),
            false => vault,
        })
    }

    /// The forwarding settings, read for the commands that forward.
    pub fn forwarding(&self) -> Result<&ForwardSettings, CliError> {
        self.forward.as_ref().ok_or_else(|| {
            CliError::usage("the forwarding settings were not read for this command")
        })
    }

    /// The id of the agent (`claude_code` unless `AUDIT_AGENT_ID` says
    /// otherwise): the actor of hook and MCP entries that name none.
    pub fn agent_id(&self) -> &str {
        &self.hook.actor
    }

    /// The vault, or the usage error that says how to name one.
    pub fn vault(&self) -> Result<&PathBuf, CliError> {
        self.vault
            .as_ref()
            .ok_or_else(|| CliError::usage("no vault given: pass --vault PATH or set VAULT_PATH"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(argv: &[&str], env: &[(&str, &str)]) -> Result<Config, CliError> {
        let mut full = argv.to_vec();
        full.extend_from_slice(&["log", "--entry", "{}"]);
        command(&full, env)
    }

    fn command(argv: &[&str], env: &[(&str, &str)]) -> Result<Config, CliError> {
        let mut full = vec!["vault-audit"];
        full.extend_from_slice(argv);
        let args = Args::try_parse_from(full).expect("args");
        Config::new(&args, |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
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
}
