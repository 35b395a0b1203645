//! A small builder for running the real binary in a fresh vault.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

pub mod servers;

pub const BIN: &str = env!("CARGO_BIN_EXE_vault-audit");

/// A temporary vault with the folders users have.
pub struct Vault {
    pub dir: tempfile::TempDir,
}

impl Vault {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in [
            "Inbox",
            "Needs_Action",
            "Plans",
            "Pending_Approval",
            "Approved",
            "Rejected",
            "Done",
            "Logs",
        ] {
            std::fs::create_dir(dir.path().join(d)).expect("mkdir");
        }
        Vault { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn logs(&self) -> PathBuf {
        self.path().join("Logs")
    }

    pub fn day(&self, date: &str) -> PathBuf {
        self.logs().join(format!("{date}.json"))
    }

    /// A run of the binary against this vault, writing for real.
    pub fn cmd(&self) -> Run {
        self.plain().arg("--no-dry-run")
    }

    /// A run against this vault with no dry-run flag: the environment decides.
    pub fn plain(&self) -> Run {
        Run::new().arg("--vault").arg(self.path()).cwd(self.path())
    }

    /// Every file below the vault with its bytes.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        walkdir::WalkDir::new(self.path())
            .into_iter()
            .filter_map(Result::ok)
            .map(|e| {
                let bytes = if e.file_type().is_file() {
                    std::fs::read(e.path()).expect("read")
                } else {
                    Vec::new()
                };
                (e.path().to_owned(), bytes)
            })
            .collect()
    }

    /// The day file parsed as JSON.
    pub fn day_json(&self, date: &str) -> Value {
        let text = std::fs::read_to_string(self.day(date)).expect("day file");
        serde_json::from_str(&text).expect("day file is valid JSON")
    }

    /// The dates of the day files there are, oldest first.
    pub fn dates(&self) -> Vec<String> {
        let mut dates: Vec<String> = std::fs::read_dir(self.logs())
            .expect("Logs")
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let date = name.strip_suffix(".json")?;
                vault_audit::time::parse_day(date).map(|_| date.to_owned())
            })
            .collect();
        dates.sort();
        dates
    }

    /// Every entry of every day file, oldest day first, each day in file
    /// order. For entries the binary timestamps itself with the real clock:
    /// they are on the day it was then, which may no longer be today (or,
    /// just after midnight, the day a second ago was).
    pub fn all_entries(&self) -> Vec<Value> {
        self.dates()
            .iter()
            .flat_map(|date| {
                let Ok(text) = std::fs::read_to_string(self.day(date)) else {
                    return Vec::new();
                };
                // Between its creation and its first write a day file is empty.
                if text.is_empty() {
                    return Vec::new();
                }
                let day: Value = serde_json::from_str(&text).expect("day file is valid JSON");
                day["entries"].as_array().cloned().unwrap_or_default()
            })
            .collect()
    }
}

pub struct Run {
    cmd: Command,
    stdin: Option<Vec<u8>>,
}

pub struct Done {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Done {
    /// The response object on the last line of stdout.
    pub fn response(&self) -> Value {
        let last = self.stdout.lines().last().expect("a response line");
        serde_json::from_str(last).expect("response is JSON")
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Run {
    pub fn new() -> Self {
        Run::of(Path::new(BIN))
    }

    /// A run of another copy of the binary (an installed one).
    pub fn of(bin: &Path) -> Self {
        let mut cmd = Command::new(bin);
        for var in [
            "VAULT_PATH",
            "DRY_RUN",
            "AUDIT_DRY_RUN",
            "AUDIT_SESSION_ID",
            "AUDIT_LOCK_TIMEOUT_MS",
            "AUDIT_CHAIN_KEY",
            "AUDIT_SIGNING_KEY",
            "AUDIT_REDACTION",
            "AUDIT_REDACT_PATTERNS",
            "AUDIT_MAX_FIELD_CHARS",
            "AUDIT_AGENT_ID",
            "AUDIT_HOOK_PRE_TOOL_USE",
            "AUDIT_HOOK_PROMPT_TEXT",
            "AUDIT_FORWARD_POSTGRES",
            "AUDIT_FORWARD_SYSLOG",
            "AUDIT_FORWARD_SYSLOG_FACILITY",
            "AUDIT_FORWARD_HTTP",
            "AUDIT_FORWARD_HTTP_FORMAT",
            "AUDIT_FORWARD_HTTP_HEADERS",
            "AUDIT_FORWARD_BATCH",
            "AUDIT_FORWARD_BACKOFF_MAX",
            "AUDIT_FORWARD_CLOUDWATCH",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
            "AUDIT_VAULT_NAME",
            "AUDIT_INBOX_GRACE",
            "AUDIT_STRICT",
            "AUDIT_IMPORT_TZ",
            "AUDIT_RETENTION_DAYS",
            "AUDIT_ARCHIVE_DAYS",
            "AUDIT_ALERT_ERRORS",
            "AUDIT_ALERT_WINDOW",
            "AUDIT_ALERT_SENSITIVE",
            "AUDIT_ALERT_ACTOR_FAILURES",
            "AUDIT_ALERT_ACTOR_WINDOW",
            "AUDIT_ALERT_UNUSUAL",
            "AUDIT_ALERT_UNUSUAL_MIN",
            "AUDIT_FOLDER_NEEDS_ACTION",
            "AUDIT_FOLDER_PENDING_APPROVAL",
            "AUDIT_DASHBOARD_TZ",
            "AUDIT_FOLDER_BRIEFINGS",
            "AUDIT_REPORT_SCHEDULE",
            "AUDIT_ROLE",
            "AUDIT_HOST",
            "NO_COLOR",
            "CLICOLOR",
            "CLICOLOR_FORCE",
        ] {
            cmd.env_remove(var);
        }
        Run { cmd, stdin: None }
    }

    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    pub fn args<I, S>(mut self, a: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(a);
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn cwd(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn run(mut self) -> Done {
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("spawn vault-audit");
        let input = self.stdin.take().unwrap_or_default();
        let mut pipe = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let out: Output = child.wait_with_output().expect("wait");
        writer.join().expect("stdin writer");
        Done {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A valid entry as JSON text, at `ts`, with a distinguishing `n`.
pub fn entry_json(ts: &str, level: &str, n: u64) -> String {
    serde_json::json!({
        "timestamp": ts,
        "log_level": level,
        "action_type": "system_event",
        "actor": "test",
        "target": "vault",
        "parameters": {"n": n},
        "approval_status": "not_required",
        "approved_by": "N/A",
        "dry_run": false,
        "result": "success",
        "error_message": null,
        "session_id": "AI_EMP_20261122_TEST01"
    })
    .to_string()
}

/// The UTC date `n` days ago and a timestamp at noon that day (for n = 0,
/// a second ago).
///
/// Each call reads the clock afresh: a test that needs several days, or
/// that compares a date with what the binary wrote later, takes one `now`
/// and uses [`days_before`] (and [`on_one_utc_day`] when the binary's own
/// "today" matters), so that UTC midnight falling between two calls cannot
/// split what belongs together.
pub fn days_ago(n: i64) -> (String, String) {
    let now = Utc::now();
    if n == 0 {
        days_before(now - chrono::Duration::seconds(1), 0)
    } else {
        days_before(now, n)
    }
}

/// The UTC date `n` days before `now` (after it, for a negative `n`) and a
/// timestamp that day: noon, or for n = 0 `now` itself (to the
/// millisecond, never after it).
pub fn days_before(now: DateTime<Utc>, n: i64) -> (String, String) {
    let t = if n == 0 {
        now
    } else {
        let day = (now - chrono::Duration::days(n)).date_naive();
        day.and_hms_opt(12, 0, 0).expect("noon").and_utc()
    };
    (
        t.format("%Y-%m-%d").to_string(),
        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    )
}

/// Runs `scenario` with the real time it starts at, and once more if the
/// UTC date changed before it returned (midnight fell between two of its
/// steps). So a scenario that makes entries at `now` and then runs the
/// binary (whose clock is the real one) sees one UTC day throughout. It
/// should only gather what it needs and leave the assertions to its
/// caller, as a run that straddled midnight is thrown away. A run takes
/// seconds, so midnight cannot fall inside the second one too.
pub fn on_one_utc_day<T>(mut scenario: impl FnMut(DateTime<Utc>) -> T) -> T {
    for _ in 0..2 {
        let now = Utc::now();
        let out = scenario(now);
        if Utc::now().date_naive() == now.date_naive() {
            return out;
        }
        eprintln!("UTC midnight fell inside the scenario: running it again");
    }
    panic!("UTC midnight fell inside two runs of the scenario in a row");
}

/// A daemon process on a vault; killed if the test ends without stopping it.
pub struct Daemon {
    child: Child,
}

impl Daemon {
    pub fn start(v: &Vault, args: &[&str]) -> Daemon {
        Daemon::start_with(v, args, &[])
    }

    /// Starts it with extra environment variables, and waits until it is ready.
    pub fn start_with(v: &Vault, args: &[&str], envs: &[(&str, &str)]) -> Daemon {
        let log = std::fs::File::create(v.path().join("daemon.err")).expect("log file");
        let child = Command::new(BIN)
            .args(["--vault"])
            .arg(v.path())
            .args(["--no-dry-run", "daemon", "-v"])
            .args(args)
            .env_remove("VAULT_PATH")
            .env("AUDIT_ALERT_ERRORS", "5")
            .envs(envs.iter().copied())
            .current_dir(v.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn daemon");
        let d = Daemon { child };
        wait_for("the daemon to start", Duration::from_secs(30), || {
            running(v)
        });
        d
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGTERM; returns the exit code and how long it took.
    pub fn terminate(mut self) -> (Option<i32>, Duration) {
        let started = Instant::now();
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let status = self.child.wait().expect("wait");
        (status.code(), started.elapsed())
    }

    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("wait");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Running and ready: it watches the inbox and the vault.
pub fn running(v: &Vault) -> bool {
    let out = v.cmd().args(["daemon", "status"]).run();
    out.code == 0 && out.stdout.contains("\"ready\":true")
}

pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Logs the retention entry for `file` into the vault at `root`, as a purge
/// does, at `now`, with no upkeep (crash tests build a purge's state by hand).
pub fn log_retention_entry(root: &Path, file: &str, now: DateTime<Utc>) {
    let e = vault_audit::Entry::new(
        vault_audit::LogLevel::Info,
        vault_audit::ActionType::new("log_retention").expect("a"),
        "audit_logger",
        file,
    )
    .param("retention_days", 90)
    .param("critical_archived", 1);
    vault_audit::AuditLogger::builder(root)
        .clock(std::sync::Arc::new(vault_audit::FixedClock::new(now)))
        .upkeep(false)
        .build()
        .expect("raw")
        .log(e)
        .expect("log");
}

/// The path of a golden file under `fixtures/golden/`.
pub fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/golden")
        .join(name)
}

/// Compares with a golden file (rewritten when UPDATE_GOLDEN is set).
pub fn assert_golden(name: &str, actual: &[u8]) {
    let path = golden(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, actual).expect("update golden");
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        String::from_utf8_lossy(actual),
        String::from_utf8_lossy(&expected),
        "{name}"
    );
}

/// The names in `dir`, sorted (none when it is missing).
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
