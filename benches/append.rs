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

criterion_group!(benches, single_append, batch_append, append_with_upkeep);
criterion_main!(benches);
