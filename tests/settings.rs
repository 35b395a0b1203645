//! No setting and no flag value panics: every one is either taken or refused
//! with a usage error (exit 2), whatever the value.

mod common;

use common::{days_ago, entry_json, Vault};
use proptest::prelude::*;

/// Values people (and fuzzers) put in settings.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("99999999999999999999999".to_owned()),
        Just("100000000".to_owned()),
        Just("1e400".to_owned()),
        Just("NaN".to_owned()),
        Just("999999999999h".to_owned()),
        Just("-5s".to_owned()),
        Just("1s".to_owned()),
        Just("true".to_owned()),
        Just("[".to_owned()),
        "[ -~]{0,12}",
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| format!("{n}ms")),
    ]
}

const SETTINGS: [&str; 20] = [
    "AUDIT_RETENTION_DAYS",
    "AUDIT_ARCHIVE_DAYS",
    "AUDIT_LOCK_TIMEOUT_MS",
    "AUDIT_ALERT_ERRORS",
    "AUDIT_ALERT_WINDOW",
    "AUDIT_ALERT_SENSITIVE",
    "AUDIT_ALERT_ACTOR_FAILURES",
    "AUDIT_ALERT_ACTOR_WINDOW",
    "AUDIT_ALERT_UNUSUAL",
    "AUDIT_ALERT_UNUSUAL_MIN",
    "AUDIT_DASHBOARD_TZ",
    "AUDIT_FOLDER_BRIEFINGS",
    "AUDIT_REPORT_SCHEDULE",
    "AUDIT_FOLDER_PENDING_APPROVAL",
    "AUDIT_MAX_FIELD_CHARS",
    "AUDIT_REDACTION",
    "AUDIT_REDACT_PATTERNS",
    "AUDIT_FORWARD_BATCH",
    "AUDIT_FORWARD_BACKOFF_MAX",
    "AUDIT_DRY_RUN",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn no_setting_value_panics(which in 0..SETTINGS.len(), v in value(), flag in value()) {
        let vault = Vault::new();
        let (_, ts) = days_ago(0);
        let runs: [Vec<String>; 5] = [
            vec!["log".into(), "--entry".into(), entry_json(&ts, "INFO", 1)],
            vec!["rotate".into(), "--days".into(), flag.clone()],
            vec!["query".into(), "--since".into(), flag.clone()],
            vec!["tail".into(), "-n".into(), flag.clone()],
            vec!["report".into(), "--until".into(), flag.clone()],
        ];
        for args in runs {
            let done = vault.cmd().env(SETTINGS[which], &v).args(&args).run();
            prop_assert!(
                done.code != 101 && !done.stderr.contains("panicked"),
                "{}={v:?} {args:?}: exit {}\n{}", SETTINGS[which], done.code, done.stderr
            );
            prop_assert!([0, 1, 2, 3, 4].contains(&done.code), "exit {}", done.code);
        }
    }
}
