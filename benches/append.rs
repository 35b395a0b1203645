//! Cost of one synced append as the day grows, against the physical floor.
//!
//! Run: `cargo bench --bench append`. Temporary vaults live under `target/`
//! (a real disk; /tmp may be memory-backed, where a sync costs nothing).

use std::fs::OpenOptions;
use std::io::Write;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use vault_audit::AuditLogger;

#[path = "support.rs"]
mod support;
use support::{bench_dir, entry, full_vault, vault_with};

fn single_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_synced");
    group.sample_size(60);
    group.throughput(Throughput::Elements(1));

    // A day of 10 entries: a fresh vault for every sample (made outside the
    // timing), so the day holds 10 entries plus the few hundred appends of
    // that one sample, never the whole run's.
    group.bench_function("day_holds_10", |b| {
        b.iter_custom(|iters| {
            let (_dir, log) = vault_with(10);
            let started = Instant::now();
            for _ in 0..iters {
                log.log(entry(7)).expect("log");
            }
            started.elapsed()
        })
    });

    // Large days grow by the appends measured, which only makes them larger.
    for existing in [10_000u64, 100_000] {
        let (_dir, log) = vault_with(existing);
        group.bench_function(format!("day_holds_{existing}"), |b| {
            b.iter(|| log.log(entry(7)).expect("log"))
        });
    }

    // The floor: the bytes one append writes (separator, entry line, new
    // trailer), with one write and one fdatasync each, on the same disk.
    let (_dir, log) = vault_with(0);
    let line = log.prepare(entry(7)).expect("valid").to_json_line();
    let trailer = vault_audit::daily::render_trailer(&vault_audit::daily::Trailer::default());
    let payload = vec![b'x'; ",\n    ".len() + line.len() + trailer.len() + 2];
    let bare = bench_dir();
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(bare.path().join("bare"))
        .expect("open");
    group.bench_function("bare_write_fdatasync", |b| {
        b.iter(|| {
            file.write_all(&payload).expect("write");
            file.sync_data().expect("sync");
        })
    });
    group.finish();
}

fn batch_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_batch");
    group.sample_size(20);
    group.throughput(Throughput::Elements(1000));
    let (_dir, log) = vault_with(10);
    group.bench_function("batch_of_1000", |b| {
        b.iter_batched(
            || (0..1000).map(entry).collect::<Vec<_>>(),
            |batch| log.log_batch(batch).expect("batch"),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Times `iters` logs after flushing the file system (untimed), so every
/// sample starts from the same quiet disk whatever came before it.
fn timed_logs(log: &AuditLogger, iters: u64) -> std::time::Duration {
    let _ = std::process::Command::new("sync").status();
    let started = Instant::now();
    for _ in 0..iters {
        log.log(entry(7)).expect("log");
    }
    started.elapsed()
}

fn append_with_upkeep(c: &mut Criterion) {
    let mut group = c.benchmark_group("log_with_upkeep");
    group.sample_size(60);
    group.throughput(Throughput::Elements(1));
    group.bench_function("day_holds_10_one_file", |b| {
        b.iter_custom(|iters| {
            let (_dir, log) = full_vault(10, 0);
            timed_logs(&log, iters)
        })
    });
    let (_dir, log) = full_vault(100_000, 90);
    group.bench_function("day_holds_100000_and_90_earlier_files", |b| {
        b.iter_custom(|iters| timed_logs(&log, iters))
    });
    group.finish();
}

/// A loopback HTTP server that acknowledges every request with 204.
fn http_acknowledger() -> String {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let mut conn = conn;
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; len];
                    if reader.read_exact(&mut body).is_err()
                        || conn
                            .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                            .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// `log()` into a day of 10,000 entries, alone and with three sinks
/// forwarding in the background: HTTP (VictoriaLogs lines to a loopback
/// server), syslog over UDP (to a loopback socket) and PostgreSQL (down: its
/// port refuses connections, so it retries with backoff).
fn append_while_forwarding(c: &mut Criterion) {
    use vault_audit::forward::{self, Forwarder, Pace, Sink};
    let mut group = c.benchmark_group("log_forwarding");
    group.sample_size(60);
    group.throughput(Throughput::Elements(1));
    let (_dir, log) = vault_with(10_000);
    group.bench_function("day_holds_10000_no_sinks", |b| {
        b.iter(|| log.log(entry(7)).expect("log"))
    });
    let syslog_rx = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let syslog_url = format!("udp://{}", syslog_rx.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 70_000];
        while syslog_rx.recv(&mut buf).is_ok() {}
    });
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let pg_url = format!(
        "postgres://audit@{}/audit",
        closed.local_addr().expect("addr")
    );
    drop(closed);
    let sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(
            forward::http::HttpSink::new(
                &http_acknowledger(),
                forward::http::Format::JsonLine,
                Vec::new(),
                "bench",
            )
            .expect("http"),
        ),
        Box::new(forward::syslog::SyslogSink::new(&syslog_url, 16, "bench").expect("syslog")),
        Box::new(forward::postgres::PostgresSink::new(&pg_url, "bench").expect("postgres")),
    ];
    let (events, _events_rx) = std::sync::mpsc::channel();
    let forwarder = Forwarder::start(log.vault(), sinks, Pace::default(), events);
    // Let the two live sinks catch up on the existing 10,000 entries first.
    while forward::pending(log.vault(), "http").expect("pending") > 0
        || forward::pending(log.vault(), "syslog").expect("pending") > 0
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    group.bench_function("day_holds_10000_three_sinks_one_down", |b| {
        b.iter(|| log.log(entry(7)).expect("log"))
    });
    forwarder.stop(std::time::Duration::from_secs(2));
    group.finish();
}

/// `n` entries, the first half on 2026-11-21 and the rest on 2026-11-22:
/// one day boundary per sample, where a signing key signs.
fn across_a_day(log: &AuditLogger, n: u64) -> std::time::Duration {
    let yesterday = vault_audit::time::parse_timestamp("2026-11-21T10:00:00Z").expect("ts");
    let started = Instant::now();
    for i in 0..n {
        let e = entry(7);
        let e = if i < n / 2 { e.at(yesterday) } else { e };
        log.log(e).expect("log");
    }
    started.elapsed()
}

/// A synced `log()` with the HMAC chain key, the head record and a signing
/// key (which signs at the day boundary), against the same without keys.
fn keyed_append(c: &mut Criterion) {
    use vault_audit::chain::{sign::SigningKey, ChainKey};
    let mut group = c.benchmark_group("log_keyed");
    group.sample_size(60);
    group.throughput(Throughput::Elements(1));
    group.bench_function("plain_no_keys", |b| {
        b.iter_custom(|iters| {
            let (_dir, log) = vault_with(10);
            across_a_day(&log, iters)
        })
    });
    let signer = SigningKey::generate();
    group.bench_function("hmac_head_and_signing", |b| {
        b.iter_custom(|iters| {
            let dir = bench_dir();
            let log = AuditLogger::builder(dir.path())
                .clock(support::clock())
                .upkeep(false)
                .chain_key(ChainKey::new("a benchmark key"))
                .signing_key(Some(signer.clone()))
                .build()
                .expect("logger");
            log.log_batch((0..10).map(entry).collect())
                .expect("prefill");
            across_a_day(&log, iters)
        })
    });
    // The two in alternation, one entry each in turn, on two vaults: both
    // see the same moments of a shared machine. Criterion times the keyed
    // one; the plain one's time over the same samples is printed after.
    let plain_total = std::cell::Cell::new(std::time::Duration::ZERO);
    let keyed_total = std::cell::Cell::new(std::time::Duration::ZERO);
    let pairs = std::cell::Cell::new(0u64);
    group.bench_function("pair_keyed_after_plain", |b| {
        b.iter_custom(|iters| {
            let (_d1, plain) = vault_with(10);
            let dir = bench_dir();
            let keyed = AuditLogger::builder(dir.path())
                .clock(support::clock())
                .upkeep(false)
                .chain_key(ChainKey::new("a benchmark key"))
                .signing_key(Some(signer.clone()))
                .build()
                .expect("logger");
            keyed
                .log_batch((0..10).map(entry).collect())
                .expect("prefill");
            let yesterday = vault_audit::time::parse_timestamp("2026-11-21T10:00:00Z").expect("ts");
            let mut keyed_time = std::time::Duration::ZERO;
            for i in 0..iters {
                let e = if i < iters / 2 {
                    entry(7).at(yesterday)
                } else {
                    entry(7)
                };
                let t = Instant::now();
                plain.log(e.clone()).expect("log");
                plain_total.set(plain_total.get() + t.elapsed());
                let t = Instant::now();
                keyed.log(e).expect("log");
                keyed_time += t.elapsed();
            }
            keyed_total.set(keyed_total.get() + keyed_time);
            pairs.set(pairs.get() + iters);
            keyed_time
        })
    });
    if pairs.get() > 0 {
        let n = pairs.get() as f64;
        let plain = plain_total.get().as_secs_f64() * 1e6 / n;
        let keyed = keyed_total.get().as_secs_f64() * 1e6 / n;
        eprintln!(
            "log_keyed/pair: {} pairs: plain {plain:.1} µs, keyed+head+signing {keyed:.1} µs per log(), ratio {:.3}",
            pairs.get(),
            keyed / plain
        );
    }
    // The head record alone: what every append pays for it.
    let dir = bench_dir();
    let vault = vault_audit::Vault::new(dir.path());
    std::fs::create_dir_all(vault.state_dir()).expect("state");
    let key = ChainKey::new("a benchmark key");
    let day = vault_audit::time::parse_day("2026-11-22").expect("day");
    let mut state = vault_audit::chain::head::State {
        day,
        start: None,
        entries: 0,
        chain: Some([7; 32]),
    };
    group.bench_function("head_record_alone", |b| {
        b.iter(|| {
            let before = (state.entries, state.chain);
            state.entries += 1;
            vault_audit::chain::head::advance(&vault, &key, before, &state).expect("head");
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    keyed_append,
    single_append,
    batch_append,
    append_with_upkeep,
    append_while_forwarding
);
criterion_main!(benches);
