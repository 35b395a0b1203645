//! The built-in post-write step: after every write, in this order, the
//! index, the Dashboard, and (when due) retention.

use std::sync::Mutex;

use super::{PostWrite, StepContext};
use crate::dashboard;
use crate::index;
use crate::retention;

/// Index, Dashboard and retention after every write.
#[derive(Debug, Default)]
pub struct Upkeep {
    retention_days: u32,
    index: Mutex<index::Cache>,
}

impl Upkeep {
    /// Upkeep keeping `retention_days` days of logs.
    pub fn new(retention_days: u32) -> Self {
        Upkeep {
            retention_days,
            index: Mutex::default(),
        }
    }
}

impl PostWrite for Upkeep {
    fn name(&self) -> &str {
        "upkeep"
    }

    fn run(&self, ctx: &StepContext<'_>) -> Result<Vec<String>, String> {
        let (vault, now) = (ctx.vault, ctx.now);
        let today = now.date_naive();
        let mut errors = Vec::new();
        let mut notes = Vec::new();

        // The index, from the previous index and the days just written.
        let mut cache = self.index.lock().unwrap_or_else(|p| p.into_inner());
        let dates = match index::update(vault, &ctx.receipt.files, now, &mut cache) {
            Ok(index) => index.dates(),
            Err(e) => {
                errors.push(format!("index: {e}"));
                ctx.receipt.files.iter().map(|f| f.date).collect()
            }
        };
        if let Err(e) = dashboard::refresh(vault, &dates, today, true) {
            errors.push(format!("dashboard: {e}"));
        }

        // Retention: once a day (one small read otherwise), or at once when
        // the write landed on a day that is already expired.
        let cutoff = retention::cutoff(today, self.retention_days);
        let expired_write = ctx.receipt.files.iter().any(|f| f.date < cutoff);
        if expired_write || retention::due(vault, today, self.retention_days) {
            let append = |entries| ctx.append(entries).map(|_| ()).map_err(|e| e.to_string());
            match retention::run(
                vault,
                now,
                self.retention_days,
                ctx.session_id(),
                false,
                &append,
            ) {
                Ok(report) => {
                    for p in &report.files {
                        notes.push(format!(
                            "retention: deleted Logs/{} ({} CRITICAL entries archived)",
                            p.file, p.critical
                        ));
                    }
                    for file in &report.kept_unreadable {
                        errors.push(format!(
                            "retention: Logs/{file} is expired but could not be read; kept"
                        ));
                    }
                    // Once a day the index is checked against the files on
                    // disk (a file removed or added by hand is caught here).
                    match index::rebuild(vault, now)
                        .and_then(|i| index::save(vault, &i).map(|()| i))
                    {
                        Ok(index) if report.deleted > 0 => {
                            if let Err(e) = dashboard::refresh(vault, &index.dates(), today, true) {
                                errors.push(format!("dashboard: {e}"));
                            }
                        }
                        Ok(_) => {}
                        Err(e) => errors.push(format!("index: {e}")),
                    }
                }
                Err(e) => errors.push(format!("retention: {e}")),
            }
        }
        if errors.is_empty() {
            Ok(notes)
        } else {
            Err(errors.join("; "))
        }
    }
}
