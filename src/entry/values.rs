//! The closed value sets of an entry and the open, checked `action_type`.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// A value an entry field does not accept, as text: the field, the value
/// and what is accepted (`log_level "DEBUG" is not one of INFO, WARNING,
/// ERROR, CRITICAL`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {} is not {accepted}", super::shorten_for_message(value))]
pub struct ValueError {
    /// The field: `log_level`, `action_type`, ...
    pub field: &'static str,
    /// The value given.
    pub value: String,
    /// What the field accepts.
    pub accepted: String,
}

/// Defines a closed set of string values: parse (any case), display, serialize.
macro_rules! value_set {
    ($(#[$doc:meta])* $name:ident, $field:literal, { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The field this value belongs to.
            pub const FIELD: &'static str = $field;

            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The accepted values, for error messages: `one of A, B, C`.
            pub fn accepted() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                format!("one of {}", names.join(", "))
            }
        }

        impl FromStr for $name {
            type Err = ValueError;
            /// Parses any case of a stored spelling.
            fn from_str(s: &str) -> Result<Self, ValueError> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
                    .ok_or_else(|| ValueError {
                        field: $field,
                        value: s.to_owned(),
                        accepted: Self::accepted(),
                    })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        /// The stored spellings, as a JSON Schema `enum`: a tool schema
        /// (MCP) offers exactly the values this type accepts.
        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                schemars::json_schema!({"type": "string", "enum": names})
            }
        }
    };
}

value_set!(
    /// Severity of an entry.
    LogLevel, "log_level", {
        /// Routine.
        Info => "INFO",
        /// Something to look at.
        Warning => "WARNING",
        /// Something failed.
        Error => "ERROR",
        /// Something failed badly; kept past retention.
        Critical => "CRITICAL",
    }
);

value_set!(
    /// Where an action stands in the approval workflow.
    ApprovalStatus, "approval_status", {
        /// No approval needed.
        NotRequired => "not_required",
        /// Waiting for a decision.
        Pending => "pending",
        /// Approved.
        Approved => "approved",
        /// Rejected.
        Rejected => "rejected",
        /// Nobody decided in time.
        Expired => "expired",
    }
);

value_set!(
    /// Who approved an action.
    ApprovedBy, "approved_by", {
        /// A person.
        Human => "human",
        /// An automatic rule.
        System => "system",
        /// Nobody needed to.
        NotApplicable => "N/A",
    }
);

value_set!(
    /// How an action ended (the `result` field).
    Outcome, "result", {
        /// It worked.
        Success => "success",
        /// It failed.
        Failure => "failure",
        /// It was not attempted.
        Skipped => "skipped",
    }
);

impl LogLevel {
    /// Position in a `summary` array: INFO, WARNING, ERROR, CRITICAL.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// An `action_type`: one of the seed's ten or any other lower-snake-case name
/// of at most 64 characters (`tool_call`, `log_retention`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionType(String);

impl ActionType {
    /// The ten action types named by the schema.
    pub const KNOWN: [&'static str; 10] = [
        "file_drop",
        "plan_created",
        "approval_requested",
        "approved",
        "rejected",
        "expired",
        "email_sent",
        "file_moved",
        "error",
        "system_event",
    ];

    /// The longest accepted name.
    pub const MAX_LEN: usize = 64;

    /// What is accepted, for error messages.
    pub fn accepted() -> String {
        format!(
            "one of {} or another lower_snake_case name (a-z, 0-9, _; starting with a letter; at most {} characters)",
            Self::KNOWN.join(", "),
            Self::MAX_LEN
        )
    }

    /// `system_event`: what the logger and daemon record of themselves.
    pub fn system_event() -> Self {
        ActionType("system_event".to_owned())
    }

    /// Checks and wraps a name.
    pub fn new(name: &str) -> Result<Self, ValueError> {
        let mut chars = name.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if starts_with_letter && rest_ok && name.len() <= Self::MAX_LEN {
            Ok(ActionType(name.to_owned()))
        } else {
            Err(ValueError {
                field: "action_type",
                value: name.to_owned(),
                accepted: Self::accepted(),
            })
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ActionType {
    type Err = ValueError;
    fn from_str(s: &str) -> Result<Self, ValueError> {
        ActionType::new(s)
    }
}

impl fmt::Display for ActionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A lower_snake_case name of at most [`ActionType::MAX_LEN`] characters:
/// exactly what [`ActionType::new`] accepts.
impl schemars::JsonSchema for ActionType {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ActionType".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[a-z][a-z0-9_]*$",
            "minLength": 1,
            "maxLength": ActionType::MAX_LEN,
            "examples": ActionType::KNOWN,
        })
    }
}

impl Serialize for ActionType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_in_any_case_and_store_upper_case() {
        assert_eq!("warning".parse::<LogLevel>(), Ok(LogLevel::Warning));
        assert_eq!(
            "Critical".parse::<LogLevel>().map(|l| l.as_str()),
            Ok("CRITICAL")
        );
        assert_eq!(
            "DEBUG".parse::<LogLevel>().unwrap_err().to_string(),
            "log_level \"DEBUG\" is not one of INFO, WARNING, ERROR, CRITICAL"
        );
        assert_eq!(
            "maybe".parse::<Outcome>().unwrap_err().field,
            Outcome::FIELD
        );
    }

    #[test]
    fn action_types_are_lower_snake_case() {
        for ok in ActionType::KNOWN
            .iter()
            .chain(&["tool_call", "log_retention", "x1"])
        {
            assert!(ActionType::new(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in [
            "",
            "Plan_Created",
            "plan created",
            "1plan",
            "_x",
            "plan-created",
            &long,
        ] {
            assert!(ActionType::new(bad).is_err(), "{bad:?}");
        }
        let e = ActionType::new("Plan Created").expect_err("refused");
        assert!(
            e.to_string()
                .starts_with("action_type \"Plan Created\" is not one of file_drop, "),
            "{e}"
        );
    }
}
