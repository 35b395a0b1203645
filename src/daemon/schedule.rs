//! The weekly report (`AUDIT_REPORT_SCHEDULE=weekly`): every Monday at
//! 07:00 local time the daemon writes the report over the 7 days before.
//! A Monday it was not running for is caught up when it next runs; the
//! last week written is kept in `Logs/.audit/report.json`, so a restart
//! never writes a week twice.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::time::Zone;
use crate::vault::Vault;

/// The hour of Monday the week's report is due, local time.
pub const HOUR: u32 = 7;

/// What the schedule has done, in `Logs/.audit/report.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Written {
    /// The due time of the last week whose report was written.
    last: Option<DateTime<Utc>>,
}

/// The due time of the newest week at `now`: the latest Monday 07:00 in
/// `zone` at or before `now`.
pub fn due(now: DateTime<Utc>, zone: Zone) -> Option<DateTime<Utc>> {
    let local = now.naive_utc() + zone.offset_at(now);
    let back = i64::from(local.weekday().num_days_from_monday());
    let monday = local.date() - Duration::days(back);
    let at =
        |day: chrono::NaiveDate| zone.to_utc(day.and_time(NaiveTime::from_hms_opt(HOUR, 0, 0)?));
    match at(monday)? {
        t if t <= now => Some(t),
        _ => at(monday - Duration::days(7)),
    }
}

/// The week whose report is due and not written yet, if there is one. A
/// recorded week after `now` (a clock that was set ahead, a planted state)
/// cannot have been written: it counts as none, or the schedule would stop
/// until then.
pub fn pending(vault: &Vault, now: DateTime<Utc>, zone: Zone) -> Option<DateTime<Utc>> {
    let due = due(now, zone)?;
    let written: Written = crate::fsutil::read_no_follow(&vault.report_state())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    written
        .last
        .is_none_or(|last| last < due || last > now)
        .then_some(due)
}

/// Records that the week due at `due` was written.
pub fn record(vault: &Vault, due: DateTime<Utc>) -> std::io::Result<()> {
    let text = serde_json::to_vec(&Written { last: Some(due) }).map_err(std::io::Error::other)?;
    crate::fsutil::ensure_dir(&vault.state_dir())?;
    crate::fsutil::write_replace(&vault.report_state(), &text, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_timestamp;

    fn at(t: &str) -> DateTime<Utc> {
        parse_timestamp(t).expect("time")
    }

    #[test]
    fn the_week_is_due_from_monday_seven_in_the_zone() {
        let utc = Zone::utc();
        // Monday 23 November 2026.
        assert_eq!(
            due(at("2026-11-23T07:00:00Z"), utc),
            Some(at("2026-11-23T07:00:00Z"))
        );
        assert_eq!(
            due(at("2026-11-23T06:59:59Z"), utc),
            Some(at("2026-11-16T07:00:00Z"))
        );
        assert_eq!(
            due(at("2026-11-29T23:00:00Z"), utc),
            Some(at("2026-11-23T07:00:00Z"))
        );
        let kolkata = Zone::parse("+05:30").expect("zone");
        assert_eq!(
            due(at("2026-11-23T01:30:00Z"), kolkata),
            Some(at("2026-11-23T01:30:00Z"))
        );
        // Sunday 22:00 UTC is already Monday 03:30 in Kolkata: not due yet.
        assert_eq!(
            due(at("2026-11-22T22:00:00Z"), kolkata),
            Some(at("2026-11-16T01:30:00Z"))
        );
    }

    #[test]
    fn a_week_written_is_not_pending_again_and_a_missed_one_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("Logs")).expect("mkdir");
        let vault = Vault::new(dir.path());
        let now = at("2026-11-25T12:00:00Z");
        let week = pending(&vault, now, Zone::utc()).expect("never written: due");
        record(&vault, week).expect("record");
        assert_eq!(pending(&vault, now, Zone::utc()), None);
        assert_eq!(
            pending(&vault, now + Duration::days(7), Zone::utc()),
            Some(week + Duration::days(7))
        );
        std::fs::write(vault.report_state(), "not json").expect("write");
        assert_eq!(pending(&vault, now, Zone::utc()), Some(week));
    }

    #[test]
    fn a_week_recorded_in_the_future_does_not_stop_the_schedule() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("Logs")).expect("mkdir");
        let vault = Vault::new(dir.path());
        let now = at("2026-11-25T12:00:00Z");
        record(&vault, at("9999-12-27T07:00:00Z")).expect("record");
        let week = pending(&vault, now, Zone::utc()).expect("due");
        assert_eq!(week, at("2026-11-23T07:00:00Z"));
        record(&vault, week).expect("record");
        assert_eq!(pending(&vault, now, Zone::utc()), None);
    }
}
