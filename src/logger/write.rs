//! Appending lines to day files, with the lock already held.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::chain::ChainKey;
use crate::daily::DayFileState;
use crate::daily::{self, Line, Recovery};
use crate::entry::Entry;
use crate::fsutil::sync_dir;
use crate::vault::Vault;

/// An I/O failure with what was being done and where.
pub(crate) struct IoFailure {
    pub op: &'static str,
    pub path: PathBuf,
    pub source: io::Error,
}

pub(crate) fn at<T>(op: &'static str, path: &Path, r: io::Result<T>) -> Result<T, IoFailure> {
    r.map_err(|source| IoFailure {
        op,
        path: path.to_owned(),
        source,
    })
}

/// Entries grouped by their day, each as its stored line, in input order.
pub(crate) fn by_day(
    entries: &[Entry],
    lines: &[String],
    fallback: NaiveDate,
) -> BTreeMap<NaiveDate, Vec<Line>> {
    let mut days: BTreeMap<NaiveDate, Vec<Line>> = BTreeMap::new();
    for (e, json) in entries.iter().zip(lines) {
        days.entry(e.date().unwrap_or(fallback))
            .or_default()
            .push(Line {
                json: json.clone(),
                level: e.log_level,
            });
    }
    days
}

/// What a multi-day write got done before it failed.
pub(crate) struct PartialWrite {
    pub failure: IoFailure,
    pub failed_date: NaiveDate,
    pub written: Vec<DayFileState>,
}

/// Appends each day's lines to its file and syncs it, oldest day first.
pub(crate) fn write_days(
    vault: &Vault,
    key: &ChainKey,
    days: &BTreeMap<NaiveDate, Vec<Line>>,
    now_unix: i64,
    recoveries: &mut Vec<Recovery>,
) -> Result<Vec<DayFileState>, PartialWrite> {
    let mut written = Vec::with_capacity(days.len());
    // A batch left unfinished by a writer that died is settled first.
    let logs = vault.logs();
    let resolved = crate::journal::resolve(vault).map_err(|source| PartialWrite {
        failure: IoFailure {
            op: "settle an unfinished batch in",
            path: logs,
            source,
        },
        failed_date: days.keys().next().copied().unwrap_or_default(),
        written: Vec::new(),
    })?;
    if let crate::journal::Resolution::RolledBack(path) = resolved {
        recoveries.push(Recovery::RolledBack { path });
    }
    for (date, lines) in days {
        match write_day(vault, key, *date, lines, now_unix, recoveries) {
            Ok(state) => written.push(state),
            Err(failure) => {
                return Err(PartialWrite {
                    failure,
                    failed_date: *date,
                    written,
                })
            }
        }
    }
    Ok(written)
}

/// Appends one day's lines and syncs; repairs the file first if needed.
fn write_day(
    vault: &Vault,
    key: &ChainKey,
    date: NaiveDate,
    lines: &[Line],
    now_unix: i64,
    recoveries: &mut Vec<Recovery>,
) -> Result<DayFileState, IoFailure> {
    let path = vault.day_file(date);
    let (mut file, ready, recovery) = at(
        "open",
        &path,
        daily::open_for_append(&path, date, now_unix, key),
    )?;
    recoveries.extend(recovery);
    let plan = at("write", &path, daily::plan_append(date, &ready, lines, key))?;
    let state = at(
        "write",
        &path,
        daily::write_planned(&mut file, &path, &plan),
    )?;
    at("sync", &path, file.sync_data())?;
    if plan.offset == 0 {
        let logs = vault.logs();
        at("sync", &logs, sync_dir(&logs))?;
    }
    Ok(DayFileState {
        date,
        path,
        total_entries: state.trailer.total_entries,
        size_bytes: state.len,
        summary: state.trailer.summary,
    })
}
