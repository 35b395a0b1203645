//! The upkeep commands run by hand (`index`, `dashboard`, `rotate`), each
//! under the writers' lock.

use std::fs;
use std::io;

use super::AuditLogger;
use crate::dashboard::{self, Refresh};
use crate::entry::Entry;
use crate::error::Error;
use crate::fsutil::{at, IoFailure};
use crate::index::{self, Index};
use crate::lock::with_lock;
use crate::retention::{self, Report};

impl AuditLogger {
    /// Runs `work` under the writers' lock; a lock that stays taken is
    /// `Error::Busy`, an I/O failure of `work` an `Error::Io`.
    fn locked<T>(&self, work: impl FnOnce() -> Result<T, IoFailure>) -> Result<T, Error> {
        let lock = self.vault.lock_file();
        match with_lock(&lock, self.lock_timeout, work) {
            Ok(result) => result.map_err(|f| Error::io(f, Vec::new(), Vec::new())),
            Err(failure) => Err(Error::lock(lock, failure, Vec::new())),
        }
    }

    /// Runs `work` under the writers' lock, for the maintenance commands.
    fn by_hand<T>(&self, work: impl FnOnce() -> Result<T, IoFailure>) -> Result<T, Error> {
        if !self.dry_run {
            self.ensure_state_dir(&[])?;
        } else if fs::symlink_metadata(self.vault.lock_file()).is_err() {
            // Dry run creates nothing, not even the lock file; without it no
            // writer can run.
            return work().map_err(|f| Error::io(f, Vec::new(), Vec::new()));
        }
        self.locked(work)
    }

    /// Runs `work` holding the writers' lock (creating `Logs/.audit/` if
    /// needed); an I/O error of `work` is reported against `Logs/`.
    pub fn with_writer_lock<T>(&self, work: impl FnOnce() -> io::Result<T>) -> Result<T, Error> {
        let logs = self.vault.logs();
        self.with_writer_lock_at(|| at("write in", &logs, work()))
    }

    /// Like [`AuditLogger::with_writer_lock`], for work that says itself
    /// what failed and where.
    pub fn with_writer_lock_at<T>(
        &self,
        work: impl FnOnce() -> Result<T, IoFailure>,
    ) -> Result<T, Error> {
        self.ensure_state_dir(&[])?;
        self.locked(work)
    }

    /// Raises the alerts that entries written another way (the inbox, a
    /// replay, the replicas taken in) call for, under the writers' lock,
    /// with the same rules and state as every write's upkeep. Returns the
    /// notes' vault-relative paths. A replica, a dry run or a logger
    /// without alert rules raises none.
    pub fn raise_alerts(&self, entries: &[Entry]) -> Result<Vec<String>, Error> {
        let Some(rules) = &self.alerts else {
            return Ok(Vec::new());
        };
        let serious = entries.iter().any(|e| rules.matters(e));
        if self.vault.host().is_some() || self.dry_run || !serious {
            return Ok(Vec::new());
        }
        let now = self.now();
        self.with_writer_lock_at(|| crate::alert::raise(&self.vault, rules, entries, now))
    }

    /// Creates `Logs/inbox/` and `Logs/inbox/rejected/` if they are missing
    /// (not in dry run), so that the first file moved into the inbox finds
    /// its folder. `log`, `demo` and the daemon's start call it.
    pub fn ensure_inbox(&self) -> Result<(), Error> {
        if self.dry_run {
            return Ok(());
        }
        let rejected = self.vault.inbox_rejected();
        at(
            "create folder",
            &rejected,
            crate::fsutil::ensure_dir(&rejected),
        )
        .map_err(|f| Error::io(f, Vec::new(), Vec::new()))
    }

    /// The index and the Dashboard are the primary's: a replica refuses.
    fn views_are_mine(&self) -> Result<(), Error> {
        match self.vault.host() {
            None => Ok(()),
            Some(host) => Err(Error::Config {
                message: format!("this machine is the replica {host:?} (AUDIT_ROLE=replica): the index and the Dashboard are the primary's to write; run this on the primary"),
            }),
        }
    }

    /// Rebuilds `Logs/index.json` from the day files (in dry run, only
    /// computes it).
    pub fn rebuild_index(&self) -> Result<Index, Error> {
        self.views_are_mine()?;
        let logs = self.vault.logs();
        self.by_hand(|| {
            let index = at("read", &logs, index::rebuild(&self.vault, self.clock.now()))?;
            if !self.dry_run {
                at(
                    "write",
                    &self.vault.index(),
                    index::save(&self.vault, &index),
                )?;
            }
            Ok(index)
        })
    }

    /// Refreshes the Dashboard's Recent Activity table (in dry run, only
    /// renders it). Returns what happened and the table's lines.
    pub fn refresh_dashboard(&self) -> Result<(Refresh, Vec<String>), Error> {
        self.views_are_mine()?;
        let path = self.vault.dashboard();
        self.by_hand(|| {
            let dates = at("read", &self.vault.logs(), self.vault.day_files())?;
            let now = self.clock.now();
            let last_alert = || crate::alert::last_alert(&self.vault);
            let (vault, settings) = (&self.vault, &self.dashboard);
            let refreshed =
                dashboard::refresh(vault, &dates, now, settings, &last_alert, !self.dry_run);
            at("write", &path, refreshed)
        })
    }

    /// Runs retention now with `days` (default the logger's). In dry run,
    /// reports what would be deleted and archived and changes nothing.
    pub fn rotate(&self, days: Option<u32>) -> Result<Report, Error> {
        let days = days.unwrap_or(self.retention_days);
        if !retention::DAYS_RANGE.contains(&days) {
            let (low, high) = retention::DAYS_RANGE.into_inner();
            return Err(Error::Config {
                message: format!("--days {days} is out of range; accepted: {low} to {high}"),
            });
        }
        self.by_hand(|| {
            let now = self.clock.now();
            let append = |entries: Vec<Entry>| {
                self.append_locked(entries)
                    .map(|_| ())
                    .map_err(retention::AppendError::from)
            };
            let logs = self.vault.logs();
            let report = at(
                "purge old day files in",
                &logs,
                retention::run(
                    &self.vault,
                    &self.chain_key,
                    now,
                    retention::Policy {
                        days,
                        archive_days: self.archive_days,
                    },
                    &self.session_id,
                    self.dry_run,
                    &[],
                    &append,
                ),
            )?;
            if !self.dry_run && report.deleted > 0 && self.vault.host().is_none() {
                super::upkeep::rebuild_views(&self.vault, now, &self.dashboard)?;
            }
            Ok(report)
        })
    }
}
