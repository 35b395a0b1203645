//! The built-in post-write step: after every write, in this order, the
//! replicas taken in, the alert notes, the index, the Dashboard, and (when
//! due) retention.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::{PostWrite, StepContext, StepError};
use crate::alert::{self, Rules};
use crate::daily::DayFileState;
use crate::dashboard;
use crate::fsutil::{at, IoFailure};
use crate::index::{self, Index};
use crate::retention;
use crate::vault::Vault;

/// The derived views after a write: the index updated from the days just
/// written (kept in `cache` between calls), then the Dashboard.
///
/// When an earlier refresh failed (a full disk, say), the views may be stale
/// for days not written now: a marker file says so, and the next refresh
/// rebuilds them whole, then removes it. Costs one `stat` otherwise.
pub fn refresh_views(
    vault: &Vault,
    written: &[DayFileState],
    now: DateTime<Utc>,
    cache: &mut index::Cache,
    settings: &dashboard::Settings,
) -> Result<Index, IoFailure> {
    let stale = vault.views_stale();
    let result = if stale.exists() {
        rebuild_views(vault, now, settings)
    } else {
        at(
            "write",
            &vault.index(),
            index::update(vault, written, now, cache),
        )
        .and_then(|index| refresh_dashboard(vault, &index, now, settings).map(|()| index))
    };
    if result.is_err() {
        // Best effort: if even this empty file cannot be made, the daily
        // rebuild with retention heals the views.
        let _ = crate::fsutil::open_no_follow(
            &stale,
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false),
        );
        *cache = index::Cache::default();
    }
    result
}

/// The derived views from scratch: the index rebuilt from the day files and
/// saved, then the Dashboard.
pub fn rebuild_views(
    vault: &Vault,
    now: DateTime<Utc>,
    settings: &dashboard::Settings,
) -> Result<Index, IoFailure> {
    let index = at("read", &vault.logs(), index::rebuild(vault, now))?;
    at("write", &vault.index(), index::save(vault, &index))?;
    refresh_dashboard(vault, &index, now, settings)?;
    let stale = vault.views_stale();
    match std::fs::remove_file(&stale) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(IoFailure::new("remove", &stale, e))
        }
        _ => Ok(index),
    }
}

fn refresh_dashboard(
    vault: &Vault,
    index: &Index,
    now: DateTime<Utc>,
    settings: &dashboard::Settings,
) -> Result<(), IoFailure> {
    let path = vault.dashboard();
    let last_alert = || alert::last_alert(vault);
    let refreshed = dashboard::refresh(vault, &index.dates(), now, settings, &last_alert, true);
    at("write", &path, refreshed).map(|_| ())
}

/// One thing an upkeep run could not do; the write itself stands.
#[derive(Debug, thiserror::Error)]
pub enum UpkeepProblem {
    /// Alert notes could not be raised (the alert state is kept as it was,
    /// so the next write raises them again).
    #[error("alerts: {0}")]
    Alerts(#[source] IoFailure),
    /// The index or the Dashboard could not be refreshed or rebuilt (the
    /// next write rebuilds them whole).
    #[error(transparent)]
    Views(#[from] IoFailure),
    /// Retention stopped part-way (its purge record resumes it next time).
    #[error("retention: {0}")]
    Retention(#[source] std::io::Error),
    /// The replicas' entries or a conflict copy could not be taken in (the
    /// next upkeep tries again).
    #[error("replicas: {0}")]
    Replicas(String),
    /// An expired day file could not be read, so it was kept.
    #[error("retention: Logs/{file} is expired but could not be read; kept")]
    KeptUnreadable {
        /// The day file's name.
        file: String,
    },
}

/// Everything an upkeep run could not do, in order (shown joined by `; `).
#[derive(Debug, thiserror::Error)]
#[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct UpkeepError {
    /// The problems, at least one.
    pub problems: Vec<UpkeepProblem>,
}

/// Index, Dashboard and retention after every write.
#[derive(Debug, Default)]
pub struct Upkeep {
    policy: retention::Policy,
    index: Mutex<index::Cache>,
    /// False on a replica: no index, no Dashboard, no alerts, nothing
    /// taken in.
    views: bool,
    /// The alert rules (none: no alert notes).
    alerts: Option<Rules>,
    /// How the Dashboard is drawn.
    dashboard: dashboard::Settings,
}

impl Upkeep {
    /// Upkeep keeping logs as `policy` says (a number of days is a policy
    /// without a cold archive).
    pub fn new(policy: impl Into<retention::Policy>) -> Self {
        Upkeep {
            policy: policy.into(),
            index: Mutex::default(),
            views: true,
            alerts: None,
            dashboard: dashboard::Settings::default(),
        }
    }

    /// Upkeep that draws the Dashboard as `settings` say.
    pub fn dashboard(mut self, settings: dashboard::Settings) -> Self {
        self.dashboard = settings;
        self
    }

    /// Upkeep that raises alert notes by `rules` (none: no alert notes).
    pub fn alerts(mut self, rules: Option<Rules>) -> Self {
        self.alerts = rules;
        self
    }

    /// Upkeep for a replica: retention of its own days only.
    pub fn without_views(mut self) -> Self {
        self.views = false;
        self
    }
}

impl Upkeep {
    /// The alert notes this write's entries and the replicas' just taken in
    /// call for.
    fn raise_alerts(
        &self,
        ctx: &StepContext<'_>,
        synced: &[crate::entry::Entry],
        notes: &mut Vec<String>,
        errors: &mut Vec<UpkeepProblem>,
    ) {
        let Some(rules) = &self.alerts else {
            return;
        };
        let entries: Vec<_> = (ctx.receipt.entries.iter())
            .chain(synced)
            .filter(|e| rules.matters(e))
            .cloned()
            .collect();
        match alert::raise(ctx.vault, rules, &entries, ctx.now) {
            Ok(raised) => notes.extend(raised.iter().map(|n| format!("alert: wrote {n}"))),
            Err(e) => errors.push(UpkeepProblem::Alerts(e)),
        }
    }
}

impl PostWrite for Upkeep {
    fn name(&self) -> &str {
        "upkeep"
    }

    fn run(&self, ctx: &StepContext<'_>) -> Result<Vec<String>, StepError> {
        let (vault, now) = (ctx.vault, ctx.now);
        let today = now.date_naive();
        let mut errors = Vec::new();
        let mut notes = Vec::new();

        // On the primary, the replicas' new entries and the sync tools'
        // conflict copies first, so that the views count them.
        let mut written = ctx.receipt.files.clone();
        if self.views {
            let mut synced_entries = Vec::new();
            match ctx.logger.sync_locked() {
                Ok(synced) => {
                    super::merge_states(&mut written, synced.files);
                    notes.extend(synced.notes);
                    synced_entries = synced.entries;
                }
                Err(e) => errors.push(UpkeepProblem::Replicas(e.to_string())),
            }
            self.raise_alerts(ctx, &synced_entries, &mut notes, &mut errors);
            // The index, from the previous index and the days just written.
            let mut cache = self.index.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = refresh_views(vault, &written, now, &mut cache, &self.dashboard) {
                errors.push(UpkeepProblem::Views(e));
            }
        }

        // Retention: once a day (one small read otherwise), or at once when
        // the write landed on a day that is already expired.
        let cutoff = retention::cutoff(today, self.policy.days);
        let expired_write = ctx.receipt.files.iter().any(|f| f.date < cutoff);
        if expired_write || retention::due(vault, today, self.policy.days) {
            let append = |entries| {
                ctx.append(entries)
                    .map(|_| ())
                    .map_err(retention::AppendError::from)
            };
            // Never a file this very call wrote.
            let spare: Vec<_> = ctx.receipt.files.iter().map(|f| f.date).collect();
            match retention::run(
                vault,
                ctx.logger.chain_key(),
                now,
                self.policy,
                ctx.session_id(),
                false,
                &spare,
                &append,
            ) {
                Ok(report) => {
                    for p in &report.files {
                        notes.push(format!(
                            "retention: deleted Logs/{} ({} CRITICAL entries archived)",
                            p.file, p.critical
                        ));
                    }
                    for file in report.kept_unreadable {
                        errors.push(UpkeepProblem::KeptUnreadable { file });
                    }
                    // Once a day the index is checked against the files on
                    // disk (a file removed or added by hand is caught here).
                    let rebuilt = match self.views {
                        true => rebuild_views(vault, now, &self.dashboard).map(|_| ()),
                        false => Ok(()),
                    };
                    if let Err(e) = rebuilt {
                        errors.push(UpkeepProblem::Views(e));
                    }
                }
                Err(e) => errors.push(UpkeepProblem::Retention(e)),
            }
        }
        if errors.is_empty() {
            Ok(notes)
        } else {
            Err(Box::new(UpkeepError { problems: errors }))
        }
    }
}
