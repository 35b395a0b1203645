//! A project's files cannot weaken auditing, and nothing is written into a
//! folder that is not a vault.

mod common;

use common::{days_ago, entry_json, Run, Vault};

const AWS: &str = "AKIAIOSFODNN7EXAMPLE";

fn hook_payload(cwd: &std::path::Path) -> String {
    serde_json::json!({
        "hook_event_name": "PostToolUse",
        "session_id": "s-1",
        "cwd": cwd,
        "tool_name": "Bash",
        "tool_input": {"command": format!("aws configure set key {AWS}")},
        "tool_response": {"stdout": "ok", "exit_code": 0}
    })
    .to_string()
}

/// The day files in `logs` (a hook stamps its entry with the real now, so
/// the day is whichever it was).
fn day_files(logs: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(items) = std::fs::read_dir(logs) else {
        return Vec::new();
    };
    items
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.len() == 15 && n.to_string_lossy().ends_with(".json"))
        })
        .filter(|p| !p.ends_with("index.json"))
        .collect()
}

/// Every byte under `dir`, as text.
fn all_text(dir: &std::path::Path) -> String {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap_or_default()).into_owned())
        .collect()
}

#[test]
fn a_dotenv_planted_in_the_hooks_folder_or_its_parent_cannot_weaken_auditing() {
    let v = Vault::new();
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let project = v.path().join("project");
    std::fs::create_dir(&project).expect("mkdir");
    let planted = format!(
        "AUDIT_REDACTION=off\nAUDIT_DRY_RUN=true\nVAULT_PATH={}\n",
        elsewhere.path().display()
    );
    std::fs::write(project.join(".env"), &planted).expect("write");
    std::fs::write(v.path().join(".env"), &planted).expect("write");
    let done = Run::new()
        .arg("--no-dry-run")
        .args(["hook", "claude-code"])
        .env("CLAUDE_PROJECT_DIR", &v.path().to_string_lossy())
        .cwd(&project)
        .stdin(hook_payload(&project))
        .run();
    done.assert_code(0);
    let days = day_files(&v.logs());
    assert_eq!(days.len(), 1, "logged in the real vault: {}", done.stderr);
    let text = std::fs::read_to_string(&days[0]).expect("read");
    assert!(text.contains("Bash"), "{text}");
    assert!(
        !all_text(v.path().join("Logs").as_path()).contains(AWS),
        "redaction stayed on"
    );
    assert!(std::fs::read_dir(elsewhere.path())
        .expect("ls")
        .next()
        .is_none());
}

#[test]
fn an_explicit_env_file_can_set_what_a_planted_one_cannot() {
    let v = Vault::new();
    let settings = v.path().join("audit.env");
    std::fs::write(&settings, "AUDIT_DRY_RUN=true\n").expect("write");
    let done = Run::new()
        .arg("--vault")
        .arg(v.path())
        .arg("--env-file")
        .arg(&settings)
        .args(["hook", "claude-code"])
        .cwd(v.path())
        .stdin(hook_payload(v.path()))
        .run();
    done.assert_code(0);
    assert!(done.stderr.contains("[DRY_RUN]"), "{}", done.stderr);
    assert!(
        day_files(&v.logs()).is_empty(),
        "dry run from the named file wrote nothing"
    );
}

#[test]
fn log_reads_dotenv_only_from_its_own_folder_and_says_when_it_weakens() {
    let v = Vault::new();
    let (_, ts) = days_ago(0);
    let inner = v.path().join("sub");
    std::fs::create_dir(&inner).expect("mkdir");
    // A parent's .env is not read at all.
    std::fs::write(v.path().join(".env"), "AUDIT_DRY_RUN=false\n").expect("write");
    let parent_only = Run::new()
        .arg("--vault")
        .arg(v.path())
        .args(["log", "--entry", &entry_json(&ts, "INFO", 1)])
        .cwd(&inner)
        .run();
    parent_only.assert_code(0);
    assert_eq!(
        parent_only.response()["details"]["dry_run"],
        true,
        "the default, not the parent's"
    );
    // The working folder's own .env is read, and a weakening setting is named.
    std::fs::write(
        inner.join(".env"),
        "AUDIT_REDACTION=off\nAUDIT_DRY_RUN=true\n",
    )
    .expect("write");
    let here = Run::new()
        .arg("--vault")
        .arg(v.path())
        .args(["log", "--entry", &entry_json(&ts, "INFO", 2)])
        .cwd(&inner)
        .run();
    here.assert_code(0);
    assert!(
        here.stderr.contains("AUDIT_REDACTION=off comes from"),
        "{}",
        here.stderr
    );
    assert!(
        here.stderr.contains("AUDIT_DRY_RUN=true comes from"),
        "{}",
        here.stderr
    );
}

#[test]
fn a_folder_that_is_not_a_vault_is_refused_and_nothing_is_created_in_it() {
    let bare = tempfile::tempdir().expect("tempdir");
    let (_, ts) = days_ago(0);
    for args in [
        vec![
            "log".to_owned(),
            "--entry".to_owned(),
            entry_json(&ts, "INFO", 1),
        ],
        vec!["index".to_owned()],
        vec!["skill-run".to_owned(), "s".to_owned(), "success".to_owned()],
    ] {
        let done = Run::new()
            .arg("--vault")
            .arg(bare.path())
            .arg("--no-dry-run")
            .args(&args)
            .run();
        done.assert_code(2);
        assert!(
            done.stderr.contains("is not a vault") && done.stderr.contains("--init"),
            "{}",
            done.stderr
        );
        assert!(
            std::fs::read_dir(bare.path()).expect("ls").next().is_none(),
            "{args:?}"
        );
    }
    // --init makes it one on purpose.
    let done = Run::new()
        .arg("--vault")
        .arg(bare.path())
        .args([
            "--no-dry-run",
            "--init",
            "log",
            "--entry",
            &entry_json(&ts, "INFO", 2),
        ])
        .run();
    done.assert_code(0);
    assert!(bare.path().join("Logs").is_dir());
}

#[test]
fn a_hook_in_a_project_with_the_vault_one_folder_down_logs_into_it() {
    let project = tempfile::tempdir().expect("tempdir");
    let vault = project.path().join("AI_Employee_Vault");
    std::fs::create_dir_all(vault.join(".obsidian")).expect("mkdir");
    let done = Run::new()
        .arg("--no-dry-run")
        .arg("--vault")
        .arg(project.path())
        .args(["hook", "claude-code"])
        .cwd(project.path())
        .stdin(hook_payload(project.path()))
        .run();
    done.assert_code(0);
    assert!(
        !project.path().join("Logs").exists(),
        "nothing in the project root"
    );
    assert_eq!(day_files(&vault.join("Logs")).len(), 1, "{}", done.stderr);
}

#[test]
fn a_hook_with_no_vault_keeps_its_entry_for_replay_and_exits_0() {
    let project = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("state");
    let done = Run::new()
        .arg("--no-dry-run")
        .arg("--vault")
        .arg(project.path())
        .args(["hook", "claude-code"])
        .env("XDG_STATE_HOME", &state.path().to_string_lossy())
        .cwd(project.path())
        .stdin(hook_payload(project.path()))
        .run();
    done.assert_code(0);
    assert_eq!(done.stderr.lines().count(), 1, "{}", done.stderr);
    assert!(std::fs::read_dir(project.path())
        .expect("ls")
        .next()
        .is_none());
    let kept = state.path().join("vault-audit/failed_writes.json");
    let text = std::fs::read_to_string(&kept).expect("kept");
    assert!(text.contains("Bash") && !text.contains(AWS), "{text}");
    // Later, a person brings it into a vault.
    let v = Vault::new();
    let replay = v
        .cmd()
        .args(["replay", "--orphans"])
        .env("XDG_STATE_HOME", &state.path().to_string_lossy())
        .run();
    replay.assert_code(0);
    assert_eq!(replay.response()["details"]["orphans"], 1);
    assert_eq!(replay.response()["details"]["replayed"], 1);
    assert!(!kept.exists());
}
