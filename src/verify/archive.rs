//! `verify --archive`: the cold archive (`Logs/archive/`) checked like the
//! day files it holds: every member whole, every archived day's entries
//! folding to its recorded chain end, that end the one retention recorded
//! in the anchors, and each day's start where the day before it stood.

use std::collections::BTreeMap;
use std::io;

use chrono::NaiveDate;

use super::{Kind, Problem, Report};
use crate::archive::{self, ArchivedDay};
use crate::chain::{self, Anchors, ChainKey};
use crate::vault::Vault;

/// Adds what the cold archive of `vault` holds, and what in it does not
/// hold, to `report` (its `ok` is set again).
pub fn check_archive(vault: &Vault, key: &ChainKey, report: &mut Report) -> io::Result<()> {
    let anchors = chain::load_anchors(&vault.logs());
    let mut seen: BTreeMap<NaiveDate, ArchivedDay> = BTreeMap::new();
    for (_, path) in vault.archive_months()? {
        let file = vault.relative(&path).into_owned();
        let problem = |kind: Kind, text: String| Problem {
            file: file.clone(),
            kind,
            entry: None,
            timestamp: None,
            problem: text,
        };
        let read = archive::read(&path)?;
        for (from, to) in read.torn {
            report.problems.push(problem(
                Kind::TornTail,
                format!("bytes {from} to {to} are no whole gzip member (cut short, or damaged): not entries; kept for a person to look at"),
            ));
        }
        for (at, why) in read.unreadable {
            report.problems.push(problem(
                Kind::Unparseable,
                format!("the member at offset {at} does not parse: {why}"),
            ));
        }
        for day in read.days {
            report.archived_days += 1;
            report.archived_entries += day.lines.len() as u64;
            let found = check_day(&day, key, &anchors, &seen);
            report
                .problems
                .extend(found.into_iter().map(|(kind, text)| problem(kind, text)));
            if seen.insert(day.day, day).is_some() {
                report.notes.push(format!(
                    "{file}: a day is archived more than once (its day file was written again after it was archived)"
                ));
            }
        }
    }
    report.ok = report.problems.is_empty();
    Ok(())
}

/// What does not hold of one archived day.
fn check_day(
    day: &ArchivedDay,
    key: &ChainKey,
    anchors: &Anchors,
    seen: &BTreeMap<NaiveDate, ArchivedDay>,
) -> Vec<(Kind, String)> {
    let mut found = Vec::new();
    if let Some(why) = archive::check_chain(day, key) {
        found.push((Kind::ChainMismatch, why));
    }
    let name = day.day.format("%Y-%m-%d").to_string();
    if let (Some(end), Some(anchor)) = (&day.end, anchors.get(&name)) {
        if anchor.chain_end != chain::to_hex(end) || anchor.total_entries != day.lines.len() as u64
        {
            found.push((
                Kind::ChainMismatch,
                format!("{name}: its chain_end or entry count differs from what retention recorded in Logs/.audit/anchors.json when it archived the day"),
            ));
        }
    }
    let Some(start) = day.start else {
        return found;
    };
    let Some(before) = start.after else {
        return found;
    };
    let was = match seen.get(&before) {
        Some(prev) => archive::value_at(prev, key, start.at),
        None => anchors
            .get(&before.format("%Y-%m-%d").to_string())
            .and_then(|a| a.at.get(&start.at))
            .and_then(|hex| chain::from_hex(hex)),
    };
    if was.is_some_and(|v| v != start.value) {
        found.push((
            Kind::ChainLink,
            format!(
                "{name}: its chain does not start where {before} stood after {} entries",
                start.at
            ),
        ));
    }
    found
}
