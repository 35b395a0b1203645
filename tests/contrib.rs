//! The service files in `contrib/`: the systemd unit and the PM2 process
//! file say what the daemon does (readiness, signals, timeouts).

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/vault-audit.service");
const PM2: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/ecosystem.config.js");

/// The `[Service]` section's settings.
fn service(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .skip_while(|l| l.trim() != "[Service]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn the_systemd_unit_waits_for_readiness_and_gives_the_stop_time() {
    let text = std::fs::read_to_string(UNIT).expect("the unit");
    let settings = service(&text);
    let get = |key: &str| {
        settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{key} missing"))
    };
    assert_eq!(get("Type"), "notify");
    assert_eq!(get("NotifyAccess"), "main");
    assert!(get("ExecStart").ends_with("vault-audit daemon"));
    assert_eq!(get("KillSignal"), "SIGTERM");
    let stop: u64 = get("TimeoutStopSec").parse().expect("seconds");
    let watchdog: u64 = get("WatchdogSec").parse().expect("seconds");
    assert!(stop >= 10 && watchdog >= 10);

    // systemd's own checker, where it is installed, on a copy that starts
    // this build's binary.
    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        return;
    };
    if !out.status.success() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("vault-audit.service");
    let local: String = text
        .lines()
        .map(|l| {
            if l.starts_with("ExecStart=") {
                format!("ExecStart={} daemon\n", common::BIN)
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&copy, local).expect("write");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze");
    let complaints = String::from_utf8_lossy(&out.stderr);
    let about_unit: Vec<&str> = complaints
        .lines()
        .filter(|l| l.contains("vault-audit.service"))
        .collect();
    assert!(about_unit.is_empty(), "{complaints}");
}

#[test]
fn the_pm2_file_starts_the_daemon_and_waits_for_its_stop() {
    // Node reads it as PM2 does; without Node, its text is checked.
    let app: Value = match Command::new("node")
        .arg("-e")
        .arg("console.log(JSON.stringify(require(process.argv[1]).apps[0]))")
        .arg(PM2)
        .env("HOME", "/home/someone")
        .output()
    {
        Ok(out) if out.status.success() => {
            serde_json::from_slice(&out.stdout).expect("the app as JSON")
        }
        _ => {
            let text = std::fs::read_to_string(Path::new(PM2)).expect("the PM2 file");
            assert!(text.contains("script: \"vault-audit\"") && text.contains("args: \"daemon\""));
            return;
        }
    };
    assert_eq!(app["script"], "vault-audit");
    assert_eq!(app["args"], "daemon");
    assert_eq!(app["interpreter"], "none", "a binary, not a Node script");
    assert_eq!(app["autorestart"], true);
    assert_eq!(
        app["env"]["AUDIT_DRY_RUN"], "false",
        "the daemon refuses dry run"
    );
    assert_eq!(app["env"]["VAULT_PATH"], "/home/someone/AI_Employee_Vault");
    // PM2 sends SIGINT, then SIGKILL after kill_timeout: the daemon's stop
    // (at most a few seconds) must fit.
    assert!(app["kill_timeout"].as_u64().expect("kill_timeout") >= 10_000);
}
