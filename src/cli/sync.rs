//! `vault-audit init-sync git` and `vault-audit merge-driver`: a vault
//! shared by machines through Git.

use std::path::Path;
use std::process::Command as Process;

use crate::cli::args::{InitSyncArgs, MergeDriverArgs, SyncTool};
use crate::cli::exit;
use crate::cli::{CliError, Io};
use crate::config::Config;
use crate::fsutil::{read_no_follow, write_atomic};
use crate::vault::{git_attributes, git_ignored, MERGE_DRIVER};

/// The comment that opens the lines `init-sync` adds.
const MARK: &str =
    "# vault-audit (init-sync git): day files merge entry by entry; per-machine state never syncs";

/// Runs `init-sync git`: the `.gitattributes` and `.gitignore` lines in the
/// vault (those missing), and the merge driver registered with `git config`
/// in the repository the vault is in. Writes whatever dry run says: these
/// are settings, not log entries.
pub fn init(config: &Config, args: &InitSyncArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let vault = config.existing_vault()?;
    let SyncTool::Git = args.tool;
    let root = vault.root();
    for (name, lines) in [
        (".gitattributes", git_attributes()),
        (".gitignore", git_ignored()),
    ] {
        let path = root.join(name);
        let added = add_lines(&path, &lines)
            .map_err(|e| CliError::unavailable(format!("write {}", path.display()), e))?;
        let _ = writeln!(io.stdout, "{name}: {added} lines added");
    }
    let exe = std::env::current_exe()
        .map_err(|e| CliError::unavailable("find the vault-audit program", e))?;
    let driver = format!(
        "'{}' merge-driver %O %A %B",
        exe.to_string_lossy().replace('\'', r"'\''")
    );
    let name = "vault-audit: union of day files by entry";
    for (key, value) in [("name", name), ("driver", driver.as_str())] {
        git_config(root, &format!("merge.{MERGE_DRIVER}.{key}"), value)?;
    }
    let _ = writeln!(
        io.stdout,
        "git config merge.{MERGE_DRIVER}.driver {driver:?}: registered (run init-sync on every clone)"
    );
    Ok(exit::OK)
}

/// Adds to the file at `path` those of `lines` it lacks, after [`MARK`];
/// returns how many were added.
fn add_lines(path: &Path, lines: &[String]) -> std::io::Result<usize> {
    let text = match read_no_follow(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let have: Vec<&str> = text.lines().map(str::trim).collect();
    let missing: Vec<&String> = lines
        .iter()
        .filter(|l| !have.contains(&l.as_str()))
        .collect();
    if missing.is_empty() {
        return Ok(0);
    }
    let mut out = text.clone();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    if !have.contains(&MARK) {
        out.push_str(MARK);
        out.push('\n');
    }
    for line in &missing {
        out.push_str(line);
        out.push('\n');
    }
    write_atomic(path, out.as_bytes())?;
    Ok(missing.len())
}

fn git_config(root: &Path, key: &str, value: &str) -> Result<(), CliError> {
    let out = Process::new("git")
        .arg("-C")
        .arg(root)
        .args(["config", key, value])
        .output()
        .map_err(|e| CliError::unavailable("run git", e))?;
    if out.status.success() {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "git config {key} failed in {} (is the vault in a Git repository?): {}",
        root.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

/// Runs `merge-driver %O %A %B`: writes into %A this side's entries, then
/// those of the other side it lacks (by stored line), chained; exit 0. A
/// file that is no day file is left as a conflict (exit 1) for a person.
pub fn merge_driver(
    config: &Config,
    args: &MergeDriverArgs,
    io: &mut Io<'_>,
) -> Result<u8, CliError> {
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|e| CliError::unavailable(format!("read {}", path.display()), e))
    };
    let (ours, theirs) = (read(&args.ours)?, read(&args.theirs)?);
    let merged = crate::daily::merged(&ours, &theirs, &config.chain_key)
        .map_err(|e| CliError::unavailable("merge the day file", e))?;
    let Some(text) = merged else {
        let _ = writeln!(
            io.stderr,
            "vault-audit merge-driver: neither version names its day (no \"date\"); left as a conflict"
        );
        return Ok(exit::REJECTED);
    };
    std::fs::write(&args.ours, text)
        .map_err(|e| CliError::unavailable(format!("write {}", args.ours.display()), e))?;
    Ok(exit::OK)
}
