//! `vault-audit demo`: copy the sample vault to a fresh folder, log a few
//! entries in it for real, and show the result.

use std::fs;
use std::path::Path;

use walkdir::WalkDir;

use crate::cli::args::DemoArgs;
use crate::cli::{CliError, Io};
use crate::config::Config;
use crate::entry::{ActionType, ApprovalStatus, ApprovedBy, Entry, LogLevel, Outcome};

/// The sample vault's folders, built into the binary (so `demo` runs from an
/// installed copy with no source tree beside it).
pub const SAMPLE_FOLDERS: &[&str] = &[
    "Approved",
    "Done",
    "Inbox",
    "Logs",
    "Needs_Action",
    "Pending_Approval",
    "Plans",
    "Rejected",
];

macro_rules! sample_file {
    ($rel:literal) => {
        (
            $rel,
            include_bytes!(concat!("../../fixtures/sample-vault/", $rel)).as_slice(),
        )
    };
}

/// The sample vault's files and their bytes, built into the binary.
pub const SAMPLE_FILES: &[(&str, &[u8])] = &[
    sample_file!("Company_Handbook.md"),
    sample_file!("Dashboard.md"),
    sample_file!("Done/welcome.md"),
    sample_file!("Needs_Action/invoice-request.md"),
    sample_file!("Pending_Approval/invoice-request-Plan.md"),
    sample_file!("Plans/invoice-request-Plan.md"),
];

/// Writes the built-in sample vault to `to`, which must not exist yet.
pub fn write_sample(to: &Path) -> std::io::Result<()> {
    if to.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} already exists", to.display()),
        ));
    }
    for folder in SAMPLE_FOLDERS {
        fs::create_dir_all(to.join(folder))?;
    }
    for (rel, bytes) in SAMPLE_FILES {
        fs::write(to.join(rel), bytes)?;
    }
    Ok(())
}

/// Copies the tree at `from` to `to`, which must not exist yet.
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if to.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} already exists", to.display()),
        ));
    }
    for item in WalkDir::new(from).sort_by_file_name() {
        let item = item.map_err(std::io::Error::other)?;
        let rel = item
            .path()
            .strip_prefix(from)
            .map_err(std::io::Error::other)?;
        let dest = to.join(rel);
        if item.file_type().is_dir() {
            fs::create_dir_all(&dest)?;
        } else if item.file_type().is_file() {
            fs::copy(item.path(), &dest)?;
        }
    }
    Ok(())
}

fn action(name: &str) -> Result<ActionType, CliError> {
    ActionType::new(name).map_err(|e| CliError::Usage(e.to_string()))
}

/// A morning in an AI-employee vault: a note dropped, a plan, an approval,
/// an email, and a failure.
fn story() -> Result<Vec<Entry>, CliError> {
    Ok(vec![
        Entry::new(
            LogLevel::Info,
            action("file_drop")?,
            "filesystem_watcher",
            "Needs_Action/invoice-request.md",
        )
        .param("source", "Inbox/invoice-request.md"),
        Entry::new(
            LogLevel::Info,
            action("plan_created")?,
            "needs-action-processor",
            "Plans/invoice-request-Plan.md",
        )
        .param("source_file", "invoice-request.md")
        .approval(ApprovalStatus::Pending, ApprovedBy::NotApplicable),
        Entry::new(
            LogLevel::Info,
            action("approved")?,
            "human",
            "Approved/invoice-request-Plan.md",
        )
        .approval(ApprovalStatus::Approved, ApprovedBy::Human),
        Entry::new(
            LogLevel::Info,
            action("email_sent")?,
            "email-mcp",
            "client@example.com",
        )
        .param("subject", "Invoice #1042")
        .approval(ApprovalStatus::Approved, ApprovedBy::Human),
        Entry::new(LogLevel::Error, action("tool_call")?, "claude_code", "Bash")
            .param("command", "pdftotext invoice.pdf | grep total")
            .result(Outcome::Failure)
            .error("exit status 1"),
    ])
}

/// Runs the demo; returns the exit code.
pub fn run(config: &Config, args: &DemoArgs, io: &mut Io<'_>) -> Result<u8, CliError> {
    let out = &mut *io.stdout;
    let into = args.into.clone().unwrap_or_else(|| {
        let nonce: u32 = rand::random();
        std::env::temp_dir().join(format!("vault-audit-demo-{nonce:08x}"))
    });
    match &args.from {
        Some(from) => copy_tree(from, &into).map_err(|e| {
            CliError::unavailable(format!("copy {} to {}", from.display(), into.display()), e)
        })?,
        None => write_sample(&into).map_err(|e| {
            CliError::unavailable(format!("write the sample vault to {}", into.display()), e)
        })?,
    }
    let logger = config.logger_for(&into, false)?;
    let mut entries = story()?.into_iter();
    // The first entry alone, the rest as one batch: both paths, for real.
    let first = entries
        .next()
        .ok_or_else(|| CliError::usage("empty story"))?;
    let mut receipt = logger.log(first)?;
    let batch = logger.log_batch(entries.collect())?;
    logger.ensure_inbox()?;
    receipt.entries.extend(batch.entries);
    let day = batch
        .files
        .last()
        .ok_or_else(|| CliError::usage("nothing written"))?;
    let text = fs::read_to_string(&day.path)
        .map_err(|e| CliError::unavailable(format!("read {}", day.path.display()), e))?;
    let _ = writeln!(out, "Copied the sample vault to {}", into.display());
    let _ = writeln!(
        out,
        "Logged {} entries; {} now holds {} entries ({} bytes):\n",
        receipt.entries.len(),
        day.path.display(),
        day.total_entries,
        day.size_bytes
    );
    let _ = write!(out, "{text}");
    let dashboard = fs::read_to_string(logger.vault().dashboard()).unwrap_or_default();
    if let Some(start) = dashboard.find(crate::dashboard::HEADING) {
        let section = &dashboard[start..];
        let end = section[1..].find("\n## ").map_or(section.len(), |i| i + 1);
        let _ = writeln!(
            out,
            "\n{} now shows:\n",
            logger.vault().dashboard().display()
        );
        let _ = writeln!(out, "{}", section[..end].trim_end());
    }
    Ok(crate::cli::exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample vault shipped with the source, where the source tree is.
    const SAMPLE_VAULT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sample-vault");

    #[test]
    fn the_built_in_sample_vault_is_the_fixture_byte_for_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ours = dir.path().join("sample");
        write_sample(&ours).expect("write");
        let listing = |root: &Path| -> Vec<(String, Vec<u8>)> {
            WalkDir::new(root)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_name() != ".gitkeep" && e.depth() > 0)
                .map(|e| {
                    let rel = e.path().strip_prefix(root).expect("under root");
                    let bytes = if e.file_type().is_file() {
                        fs::read(e.path()).expect("read")
                    } else {
                        Vec::new()
                    };
                    (rel.to_string_lossy().replace('\\', "/"), bytes)
                })
                .collect()
        };
        assert_eq!(listing(&ours), listing(Path::new(SAMPLE_VAULT)));
    }
}
