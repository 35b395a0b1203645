//! Value aliases: the spellings other loggers use for our closed values,
//! accepted on every input path and stored in canonical form.

/// How strictly an entry's values are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ParseMode {
    /// The aliases of [`ALIASES`] are accepted (any case, surrounding
    /// spaces ignored) and stored in their canonical form.
    #[default]
    Aliases,
    /// Only the stored spellings (in any case): `AUDIT_STRICT=1`.
    Strict,
}

/// One accepted alias: for `field`, the text `alias` (compared trimmed and
/// in lower case) stands for the stored value `canonical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alias {
    /// The entry field.
    pub field: &'static str,
    /// The other spelling, in lower case.
    pub alias: &'static str,
    /// The value stored instead.
    pub canonical: &'static str,
}

const fn alias(field: &'static str, alias: &'static str, canonical: &'static str) -> Alias {
    Alias {
        field,
        alias,
        canonical,
    }
}

/// Every alias, by field. A `result` of `pending` also sets
/// `approval_status` to `pending` (when it is missing or `not_required`).
pub const ALIASES: &[Alias] = &[
    alias("approval_status", "n/a", "not_required"),
    alias("approval_status", "n_a", "not_required"),
    alias("approval_status", "none", "not_required"),
    alias("approval_status", "not required", "not_required"),
    alias("approved_by", "n_a", "N/A"),
    alias("approved_by", "none", "N/A"),
    alias("result", "fail", "failure"),
    alias("result", "failed", "failure"),
    alias("result", "error", "failure"),
    alias("result", "ok", "success"),
    alias("result", "succeeded", "success"),
    alias("result", "completed", "success"),
    alias("result", "done", "success"),
    alias("result", "skip", "skipped"),
    alias("result", "pending", "skipped"),
];

impl ParseMode {
    /// The text to try instead of `text` for `field`, when `text` itself is
    /// not accepted: the canonical value of an alias, or `text` trimmed and
    /// in lower case. `None` in strict mode.
    pub fn canonical(self, field: &str, text: &str) -> Option<String> {
        if self == ParseMode::Strict {
            return None;
        }
        let folded = text.trim().to_lowercase();
        let found = ALIASES
            .iter()
            .find(|a| a.field == field && a.alias == folded);
        Some(found.map_or(folded, |a| a.canonical.to_owned()))
    }

    /// Whether `text` is a `result` of `pending` (which also makes the
    /// approval pending).
    pub fn is_pending_result(self, text: &str) -> bool {
        self == ParseMode::Aliases && text.trim().eq_ignore_ascii_case("pending")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{ApprovalStatus, Entry, EntryError, Outcome};
    use serde_json::{json, Value};

    fn seed() -> Value {
        json!({
            "timestamp": "2026-11-22T10:00:00.123Z", "log_level": "INFO",
            "action_type": "plan_created", "actor": "a", "target": "t",
            "parameters": {}, "approval_status": "not_required", "approved_by": "N/A",
            "dry_run": false, "result": "success", "error_message": null
        })
    }

    fn with(key: &str, value: &str, mode: ParseMode) -> Result<Entry, EntryError> {
        let mut v = seed();
        v[key] = json!(value);
        Entry::from_value_in(v, mode)
    }

    #[test]
    fn every_alias_is_stored_canonical_and_refused_when_strict() {
        for a in ALIASES {
            for text in [
                a.alias.to_owned(),
                format!("  {}  ", a.alias.to_uppercase()),
            ] {
                let e = with(a.field, &text, ParseMode::Aliases).expect(a.alias);
                let stored: Value = serde_json::from_str(&e.to_json_line()).expect("json");
                assert_eq!(stored[a.field], a.canonical, "{text:?}");
                assert!(with(a.field, &text, ParseMode::Strict).is_err(), "{text:?}");
            }
        }
    }

    #[test]
    fn a_pending_result_is_skipped_and_pending_approval() {
        let e = with("result", "Pending", ParseMode::Aliases).expect("pending");
        assert_eq!(e.result, Outcome::Skipped);
        assert_eq!(e.approval_status, ApprovalStatus::Pending);
        let mut v = seed();
        v["result"] = json!("pending");
        v["approval_status"] = json!("approved");
        let e = Entry::from_value(v).expect("approved stays");
        assert_eq!(e.approval_status, ApprovalStatus::Approved);
    }

    #[test]
    fn three_wrong_fields_are_one_rejection_naming_all_three() {
        let mut v = seed();
        let o = v.as_object_mut().expect("object");
        o.remove("log_level");
        o.insert("dry_run".into(), json!("yes"));
        o.insert("colour".into(), json!("blue"));
        let e = Entry::from_value(v).expect_err("rejected");
        assert_eq!(e.problems().len(), 3, "{e}");
        let m = e.to_string();
        assert!(
            m.starts_with("entry rejected: 3 problems: unknown field \"colour\""),
            "{m}"
        );
        assert!(
            m.contains("missing field \"log_level\" (one of INFO"),
            "{m}"
        );
        assert!(m.contains("dry_run \"yes\" is not true or false"), "{m}");
        assert!(!m.contains('\n'), "{m}");
    }

    #[test]
    fn aliases_fold_case_and_spaces() {
        let m = ParseMode::Aliases;
        assert_eq!(m.canonical("result", " FAILED "), Some("failure".into()));
        assert_eq!(
            m.canonical("approval_status", "Not Required"),
            Some("not_required".into())
        );
        assert_eq!(m.canonical("log_level", " info "), Some("info".into()));
        assert_eq!(ParseMode::Strict.canonical("result", "fail"), None);
    }
}
