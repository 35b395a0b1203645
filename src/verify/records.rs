//! What each day must still hold: the states vault-audit recorded writing
//! (the head record and the ledger), the states signed (checked with the
//! public key), and the chain heads kept off the machine. Each must be a
//! prefix of the day's chain as it is now.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use chrono::NaiveDate;

use super::{Day, Kind, Problem, Report};
use crate::chain::head::{self, Head, HeadTrouble, Record, State};
use crate::chain::sign::{PublicKey, SignedHead};
use crate::chain::{self, ChainKey, ChainValue};
use crate::vault::{day_file_name, Vault};

/// Where an expected state comes from: each family reports a day once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    /// The head record and the ledger.
    Local,
    /// A signature.
    Signed,
    /// The central store.
    Central,
}

/// Every state each day must hold, and what the signatures say.
#[derive(Debug, Default)]
pub(super) struct Expected {
    days: BTreeMap<NaiveDate, Vec<(Family, Record)>>,
    purged: BTreeMap<NaiveDate, State>,
    notes: BTreeMap<NaiveDate, Vec<String>>,
    /// With a public key: the signed head's day and the days signed.
    signed: Option<(Option<NaiveDate>, BTreeSet<NaiveDate>)>,
    /// There is no head record and no ledger line says there should be.
    head_missing: bool,
}

fn problem(file: &str, kind: Kind, text: String) -> Problem {
    Problem {
        file: file.to_owned(),
        kind,
        entry: None,
        timestamp: None,
        problem: text,
    }
}

/// A problem from a `Logs/...: text` message.
fn split_problem(kind: Kind, message: &str) -> Problem {
    match message.split_once(": ") {
        Some((file, text)) => problem(file, kind, text.to_owned()),
        None => problem("Logs/.audit", kind, message.to_owned()),
    }
}

impl Expected {
    /// Reads the records, and with `public_key` the signatures, and the
    /// `central` heads; what is wrong with them goes to `report`.
    pub(super) fn gather(
        vault: &Vault,
        key: &ChainKey,
        public_key: Option<&PublicKey>,
        central: &[String],
        report: &mut Report,
    ) -> io::Result<Expected> {
        let records = head::records(vault, key)?;
        let mut out = Expected {
            purged: records.purged.clone(),
            notes: records.notes.clone(),
            head_missing: !records.any && matches!(records.head, Some(Err(HeadTrouble::Missing))),
            ..Expected::default()
        };
        for message in &records.problems {
            report.problems.push(split_problem(Kind::Record, message));
        }
        for (day, list) in &records.days {
            for r in list {
                out.push(*day, Family::Local, r.clone());
            }
        }
        if let Some(pk) = public_key {
            out.gather_signed(vault, pk, report)?;
        }
        let local_seq = match &records.head {
            Some(Ok(h)) => Some(h.seq),
            _ => None,
        };
        out.gather_central(key, central, local_seq, report);
        Ok(out)
    }

    fn push(&mut self, day: NaiveDate, family: Family, record: Record) {
        self.days.entry(day).or_default().push((family, record));
    }

    /// The entry counts whose chain values are needed for `day`.
    pub(super) fn counts(&self, day: NaiveDate) -> BTreeSet<u64> {
        self.days
            .get(&day)
            .into_iter()
            .flatten()
            .map(|(_, r)| r.state.entries)
            .collect()
    }

    /// Whether anything is expected of `day`.
    pub(super) fn has(&self, day: NaiveDate) -> bool {
        self.days.contains_key(&day) || self.notes.contains_key(&day)
    }

    fn gather_signed(
        &mut self,
        vault: &Vault,
        pk: &PublicKey,
        report: &mut Report,
    ) -> io::Result<()> {
        let signed_days = vault.signed_days()?;
        let mut signed = BTreeSet::new();
        for day in &signed_days {
            let path = vault.day_signature(*day);
            let name = vault.relative(&path).into_owned();
            let text = crate::fsutil::read_no_follow(&path)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            match pk.check_line(&text).map(State::from_signed_text) {
                Ok(Some((state, _))) if state.day == *day => {
                    signed.insert(*day);
                    let source = format!("{name} (signed)");
                    self.push(*day, Family::Signed, Record { state, source });
                }
                Ok(_) => report.problems.push(problem(&name, Kind::Signature, "signed, but not a day's signed state: it was made for another day or another file".into())),
                Err(e) => report.problems.push(problem(&name, Kind::Signature, e.to_string())),
            }
        }
        let head_day = self.signed_head(vault, pk, &signed_days, report);
        self.signed = Some((head_day, signed));
        Ok(())
    }

    /// Checks `Logs/.audit/head.sig`; returns the day of the head it signed.
    fn signed_head(
        &mut self,
        vault: &Vault,
        pk: &PublicKey,
        signed_days: &[NaiveDate],
        report: &mut Report,
    ) -> Option<NaiveDate> {
        let path = vault.head_signature();
        let name = vault.relative(&path).into_owned();
        let Ok(bytes) = crate::fsutil::read_no_follow(&path) else {
            let text = if signed_days.is_empty() {
                "missing, and no day is signed: there is nothing to check with the public key (`vault-audit seal` signs, with AUDIT_SIGNING_KEY set)"
            } else {
                "missing, though days are signed: it was removed"
            };
            report
                .problems
                .push(problem(&name, Kind::Signature, text.into()));
            return None;
        };
        let text = String::from_utf8_lossy(&bytes);
        let signed = match pk.check_line(&text) {
            Ok(t) => SignedHead::parse(t),
            Err(e) => {
                report
                    .problems
                    .push(problem(&name, Kind::Signature, e.to_string()));
                return None;
            }
        };
        let Some(signed) = signed else {
            report.problems.push(problem(
                &name,
                Kind::Signature,
                "signed, but not a signed head record".into(),
            ));
            return None;
        };
        for (day, entries) in &signed.days {
            if !signed_days.contains(day) {
                report.problems.push(problem(
                    &vault.relative(&vault.day_signature(*day)),
                    Kind::Signature,
                    format!("missing, though the signed head ({name}) lists it with {entries} entries: the signature was removed"),
                ));
            }
        }
        let source = format!("{name} (signed, seq {})", signed.head.seq);
        let state = signed.head.state;
        self.push(state.day, Family::Signed, Record { state, source });
        Some(state.day)
    }

    fn gather_central(
        &mut self,
        key: &ChainKey,
        central: &[String],
        local_seq: Option<u64>,
        report: &mut Report,
    ) {
        let mut latest: BTreeMap<NaiveDate, Head> = BTreeMap::new();
        let mut top = None::<u64>;
        for line in central {
            let Some(h) = Head::parse(line) else {
                continue;
            };
            if head::mac_holds(key, &chain::GENESIS, &h.line) == Some(false) {
                report.problems.push(problem("the central store", Kind::Rollback, format!("head seq {}: its MAC does not hold: it was not written by vault-audit with this key", h.seq)));
                continue;
            }
            top = top.max(Some(h.seq));
            if latest.get(&h.state.day).is_none_or(|o| o.seq < h.seq) {
                latest.insert(h.state.day, h);
            }
        }
        if let Some(top) = top {
            if local_seq.is_none_or(|l| l < top) {
                let local = local_seq.map_or("missing".into(), |l| format!("at seq {l}"));
                report.problems.push(problem("Logs/.audit/head", Kind::Rollback, format!("{local}, but the central store holds seq {top}: the vault, or its head record, was rolled back")));
            }
        }
        for (day, h) in latest {
            let source = format!("the central store (seq {})", h.seq);
            self.push(
                day,
                Family::Central,
                Record {
                    state: h.state,
                    source,
                },
            );
        }
    }

    /// Checks a day file against every state expected of it.
    pub(super) fn check_day(
        &self,
        day: &mut Day,
        name: &str,
        date: NaiveDate,
        key: &ChainKey,
        path: &std::path::Path,
    ) {
        for note in self.notes.get(&date).into_iter().flatten() {
            day.problem(name, Kind::Changed, None, note.clone());
        }
        let Some(list) = self.days.get(&date) else {
            return;
        };
        if day.foreign_lines.is_some() && list.iter().any(|(_, r)| r.state.start.is_some()) {
            day.problem(name, Kind::Rewritten, None, "the file was rewritten by another program: vault-audit wrote it chained, in its own layout (`vault-audit repair` converts it back, chaining only the entries that match what was recorded)".into());
        }
        let values = day
            .foreign_lines
            .as_ref()
            .map(|lines| foreign_values(lines, list, key, path));
        let mut reported: BTreeSet<(Family, bool)> = BTreeSet::new();
        // An entry the chain itself shows changed is not reported again.
        let located = day.problems.iter().any(|p| p.kind == Kind::ChainMismatch);
        let mut sorted: Vec<&(Family, Record)> = list.iter().collect();
        sorted.sort_by_key(|(f, r)| (*f, std::cmp::Reverse(r.state.entries)));
        for (family, record) in sorted {
            let found = match &values {
                Some((count, at, changed)) => check_record(*count, at, changed, record),
                None => check_record(day.entries, &day.pure_at, &day.changed, record),
            };
            if let Some((kind, entry, text)) = found {
                if kind == Kind::Changed && located {
                    continue;
                }
                if reported.insert((*family, kind == Kind::Missing)) {
                    day.problem(name, kind, entry, text);
                }
            }
        }
    }

    /// Chained day files with no head record at all: it was removed (with
    /// the ledger, or before the ledger had a line).
    pub(super) fn check_head_kept(&self, chained: u64, report: &mut Report) {
        if self.head_missing && chained > 0 {
            report.problems.push(problem("Logs/.audit/head", Kind::Record, "missing, though chained day files exist: it was removed, so the last entries written are not accounted for (a vault last written before vault-audit kept a head record gets one at its next write)".into()));
        }
    }

    /// Days expected to exist that have no file.
    pub(super) fn check_missing(&self, dates: &[NaiveDate], report: &mut Report) {
        let oldest = dates.first().copied();
        for (day, list) in &self.days {
            if dates.contains(day) {
                continue;
            }
            // Retention deletes the oldest days: a purge is taken only for a
            // day older than every day that remains.
            if self.purged.contains_key(day) && oldest.is_none_or(|o| *day < o) {
                continue;
            }
            let Some((_, most)) = list
                .iter()
                .max_by_key(|(_, r)| r.state.entries)
                .filter(|(_, r)| r.state.entries > 0)
            else {
                continue;
            };
            let name = format!("Logs/{}", day_file_name(*day));
            report.problems.push(problem(
                &name,
                Kind::Missing,
                format!(
                    "{}: the file was deleted ({} records it)",
                    missing(most.state.entries),
                    most.source
                ),
            ));
        }
        for (day, notes) in &self.notes {
            if !dates.contains(day) {
                let name = format!("Logs/{}", day_file_name(*day));
                for note in notes {
                    report
                        .problems
                        .push(problem(&name, Kind::Changed, note.clone()));
                }
            }
        }
    }

    /// With a public key: the chained days no signature covers, and the
    /// entries written after the last one.
    pub(super) fn check_unsigned(&self, days: &[(NaiveDate, u64, bool)], report: &mut Report) {
        let Some((head_day, signed)) = &self.signed else {
            return;
        };
        for &(day, entries, chained) in days {
            let name = format!("Logs/{}", day_file_name(day));
            let signed_entries = self
                .days
                .get(&day)
                .into_iter()
                .flatten()
                .filter(|(f, _)| *f == Family::Signed)
                .map(|(_, r)| r.state.entries)
                .max();
            match signed_entries {
                Some(n) if n < entries => report.notes.push(format!(
                    "{name}: {} written after its last signature (`vault-audit seal` signs them)",
                    match entries - n {
                        1 => "1 entry".to_owned(),
                        k => format!("{k} entries"),
                    }
                )),
                Some(_) => {}
                None if !chained => {}
                None if head_day.is_none_or(|h| day > h) && !signed.contains(&day) => {
                    report.notes.push(format!(
                        "{name}: written after the last signature ({entries} entries; `vault-audit seal` signs them)"
                    ))
                }
                None => report.problems.push(problem(&name, Kind::Signature, "has no signature, though later days are signed: it was removed (or the day was written before the signing key was set)".into())),
            }
        }
    }
}

/// An entry's position (from 1) and timestamp.
type At = (u64, Option<String>);

/// "N entries recorded by vault-audit are missing".
fn missing(n: u64) -> String {
    match n {
        1 => "1 entry recorded by vault-audit is missing".into(),
        n => format!("{n} entries recorded by vault-audit are missing"),
    }
}

/// The count, the values at the recorded counts and the first entry that
/// differs from the per-entry record, for a file not in our chained layout.
fn foreign_values(
    lines: &[String],
    list: &[(Family, Record)],
    key: &ChainKey,
    path: &std::path::Path,
) -> (u64, BTreeMap<u64, ChainValue>, Option<At>) {
    let mut at = BTreeMap::new();
    let mut changed = None;
    let recorded = chain::recorded(path);
    for (_, r) in list {
        let Some(start) = r.state.start else { continue };
        let Ok(folder) = key.folder(start.alg) else {
            continue;
        };
        let values = folder.fold_all(start.value, lines.iter().map(String::as_bytes));
        if let Some(v) = values
            .get(r.state.entries as usize - 1)
            .filter(|_| r.state.entries > 0)
        {
            at.insert(r.state.entries, *v);
        }
        if changed.is_none() {
            changed = values
                .iter()
                .zip(&recorded)
                .position(|(v, r)| r.is_some_and(|r| r != *v))
                .map(|i| (i as u64 + 1, None));
        }
    }
    (lines.len() as u64, at, changed)
}

/// What is wrong when a day with `count` entries (chain values `at` the
/// recorded counts) is checked against `record`.
fn check_record(
    count: u64,
    at: &BTreeMap<u64, ChainValue>,
    changed: &Option<(u64, Option<String>)>,
    record: &Record,
) -> Option<(Kind, Option<At>, String)> {
    let n = record.state.entries;
    if count < n {
        return Some((
            Kind::Missing,
            None,
            format!(
                "{} ({} records {n}; the file holds {count})",
                missing(n - count),
                record.source
            ),
        ));
    }
    let want = record.state.chain?;
    let have = at.get(&n)?;
    if *have == want {
        return None;
    }
    let why = format!(
        "the first {n} entries no longer hash to the value {} records after them",
        record.source
    );
    Some(match changed {
        Some((k, ts)) if *k <= n => (
            Kind::Changed,
            Some((*k, ts.clone())),
            format!("changed since it was written: {why}"),
        ),
        _ => (
            Kind::Changed,
            None,
            format!("entries changed since they were written: {why}"),
        ),
    })
}
