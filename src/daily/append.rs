//! The one append path: open (repairing if needed), plan, write, sync.
//! The logger and the inbox both append through [`append`].

use std::fs::File;
use std::io;
use std::path::Path;

use chrono::NaiveDate;

use super::{
    header, inspect, read_head, recover, render_lines, render_trailer, DayFileState, DayState,
    Head, Inspection, Recovery, Trailer,
};
use crate::chain::{self, head, ChainKey, ChainValue, Start};
use crate::entry::LogLevel;
use crate::fsutil::{at, open_no_follow, open_read, sync_dir, write_at, IoFailure};
use crate::vault::Vault;

/// What [`append`] did: the file as it stands, and a repair made first.
#[derive(Debug)]
pub struct Appended {
    /// The day file after the append.
    pub state: DayFileState,
    /// A damaged or foreign file repaired before the append.
    pub recovery: Option<Recovery>,
    /// The head record could not be updated (the entries are written all
    /// the same; the next append records them).
    pub head_failure: Option<IoFailure>,
}

/// Appends `lines` to the day file of `date` and syncs it (and `Logs/` for a
/// new file). The caller holds the writers' lock. `before_write` sees the
/// planned write before any byte of it lands (the inbox records its journal
/// intent there); an error from it stops the append with nothing written.
pub fn append(
    vault: &Vault,
    key: &ChainKey,
    date: NaiveDate,
    lines: &[Line],
    now_unix: i64,
    before_write: &mut dyn FnMut(&PlannedAppend) -> Result<(), IoFailure>,
) -> Result<Appended, IoFailure> {
    let path = vault.day_file(date);
    let (mut file, ready, recovery) =
        at("open", &path, open_for_append(&path, date, now_unix, key))?;
    let plan = at("write", &path, plan_append(date, &ready, lines, key))?;
    if let Err(failure) = before_write(&plan) {
        // Nothing written yet; a file this append created goes again.
        return Err(take_back(file, &path, &plan, failure));
    }
    let after = match write_and_sync(&mut file, &path, &plan) {
        Ok(after) => after,
        Err(failure) => return Err(take_back(file, &path, &plan, failure)),
    };
    if plan.offset == 0 {
        let logs = vault.logs();
        if let Err(failure) = at("sync", &logs, sync_dir(&logs)) {
            // The new file's name may not survive a crash: take it back so
            // that the entries are reported unwritten, exactly.
            return Err(take_back(file, &path, &plan, failure));
        }
    }
    let recorded = head::State {
        day: date,
        start: after.head.start,
        entries: after.trailer.total_entries,
        chain: after.trailer.chain,
    };
    let before = (plan.before.total_entries, plan.before.chain);
    let head_failure = at(
        "record the head in",
        &vault.head_record(),
        head::advance(vault, key, before, &recorded),
    )
    .err();
    // Best effort: a lost mark only delays the views (the upkeep looks at
    // today's file on every run, and rebuilds them daily).
    let _ = mark_due(vault, date, plan.before.total_entries);
    let state = DayFileState {
        date,
        path,
        total_entries: after.trailer.total_entries,
        size_bytes: after.len,
        summary: after.trailer.summary,
    };
    Ok(Appended {
        state,
        recovery,
        head_failure,
    })
}

/// Tells the upkeep that `date`'s file grew from `before` entries: one line
/// appended to [`Vault::upkeep_due`], not synced (the views are derived).
fn mark_due(vault: &Vault, date: NaiveDate, before: u64) -> std::io::Result<()> {
    use std::io::Write;
    let mark = format!("{} {before}\n", date.format("%Y-%m-%d"));
    crate::fsutil::open_no_follow(
        &vault.upkeep_due(),
        std::fs::OpenOptions::new().append(true).create(true),
    )?
    .write_all(mark.as_bytes())
}

/// One entry ready to store: its compact JSON line and its level.
#[derive(Debug, Clone)]
pub struct Line {
    /// The compact JSON, no newline.
    pub json: String,
    /// Its level, for the summary.
    pub level: LogLevel,
}

/// A day file ready for an append: a new one (with the start of its
/// chain), or one of ours with a valid trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// No bytes yet: the append writes the header too.
    New(Start),
    /// Our layout, intact.
    Ours(DayState),
}

/// Where a new day file's chain starts: the latest earlier day file at its
/// present count and chain value, or genesis when there is no such chained file.
pub fn chain_start(logs: &Path, date: NaiveDate, key: &ChainKey) -> io::Result<Start> {
    let genesis = Start::genesis(key.alg());
    let Some(prev) = crate::vault::day_files_in(logs)?
        .into_iter()
        .filter(|d| *d < date)
        .max()
    else {
        return Ok(genesis);
    };
    let mut file = open_read(&logs.join(crate::vault::day_file_name(prev)))?;
    Ok(match inspect(&mut file, prev)? {
        Inspection::Ours(DayState {
            trailer:
                Trailer {
                    total_entries,
                    chain: Some(value),
                    ..
                },
            ..
        }) => Start {
            alg: key.alg(),
            after: Some(prev),
            at: total_entries,
            value,
        },
        _ => genesis,
    })
}

/// For each day that later days' chains start from, the entry counts they
/// start at (read from the headers of the day files in `logs`).
pub fn chain_references(
    logs: &Path,
) -> io::Result<std::collections::BTreeMap<NaiveDate, std::collections::BTreeSet<u64>>> {
    let mut wanted: std::collections::BTreeMap<NaiveDate, std::collections::BTreeSet<u64>> =
        Default::default();
    for date in crate::vault::day_files_in(logs)? {
        let Ok(mut file) = open_read(&logs.join(crate::vault::day_file_name(date))) else {
            continue;
        };
        if let Some(Head {
            start:
                Some(Start {
                    after: Some(prev),
                    at,
                    ..
                }),
            ..
        }) = read_head(&mut file, date)?
        {
            wanted.entry(prev).or_default().insert(at);
        }
    }
    Ok(wanted)
}

/// Opens (or creates) the day file at `path` and makes it ready for an
/// append, recovering it first if it needs that.
pub fn open_for_append(
    path: &Path,
    date: NaiveDate,
    now_unix: i64,
    key: &ChainKey,
) -> io::Result<(File, Ready, Option<Recovery>)> {
    let logs = path.parent().unwrap_or(Path::new("."));
    // A new file's chain start is worked out before the file is created, so
    // that readers see an empty day file for as short a time as can be.
    let mut start = None;
    let mut file = match open_no_follow(path, std::fs::OpenOptions::new().read(true).write(true)) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            start = Some(chain_start(logs, date, key)?);
            open_day(path)?
        }
        Err(e) => return Err(e),
    };
    let mut found = inspect(&mut file, date)?;
    let mut recovery = None;
    if found == Inspection::NeedsRecovery {
        drop(file);
        recovery = Some(recover(path, date, now_unix, key)?);
        file = open_day(path)?;
        found = inspect(&mut file, date)?;
    }
    let ready = match found {
        Inspection::Ours(state) => Ready::Ours(state),
        Inspection::Empty => Ready::New(match start {
            Some(start) => start,
            None => chain_start(logs, date, key)?,
        }),
        Inspection::NeedsRecovery => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "still damaged after recovery",
            ))
        }
    };
    Ok((file, ready, recovery))
}

/// An append worked out but not yet written: the bytes go at `offset`.
#[derive(Debug, Clone)]
pub struct PlannedAppend {
    /// Where the bytes go (the old trailer's start, or 0 for a new file).
    pub offset: u64,
    /// The file's length before.
    pub old_len: u64,
    /// The counts before.
    pub before: Trailer,
    /// Header (new file only), entry lines, new trailer.
    pub bytes: String,
    /// How many of `bytes` come before the new trailer.
    pub entries_len: usize,
    /// The chain value after each new entry (empty in an unchained file).
    pub values: Vec<ChainValue>,
    /// The file as it will stand.
    pub after: DayState,
}

/// Works out the one positioned write that appends `lines`, extending the
/// file's chain with `key`.
pub fn plan_append(
    date: NaiveDate,
    ready: &Ready,
    lines: &[Line],
    key: &ChainKey,
) -> io::Result<PlannedAppend> {
    let (offset, old_len, before, head, mut bytes) = match ready {
        Ready::Ours(state) => (
            state.trailer_offset,
            state.len,
            state.trailer,
            state.head,
            String::new(),
        ),
        Ready::New(start) => {
            let text = header(date, Some(start));
            let head = Head {
                len: text.len() as u64,
                start: Some(*start),
            };
            let before = Trailer {
                chain: Some(start.value),
                ..Trailer::default()
            };
            (0, 0, before, head, text)
        }
    };
    let values = match (&head.start, before.chain) {
        (Some(start), Some(prev)) => key
            .folder(start.alg)?
            .fold_all(prev, lines.iter().map(|l| l.json.as_bytes())),
        _ => Vec::new(),
    };
    bytes.push_str(&render_lines(
        lines.iter().map(|l| l.json.as_str()),
        before.total_entries > 0,
    ));
    let mut trailer = before;
    for line in lines {
        trailer.total_entries += 1;
        trailer.summary.add(line.level);
    }
    trailer.chain = values.last().copied().or(before.chain);
    let entries_len = bytes.len();
    bytes.push_str(&render_trailer(&trailer));
    let len = offset + bytes.len() as u64;
    Ok(PlannedAppend {
        offset,
        old_len,
        before,
        after: DayState {
            head,
            len,
            trailer_offset: offset + entries_len as u64,
            trailer,
        },
        bytes,
        entries_len,
        values,
    })
}

/// Writes a planned append to the day file at `path` (the caller syncs),
/// recording its chain values first.
pub fn write_planned(file: &mut File, path: &Path, plan: &PlannedAppend) -> io::Result<DayState> {
    chain::record(path, plan.before.total_entries, &plan.values);
    write_at(file, plan.bytes.as_bytes(), plan.offset)?;
    if plan.after.len < plan.old_len {
        file.set_len(plan.after.len)?;
    }
    Ok(plan.after)
}

/// Puts a day file back as it stood before an append at `offset`: cut there
/// and the old trailer written again (or emptied, for a file the append
/// created). The caller syncs.
pub fn restore(file: &mut File, offset: u64, before: &Trailer) -> io::Result<()> {
    if offset == 0 {
        return file.set_len(0);
    }
    let tail = render_trailer(before);
    write_at(file, tail.as_bytes(), offset)?;
    file.set_len(offset + tail.len() as u64)
}

/// Writes a planned append and syncs the file.
fn write_and_sync(
    file: &mut File,
    path: &Path,
    plan: &PlannedAppend,
) -> Result<DayState, IoFailure> {
    let after = at("write", path, write_planned(file, path, plan))?;
    at("sync", path, file.sync_data())?;
    Ok(after)
}

/// After a failed write or sync (a full disk, an I/O error): puts the day
/// file back exactly as it stood before the batch, so that none of the
/// batch is in it and the file is valid. The old trailer is written over
/// bytes the file already had (no new space needed); if even that fails, the
/// file is cut at the end of its last entry, which the next writer's tail
/// repair closes with nothing lost. A file this append created is removed.
fn take_back(mut file: File, path: &Path, plan: &PlannedAppend, failure: IoFailure) -> IoFailure {
    chain::cut(path, plan.before.total_entries);
    if plan.offset == 0 {
        drop(file);
        let _ = std::fs::remove_file(path);
        return failure;
    }
    let restored = restore(&mut file, plan.offset, &plan.before).and_then(|()| file.sync_data());
    if restored.is_ok() {
        return failure;
    }
    match file.set_len(plan.offset).and_then(|()| file.sync_data()) {
        Ok(()) => failure,
        Err(_) => IoFailure {
            op: "write (and could not take the partial batch back out of)",
            ..failure
        },
    }
}

/// Opens (or creates) a day file for reading and appending.
pub fn open_day(path: &Path) -> io::Result<File> {
    open_no_follow(
        path,
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
}
