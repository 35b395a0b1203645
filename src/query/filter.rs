//! A [`Filter`] from text (flags, tool arguments), checked all at once: a
//! caller learns every wrong field in one answer, each with its value and
//! what is accepted.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::Filter;
use crate::entry::{ApprovalStatus, LogLevel, Outcome, ValueError};
use crate::time::{parse_day, parse_duration, parse_timestamp};

/// A filter as given, before it is checked: every field as text. Empty
/// fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterSpec {
    /// From this time: a duration back from now (`30m`, `1h`, `7d`), an RFC
    /// 3339 time, or a date (its start).
    pub since: Option<String>,
    /// Up to this time (the same forms; a date means its end).
    pub until: Option<String>,
    /// Any of these levels (any case).
    pub levels: Vec<String>,
    /// This action type.
    pub action: Option<String>,
    /// This actor, exactly.
    pub actor: Option<String>,
    /// Targets containing this text.
    pub target: Option<String>,
    /// This result (any case).
    pub result: Option<String>,
    /// This session.
    pub session: Option<String>,
    /// This approval status (any case).
    pub approval_status: Option<String>,
    /// This text anywhere in the entry.
    pub contains: Option<String>,
}

/// A field of [`FilterSpec`] whose value can be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `since`.
    Since,
    /// `until`.
    Until,
    /// `level`.
    Level,
    /// `result`.
    Result,
    /// `approval_status`.
    ApprovalStatus,
}

impl Field {
    /// Its name: `since`, `until`, `level`, `result`, `approval_status`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Since => "since",
            Field::Until => "until",
            Field::Level => "level",
            Field::Result => "result",
            Field::ApprovalStatus => "approval_status",
        }
    }
}

/// One refused value: its field, the value, and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field.
    pub field: Field,
    /// The value given.
    pub value: String,
    /// What the field accepts.
    pub accepted: String,
}

impl FieldError {
    /// The message, with the field named as `name` says (a flag, say).
    pub fn describe(&self, name: &str) -> String {
        format!("{name} {:?}: accepted: {}", self.value, self.accepted)
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(self.field.name()))
    }
}

/// Every refused value of a [`FilterSpec`], in field order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe(|f| f.name().to_owned()))]
pub struct FilterError {
    /// The refused values, at least one.
    pub fields: Vec<FieldError>,
}

impl FilterError {
    /// The messages joined by `; `, each field named as `name` says: the
    /// command line names flags (`--approval-status`), a tool its arguments.
    pub fn describe(&self, name: impl Fn(Field) -> String) -> String {
        self.fields
            .iter()
            .map(|e| e.describe(&name(e.field)))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

const WHEN_ACCEPTED: &str = "a duration back from now (30m, 1h, 7d), an RFC 3339 time (2026-11-22T10:00:00Z) or a date (2026-11-22)";

/// Why a `since` / `until` value was refused; it displays what is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum WhenError {
    /// A duration reaching back before the earliest time there is.
    #[error("a shorter duration back from now; {WHEN_ACCEPTED}")]
    TooFarBack,
    /// Neither a duration, a time nor a date.
    #[error("{WHEN_ACCEPTED}")]
    NotATime,
}

/// A `since` / `until` value: a duration back from `now`, an RFC 3339 time,
/// or a date (its start, or with `end`, its last millisecond).
fn when(text: &str, now: DateTime<Utc>, end: bool) -> Result<DateTime<Utc>, WhenError> {
    if let Ok(back) = parse_duration(text) {
        return chrono::Duration::from_std(back)
            .ok()
            .and_then(|back| now.checked_sub_signed(back))
            .ok_or(WhenError::TooFarBack);
    }
    if let Ok(t) = parse_timestamp(text) {
        return Ok(t);
    }
    let day = parse_day(text).and_then(|day| {
        if end {
            day.and_hms_milli_opt(23, 59, 59, 999)
        } else {
            day.and_hms_opt(0, 0, 0)
        }
    });
    day.map(|t| t.and_utc()).ok_or(WhenError::NotATime)
}

/// Collects refused values while a filter is checked.
struct Check(Vec<FieldError>);

impl Check {
    /// Notes `value` of `field` as refused, with what is accepted.
    fn refuse<T>(&mut self, field: Field, value: &str, accepted: String) -> Option<T> {
        self.0.push(FieldError {
            field,
            value: value.to_owned(),
            accepted,
        });
        None
    }

    /// A value of a closed set, in its stored spelling.
    fn closed<T: FromStr<Err = ValueError> + fmt::Display>(
        &mut self,
        field: Field,
        value: Option<&str>,
    ) -> Option<String> {
        let value = value?;
        match value.parse::<T>() {
            Ok(v) => Some(v.to_string()),
            Err(e) => self.refuse(field, value, e.accepted),
        }
    }

    fn time(
        &mut self,
        field: Field,
        value: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let value = value?;
        match when(value, now, field == Field::Until) {
            Ok(t) => Some(t),
            Err(e) => self.refuse(field, value, e.to_string()),
        }
    }
}

impl Filter {
    /// Checks `spec` (durations count back from `now`) and returns the
    /// filter, or every refused value at once.
    pub fn new(spec: &FilterSpec, now: DateTime<Utc>) -> Result<Filter, FilterError> {
        let mut check = Check(Vec::new());
        let since = check.time(Field::Since, spec.since.as_deref(), now);
        let until = check.time(Field::Until, spec.until.as_deref(), now);
        let levels = spec
            .levels
            .iter()
            .filter_map(|l| check.closed::<LogLevel>(Field::Level, Some(l)))
            .collect();
        let result = check.closed::<Outcome>(Field::Result, spec.result.as_deref());
        let approval_status =
            check.closed::<ApprovalStatus>(Field::ApprovalStatus, spec.approval_status.as_deref());
        if !check.0.is_empty() {
            return Err(FilterError { fields: check.0 });
        }
        Ok(Filter {
            since,
            until,
            levels,
            action: spec.action.clone(),
            actor: spec.actor.clone(),
            target: spec.target.clone(),
            result,
            session: spec.session.clone(),
            approval_status,
            contains: spec.contains.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        parse_timestamp("2026-11-22T12:00:00Z").expect("time")
    }

    #[test]
    fn a_good_spec_gives_the_filter_in_stored_spellings() {
        let spec = FilterSpec {
            since: Some("2h".into()),
            until: Some("2026-11-22".into()),
            levels: vec!["error".into(), "Critical".into()],
            result: Some("FAILURE".into()),
            approval_status: Some("Pending".into()),
            actor: Some("a".into()),
            ..FilterSpec::default()
        };
        let f = Filter::new(&spec, now()).expect("valid");
        assert_eq!(f.since, parse_timestamp("2026-11-22T10:00:00Z").ok());
        assert_eq!(f.until, parse_timestamp("2026-11-22T23:59:59.999Z").ok());
        assert_eq!(f.levels, ["ERROR", "CRITICAL"]);
        assert_eq!(f.result.as_deref(), Some("failure"));
        assert_eq!(f.approval_status.as_deref(), Some("pending"));
        assert_eq!(f.actor.as_deref(), Some("a"));
    }

    #[test]
    fn every_refused_value_is_reported_at_once() {
        let spec = FilterSpec {
            since: Some("last week".into()),
            until: Some("1000000000d".into()),
            levels: vec!["INFO".into(), "LOUD".into()],
            result: Some("ok".into()),
            approval_status: Some("maybe".into()),
            ..FilterSpec::default()
        };
        let e = Filter::new(&spec, now()).expect_err("refused");
        let fields: Vec<Field> = e.fields.iter().map(|f| f.field).collect();
        assert_eq!(
            fields,
            [
                Field::Since,
                Field::Until,
                Field::Level,
                Field::Result,
                Field::ApprovalStatus
            ]
        );
        let text = e.to_string();
        assert!(
            text.starts_with("since \"last week\": accepted: a duration back from now"),
            "{text}"
        );
        assert!(
            text.contains("; level \"LOUD\": accepted: one of INFO, WARNING, ERROR, CRITICAL"),
            "{text}"
        );
        assert!(text.contains("; result \"ok\": accepted: one of"), "{text}");
        let flags = e.describe(|f| format!("--{}", f.name().replace('_', "-")));
        assert!(flags.contains("--approval-status \"maybe\""), "{flags}");
    }
}
