//! What an installed binary must do alone: run its demo with no source tree
//! beside it, and print its shell completions and manual page.

mod common;

use std::process::Command;

use common::{Run, BIN};

#[test]
fn demo_runs_from_an_installed_copy_far_from_the_source_tree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).expect("mkdir");
    let installed = bin_dir.join("vault-audit");
    std::fs::copy(BIN, &installed).expect("copy the binary");
    wait_until_executable(&installed);
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    let into = dir.path().join("demo-vault");

    let done = Run::of(&installed)
        .args(["demo", "--into"])
        .arg(&into)
        .cwd(&elsewhere)
        .run();
    done.assert_code(0);
    assert!(
        done.stdout.contains("Copied the sample vault"),
        "{}",
        done.stdout
    );
    for rel in [
        "Company_Handbook.md",
        "Needs_Action/invoice-request.md",
        "Plans/invoice-request-Plan.md",
        "Inbox",
        "Rejected",
    ] {
        assert!(into.join(rel).exists(), "{rel} missing");
    }
    let days: Vec<_> = std::fs::read_dir(into.join("Logs"))
        .expect("Logs")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .collect();
    assert!(!days.is_empty(), "no day file written");
}

#[test]
fn completions_are_printed_for_every_shell_and_bash_loads_its_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let done = Run::new().args(["completions", shell]).run();
        done.assert_code(0);
        assert!(
            done.stdout.contains("vault-audit") && done.stdout.contains("forward"),
            "{shell}: {}",
            done.stdout
        );
    }
    let script = Run::new().args(["completions", "bash"]).run().stdout;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("vault-audit.bash");
    std::fs::write(&file, script).expect("write");
    let loaded = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p vault-audit",
            file.display()
        ))
        .output()
        .expect("bash");
    assert!(
        loaded.status.success() && String::from_utf8_lossy(&loaded.stdout).contains("vault-audit"),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );

    let refused = Run::new().args(["completions", "tcsh"]).run();
    refused.assert_code(2);
    assert!(refused.stderr.contains("bash"), "{}", refused.stderr);
}

#[test]
fn the_manual_page_is_roff_naming_every_command() {
    let done = Run::new().arg("man").run();
    done.assert_code(0);
    assert!(done.stdout.starts_with(".ie") || done.stdout.contains(".TH vault-audit 1"));
    assert!(done.stdout.contains(".TH vault-audit 1"), "{}", done.stdout);
    for command in ["log", "query", "verify", "forward", "demo", "completions"] {
        assert!(
            done.stdout.contains(command),
            "{command} missing from the page"
        );
    }
}

/// Waits until a freshly copied binary can be run: while another test
/// thread forks, the child may hold the copy's write descriptor a moment,
/// and exec fails with "Text file busy" (ETXTBSY).
fn wait_until_executable(path: &std::path::Path) {
    for _ in 0..100 {
        match std::process::Command::new(path)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .status()
        {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            _ => return,
        }
    }
}
