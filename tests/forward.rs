//! Forwarding to a real PostgreSQL, a real rsyslogd and an HTTP stand-in
//! for VictoriaLogs and Loki: catch-up, outages and restarts, exactly once
//! in PostgreSQL, and gaps retention makes.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::servers::{LogStore, Postgres, Rsyslog};
use common::{days_ago, days_before, wait_for, Daemon, Vault};
use serde_json::{json, Value};

/// An entry with a distinguishing `n`, by `actor`, failing when `fail`.
fn entry(ts: &str, n: u64, actor: &str, fail: bool) -> String {
    json!({
        "timestamp": ts,
        "log_level": if fail { "ERROR" } else { "INFO" },
        "action_type": if n.is_multiple_of(2) { "email_send" } else { "file_drop" },
        "actor": actor,
        "target": format!("Inbox/note-{n}.md"),
        "parameters": {"n": n, "duration_ms": n * 10},
        "approval_status": "not_required",
        "approved_by": "N/A",
        "dry_run": false,
        "result": if fail { "failure" } else { "success" },
        "error_message": if fail { Value::from("SMTP refused") } else { Value::Null },
        "session_id": "AI_EMP_20261122_FWD001"
    })
    .to_string()
}

/// Logs entries `ns` at `ts` through the command line, every fifth failing.
fn log(v: &Vault, ts: &str, ns: std::ops::RangeInclusive<u64>, actor: &str) {
    log_lines(
        v,
        ns.map(|n| entry(ts, n, actor, n % 5 == 0) + "\n").collect(),
    );
}

/// Logs entries given as JSON lines through the command line.
fn log_lines(v: &Vault, lines: String) {
    v.cmd()
        .args(["log", "--entry", "-"])
        .stdin(lines)
        .run()
        .assert_code(0);
}

/// While a store is down: entries 201 to 350 arrive today in five chunks,
/// then 351 back-dated to yesterday (after the cursor passed that day).
fn log_during_outage(v: &Vault, now: &str, yesterday: &str) {
    for chunk in 0..5 {
        let first = 201 + chunk * 30;
        log(v, now, first..=first + 29, "email_skill");
        std::thread::sleep(Duration::from_millis(200));
    }
    log(v, yesterday, 351..=351, "email_skill");
    std::thread::sleep(Duration::from_secs(1));
}

/// Every entry in the vault's day files.
fn stored(v: &Vault) -> Vec<Value> {
    let mut days: Vec<_> = std::fs::read_dir(v.logs())
        .expect("logs")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.len() == 15 && n.ends_with(".json") && n != "index.json")
        })
        .collect();
    days.sort();
    days.iter()
        .flat_map(|p| {
            let day: Value =
                serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json");
            day["entries"].as_array().cloned().unwrap_or_default()
        })
        .collect()
}

fn ns_of<'a>(entries: impl IntoIterator<Item = &'a Value>, actor: &str) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for e in entries {
        if e["actor"] == actor {
            *counts
                .entry(e["parameters"]["n"].as_u64().expect("n"))
                .or_insert(0) += 1;
        }
    }
    counts
}

fn events(v: &Vault, event: &str) -> Vec<Value> {
    stored(v)
        .into_iter()
        .filter(|e| e["action_type"] == "system_event" && e["parameters"]["event"] == event)
        .collect()
}

#[test]
fn postgres_holds_every_entry_exactly_once_across_an_outage() {
    let pg = Postgres::start();
    let v = Vault::new();
    let url = pg.url();
    let env = [
        ("AUDIT_FORWARD_POSTGRES", url.as_str()),
        ("AUDIT_FORWARD_BACKOFF_MAX", "1s"),
        ("AUDIT_VAULT_NAME", "ops-vault"),
    ];
    // Yesterday and today from one clock reading: two different days, even
    // in the first second after midnight.
    let t = chrono::Utc::now();
    let (_, yesterday) = days_before(t, 1);
    let (_, now) = days_before(t, 0);
    log(&v, &yesterday, 1..=120, "email_skill");
    log(&v, &now, 121..=200, "email_skill");

    // --init-postgres prints real DDL; --once creates the table and catches up.
    let ddl = v.cmd().args(["forward", "--init-postgres"]).run();
    assert!(ddl
        .stdout
        .contains("CREATE TABLE IF NOT EXISTS agent_audit_log"));
    let mut once = v.cmd().args(["forward", "--once"]);
    for (k, val) in env {
        once = once.env(k, val);
    }
    let done = once.run();
    assert_eq!(done.code, 0, "{}", done.stderr);
    let report: Value = serde_json::from_str(done.stdout.trim()).expect("report");
    assert_eq!(report["sinks"][0]["sent"], 200);
    assert_eq!(report["sinks"][0]["pending"], 0);

    let mut db = pg.client();
    let row = db
        .query_one(
            "SELECT count(*), count(DISTINCT (parameters->>'n')), min(vault), pg_typeof(min(\"timestamp\"))::text, \
             count(*) FILTER (WHERE result = 'failure' AND error_message = 'SMTP refused') \
             FROM agent_audit_log",
            &[],
        )
        .expect("query");
    assert_eq!(row.get::<_, i64>(0), 200);
    assert_eq!(row.get::<_, i64>(1), 200);
    assert_eq!(row.get::<_, String>(2), "ops-vault");
    assert_eq!(row.get::<_, String>(3), "timestamp with time zone");
    assert_eq!(row.get::<_, i64>(4), 40);

    // The daemon forwards as entries arrive; PostgreSQL goes down meanwhile.
    let d = Daemon::start_with(&v, &["--no-watch-vault"], &env);
    pg.down();
    log_during_outage(&v, &now, &yesterday);
    pg.up();
    let mut db = pg.client();
    let count = |db: &mut postgres::Client| -> i64 {
        db.query_one(
            "SELECT count(*) FROM agent_audit_log WHERE actor = 'email_skill'",
            &[],
        )
        .expect("count")
        .get(0)
    };
    wait_for("PostgreSQL to catch up", Duration::from_secs(60), || {
        count(&mut db) == 351
    });
    let (code, _) = d.terminate();
    assert_eq!(code, Some(0));
    assert_eq!(
        events(&v, "sink_down").len(),
        1,
        "one WARNING when it went down"
    );
    assert_eq!(events(&v, "sink_down")[0]["log_level"], "WARNING");
    assert_eq!(events(&v, "sink_up").len(), 1, "one INFO when it came back");

    // Sending everything again (the cursor lost) inserts nothing twice.
    std::fs::remove_file(v.logs().join(".audit/sinks/postgres.json")).expect("cursor");
    let mut again = v.cmd().args(["forward", "--once"]);
    for (k, val) in env {
        again = again.env(k, val);
    }
    again.run().assert_code(0);
    let total = stored(&v).len() as i64;
    let all: i64 = db
        .query_one("SELECT count(*) FROM agent_audit_log", &[])
        .expect("n")
        .get(0);
    assert_eq!(
        all, total,
        "every stored entry once, the daemon's own events too"
    );
    let doubled: i64 = db
        .query_one(
            "SELECT count(*) FROM (SELECT parameters->>'n' FROM agent_audit_log WHERE actor = 'email_skill' \
             GROUP BY 1 HAVING count(*) > 1) d",
            &[],
        )
        .expect("dups")
        .get(0);
    assert_eq!(doubled, 0);

    // The documented queries answer the skill specification's questions.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/forwarding.md"))
            .expect("docs/forwarding.md");
    let queries: Vec<&str> = readme
        .split("```sql\n")
        .skip(1)
        .filter_map(|s| s.split("```").next())
        .filter(|q| q.contains("FROM agent_audit_log"))
        .collect();
    assert_eq!(
        queries.len(),
        3,
        "failed in 24 h, per actor per day, success rate"
    );
    // The first counts back 24 hours from PostgreSQL's now(), which is the
    // time its transaction began: read it in the same transaction, so the
    // entries expected are exactly those of the window it used (yesterday's
    // noon entries are in it or not depending on the hour).
    let mut tx = db.transaction().expect("transaction");
    let db_now: i64 = tx
        .query_one("SELECT (extract(epoch FROM now()) * 1000000)::int8", &[])
        .expect("now()")
        .get(0);
    let failed = tx.query(queries[0], &[]).expect("failed actions");
    tx.commit().expect("commit");
    let day_ago = chrono::DateTime::from_timestamp_micros(db_now).expect("now()")
        - chrono::Duration::hours(24);
    let expected = stored(&v)
        .iter()
        .filter(|e| e["result"] == "failure")
        .filter(|e| {
            chrono::DateTime::parse_from_rfc3339(e["timestamp"].as_str().expect("ts")).expect("ts")
                > day_ago
        })
        .count();
    assert!(expected >= 46, "{expected}");
    assert_eq!(failed.len(), expected);
    let per_day = db.query(queries[1], &[]).expect("per actor per day");
    assert!(per_day
        .iter()
        .any(|r| r.get::<_, String>("actor") == "email_skill"));
    let rates = db.query(queries[2], &[]).expect("success rate");
    for r in rates
        .iter()
        .filter(|r| r.get::<_, String>("action_type") != "system_event")
    {
        let rate: f64 = r.get::<_, f64>("success_rate_pct");
        assert!((70.0..=90.0).contains(&rate), "{rate}");
    }
}

/// rsyslog's fields for one message: facility, severity, time, app, procid, msgid, SD, MSG.
fn fields(line: &str) -> Vec<&str> {
    line.splitn(8, '|').collect()
}

#[test]
fn syslog_gets_rfc_5424_over_udp_and_tcp_and_catches_up_after_a_restart() {
    let mut rs = Rsyslog::start();
    let v = Vault::new();
    let (_, now) = days_ago(0);
    log(&v, &now, 1..=30, "syslog_skill");
    let udp = format!("udp://127.0.0.1:{}", rs.port);
    v.cmd()
        .args(["forward", "--once"])
        .env("AUDIT_FORWARD_SYSLOG", &udp)
        .env("AUDIT_VAULT_NAME", "ops")
        .run()
        .assert_code(0);
    wait_for("30 messages over UDP", Duration::from_secs(20), || {
        rs.lines().len() >= 30
    });
    let stored_by_n: BTreeMap<u64, Value> = stored(&v)
        .into_iter()
        .map(|e| (e["parameters"]["n"].as_u64().expect("n"), e))
        .collect();
    let mut heads = 0;
    for line in rs.lines() {
        let f = fields(&line);
        assert_eq!(f.len(), 8, "{line}");
        if f[5] == "chain_head" {
            // The head record, under its own MSGID (see tests/tamper.rs).
            assert!(f[7].trim().starts_with("{\"head\":1,"), "{line}");
            heads += 1;
            continue;
        }
        let msg: Value = serde_json::from_str(f[7].trim()).expect("MSG is the entry as JSON");
        let n = msg["parameters"]["n"].as_u64().expect("n");
        assert_eq!(msg, stored_by_n[&n], "the entry exactly as stored");
        assert_eq!(f[0], "local0");
        assert_eq!(f[1], if n.is_multiple_of(5) { "err" } else { "info" });
        assert!(f[2].starts_with(&now[..19]), "{} vs {now}", f[2]);
        assert_eq!(f[3], "vault-audit");
        assert_eq!(f[5], msg["action_type"].as_str().expect("action"));
        assert!(
            f[6].starts_with("[audit@32473 vault=\"ops\" actor=\"syslog_skill\""),
            "{}",
            f[6]
        );
        assert!(f[6].contains(&format!("target=\"Inbox/note-{n}.md\"")));
    }
    assert_eq!(heads, 1, "one chain head after the entries");

    // TCP, through the daemon; rsyslogd stops and comes back.
    let tcp = format!("tcp://127.0.0.1:{}", rs.port);
    let env = [
        ("AUDIT_FORWARD_SYSLOG", tcp.as_str()),
        ("AUDIT_FORWARD_SYSLOG_FACILITY", "local3"),
        ("AUDIT_FORWARD_BACKOFF_MAX", "1s"),
    ];
    let v2 = Vault::new();
    let d = Daemon::start_with(&v2, &["--no-watch-vault"], &env);
    log(&v2, &now, 1..=50, "tcp_skill");
    let arrived = |rs: &Rsyslog| {
        rs.lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(fields(l).get(7)?.trim()).ok())
            .filter(|m| m["actor"] == "tcp_skill")
            .filter_map(|m| m["parameters"]["n"].as_u64())
            .collect::<std::collections::BTreeSet<u64>>()
    };
    wait_for("50 messages over TCP", Duration::from_secs(30), || {
        arrived(&rs).len() == 50
    });
    rs.down();
    for chunk in 0..4 {
        let first = 51 + chunk * 25;
        log(&v2, &now, first..=first + 24, "tcp_skill");
        std::thread::sleep(Duration::from_millis(300));
    }
    rs.up();
    wait_for(
        "every entry after the restart",
        Duration::from_secs(60),
        || arrived(&rs).len() == 150,
    );
    assert!(rs
        .lines()
        .iter()
        .filter(|l| l.contains("tcp_skill"))
        .all(|l| l.starts_with("local3|")));
    let (code, _) = d.terminate();
    assert_eq!(code, Some(0));
    assert_eq!(events(&v2, "sink_down").len(), 1);
}

#[test]
fn http_stores_get_their_documented_requests_through_503_429_and_400() {
    let store = LogStore::start();
    let v = Vault::new();
    let (_, now) = days_ago(0);
    log(&v, &now, 1..=40, "http_skill");
    let url = store.url();
    let once = |v: &Vault, format: &str| {
        v.cmd()
            .args(["forward", "--once"])
            .env("AUDIT_FORWARD_HTTP", &url)
            .env("AUDIT_FORWARD_HTTP_FORMAT", format)
            .env("AUDIT_FORWARD_HTTP_HEADERS", "Authorization: Bearer t0ken")
            .env("AUDIT_FORWARD_BATCH", "16")
            .run()
    };
    // A 400 is a refusal: exit 4, nothing marked sent.
    store.set(400);
    let refused = once(&v, "jsonline");
    assert_eq!(refused.code, 4, "{}", refused.stderr);
    assert!(refused.stderr.contains("rejected"), "{}", refused.stderr);
    store.set(200);
    once(&v, "jsonline").assert_code(0);
    let got = store.delivered();
    assert_eq!(ns_of(&got, "http_skill").len(), 40);
    assert!(ns_of(&got, "http_skill").values().all(|c| *c == 1));
    let first = store.requests.lock().expect("lock")[1].clone();
    assert_eq!(first.path, "/insert/jsonline");
    assert_eq!(first.header("Authorization"), Some("Bearer t0ken"));
    assert_eq!(
        got[0]["vault"],
        v.path().file_name().expect("name").to_str().expect("utf8")
    );
    assert!(got[0]["_msg"]
        .as_str()
        .expect("msg")
        .starts_with("file_drop http_skill Inbox/note-1.md"));

    // Loki, in batches of 16, each request as the push API defines it.
    let v2 = Vault::new();
    log(&v2, &now, 1..=40, "loki_skill");
    let before = store.requests.lock().expect("lock").len();
    once(&v2, "loki").assert_code(0);
    let reqs: Vec<_> = store.requests.lock().expect("lock")[before..].to_vec();
    assert_eq!(
        reqs.len(),
        4,
        "40 entries in batches of 16, then the chain head"
    );
    assert!(reqs
        .iter()
        .all(|r| r.path == "/loki/api/v1/push" && r.status == 200));
    let head: Value = serde_json::from_str(&reqs[3].body).expect("json");
    assert_eq!(head["streams"][0]["stream"]["stream"], "chain_head");
    let body: Value = serde_json::from_str(&reqs[0].body).expect("json");
    assert_eq!(body["streams"][0]["stream"]["job"], "vault-audit");
    assert_eq!(ns_of(&store.delivered(), "loki_skill").len(), 40);

    // The daemon through a 503 outage and a 429.
    let env = [
        ("AUDIT_FORWARD_HTTP", url.as_str()),
        ("AUDIT_FORWARD_BACKOFF_MAX", "1s"),
    ];
    let v3 = Vault::new();
    store.set(503);
    let d = Daemon::start_with(&v3, &["--no-watch-vault"], &env);
    log(&v3, &now, 1..=30, "outage_skill");
    wait_for("two 503s", Duration::from_secs(20), || {
        store.count(503) >= 2
    });
    store.set(429);
    log(&v3, &now, 31..=60, "outage_skill");
    wait_for("a 429", Duration::from_secs(20), || store.count(429) >= 1);
    store.set(200);
    wait_for(
        "every entry after the outage",
        Duration::from_secs(30),
        || ns_of(&store.delivered(), "outage_skill").len() == 60,
    );
    let (code, _) = d.terminate();
    assert_eq!(code, Some(0));
    // A restart resumes at the cursor: only what came after is sent.
    let sent_before = store.delivered().len();
    v3.cmd()
        .args(["forward", "--once"])
        .env("AUDIT_FORWARD_HTTP", &url)
        .run()
        .assert_code(0);
    let resent: Vec<Value> = store.delivered()[sent_before..].to_vec();
    assert!(
        resent.iter().all(|e| e["actor"] == "audit_daemon"
            || e["actor"] == "audit_forwarder"
            || e["stream"] == "chain_head"),
        "only the daemon's last events, and the head after them, were left to send: {resent:?}"
    );
    assert_eq!(events(&v3, "sink_down")[0]["log_level"], "WARNING");
    assert_eq!(events(&v3, "sink_rate_limited")[0]["log_level"], "WARNING");
    assert!(
        store.violations.lock().expect("lock").is_empty(),
        "{:?}",
        store.violations
    );
}

#[test]
fn days_retention_deleted_before_they_were_sent_are_reported() {
    let store = LogStore::start();
    let v = Vault::new();
    let t = chrono::Utc::now();
    let (old_day, old) = days_before(t, 5);
    let (_, now) = days_before(t, 0);
    log(&v, &old, 1..=12, "gap_skill");
    log(&v, &now, 13..=20, "gap_skill");
    let once = || {
        v.cmd()
            .args(["forward", "--once"])
            .env("AUDIT_FORWARD_HTTP", &store.url())
            .run()
    };
    // Dry run (the default) reports what is pending and sends nothing.
    let preview = v
        .plain()
        .args(["forward", "--once"])
        .env("AUDIT_FORWARD_HTTP", &store.url())
        .run();
    assert_eq!(preview.code, 0, "{}", preview.stderr);
    let preview: Value = serde_json::from_str(preview.stdout.trim()).expect("json");
    assert_eq!(
        preview,
        json!({"sinks": [{"sink": "http", "pending": 20}], "dry_run": true})
    );
    assert!(store.requests.lock().expect("lock").is_empty());
    store.set(503);
    assert_eq!(once().code, 4);
    let status = v
        .cmd()
        .args(["forward", "--status"])
        .env("AUDIT_FORWARD_HTTP", &store.url())
        .run();
    assert_eq!(
        status.stdout.trim(),
        r#"{"sinks":[{"sink":"http","pending":20}]}"#
    );
    v.cmd().args(["rotate", "--days", "2"]).run().assert_code(0);
    assert!(!v.logs().join(format!("{old_day}.json")).exists());
    store.set(200);
    let done = once();
    assert_eq!(done.code, 0, "{}", done.stderr);
    let report: Value = serde_json::from_str(done.stdout.trim()).expect("report");
    assert_eq!(
        report["sinks"][0]["lost"],
        json!([{"day": old_day, "entries": 12}])
    );
    let gap = events(&v, "forward_gap");
    assert_eq!(gap.len(), 1);
    assert_eq!(gap[0]["log_level"], "WARNING");
    assert_eq!(gap[0]["parameters"]["entries"], 12);
    // Nothing else is lost: today's entries, and the warning itself, go next.
    once().assert_code(0);
    assert_eq!(ns_of(&store.delivered(), "gap_skill").len(), 8);
}

/// A sink of our own: records what it gets, failing every third call.
struct Flaky {
    name: &'static str,
    got: std::sync::Arc<std::sync::Mutex<Vec<(String, u64, Value)>>>,
    calls: u32,
    always_fail: bool,
}

impl vault_audit::forward::Sink for Flaky {
    fn name(&self) -> &str {
        self.name
    }

    fn send(
        &mut self,
        batch: &[vault_audit::forward::Record],
    ) -> Result<(), vault_audit::forward::SinkError> {
        self.calls += 1;
        if self.always_fail || self.calls.is_multiple_of(3) {
            return Err(vault_audit::forward::SinkError::Unavailable("flaky".into()));
        }
        let mut got = self.got.lock().expect("lock");
        for r in batch {
            got.push((r.date.to_string(), r.position, r.value.clone()));
        }
        Ok(())
    }
}

#[test]
fn a_sink_of_our_own_gets_every_entry_once_and_in_order_through_failures() {
    use std::sync::atomic::AtomicBool;
    use vault_audit::forward::{catch_up, Forwarder, Pace};
    let v = Vault::new();
    let vault = vault_audit::Vault::new(v.path());
    // Yesterday and today from one clock reading: two different days, even
    // in the first second after midnight.
    let t = chrono::Utc::now();
    let (yesterday_date, yesterday) = days_before(t, 1);
    let (_, now) = days_before(t, 0);
    log(&v, &yesterday, 1..=10, "lib_skill");
    log(&v, &now, 11..=100, "lib_skill");
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut sink = Flaky {
        name: "flaky",
        got: got.clone(),
        calls: 0,
        always_fail: false,
    };
    let pace = Pace {
        batch: 7,
        ..Pace::default()
    };
    let stop = AtomicBool::new(false);
    let mut passes = 0;
    let mut catch_all = |sink: &mut Flaky| {
        while catch_up(&vault, sink, &pace, &stop).is_err() {
            passes += 1;
            assert!(passes < 100, "never caught up");
        }
    };
    catch_all(&mut sink);
    // A back-dated entry, appended to yesterday after the sink passed it.
    log(&v, &yesterday, 101..=101, "lib_skill");
    catch_all(&mut sink);
    let got = got.lock().expect("lock").clone();
    let all = stored(&v);
    assert_eq!(got.len(), all.len(), "each entry once");
    let n = |e: &Value| e["parameters"]["n"].as_u64().expect("n");
    let mut expected: Vec<u64> = (1..=100).collect();
    expected.push(101);
    assert_eq!(
        got.iter().map(|(_, _, e)| n(e)).collect::<Vec<_>>(),
        expected,
        "in file order, day by day, the back-dated one on the next pass"
    );
    for (_, _, e) in &got {
        assert!(all.contains(e), "each exactly as stored");
    }
    let yesterday_positions: Vec<u64> = got
        .iter()
        .filter(|(d, _, _)| *d == yesterday_date)
        .map(|(_, p, _)| *p)
        .collect();
    assert_eq!(yesterday_positions, (0..11).collect::<Vec<_>>());

    // In threads: one sink that always fails holds up no other.
    let got2 = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sinks: Vec<Box<dyn vault_audit::forward::Sink>> = vec![
        Box::new(Flaky {
            name: "down",
            got: Default::default(),
            calls: 0,
            always_fail: true,
        }),
        Box::new(Flaky {
            name: "up",
            got: got2.clone(),
            calls: 0,
            always_fail: false,
        }),
    ];
    let (tx, rx) = std::sync::mpsc::channel();
    let fwd = Forwarder::start(
        &vault,
        sinks,
        Pace {
            min_backoff: Duration::from_millis(50),
            poll: Duration::from_millis(50),
            ..pace
        },
        tx,
    );
    wait_for(
        "the live sink to get everything",
        Duration::from_secs(30),
        || got2.lock().expect("lock").len() == all.len(),
    );
    fwd.stop(Duration::from_secs(2));
    let events: Vec<_> = rx.try_iter().collect();
    assert!(events
        .iter()
        .any(|e| e.target == "sink:down" && e.parameters["event"] == "sink_down"));
    assert_eq!(
        vault_audit::forward::pending(&vault, "down").expect("pending"),
        all.len() as u64
    );
}

/// Runs `forward --once` (or other arguments) against `url`.
fn forward_to(v: &Vault, url: &str, args: &[&str]) -> common::Done {
    v.cmd()
        .args(["forward"])
        .args(args)
        .env("AUDIT_FORWARD_POSTGRES", url)
        .env("AUDIT_FORWARD_BACKOFF_MAX", "1s")
        .run()
}

/// A cluster where `sql` ran, and a vault with entries 1 to `n` of today
/// (whose timestamp is returned).
fn cluster_and_vault(n: u64, sql: &str) -> (Postgres, Vault, String) {
    let pg = Postgres::start();
    let v = Vault::new();
    let (_, now) = days_before(chrono::Utc::now(), 0);
    log(&v, &now, 1..=n, "email_skill");
    pg.client().batch_execute(sql).expect("roles");
    (pg, v, now)
}

fn rows(pg: &Postgres) -> i64 {
    pg.client()
        .query_one("SELECT count(*) FROM agent_audit_log", &[])
        .expect("count")
        .get(0)
}

#[test]
fn a_role_with_only_insert_and_select_forwards_once_the_tables_exist() {
    let (pg, v, _) = cluster_and_vault(30, "CREATE ROLE shipper LOGIN");
    let shipper = pg.url_as("shipper", "");

    // No tables yet, and the shipper may not create them: a refusal that
    // names the command, not a retry loop.
    let refused = forward_to(&v, &shipper, &["--once"]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("--init-postgres") || refused.stderr.contains("--init-postgres"),
        "{}{}",
        refused.stdout,
        refused.stderr
    );

    // The owner creates them; the shipper gets INSERT and SELECT, nothing more.
    forward_to(&v, &pg.url(), &["--init-postgres", "--no-dry-run"]).assert_code(0);
    pg.client()
        .batch_execute("GRANT INSERT, SELECT ON agent_audit_log, vault_audit_heads TO shipper")
        .expect("grant");
    let done = forward_to(&v, &shipper, &["--once"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert_eq!(rows(&pg), 30);
    // Sending again (the cursor lost) needs no other privilege either.
    std::fs::remove_file(v.logs().join(".audit/sinks/postgres.json")).expect("cursor");
    forward_to(&v, &shipper, &["--once"]).assert_code(0);
    assert_eq!(rows(&pg), 30);
}

#[test]
fn sslmode_require_reaches_a_cluster_with_a_self_signed_certificate() {
    let (pg, v, now) = cluster_and_vault(
        12,
        "CREATE ROLE tls_only LOGIN; GRANT CREATE ON SCHEMA public TO tls_only",
    );

    // pg_hba refuses tls_only without TLS: getting in proves TLS was used.
    let done = forward_to(&v, &pg.url_as("tls_only", "?sslmode=require"), &["--once"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert_eq!(rows(&pg), 12);

    // verify-full checks the certificate against sslrootcert and the host.
    log(&v, &now, 13..=15, "email_skill");
    let root = pg.certificate();
    let query = format!("?sslmode=verify-full&sslrootcert={}", root.display());
    forward_to(&v, &pg.url_as("tls_only", &query), &["--once"]).assert_code(0);
    assert_eq!(rows(&pg), 15);

    // Without the root, the self-signed certificate is not trusted.
    log(&v, &now, 16..=16, "email_skill");
    let untrusted = forward_to(
        &v,
        &pg.url_as("tls_only", "?sslmode=verify-full"),
        &["--once"],
    );
    assert_ne!(untrusted.code, 0, "{}", untrusted.stdout);
    assert_eq!(rows(&pg), 15);
    // And sslmode=disable is refused by pg_hba for this role.
    let plain = forward_to(&v, &pg.url_as("tls_only", "?sslmode=disable"), &["--once"]);
    assert_ne!(plain.code, 0, "{}", plain.stdout);
}

/// The variables that send to moto's CloudWatch Logs: keys in the
/// environment (HOME has no `.aws/credentials`), the endpoint moto's.
#[cfg(feature = "cloudwatch")]
fn cloudwatch_env<'a>(endpoint: &'a str, target: &'a str) -> [(&'a str, &'a str); 8] {
    [
        ("AUDIT_FORWARD_CLOUDWATCH", target),
        ("AWS_ACCESS_KEY_ID", "AKIDTESTING"),
        ("AWS_SECRET_ACCESS_KEY", "s3cretTESTINGkey"),
        ("AWS_SESSION_TOKEN", "t0kenTESTING"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AUDIT_FORWARD_BACKOFF_MAX", "1s"),
        ("AUDIT_VAULT_NAME", "ops-vault"),
        ("HOME", "/nonexistent"),
    ]
}

#[cfg(feature = "cloudwatch")]
fn run_with(v: &Vault, args: &[&str], env: &[(&str, &str)]) -> common::Done {
    let mut run = v.cmd().args(args);
    for (k, val) in env {
        run = run.env(k, val);
    }
    run.run()
}

/// The messages of CloudWatch events, parsed.
#[cfg(feature = "cloudwatch")]
fn messages(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .map(|e| serde_json::from_str(e["message"].as_str().expect("message")).expect("JSON"))
        .collect()
}

#[cfg(feature = "cloudwatch")]
#[test]
fn cloudwatch_holds_every_entry_exactly_once_across_an_outage() {
    use common::servers::{Moto, MOTO_REGION};
    let Some(mut moto) = Moto::start() else {
        return;
    };
    let v = Vault::new();
    let endpoint = moto.endpoint();
    let target = format!("{MOTO_REGION}/vault-audit");
    let env = cloudwatch_env(&endpoint, &target);
    let t = chrono::Utc::now();
    let (old_day, old) = days_before(t, 20);
    let (_, yesterday) = days_before(t, 1);
    let (_, now) = days_before(t, 0);
    log(&v, &old, 0..=0, "email_skill");
    log(&v, &yesterday, 1..=120, "email_skill");
    log(&v, &now, 121..=200, "email_skill");

    // Catch-up: moto starts empty, so the group and stream are created.
    let done = run_with(&v, &["forward", "--once"], &env);
    assert_eq!(done.code, 0, "{}", done.stderr);
    for secret in ["s3cretTESTINGkey", "t0kenTESTING"] {
        assert!(!done.stdout.contains(secret) && !done.stderr.contains(secret));
    }
    let report: Value = serde_json::from_str(done.stdout.trim()).expect("report");
    let line = &report["sinks"][0];
    // Pending: the forward_skipped WARNING logged after the pass.
    assert_eq!(
        (
            &line["sink"],
            &line["sent"],
            &line["pending"],
            &line["skipped"]
        ),
        (&json!("cloudwatch"), &json!(201), &json!(1), &json!(1))
    );
    let first = moto.events("vault-audit", "ops-vault");
    let msgs = messages(&first);
    let expected: BTreeMap<u64, usize> = (1..=200).map(|n| (n, 1)).collect();
    assert_eq!(ns_of(&msgs, "email_skill"), expected);
    let by_n: BTreeMap<u64, Value> = stored(&v)
        .into_iter()
        .filter(|e| e["actor"] == "email_skill")
        .map(|e| (e["parameters"]["n"].as_u64().expect("n"), e))
        .collect();
    for (e, m) in first.iter().zip(&msgs) {
        if m["stream"] == "chain_head" {
            assert!(m["head"]
                .as_str()
                .is_some_and(|h| h.starts_with("{\"head\":")));
            continue;
        }
        let ts =
            chrono::DateTime::parse_from_rfc3339(m["timestamp"].as_str().expect("ts")).expect("ts");
        assert_eq!(e["timestamp"].as_i64(), Some(ts.timestamp_millis()));
        assert_eq!(m["vault"], "ops-vault");
        assert!(m["day_file"].is_string() && m["position"].is_u64(), "{m}");
        if m["actor"] == "email_skill" {
            let mut entry = m.clone();
            for k in ["vault", "day_file", "position"] {
                entry.as_object_mut().expect("object").remove(k);
            }
            let n = m["parameters"]["n"].as_u64().expect("n");
            assert_eq!(entry, by_n[&n], "the entry as stored, plus where it is");
        }
    }
    assert!(msgs.iter().any(|m| m["stream"] == "chain_head"));
    // The entry CloudWatch Logs refuses (20 days old) is named, not retried.
    let skipped = events(&v, "forward_skipped");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["log_level"], "WARNING");
    assert_eq!(skipped[0]["parameters"]["skipped"][0]["day"], old_day);

    // The daemon forwards as entries arrive; moto is killed meanwhile, and
    // comes back empty (the sink creates the group and stream again).
    let d = Daemon::start_with(&v, &["--no-watch-vault"], &env);
    wait_for("the daemon to catch up", Duration::from_secs(30), || {
        run_with(&v, &["forward", "--status"], &env)
            .stdout
            .contains("\"pending\":0")
    });
    let before = messages(&moto.events("vault-audit", "ops-vault"));
    moto.down();
    log_during_outage(&v, &now, &yesterday);
    moto.up();
    let after = || messages(&moto.events("vault-audit", "ops-vault"));
    wait_for(
        "CloudWatch Logs to catch up",
        Duration::from_secs(60),
        || ns_of(&after(), "email_skill").len() == 151,
    );
    let (code, _) = d.terminate();
    assert_eq!(code, Some(0));
    let all: Vec<Value> = before.into_iter().chain(after()).collect();
    let expected: BTreeMap<u64, usize> = (1..=351).map(|n| (n, 1)).collect();
    assert_eq!(
        ns_of(&all, "email_skill"),
        expected,
        "every entry exactly once"
    );
    assert_eq!(
        events(&v, "sink_down").len(),
        1,
        "one WARNING when it went down"
    );
    assert_eq!(events(&v, "sink_up").len(), 1, "one INFO when it came back");
}

#[cfg(feature = "cloudwatch")]
#[test]
fn cloudwatch_requests_are_split_at_the_size_limit() {
    use common::servers::{Moto, MOTO_REGION};
    let Some(moto) = Moto::start() else {
        return;
    };
    let v = Vault::new();
    let endpoint = moto.endpoint();
    let target = format!("{MOTO_REGION}/big/batches");
    let mut env = cloudwatch_env(&endpoint, &target).to_vec();
    // One catch-up batch of 10,000 entries, the most a request may hold,
    // 300 of them near 6 KB: about 6 MB for requests of at most 1 MiB.
    env.push(("AUDIT_FORWARD_BATCH", "10000"));
    let (_, now) = days_ago(0);
    let wide = "w".repeat(1900);
    let lines: String = (1..=10_200u64)
        .map(|n| {
            let mut e: Value =
                serde_json::from_str(&entry(&now, n, "bulk_skill", false)).expect("e");
            if n % 34 == 0 {
                for k in ["a", "b", "c"] {
                    e["parameters"][k] = json!(wide);
                }
            }
            e.to_string() + "\n"
        })
        .collect();
    log_lines(&v, lines);
    let done = run_with(&v, &["forward", "--once"], &env);
    assert_eq!(done.code, 0, "{}", done.stderr);
    let got = moto.events("big", "batches");
    let expected: BTreeMap<u64, usize> = (1..=10_200).map(|n| (n, 1)).collect();
    assert_eq!(ns_of(&messages(&got), "bulk_skill"), expected);
    let bytes: usize = got
        .iter()
        .map(|e| e["message"].as_str().expect("message").len() + 26)
        .sum();
    assert!(bytes > 5 << 20, "{bytes} bytes");
    // moto counts the PutLogEvents calls in the stream's upload sequence token.
    let streams = moto.streams("big");
    let puts: usize = streams[0]["uploadSequenceToken"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("uploadSequenceToken");
    let least = bytes.div_ceil(1 << 20);
    assert!(
        (least..=least + 3).contains(&puts),
        "{puts} requests for {bytes} bytes"
    );
}

#[test]
fn cloudwatch_settings_name_what_is_wrong_and_never_a_secret() {
    let v = Vault::new();
    let (_, now) = days_ago(0);
    log(&v, &now, 1..=1, "any");
    let cases: [(&[(&str, &str)], &str); 3] = [
        (
            &[("AUDIT_FORWARD_CLOUDWATCH", "eu-west-1")],
            "AUDIT_FORWARD_CLOUDWATCH=\"eu-west-1\": no log group; expected region/log-group",
        ),
        (
            &[
                ("AUDIT_FORWARD_CLOUDWATCH", "eu-west-1/g"),
                ("HOME", "/nonexistent"),
            ],
            "AUDIT_FORWARD_CLOUDWATCH is set, but no AWS credentials",
        ),
        (
            &[
                ("AUDIT_FORWARD_CLOUDWATCH", "eu-west-1/g"),
                ("AWS_SECRET_ACCESS_KEY", "s3cretKEY"),
            ],
            "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set",
        ),
    ];
    for (env, message) in cases {
        let mut run = v.cmd().args(["forward", "--once"]);
        for (k, val) in env {
            run = run.env(k, val);
        }
        let done = run.run();
        assert_eq!(done.code, 2, "{}", done.stderr);
        assert!(done.stderr.contains(message), "{}", done.stderr);
        assert!(!done.stderr.contains("s3cret"), "{}", done.stderr);
    }
}
