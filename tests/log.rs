//! `vault-audit log`: what it writes, what it refuses, and its exit codes.

mod common;

use common::{days_ago, days_before, entry_json, Run, Vault};
use serde_json::Value;

#[test]
fn log_with_flags_writes_a_valid_counted_day_file() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    for (i, level) in ["info", "ERROR", "Warning"].iter().enumerate() {
        let done = v
            .cmd()
            .args([
                "log",
                "--level",
                level,
                "--action",
                "plan_created",
                "--actor",
                "needs-action-processor",
            ])
            .args([
                "--target",
                "Plans/a.md",
                "--param",
                "n=7",
                "--param",
                "name=plan",
                "--param",
                "list=[1,2]",
            ])
            .args(["--timestamp", &ts, "--session", "AI_EMP_20261122_ABCDEF"])
            .run();
        done.assert_code(0);
        let r = done.response();
        assert_eq!(r["ok"], true);
        assert_eq!(r["status"], "success");
        assert_eq!(r["errors"], serde_json::json!([]));
        assert_eq!(r["path"], format!("Logs/{date}.json"));
        assert_eq!(r["details"]["written"], 1);
        assert_eq!(r["details"]["total_entries"], i + 1);
    }
    let day = v.day_json(&date);
    assert_eq!(day["date"], date);
    assert_eq!(day["total_entries"], 3);
    assert_eq!(
        day["summary"],
        serde_json::json!({"INFO": 1, "WARNING": 1, "ERROR": 1, "CRITICAL": 0})
    );
    let e = &day["entries"][0];
    assert_eq!(e["log_level"], "INFO");
    assert_eq!(
        e["parameters"],
        serde_json::json!({"n": 7, "name": "plan", "list": [1, 2]})
    );
    assert_eq!(e["approval_status"], "not_required");
    assert_eq!(e["approved_by"], "N/A");
    assert_eq!(e["result"], "success");
    assert_eq!(e["error_message"], Value::Null);
    assert_eq!(e["dry_run"], false);
    assert_eq!(e["session_id"], "AI_EMP_20261122_ABCDEF");
    assert_eq!(e["timestamp"], ts);
    assert_eq!(e.as_object().map(|o| o.len()), Some(12));
}

/// The fewest flags `log` takes.
const MINIMAL: [&str; 9] = [
    "log",
    "--level",
    "INFO",
    "--action",
    "system_event",
    "--actor",
    "a",
    "--target",
    "t",
];

#[test]
fn missing_timestamp_and_session_are_filled_in() {
    let v = Vault::new();
    let done = v.cmd().args(MINIMAL).run();
    done.assert_code(0);
    let path = done.response()["path"].as_str().expect("path").to_owned();
    let day: Value =
        serde_json::from_str(&std::fs::read_to_string(v.path().join(&path)).expect("read"))
            .expect("json");
    let e = &day["entries"][0];
    let session = e["session_id"].as_str().expect("session");
    assert!(
        session.starts_with("AI_EMP_") && session.len() == 22,
        "{session}"
    );
    let ts = e["timestamp"].as_str().expect("ts");
    assert_eq!(ts.len(), "2026-11-22T10:00:00.123Z".len(), "{ts}");
    assert!(ts.ends_with('Z'));
    // The day file is the one of the entry's own UTC date.
    assert_eq!(path, format!("Logs/{}.json", &ts[..10]));

    let done = v
        .cmd()
        .env("AUDIT_SESSION_ID", "from-env")
        .args(MINIMAL)
        .run();
    done.assert_code(0);
    let text = std::fs::read_to_string(
        v.path()
            .join(done.response()["path"].as_str().expect("path")),
    )
    .expect("read");
    assert!(text.contains("\"session_id\":\"from-env\""));
}

#[test]
fn an_entry_goes_to_the_file_of_its_own_utc_date() {
    let v = Vault::new();
    // Two days in a row from one `now` (d2 is the day after d1).
    let now = chrono::Utc::now();
    let (d1, ts1) = days_before(now, 3);
    let (d2, ts2) = days_before(now, 2);
    let stdin = format!(
        "{}\n{}\n{}\n",
        entry_json(&ts1, "INFO", 1),
        entry_json(&ts2, "INFO", 2),
        entry_json(&ts1, "CRITICAL", 3)
    );
    let done = v.cmd().args(["log", "--entry", "-"]).stdin(stdin).run();
    done.assert_code(0);
    assert_eq!(done.response()["details"]["written"], 3);
    assert_eq!(v.day_json(&d1)["total_entries"], 2);
    assert_eq!(v.day_json(&d1)["summary"]["CRITICAL"], 1);
    assert_eq!(v.day_json(&d2)["total_entries"], 1);
    // An offset is normalised to UTC before the date is taken.
    let done = v
        .cmd()
        .args([
            "log",
            "--entry",
            &entry_json(&format!("{}T23:30:00-05:00", d1), "INFO", 4),
        ])
        .run();
    done.assert_code(0);
    assert_eq!(v.day_json(&d2)["total_entries"], 2);
    assert_eq!(
        v.day_json(&d2)["entries"][1]["timestamp"],
        format!("{d2}T04:30:00.000Z")
    );
}

/// Runs `log` with `args` and checks it is refused with exit 1, names the
/// field and what is accepted, and leaves the vault untouched.
fn assert_rejected(args: &[&str], stdin: Option<&[u8]>, needles: &[&str]) {
    let v = Vault::new();
    let before = v.snapshot();
    let mut run = v.cmd().arg("log").args(args);
    if let Some(bytes) = stdin {
        run = run.stdin(bytes.to_vec());
    }
    let done = run.run();
    done.assert_code(1);
    let r = done.response();
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["details"]["written"], 0);
    let message = r["errors"][0].as_str().expect("message");
    for needle in needles {
        assert!(
            message.contains(needle),
            "{message:?} should contain {needle:?}"
        );
        assert!(
            done.stderr.contains(needle),
            "stderr {:?} should contain {needle:?}",
            done.stderr
        );
    }
    assert_eq!(v.snapshot(), before, "the vault must be untouched");
}

#[test]
fn invalid_values_are_rejected_naming_field_value_and_accepted_values() {
    let now = chrono::Utc::now();
    let (_, ts) = days_before(now, 1);
    // Noon tomorrow: at least 12 hours ahead of the binary's clock.
    let (_, future) = days_before(now, -1);
    let future_value = format!("timestamp \"{future}\"");
    // The flags of a valid entry, with `(flag, value)` pairs replaced or added.
    let flags = |changes: &[(&str, &str)]| -> Vec<String> {
        let mut all = vec![
            ("--level", "INFO".to_owned()),
            ("--action", "x".to_owned()),
            ("--actor", "a".to_owned()),
            ("--target", "t".to_owned()),
            ("--timestamp", ts.clone()),
        ];
        for (flag, value) in changes {
            match all.iter_mut().find(|(f, _)| f == flag) {
                Some(slot) => slot.1 = (*value).to_owned(),
                None => all.push((flag, (*value).to_owned())),
            }
        }
        all.into_iter()
            .flat_map(|(f, v)| [f.to_owned(), v])
            .collect()
    };
    let long = "a".repeat(65);
    type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (
            vec![("--level", "DEBUG")],
            vec!["log_level \"DEBUG\"", "INFO, WARNING, ERROR, CRITICAL"],
        ),
        (
            vec![("--action", "Plan Created")],
            vec!["action_type \"Plan Created\"", "lower_snake_case"],
        ),
        (vec![("--action", &long)], vec!["action_type", "at most 64"]),
        (
            vec![("--approval-status", "maybe")],
            vec![
                "approval_status \"maybe\"",
                "not_required, pending, approved, rejected, expired",
            ],
        ),
        (
            vec![("--approved-by", "robot")],
            vec!["approved_by \"robot\"", "human, system, N/A"],
        ),
        (
            vec![("--result", "great")],
            vec!["result \"great\"", "success, failure, skipped"],
        ),
        (
            vec![("--actor", "")],
            vec!["actor \"\"", "non-empty string"],
        ),
        (
            vec![("--timestamp", "2026-11-22 10:00")],
            vec!["timestamp \"2026-11-22 10:00\"", "offset or Z"],
        ),
        (
            vec![("--timestamp", &future)],
            vec![&future_value, "more than 5 minutes in the future"],
        ),
    ];
    for (changes, needles) in cases {
        let args = flags(&changes);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_rejected(&args, None, &needles);
    }
}

#[test]
fn invalid_json_entries_are_rejected() {
    let (_, ts) = days_ago(1);
    let good: Value = serde_json::from_str(&entry_json(&ts, "INFO", 1)).expect("json");
    let with = |k: &str, val: Value| {
        let mut e = good.clone();
        e[k] = val;
        e.to_string()
    };
    let mut missing = good.clone();
    missing.as_object_mut().expect("object").remove("result");
    // Each string is cut to 2,000 characters, but 40 of them still make an
    // entry over the 64 KiB limit.
    let blobs: serde_json::Map<String, Value> = (0..40)
        .map(|i| (format!("blob{i}"), Value::String("x".repeat(1900))))
        .collect();
    let huge = with("parameters", Value::Object(blobs));
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            with("extra", Value::Bool(true)),
            vec![
                "unknown field \"extra\"",
                "accepted fields are timestamp, log_level",
            ],
        ),
        (
            missing.to_string(),
            vec!["missing field \"result\"", "success, failure, skipped"],
        ),
        (
            with("dry_run", Value::String("no".into())),
            vec!["dry_run \"no\"", "true or false"],
        ),
        (
            with("parameters", Value::String("a=b".into())),
            vec!["parameters \"a=b\"", "a JSON object"],
        ),
        (
            with("error_message", serde_json::json!(42)),
            vec!["error_message 42", "null or a string"],
        ),
        (
            with("session_id", Value::String("".into())),
            vec!["session_id \"\"", "non-empty string"],
        ),
        (huge, vec!["bytes", "at most 65536 bytes"]),
        ("[1, 2".to_owned(), vec!["not valid JSON"]),
        ("42".to_owned(), vec!["expected a JSON object", "got 42"]),
    ];
    for (text, needles) in cases {
        assert_rejected(&["--entry", &text], None, &needles);
    }
}

#[test]
fn bad_stdin_lines_never_block_good_ones() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    let mut stdin = Vec::new();
    stdin.extend_from_slice(entry_json(&ts, "INFO", 1).as_bytes());
    stdin.extend_from_slice(b"\n{\"log_level\": \"INFO\"\n");
    stdin.extend_from_slice(b"\xff\xfe not utf-8\n\n");
    stdin.extend_from_slice(
        entry_json(&ts, "WARNING", 2)
            .replace("WARNING", "LOUD")
            .as_bytes(),
    );
    stdin.extend_from_slice(b"\r\n");
    stdin.extend_from_slice(entry_json(&ts, "ERROR", 3).as_bytes());
    let done = v.cmd().args(["log", "--entry", "-"]).stdin(stdin).run();
    done.assert_code(1);
    let r = done.response();
    assert_eq!(r["status"], "partial");
    assert_eq!(r["details"]["written"], 2);
    assert_eq!(r["details"]["rejected"], 3);
    let errors: Vec<&str> = r["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        errors[0].starts_with("line 2: entry rejected: not valid JSON"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("line 3: entry rejected: not valid UTF-8"),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("line 5: entry rejected: log_level \"LOUD\""),
        "{errors:?}"
    );
    let day = v.day_json(&date);
    assert_eq!(day["total_entries"], 2);
    assert_eq!(day["entries"][1]["parameters"]["n"], 3);
}

#[test]
fn stdin_takes_one_pretty_printed_object_or_an_array() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    let one: Value = serde_json::from_str(&entry_json(&ts, "INFO", 1)).expect("json");
    let pretty = serde_json::to_string_pretty(&one).expect("pretty");
    v.cmd()
        .args(["log", "--entry", "-"])
        .stdin(pretty)
        .run()
        .assert_code(0);
    let array = format!(
        "[{}, {}]",
        entry_json(&ts, "INFO", 2),
        entry_json(&ts, "INFO", 3)
    );
    let done = v.cmd().args(["log", "--entry", "-"]).stdin(array).run();
    done.assert_code(0);
    assert_eq!(done.response()["details"]["written"], 2);
    assert_eq!(v.day_json(&date)["total_entries"], 3);
}

#[test]
fn hostile_strings_are_stored_exactly_and_the_file_stays_one_line_per_entry() {
    let v = Vault::new();
    let (date, ts) = days_ago(1);
    let actor = "evil | actor\n## Hacked <script>alert(1)</script> \t]\n  ],\n";
    v.cmd()
        .args([
            "log",
            "--level",
            "CRITICAL",
            "--action",
            "error",
            "--actor",
            actor,
            "--target",
            "[[x]]",
            "--timestamp",
            &ts,
        ])
        .run()
        .assert_code(0);
    let nul =
        entry_json(&ts, "INFO", 2).replace("\"actor\":\"test\"", "\"actor\":\"nul\\u0000byte\"");
    v.cmd().args(["log", "--entry", &nul]).run().assert_code(0);
    let day = v.day_json(&date);
    assert_eq!(day["entries"][0]["actor"], actor);
    assert_eq!(day["entries"][1]["actor"], "nul\u{0}byte");
    assert_eq!(day["total_entries"], 2);
    let text = std::fs::read_to_string(v.day(&date)).expect("read");
    assert_eq!(text.lines().count(), 5 + 2 + 4, "{text}");
}

#[test]
fn usage_errors_exit_2_and_still_print_a_response() {
    let v = Vault::new();
    let done = v.cmd().args(["log", "--level", "INFO"]).run();
    done.assert_code(2);
    assert_eq!(done.response()["ok"], false);
    assert!(done.stderr.contains("--action"), "{}", done.stderr);

    let done = v
        .cmd()
        .args([
            "log", "--level", "INFO", "--action", "x", "--actor", "a", "--target", "t", "--param",
            "novalue",
        ])
        .run();
    done.assert_code(2);
    assert!(done.response()["errors"][0]
        .as_str()
        .expect("msg")
        .contains("--param \"novalue\": accepted: KEY=VALUE"));

    let done = Run::new().args(["log", "--entry", "{}"]).run();
    done.assert_code(2);
    assert!(
        done.stderr.contains("pass --vault PATH or set VAULT_PATH"),
        "{}",
        done.stderr
    );

    let done = Run::new()
        .args([
            "--vault",
            "/nonexistent/vault",
            "--no-dry-run",
            "log",
            "--entry",
            "{}",
        ])
        .run();
    done.assert_code(2);
    assert!(
        done.stderr
            .contains("/nonexistent/vault is not an existing folder"),
        "{}",
        done.stderr
    );

    let done = Run::new()
        .env("DRY_RUN", "perhaps")
        .arg("--vault")
        .arg(v.path())
        .args(["log", "--entry", "{}"])
        .run();
    done.assert_code(2);
    assert!(
        done.stderr
            .contains("DRY_RUN=\"perhaps\" is not a boolean; accepted: true, false"),
        "{}",
        done.stderr
    );
}

#[test]
fn the_command_is_what_clap_parses_not_any_argument_named_log_or_hook() {
    let v = Vault::new();
    // A value "log" or "hook" of another command's flag is that command's.
    let done = v.cmd().args(["query", "--actor", "log"]).run();
    done.assert_code(0);
    assert_eq!(done.stdout, "", "no entries, and no log response");
    // With a bad flag too: no log response line, and exit 2, not the hook's 0.
    for value in ["log", "hook"] {
        let done = v.cmd().args(["query", "--actor", value, "--bogus"]).run();
        done.assert_code(2);
        assert_eq!(done.stdout, "", "{value}");
        assert!(done.stderr.contains("--bogus"), "{}", done.stderr);
    }
    let done = v
        .cmd()
        .args(["--session", "hook", "verify", "--bogus"])
        .run();
    done.assert_code(2);
    // The commands themselves keep their promises on bad usage.
    let done = v.cmd().args(["log", "--bogus"]).run();
    done.assert_code(2);
    assert_eq!(done.response()["ok"], false);
    v.cmd()
        .args(["hook", "claude-code", "--bogus"])
        .run()
        .assert_code(0);
    v.cmd().arg("hook").run().assert_code(0);
}

#[test]
fn dry_run_prints_and_changes_nothing() {
    let v = Vault::new();
    let (_, ts) = days_ago(1);
    let before = v.snapshot();
    // Dry run is the default when neither DRY_RUN nor AUDIT_DRY_RUN is set.
    let done = v
        .plain()
        .args(["log", "--entry", &entry_json(&ts, "INFO", 1)])
        .run();
    done.assert_code(0);
    assert!(
        done.stdout
            .starts_with("[DRY_RUN] Log Entry: {\"timestamp\":"),
        "{}",
        done.stdout
    );
    assert_eq!(done.response()["details"]["dry_run"], true);
    assert_eq!(v.snapshot(), before);
    // AUDIT_DRY_RUN=false makes the log real even when DRY_RUN=true.
    let done = v
        .plain()
        .env("DRY_RUN", "true")
        .env("AUDIT_DRY_RUN", "false")
        .args(["log", "--entry", &entry_json(&ts, "INFO", 1)])
        .run();
    done.assert_code(0);
    assert_eq!(done.response()["details"]["written"], 1);
    // DRY_RUN in a .env file is read; the real environment wins over it.
    std::fs::write(v.path().join(".env"), "DRY_RUN=true\n").expect("write .env");
    let before = v.snapshot();
    let done = v
        .plain()
        .args(["log", "--entry", &entry_json(&ts, "INFO", 2)])
        .run();
    assert!(done.stdout.contains("[DRY_RUN]"));
    assert_eq!(v.snapshot(), before);
    let done = v
        .plain()
        .env("DRY_RUN", "false")
        .args(["log", "--entry", &entry_json(&ts, "INFO", 2)])
        .run();
    assert_eq!(done.response()["details"]["written"], 1);
}

#[test]
fn dry_run_still_validates() {
    let v = Vault::new();
    let done = v
        .plain()
        .args([
            "log", "--level", "LOUD", "--action", "x", "--actor", "a", "--target", "t",
        ])
        .run();
    done.assert_code(1);
    assert!(!done.stdout.contains("[DRY_RUN]"));
}
