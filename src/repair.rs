//! `vault-audit repair`: fixes what can be fixed without losing data, and
//! leaves evidence alone.
//!
//! Fixed: torn tails and unreadable trailers (cut back to the last complete
//! entry, in place), wrong counts (recounted; the chain value is kept), a
//! missing chain value or an unchained file (re-anchored), files that do not
//! parse (quarantined and salvaged, as the writer does), a stale or missing
//! index (rebuilt). Never fixed: a chain mismatch or a broken link between
//! days. That is evidence of an edit; it is reported and left as it is.

use std::collections::BTreeMap;
use std::io;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::chain::{self, ChainKey};
use crate::daily;
use crate::index;
use crate::meter::Meter;
use crate::vault::{day_file_name, Vault};
use crate::verify::{self, Kind, Problem};

/// What `repair` did (or in dry run would do), and what it left.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Repair {
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// One line per change made (or planned).
    pub done: Vec<String>,
    /// What still does not hold afterwards: evidence of edits, or problems
    /// that need a person.
    pub left: Vec<Problem>,
    /// The recoveries made, for the logger to take in what other programs
    /// wrote (the logger's `take_in_foreign`).
    #[serde(skip)]
    pub recoveries: Vec<daily::Recovery>,
}

/// One repair run's settings.
struct Pass<'a> {
    vault: &'a Vault,
    key: &'a ChainKey,
    now: DateTime<Utc>,
    dry_run: bool,
}

/// Repairs the vault's day files and index. The caller holds the writers'
/// lock (or runs dry, which changes nothing).
pub fn repair(
    vault: &Vault,
    key: &ChainKey,
    now: DateTime<Utc>,
    dry_run: bool,
) -> io::Result<Repair> {
    repair_metered(vault, key, now, dry_run, &mut crate::meter::Silent)
}

/// [`repair`], telling `meter` of each day checked and repaired.
pub fn repair_metered(
    vault: &Vault,
    key: &ChainKey,
    now: DateTime<Utc>,
    dry_run: bool,
    meter: &mut dyn Meter,
) -> io::Result<Repair> {
    let before = verify::verify_metered(vault, key, &verify::Checks::default(), meter)?;
    let mut kinds: BTreeMap<String, Vec<Kind>> = BTreeMap::new();
    for p in &before.problems {
        kinds.entry(p.file.clone()).or_default().push(p.kind);
    }
    let mut out = Repair {
        dry_run,
        ..Repair::default()
    };
    let pass = Pass {
        vault,
        key,
        now,
        dry_run,
    };
    let days = vault.day_files()?;
    meter.start("repairing", days.len() as u64);
    for date in days {
        let name = format!("Logs/{}", day_file_name(date));
        let here = kinds.get(&name).map(Vec::as_slice).unwrap_or_default();
        let unchained = before.unchained.contains(&name);
        pass.day(date, &name, here, unchained, &mut out)?;
        meter.advance(1);
    }
    let index_stale = kinds.contains_key("Logs/index.json");
    if dry_run {
        if index_stale {
            out.done.push("Logs/index.json: would rebuild".into());
        }
        out.left = before
            .problems
            .into_iter()
            .filter(|p| !p.kind.repairable())
            .collect();
        return Ok(out);
    }
    // A replica has no index: the primary's counts its entries.
    if vault.host().is_none() && (index_stale || !out.done.is_empty()) {
        let idx = index::rebuild(vault, now)?;
        index::save(vault, &idx)?;
        out.done.push(format!(
            "Logs/index.json: rebuilt ({} files, {} entries)",
            idx.total_log_files, idx.total_entries_all_time
        ));
    }
    out.left = verify::verify_metered(vault, key, &verify::Checks::default(), meter)?.problems;
    Ok(out)
}

impl Pass<'_> {
    /// Repairs one day file with the problems `verify` found in it.
    fn day(
        &self,
        date: chrono::NaiveDate,
        name: &str,
        here: &[Kind],
        unchained: bool,
        out: &mut Repair,
    ) -> io::Result<()> {
        let done = &mut out.done;
        let path = self.vault.day_file(date);
        let damaged = here.iter().any(|k| {
            matches!(
                k,
                Kind::Unparseable | Kind::TornTail | Kind::Trailer | Kind::NoChainEnd
            )
        });
        if damaged {
            if self.dry_run {
                done.push(format!(
                    "{name}: would cut a torn tail back to the last complete entry, or quarantine the file and salvage its entries if it does not parse"
                ));
                return Ok(());
            }
            let recovery = daily::recover(&path, date, self.now.timestamp(), self.key)?;
            done.push(strip_vault_root(self.vault, &recovery.to_string()));
            out.recoveries.push(recovery);
            return Ok(());
        }
        if here.contains(&Kind::Counts) {
            if self.dry_run {
                done.push(format!("{name}: would recount total_entries and summary"));
            } else if let Some((old, new)) = daily::fix_counts(&path, date)? {
                done.push(format!(
                    "{name}: recounted: total_entries {} -> {}, summary {} -> {} (chain value kept)",
                    old.total_entries,
                    new.total_entries,
                    old.summary.to_json(),
                    new.summary.to_json()
                ));
            }
        }
        if unchained || here.contains(&Kind::Rewritten) {
            if self.dry_run {
                done.push(format!("{name}: would re-anchor (chain its entries)"));
            } else {
                let (line, recovery) = re_anchor(self.vault, date, self.key, self.now)?;
                done.push(line);
                out.recoveries.extend(recovery);
            }
        }
        Ok(())
    }
}

/// Chains an unchained file: one in our layout (written before the chain
/// existed) is rewritten whole with a chain linked to the day before; one in
/// another layout is recovered (moved aside whole, then converted).
fn re_anchor(
    vault: &Vault,
    date: chrono::NaiveDate,
    key: &ChainKey,
    now: DateTime<Utc>,
) -> io::Result<(String, Option<daily::Recovery>)> {
    let path = vault.day_file(date);
    let ours = daily::read_head(&mut crate::fsutil::open_read(&path)?, date)?.is_some();
    let read = daily::read_entries(&path)?;
    let recorded = chain::head::records(vault, key)?.latest(date).is_some();
    if recorded {
        // A recorded day whose chain was taken out: kept aside whole, and
        // only what still matches the record is chained again.
        let recovery = daily::convert_aside(&path, date, now.timestamp(), key)?;
        return Ok((
            strip_vault_root(vault, &recovery.to_string()),
            Some(recovery),
        ));
    }
    if !ours || read.layout != daily::Layout::Object {
        let recovery = daily::recover(&path, date, now.timestamp(), key)?;
        return Ok((
            strip_vault_root(vault, &recovery.to_string()),
            Some(recovery),
        ));
    }
    let entries = read.entries;
    daily::rewrite(&path, date, &entries, key, None)?;
    let mut file = crate::fsutil::open_read(&path)?;
    let from = match daily::read_head(&mut file, date)?.and_then(|h| h.start) {
        Some(chain_start) => match chain_start.after {
            Some(prev) => format!("{} after {} entries", day_file_name(prev), chain_start.at),
            None => "the genesis value".into(),
        },
        None => "nothing".into(),
    };
    let line = format!(
        "Logs/{}: re-anchored: chained its {} entries, starting from {from}",
        day_file_name(date),
        entries.len()
    );
    Ok((line, None))
}

/// A message with the vault's folder taken out of its paths.
fn strip_vault_root(vault: &Vault, text: &str) -> String {
    let root = format!("{}/", vault.root().display());
    text.replace(&root, "")
}
