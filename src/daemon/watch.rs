//! Vault activity, recorded without being asked: notes created in the
//! workflow folders and notes moved between them.
//!
//! The watcher compares snapshots of the vault (every file's path and
//! identity). File events only say *when* to look; what happened comes from
//! the comparison, so a dropped event delays an entry but never loses it, and
//! a rename seen as a delete plus a create is one move (the file keeps its
//! identity). An editor that saves by writing a temporary file and renaming it
//! over the note leaves the same path in both snapshots: not a move.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Component, Path};

use serde_json::json;

use crate::entry::{ActionType, ApprovalStatus, ApprovedBy, Entry, LogLevel};
use crate::fsutil::write_replace;
use crate::vault::Vault;

/// The workflow folders, by role (names can be configured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folders {
    /// Where new items land (`Inbox`).
    pub inbox: String,
    /// Items to act on (`Needs_Action`).
    pub needs_action: String,
    /// Plans (`Plans`).
    pub plans: String,
    /// Waiting for a human (`Pending_Approval`).
    pub pending_approval: String,
    /// Approved by the human (`Approved`).
    pub approved: String,
    /// Rejected by the human (`Rejected`).
    pub rejected: String,
}

impl Default for Folders {
    fn default() -> Self {
        Folders {
            inbox: "Inbox".into(),
            needs_action: "Needs_Action".into(),
            plans: "Plans".into(),
            pending_approval: "Pending_Approval".into(),
            approved: "Approved".into(),
            rejected: "Rejected".into(),
        }
    }
}

/// A file's identity across a rename: its inode where there is one, else its
/// size and modification time.
pub type Identity = (u64, u64);

/// Every watched file of the vault, by vault-relative path (`/`-separated).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot(BTreeMap<String, Identity>);

/// Paths the watcher never looks at: `Logs/`, dot-files and dot-folders
/// (`.obsidian/`, `.trash/`), `*.tmp`, and `Dashboard.md` (which we write).
pub fn ignored(rel: &str) -> bool {
    rel == "Logs"
        || rel.starts_with("Logs/")
        || rel == "Dashboard.md"
        || rel.ends_with(".tmp")
        || rel.split('/').any(|part| part.starts_with('.'))
}

fn identity(meta: &std::fs::Metadata) -> Identity {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let modified = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        (meta.len(), modified)
    }
}

impl Snapshot {
    /// Scans the vault.
    pub fn scan(root: &Path) -> io::Result<Snapshot> {
        let mut files = BTreeMap::new();
        let walk = walkdir::WalkDir::new(root)
            .min_depth(1)
            .into_iter()
            .filter_entry(|e| {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .map(slash_path)
                    .unwrap_or_default();
                !ignored(&rel)
            });
        for item in walk {
            let item = match item {
                Ok(item) => item,
                // A file that vanished while we walked is simply not there.
                Err(e)
                    if e.io_error()
                        .is_some_and(|e| e.kind() == io::ErrorKind::NotFound) =>
                {
                    continue
                }
                Err(e) => return Err(io::Error::other(e)),
            };
            if item.file_type().is_file() {
                if let (Ok(rel), Ok(meta)) = (item.path().strip_prefix(root), item.metadata()) {
                    files.insert(slash_path(rel), identity(&meta));
                }
            }
        }
        Ok(Snapshot(files))
    }

    /// Reads the snapshot saved by an earlier run.
    pub fn load(vault: &Vault) -> Option<Snapshot> {
        let bytes = crate::fsutil::read_no_follow(&vault.vault_snapshot()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Saves it for the next run (not synced: losing it only means changes
    /// made while the daemon was down go unrecorded).
    pub fn save(&self, vault: &Vault) -> io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(io::Error::other)?;
        write_replace(&vault.vault_snapshot(), &bytes, false)
    }
}

fn slash_path(rel: &Path) -> String {
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// What happened between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A file appeared.
    Created(String),
    /// A file moved (or was renamed).
    Moved {
        /// Where it was.
        from: String,
        /// Where it is.
        to: String,
    },
}

/// The creates and moves from `old` to `new` (deletions are not recorded).
///
/// `gone` carries files that vanished in earlier scans without turning up
/// elsewhere: a scan that ran while a file was being moved can miss it in
/// both folders, and the next scan still tells the move from a creation.
/// It is emptied once a scan finds nothing new and nothing gone.
pub fn diff(
    old: &Snapshot,
    new: &Snapshot,
    skip: &BTreeSet<String>,
    gone: &mut BTreeMap<Identity, String>,
) -> Vec<Change> {
    let mut vanished = false;
    for (p, id) in old.0.iter().filter(|(p, _)| !new.0.contains_key(*p)) {
        gone.insert(*id, p.clone());
        vanished = true;
    }
    let changes: Vec<Change> = new
        .0
        .iter()
        .filter(|(p, _)| !old.0.contains_key(*p) && !skip.contains(*p))
        .map(|(p, id)| match gone.remove(id) {
            Some(from) => Change::Moved {
                from,
                to: p.clone(),
            },
            None => Change::Created(p.clone()),
        })
        .collect();
    if changes.is_empty() && !vanished {
        gone.clear();
    }
    changes
}

fn folder(path: &str) -> &str {
    path.split('/').next().unwrap_or("")
}

fn action(name: &str) -> Option<ActionType> {
    ActionType::new(name).ok()
}

/// The entry for a change, by the folder it lands in; `None` for changes the
/// table does not record (a file created outside the workflow folders).
pub fn entry_for(change: &Change, folders: &Folders) -> Option<Entry> {
    let watcher = |kind: &str, target: &str| {
        Some(Entry::new(
            LogLevel::Info,
            action(kind)?,
            "vault_watcher",
            target,
        ))
    };
    match change {
        Change::Created(path) => {
            let f = folder(path);
            let e = if f == folders.inbox || f == folders.needs_action {
                watcher("file_drop", path)?
            } else if f == folders.plans {
                watcher("plan_created", path)?
            } else if f == folders.pending_approval {
                watcher("approval_requested", path)?
                    .approval(ApprovalStatus::Pending, ApprovedBy::NotApplicable)
            } else {
                return None;
            };
            Some(e.param("folder", f))
        }
        Change::Moved { from, to } => {
            let (src, dst) = (folder(from), folder(to));
            let e = if dst == folders.pending_approval && src != dst {
                watcher("approval_requested", to)?
                    .approval(ApprovalStatus::Pending, ApprovedBy::NotApplicable)
            } else if dst == folders.approved && src != dst {
                watcher("approved", to)?.approval(ApprovalStatus::Approved, ApprovedBy::Human)
            } else if dst == folders.rejected && src != dst {
                watcher("rejected", to)?.approval(ApprovalStatus::Rejected, ApprovedBy::Human)
            } else {
                watcher("file_moved", to)?
            };
            Some(e.param("from", json!(from)).param("to", json!(to)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_and_moves_are_told_apart_by_identity() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for d in ["Inbox", "Pending_Approval", "Approved", "Logs", ".obsidian"] {
            std::fs::create_dir(root.join(d)).expect("mkdir");
        }
        std::fs::write(root.join("Pending_Approval/plan.md"), "x").expect("write");
        let before = Snapshot::scan(root).expect("scan");
        std::fs::rename(
            root.join("Pending_Approval/plan.md"),
            root.join("Approved/plan.md"),
        )
        .expect("mv");
        std::fs::write(root.join("Inbox/new.md"), "y").expect("write");
        std::fs::write(root.join("Logs/2026-11-22.json"), "{}").expect("write");
        std::fs::write(root.join(".obsidian/workspace.json"), "{}").expect("write");
        std::fs::write(root.join("Inbox/draft.tmp"), "z").expect("write");
        // An editor's save: write a temporary file, rename it over the note.
        std::fs::write(root.join("Inbox/.new.md.swp"), "y2").expect("write");
        std::fs::rename(root.join("Inbox/.new.md.swp"), root.join("Inbox/new.md")).expect("save");
        let after = Snapshot::scan(root).expect("scan");
        let changes = diff(&before, &after, &BTreeSet::new(), &mut BTreeMap::new());
        assert_eq!(
            changes,
            vec![
                Change::Moved {
                    from: "Pending_Approval/plan.md".into(),
                    to: "Approved/plan.md".into()
                },
                Change::Created("Inbox/new.md".into()),
            ]
        );
        let approved = entry_for(&changes[0], &Folders::default()).expect("entry");
        assert_eq!(approved.action_type.as_str(), "approved");
        assert_eq!(
            (approved.approval_status, approved.approved_by),
            (ApprovalStatus::Approved, ApprovedBy::Human)
        );
        assert_eq!(approved.target, "Approved/plan.md");
        // A scan torn by a move (the file in neither folder) still sees the move.
        let mut gone = BTreeMap::new();
        let mut torn = after.clone();
        torn.0.remove("Approved/plan.md");
        assert_eq!(diff(&after, &torn, &BTreeSet::new(), &mut gone), vec![]);
        std::fs::create_dir(root.join("Done")).expect("mkdir");
        std::fs::rename(root.join("Approved/plan.md"), root.join("Done/plan.md")).expect("mv");
        let later = Snapshot::scan(root).expect("scan");
        assert_eq!(
            diff(&torn, &later, &BTreeSet::new(), &mut gone),
            vec![Change::Moved {
                from: "Approved/plan.md".into(),
                to: "Done/plan.md".into()
            }]
        );
        std::fs::rename(root.join("Done/plan.md"), root.join("Approved/plan.md")).expect("mv");
        // The editor's save is not a new change.
        let again = Snapshot::scan(root).expect("scan");
        assert!(diff(&after, &again, &BTreeSet::new(), &mut BTreeMap::new()).is_empty());
    }
}
