//! What a report says, counted from the entries of its period in one pass.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, NaiveDate, Utc};

use crate::query::Lite;
use crate::time::parse_timestamp;

/// The most rows a table of entries (failures, CRITICAL) lists; the rest
/// are counted and named by the query that shows them.
pub const LIST_MAX: usize = 25;

/// The longest `parameters.duration_ms` counted, about 31 years: a
/// negative or larger value is not a run's duration, and would stretch the
/// chart's axis and the table past reading.
pub const MAX_DURATION_MS: f64 = 1e12;

/// The four levels, in the order of a day's counts.
pub const LEVELS: [&str; 4] = ["INFO", "WARNING", "ERROR", "CRITICAL"];

/// One entry as a report's table shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// When.
    pub time: DateTime<Utc>,
    /// Its level.
    pub level: String,
    /// Its action type.
    pub action: String,
    /// Who.
    pub actor: String,
    /// On what.
    pub target: String,
    /// Its error message, or empty.
    pub error: String,
}

impl Row {
    fn of(e: &Lite<'_>, time: DateTime<Utc>) -> Row {
        let text = |f: &Option<std::borrow::Cow<'_, str>>| f.as_deref().unwrap_or("").to_owned();
        Row {
            time,
            level: text(&e.log_level),
            action: text(&e.action_type),
            actor: text(&e.actor),
            target: text(&e.target),
            error: text(&e.error_message),
        }
    }
}

/// The newest [`LIST_MAX`] rows of a kind, and how many there were.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Newest {
    /// The rows kept, oldest first.
    pub rows: VecDeque<Row>,
    /// How many there were in all.
    pub total: u64,
}

impl Newest {
    fn push(&mut self, row: Row) {
        self.total += 1;
        if self.rows.len() == LIST_MAX {
            self.rows.pop_front();
        }
        self.rows.push_back(row);
    }
}

/// The approval workflow over the period. A decision (`approved`,
/// `rejected`, `expired`) is matched to the oldest open request
/// (`approval_requested`) whose target has the same file name: the request
/// note moves from `Pending_Approval/` to `Approved/` or `Rejected/`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Approvals {
    /// `approval_requested` entries.
    pub requested: u64,
    /// `approved` entries.
    pub approved: u64,
    /// `rejected` entries.
    pub rejected: u64,
    /// `expired` entries.
    pub expired: u64,
    /// Minutes from a request to its decision, for the decisions whose
    /// request is in the period.
    pub waits: Vec<f64>,
    /// Requests with no decision yet, by file name, oldest first.
    open: BTreeMap<String, VecDeque<DateTime<Utc>>>,
}

impl Approvals {
    /// Requests in the period still without a decision at its end.
    pub fn waiting(&self) -> u64 {
        self.open.values().map(|q| q.len() as u64).sum()
    }

    /// The median minutes from request to decision, if any decision had
    /// its request in the period.
    pub fn median_wait(&self) -> Option<f64> {
        let mut waits = self.waits.clone();
        waits.sort_by(f64::total_cmp);
        percentile(&waits, 0.5)
    }

    fn add(&mut self, action: &str, target: &str, time: DateTime<Utc>) {
        let name = target.rsplit(['/', '\\']).next().unwrap_or("").to_owned();
        let count = match action {
            "approval_requested" => {
                self.open.entry(name).or_default().push_back(time);
                self.requested += 1;
                return;
            }
            "approved" => &mut self.approved,
            "rejected" => &mut self.rejected,
            "expired" => &mut self.expired,
            _ => return,
        };
        *count += 1;
        if let Some(queue) = self.open.get_mut(&name) {
            if let Some(asked) = queue.pop_front() {
                self.waits
                    .push((time - asked).num_milliseconds().max(0) as f64 / 60_000.0);
            }
            if queue.is_empty() {
                self.open.remove(&name);
            }
        }
    }
}

/// The value at quantile `q` of sorted `values` (nearest rank).
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    (n > 0).then(|| sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1])
}

/// Everything a report shows, counted over its period.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The period's start.
    pub since: DateTime<Utc>,
    /// The period's end.
    pub until: DateTime<Utc>,
    /// Entries per UTC day of the period, by level (INFO, WARNING, ERROR,
    /// CRITICAL); every day of the period is here, with or without entries.
    pub days: BTreeMap<NaiveDate, [u64; 4]>,
    /// All entries, whatever their level.
    pub total: u64,
    /// Entries by action type.
    pub actions: BTreeMap<String, u64>,
    /// Entries by actor.
    pub actors: BTreeMap<String, u64>,
    /// Failures (ERROR or CRITICAL, or `result: failure`) by actor.
    pub failures_by_actor: BTreeMap<String, u64>,
    /// The newest failures.
    pub failures: Newest,
    /// The newest CRITICAL entries.
    pub criticals: Newest,
    /// The approval workflow.
    pub approvals: Approvals,
    /// `parameters.duration_ms` by actor.
    pub durations: BTreeMap<String, Vec<f64>>,
}

impl Facts {
    /// No entries yet over `since ..= until`.
    pub fn new(since: DateTime<Utc>, until: DateTime<Utc>) -> Facts {
        let days = since
            .date_naive()
            .iter_days()
            .take_while(|d| *d <= until.date_naive())
            .map(|d| (d, [0; 4]))
            .collect();
        Facts {
            since,
            until,
            days,
            total: 0,
            actions: BTreeMap::new(),
            actors: BTreeMap::new(),
            failures_by_actor: BTreeMap::new(),
            failures: Newest::default(),
            criticals: Newest::default(),
            approvals: Approvals::default(),
            durations: BTreeMap::new(),
        }
    }

    /// Counts one entry of the period (entries come in time order).
    pub fn add(&mut self, e: &Lite<'_>) {
        let Some(time) = e.timestamp.as_deref().and_then(|t| parse_timestamp(t).ok()) else {
            return;
        };
        let text = |f: &Option<std::borrow::Cow<'_, str>>| f.as_deref().unwrap_or("").to_owned();
        let level = e.log_level.as_deref().unwrap_or("");
        let (action, actor) = (text(&e.action_type), text(&e.actor));
        self.total += 1;
        if let (Some(day), Some(i)) = (
            self.days.get_mut(&time.date_naive()),
            LEVELS.iter().position(|l| *l == level),
        ) {
            day[i] += 1;
        }
        *self.actions.entry(action.clone()).or_default() += 1;
        *self.actors.entry(actor.clone()).or_default() += 1;
        let failed =
            matches!(level, "ERROR" | "CRITICAL") || e.result.as_deref() == Some("failure");
        if failed {
            *self.failures_by_actor.entry(actor.clone()).or_default() += 1;
            self.failures.push(Row::of(e, time));
        }
        if level == "CRITICAL" {
            self.criticals.push(Row::of(e, time));
        }
        self.approvals
            .add(&action, e.target.as_deref().unwrap_or(""), time);
        if let Some(ms) = e
            .duration_ms()
            .filter(|ms| (0.0..=MAX_DURATION_MS).contains(ms))
        {
            self.durations.entry(actor).or_default().push(ms);
        }
    }

    /// Entries of one level over the period.
    pub fn level_total(&self, level: usize) -> u64 {
        self.days.values().map(|d| d[level]).sum()
    }

    /// Failures over the period.
    pub fn failure_total(&self) -> u64 {
        self.failures.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lite(json: &str) -> Lite<'_> {
        serde_json::from_str(json).expect("entry")
    }

    fn at(t: &str) -> DateTime<Utc> {
        parse_timestamp(t).expect("time")
    }

    #[test]
    fn decisions_match_the_oldest_open_request_of_the_same_file_name() {
        let mut a = Approvals::default();
        a.add(
            "approval_requested",
            "Pending_Approval/x.md",
            at("2026-11-02T10:00:00Z"),
        );
        a.add(
            "approval_requested",
            "Pending_Approval/x.md",
            at("2026-11-02T11:00:00Z"),
        );
        a.add(
            "approval_requested",
            "Pending_Approval/y.md",
            at("2026-11-02T11:00:00Z"),
        );
        a.add("approved", "Approved/x.md", at("2026-11-02T12:00:00Z"));
        a.add("rejected", "Rejected/z.md", at("2026-11-02T12:00:00Z"));
        assert_eq!((a.requested, a.approved, a.rejected), (3, 1, 1));
        assert_eq!(a.waits, vec![120.0]);
        assert_eq!(a.waiting(), 2);
        assert_eq!(a.median_wait(), Some(120.0));
    }

    #[test]
    fn every_day_of_the_period_is_counted_and_failures_by_actor() {
        let mut f = Facts::new(at("2026-11-01T07:00:00Z"), at("2026-11-03T07:00:00Z"));
        assert_eq!(f.days.len(), 3);
        f.add(&lite(r#"{"timestamp":"2026-11-02T01:00:00Z","log_level":"ERROR","action_type":"email_sent","actor":"a","result":"failure"}"#));
        f.add(&lite(r#"{"timestamp":"2026-11-02T02:00:00Z","log_level":"INFO","action_type":"x","actor":"b","result":"failure","parameters":{"duration_ms":12}}"#));
        f.add(&lite(r#"{"timestamp":"not a time","log_level":"INFO"}"#));
        assert_eq!(f.total, 2);
        assert_eq!(
            f.days[&at("2026-11-02T00:00:00Z").date_naive()],
            [1, 0, 1, 0]
        );
        assert_eq!(f.failure_total(), 2);
        assert_eq!(f.failures_by_actor.get("b"), Some(&1));
        assert_eq!(f.durations.get("b"), Some(&vec![12.0]));
    }

    #[test]
    fn negative_and_absurd_durations_are_not_counted() {
        let mut f = Facts::new(at("2026-11-01T07:00:00Z"), at("2026-11-03T07:00:00Z"));
        for ms in [
            "1e308", "-5", "-1e308", "1e13", "\"12\"", "true", "0", "1e12",
        ] {
            f.add(&lite(&format!(
                r#"{{"timestamp":"2026-11-02T01:00:00Z","log_level":"INFO","actor":"a","parameters":{{"duration_ms":{ms}}}}}"#
            )));
        }
        assert_eq!(f.total, 8);
        assert_eq!(f.durations.get("a"), Some(&vec![0.0, 1e12]));
    }

    #[test]
    fn tables_keep_the_newest_rows_and_count_all() {
        let mut n = Newest::default();
        for i in 0..(LIST_MAX as i64 + 5) {
            n.push(Row {
                time: at("2026-11-02T00:00:00Z") + chrono::Duration::seconds(i),
                level: "ERROR".into(),
                action: String::new(),
                actor: String::new(),
                target: String::new(),
                error: String::new(),
            });
        }
        assert_eq!(n.total, LIST_MAX as u64 + 5);
        assert_eq!(n.rows.len(), LIST_MAX);
        assert_eq!(n.rows[0].time, at("2026-11-02T00:00:05Z"));
    }
}
