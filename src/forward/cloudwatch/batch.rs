//! Planning `PutLogEvents` calls: which entries go, and in which requests,
//! under the API's limits. Pure: the time is passed in.
//!
//! - at most [`MAX_EVENTS`] events and [`MAX_BATCH_BYTES`] bytes a request,
//!   an event counting its message's UTF-8 bytes plus [`EVENT_OVERHEAD`];
//! - the events of a request in time order, spanning less than 24 hours;
//! - no event older than 14 days or more than 2 hours ahead of now: the API
//!   refuses them whatever is retried, so they are left out and named.

use serde_json::{Map, Value};

/// Events a request may carry.
pub const MAX_EVENTS: usize = 10_000;
/// Bytes a request may carry, counted as [`Event::size`] adds them.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// What CloudWatch Logs adds to each message's length when it counts.
pub const EVENT_OVERHEAD: usize = 26;
/// The largest event, overhead included: 256 KiB, the limit CloudWatch Logs
/// long had (it allows more today; the smaller one is safe everywhere).
pub const MAX_EVENT_BYTES: usize = 262_144;
/// A request's events span less than this (24 hours), in milliseconds.
pub const MAX_SPAN_MS: i64 = 24 * 3_600_000;
/// The oldest event taken: 14 days before now, in milliseconds.
pub const MAX_AGE_MS: i64 = 14 * 24 * 3_600_000;
/// The furthest ahead an event is taken: 2 hours after now, in milliseconds.
pub const MAX_AHEAD_MS: i64 = 2 * 3_600_000;

/// One log event: an entry's time and message, and which record of the
/// batch it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The message (a JSON object).
    pub message: String,
    /// The index of its record in the batch the sink was given.
    pub record: usize,
}

impl Event {
    /// Its size as CloudWatch Logs counts it.
    pub fn size(&self) -> usize {
        self.message.len() + EVENT_OVERHEAD
    }
}

/// Why the API would refuse an event whatever is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Older than 14 days.
    TooOld,
    /// More than 2 hours ahead.
    TooNew,
    /// Older than the log group's retention.
    Expired,
}

impl Refusal {
    /// In a few words, for the `forward_skipped` event.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::TooOld => "older than 14 days: CloudWatch Logs refuses it",
            Refusal::TooNew => "more than 2 hours ahead: CloudWatch Logs refuses it",
            Refusal::Expired => "older than the log group's retention",
        }
    }
}

/// The requests to make, and the events left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Each request's events, in time order.
    pub requests: Vec<Vec<Event>>,
    /// The events the API would refuse: (record index, why).
    pub refused: Vec<(usize, Refusal)>,
}

/// Leaves out what the API would refuse at `now_ms`, sorts the rest by
/// time (file order among equal times) and splits it into requests.
pub fn plan(events: Vec<Event>, now_ms: i64) -> Plan {
    let oldest = now_ms.saturating_sub(MAX_AGE_MS);
    let newest = now_ms.saturating_add(MAX_AHEAD_MS);
    let mut refused = Vec::new();
    let mut kept: Vec<Event> = Vec::with_capacity(events.len());
    for e in events {
        if e.timestamp < oldest {
            refused.push((e.record, Refusal::TooOld));
        } else if e.timestamp > newest {
            refused.push((e.record, Refusal::TooNew));
        } else {
            kept.push(e);
        }
    }
    kept.sort_by_key(|e| (e.timestamp, e.record));
    Plan {
        requests: split(kept),
        refused,
    }
}

/// Splits events already in time order into requests within the count,
/// size and span limits, keeping their order.
pub fn split(events: Vec<Event>) -> Vec<Vec<Event>> {
    let mut requests = Vec::new();
    let mut current: Vec<Event> = Vec::new();
    let mut bytes = 0;
    for e in events {
        let size = e.size();
        let full = current.len() >= MAX_EVENTS
            || bytes + size > MAX_BATCH_BYTES
            || current
                .first()
                .is_some_and(|first| e.timestamp.saturating_sub(first.timestamp) >= MAX_SPAN_MS);
        if full && !current.is_empty() {
            requests.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(e);
    }
    if !current.is_empty() {
        requests.push(current);
    }
    requests
}

/// The fields an entry keeps when it is too large for one event.
const KEPT_WHEN_CUT: [&str; 9] = [
    "timestamp",
    "log_level",
    "action_type",
    "actor",
    "result",
    "session_id",
    "vault",
    "day_file",
    "position",
];

/// The message for an entry given as a JSON object: the object itself, or,
/// past [`MAX_EVENT_BYTES`], its main fields with `"cut": <bytes>` (the day
/// file keeps the whole entry).
pub fn message(obj: Map<String, Value>) -> String {
    let text = Value::Object(obj).to_string();
    if text.len() + EVENT_OVERHEAD <= MAX_EVENT_BYTES {
        return text;
    }
    let Ok(Value::Object(full)) = serde_json::from_str::<Value>(&text) else {
        return text;
    };
    let mut small = Map::new();
    for key in KEPT_WHEN_CUT {
        if let Some(v) = full.get(key) {
            // A field that is itself huge (a long actor) is not kept.
            if v.to_string().len() <= 4096 {
                small.insert(key.to_owned(), v.clone());
            }
        }
    }
    small.insert("cut".to_owned(), text.len().into());
    Value::Object(small).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn ev(record: usize, timestamp: i64, len: usize) -> Event {
        Event {
            timestamp,
            message: "x".repeat(len),
            record,
        }
    }

    #[test]
    fn a_request_holds_at_most_ten_thousand_events() {
        let events: Vec<Event> = (0..25_001).map(|i| ev(i, NOW, 1)).collect();
        let requests = plan(events, NOW).requests;
        let sizes: Vec<usize> = requests.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10_000, 10_000, 5_001]);
    }

    #[test]
    fn a_request_holds_at_most_one_mebibyte_counting_26_bytes_an_event() {
        // 1022 events of 1000 + 26 bytes are 1,048,572 bytes: one more is over.
        let events: Vec<Event> = (0..2_500).map(|i| ev(i, NOW, 1000)).collect();
        let requests = plan(events, NOW).requests;
        let sizes: Vec<usize> = requests.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1022, 1022, 456]);
        for r in &requests {
            assert!(r.iter().map(Event::size).sum::<usize>() <= MAX_BATCH_BYTES);
        }
        // Exactly at the limit still fits.
        let exact = MAX_BATCH_BYTES / 4 - EVENT_OVERHEAD;
        let events: Vec<Event> = (0..5).map(|i| ev(i, NOW, exact)).collect();
        let sizes: Vec<usize> = plan(events, NOW).requests.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![4, 1]);
    }

    #[test]
    fn events_go_in_time_order_and_a_request_spans_less_than_a_day() {
        let hour = 3_600_000;
        let events = vec![
            ev(0, NOW - 30 * hour, 1),
            ev(1, NOW - 40 * hour, 1),
            ev(2, NOW, 1),
            ev(3, NOW - 30 * hour, 1),
            ev(4, NOW - 17 * hour, 1),
        ];
        let requests = plan(events, NOW).requests;
        let order: Vec<Vec<usize>> = requests
            .iter()
            .map(|r| r.iter().map(|e| e.record).collect())
            .collect();
        // 40 h ago to 17 h ago is 23 h; now is 40 h after the first.
        assert_eq!(order, vec![vec![1, 0, 3, 4], vec![2]]);
        let exactly_a_day = vec![ev(0, NOW - 24 * hour, 1), ev(1, NOW, 1)];
        assert_eq!(plan(exactly_a_day, NOW).requests.len(), 2);
    }

    #[test]
    fn events_the_api_refuses_are_left_out_and_named() {
        let day = 24 * 3_600_000;
        let events = vec![
            ev(0, NOW - 14 * day - 1, 1),
            ev(1, NOW - 14 * day, 1),
            ev(2, NOW + MAX_AHEAD_MS, 1),
            ev(3, NOW + MAX_AHEAD_MS + 1, 1),
        ];
        let p = plan(events, NOW);
        assert_eq!(p.refused, vec![(0, Refusal::TooOld), (3, Refusal::TooNew)]);
        let sent: Vec<usize> = p.requests.concat().iter().map(|e| e.record).collect();
        assert_eq!(sent, vec![1, 2]);
        assert_eq!(plan(Vec::new(), NOW), Plan::default());
        // Extreme clocks and times neither panic nor wrap.
        let p = plan(vec![ev(0, i64::MIN, 1), ev(1, i64::MAX, 1)], i64::MAX);
        assert_eq!(p.refused, vec![(0, Refusal::TooOld)]);
    }

    #[test]
    fn an_entry_too_large_for_one_event_keeps_its_main_fields() {
        let mut obj = Map::new();
        obj.insert("actor".into(), "a".into());
        obj.insert("day_file".into(), "2026-11-22".into());
        obj.insert("position".into(), 7.into());
        obj.insert("parameters".into(), "p".repeat(300_000).into());
        let m = message(obj.clone());
        assert!(m.len() + EVENT_OVERHEAD <= MAX_EVENT_BYTES);
        let v: Value = serde_json::from_str(&m).expect("json");
        assert_eq!(v["actor"], "a");
        assert_eq!(v["position"], 7);
        assert!(v["cut"].as_u64().expect("cut") > 300_000);
        obj.insert("parameters".into(), "small".into());
        assert_eq!(message(obj.clone()), Value::Object(obj).to_string());
    }
}
