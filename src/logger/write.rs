//! Appending lines to day files, with the lock already held.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::chain::ChainKey;
use crate::daily::{self, DayFileState, Line, Recovery};
use crate::entry::Entry;
use crate::fsutil::IoFailure;
use crate::vault::Vault;

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
    head_failures: &mut Vec<String>,
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
        match daily::append(vault, key, *date, lines, now_unix, &mut |_| Ok(())) {
            Ok(done) => {
                recoveries.extend(done.recovery);
                head_failures.extend(done.head_failure.map(|f| f.to_string()));
                written.push(done.state);
            }
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
