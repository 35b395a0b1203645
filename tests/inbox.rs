//! Nothing dropped in the inbox is lost: slow writers under the final name,
//! lines appended after the claim, names too long to claim, claims that keep
//! failing, `.json` arrays of any size, and writers of every style while the
//! daemon is killed and restarted.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{entry_json, wait_for, Daemon, Vault};
use serde_json::Value;
use vault_audit::inbox::{self, Reading};
use vault_audit::journal::Progress;
use vault_audit::AuditLogger;

fn inbox_dir(v: &Vault) -> PathBuf {
    v.logs().join("inbox")
}

/// A timestamp of now, as an entry carries it.
fn now_ts() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Every entry in every day file, whatever the day (a test may cross midnight).
fn all_entries(v: &Vault) -> Vec<Value> {
    let mut out = Vec::new();
    for item in std::fs::read_dir(v.logs()).expect("ls Logs") {
        let path = item.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let is_day = name.len() == 15
            && name.ends_with(".json")
            && chrono::NaiveDate::parse_from_str(&name[..10], "%Y-%m-%d").is_ok();
        if !is_day {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        if text.is_empty() {
            continue;
        }
        let day: Value = serde_json::from_str(&text).expect("a day file is valid JSON");
        out.extend(day["entries"].as_array().cloned().unwrap_or_default());
    }
    out
}

/// How many times each `n` of the test's entries is in the log.
fn counts(v: &Vault) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for e in all_entries(v).iter().filter(|e| e["actor"] == "test") {
        *counts
            .entry(e["parameters"]["n"].as_u64().expect("n"))
            .or_default() += 1;
    }
    counts
}

/// Files directly in `dir`.
fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Nothing waits in the inbox or in `.processing/`.
fn inbox_empty(v: &Vault) -> bool {
    files_in(&inbox_dir(v)).is_empty() && files_in(&inbox_dir(v).join(".processing")).is_empty()
}

/// Lines of the daemon's stderr that are warnings (level WARN).
fn warnings(v: &Vault) -> Vec<String> {
    std::fs::read_to_string(v.path().join("daemon.err"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(" WARN "))
        .map(str::to_owned)
        .collect()
}

/// CPU time a process has used (user and system).
fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // The fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // SAFETY: sysconf reads a constant of the system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis((fields[11] + fields[12]) * 1000 / ticks)
}

/// Peak resident memory of a process, in MiB.
fn peak_mib(pid: i32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: f64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|k| k.parse().ok())
        .expect("kB");
    kib / 1024.0
}

#[test]
fn a_slow_writer_under_the_final_name_loses_no_line() {
    let v = Vault::new();
    let d = Daemon::start(&v, &["--no-watch-vault"]);
    std::fs::create_dir_all(inbox_dir(&v)).expect("inbox");
    // One whole line every 0.3 s under the final name, the file held open.
    let mut file = std::fs::File::create(inbox_dir(&v).join("slow.jsonl")).expect("create");
    for n in 1..=5 {
        writeln!(file, "{}", entry_json(&now_ts(), "INFO", n)).expect("write");
        file.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(file);
    wait_for(
        "the slow file to be taken in",
        Duration::from_secs(15),
        || inbox_empty(&v) && counts(&v).len() == 5,
    );
    d.terminate();
    assert_eq!(counts(&v), (1..=5).map(|n| (n, 1)).collect());
    assert!(files_in(&inbox_dir(&v).join("rejected")).is_empty());
}

/// A logger on the vault, and one valid entry line at now.
fn logger(v: &Vault) -> AuditLogger {
    AuditLogger::builder(v.path())
        .upkeep(false)
        .build()
        .expect("logger")
}

#[test]
fn lines_appended_to_a_claim_while_it_is_read_are_taken_in_before_it_is_removed() {
    let v = Vault::new();
    let log = logger(&v);
    let vault = log.vault().clone();
    std::fs::create_dir_all(vault.inbox()).expect("inbox");
    let dropped = vault.inbox().join("late.jsonl");
    std::fs::write(&dropped, entry_json(&now_ts(), "INFO", 1) + "\n").expect("write");
    let claim = inbox::claim(&vault, &dropped, 0).expect("claim");
    // Its writer still holds it open through the rename, and appends while
    // the first batch is being written.
    let mut writer = std::fs::OpenOptions::new()
        .append(true)
        .open(&claim.path)
        .expect("open");
    let mut progress = Progress::new();
    let mut reading = Reading::new(Duration::ZERO);
    let mut appended = false;
    let claims = [claim.clone()];
    let first = inbox::take_in(
        &log,
        &claims,
        &mut progress,
        &mut reading,
        &|| false,
        &mut |_| {
            if !std::mem::replace(&mut appended, true) {
                writeln!(writer, "{}", entry_json(&now_ts(), "INFO", 2)).expect("append");
            }
        },
    )
    .expect("take in");
    assert!(appended);
    assert!(!first[0].done, "removed although it grew while it was read");
    assert!(claim.path.exists());
    let second = inbox::take_in(
        &log,
        &claims,
        &mut progress,
        &mut reading,
        &|| false,
        &mut |_| {},
    )
    .expect("take in");
    assert!(second[0].done && !claim.path.exists());
    assert_eq!(counts(&v), BTreeMap::from([(1, 1), (2, 1)]));
}

#[test]
fn a_claim_is_kept_until_quiet_and_read_on_from_where_it_stopped() {
    let v = Vault::new();
    let log = logger(&v);
    let vault = log.vault().clone();
    std::fs::create_dir_all(vault.inbox()).expect("inbox");
    let dropped = vault.inbox().join("open.jsonl");
    // The second line is not finished yet.
    let first = entry_json(&now_ts(), "INFO", 1) + "\n";
    let second = entry_json(&now_ts(), "INFO", 2);
    std::fs::write(&dropped, format!("{first}{}", &second[..30])).expect("write");
    let claim = inbox::claim(&vault, &dropped, 0).expect("claim");
    let mut progress = Progress::new();
    let grace = Duration::from_millis(1500);
    let mut reading = Reading::new(grace);
    let claims = [claim.clone()];
    let mut take = |reading: &mut Reading| {
        inbox::take_in(
            &log,
            &claims,
            &mut progress,
            reading,
            &|| false,
            &mut |_| {},
        )
        .expect("take in")
    };
    let pass = take(&mut reading);
    assert_eq!((pass[0].written, pass[0].done), (1, false));
    // Unchanged and not yet quiet: not read again.
    assert!(take(&mut reading).is_empty());
    let mut writer = std::fs::OpenOptions::new()
        .append(true)
        .open(&claim.path)
        .expect("open");
    writeln!(writer, "{}", &second[30..]).expect("finish the line");
    drop(writer);
    let pass = take(&mut reading);
    assert_eq!((pass[0].written, pass[0].done), (1, false));
    std::thread::sleep(grace);
    let pass = take(&mut reading);
    assert!(pass[0].done && pass[0].rejected.is_empty(), "{pass:?}");
    assert_eq!(counts(&v), BTreeMap::from([(1, 1), (2, 1)]));
}

#[test]
fn an_inbox_name_too_long_to_claim_is_set_aside_with_its_reason_and_no_spin() {
    let v = Vault::new();
    // The vault is watched (the default): reading the inbox makes file
    // events, which used to keep the loop spinning.
    let d = Daemon::start(&v, &[]);
    std::fs::create_dir_all(inbox_dir(&v)).expect("inbox");
    let name = format!("{}.jsonl", "a".repeat(244));
    assert_eq!(name.len(), 250);
    std::fs::write(
        inbox_dir(&v).join(&name),
        entry_json(&now_ts(), "INFO", 1) + "\n",
    )
    .expect("write");
    let rejected = inbox_dir(&v).join("rejected");
    wait_for("the file to be set aside", Duration::from_secs(15), || {
        files_in(&rejected).len() == 2
    });
    let mut names = files_in(&rejected);
    names.sort();
    assert!(names.iter().all(|n| n.len() < 100), "{names:?}");
    assert!(names[0].ends_with(".jsonl") && names[1] == format!("{}.errors.txt", names[0]));
    let reason = std::fs::read_to_string(rejected.join(&names[1])).expect("reason");
    assert!(
        reason.contains("the file name is 250 bytes long; at most 180 bytes are accepted"),
        "{reason}"
    );
    assert!(
        reason.contains(&name),
        "the name it was dropped under: {reason}"
    );
    assert!(files_in(&inbox_dir(&v)).is_empty());
    // Then quiet: a bounded number of warnings, and hardly any CPU.
    let cpu = cpu_time(d.pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_time(d.pid()) - cpu;
    let said = warnings(&v);
    assert!(
        said.len() <= 2,
        "{} warnings: {:?}",
        said.len(),
        &said[..said.len().min(5)]
    );
    assert!(
        used < Duration::from_millis(500),
        "{used:?} of CPU in 2 s idle"
    );
    d.terminate();
    let set_aside = all_entries(&v)
        .into_iter()
        .find(|e| e["parameters"]["event"] == "inbox_set_aside")
        .expect("a WARNING system_event");
    assert_eq!(set_aside["log_level"], "WARNING");
}

#[test]
fn a_claim_that_keeps_failing_is_warned_about_once_and_tried_less_and_less() {
    let v = Vault::new();
    std::fs::create_dir_all(inbox_dir(&v)).expect("inbox");
    // `.processing` is a file, not a folder: no claim can succeed.
    std::fs::write(inbox_dir(&v).join(".processing"), "in the way").expect("write");
    let d = Daemon::start(&v, &[]);
    std::fs::write(
        inbox_dir(&v).join("stuck.jsonl"),
        entry_json(&now_ts(), "INFO", 1) + "\n",
    )
    .expect("write");
    let cpu = cpu_time(d.pid());
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_time(d.pid()) - cpu;
    let said = warnings(&v);
    let about = |what: &str| said.iter().filter(|l| l.contains(what)).count();
    let first = &said[..said.len().min(5)];
    assert_eq!(
        about("could not claim"),
        1,
        "{} warnings: {first:?}",
        said.len()
    );
    assert!(said.len() <= 3, "{} warnings: {first:?}", said.len());
    assert!(used < Duration::from_millis(500), "{used:?} of CPU in 3 s");
    // Once the way is clear, the file is taken in.
    std::fs::remove_file(inbox_dir(&v).join(".processing")).expect("rm");
    wait_for(
        "the file after the backoff",
        Duration::from_secs(15),
        || counts(&v).len() == 1,
    );
    d.terminate();
}

#[test]
fn a_large_json_array_is_streamed_in_bounded_memory() {
    let v = Vault::new();
    std::fs::create_dir_all(inbox_dir(&v)).expect("inbox");
    // About 24 MB: read whole, it took some 300 MB.
    let count = 60_000u64;
    let ts = now_ts();
    let tmp = inbox_dir(&v).join("big.json.tmp");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp).expect("create"));
    out.write_all(b"[\n").expect("write");
    let pad = "x".repeat(200);
    for n in 1..=count {
        let mut e: Value = serde_json::from_str(&entry_json(&ts, "INFO", n)).expect("json");
        e["parameters"]["pad"] = pad.clone().into();
        let sep = if n < count { ",\n" } else { "\n" };
        write!(out, "  {}{sep}", serde_json::to_string(&e).expect("json")).expect("write");
    }
    out.write_all(b"]\n").expect("write");
    out.into_inner().expect("flush").sync_all().expect("sync");
    let size = std::fs::metadata(&tmp).expect("meta").len();
    assert!(size > 20 << 20, "{size} bytes");
    let d = Daemon::start(&v, &["--no-watch-vault"]);
    std::fs::rename(&tmp, inbox_dir(&v).join("big.json")).expect("drop");
    wait_for("the array to be taken in", Duration::from_secs(240), || {
        inbox_empty(&v)
    });
    let peak = peak_mib(d.pid());
    d.terminate();
    eprintln!("{size} bytes: peak RSS {peak:.1} MiB");
    let got = counts(&v);
    assert_eq!(got.len() as u64, count);
    assert!(got.values().all(|c| *c == 1));
    assert!(
        peak < 64.0,
        "peak RSS {peak:.1} MiB for a {size}-byte array"
    );
}

/// A tiny deterministic random source (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// How writer `w` drops its `round`th file of entries `ns` (all under the
/// grace of one second in their pauses).
fn drop_in_style(dir: &Path, w: u64, round: u64, ns: &[u64], rng: &mut Rng) {
    let lines: Vec<String> = ns
        .iter()
        .map(|&n| entry_json(&now_ts(), "INFO", n))
        .collect();
    let name = |ext: &str| dir.join(format!("w{w}-{round:04}.{ext}"));
    let pause = |rng: &mut Rng| std::thread::sleep(Duration::from_millis(20 + rng.below(180)));
    let rename_into_place = |path: PathBuf, text: String| {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write");
        std::fs::rename(&tmp, path).expect("rename");
    };
    match w {
        // Written whole under a temporary name, then renamed: JSON Lines ...
        0 | 1 => rename_into_place(name("jsonl"), lines.join("\n") + "\n"),
        // ... or a `.json` array.
        2 => rename_into_place(name("json"), format!("[\n{}\n]\n", lines.join(",\n"))),
        // Line by line under the final name, held open.
        3 | 4 => {
            let mut f = std::fs::File::create(name("jsonl")).expect("create");
            for l in &lines {
                writeln!(f, "{l}").expect("write");
                pause(rng);
            }
        }
        // A `.json` array element by element under the final name.
        5 => {
            let mut f = std::fs::File::create(name("json")).expect("create");
            write!(f, "[").expect("write");
            for (i, l) in lines.iter().enumerate() {
                let sep = if i + 1 < lines.len() { "," } else { "]" };
                write!(f, "{l}{sep}").expect("write");
                pause(rng);
            }
        }
        // Careless: the last line written in two halves, a moment apart.
        6 => {
            let mut f = std::fs::File::create(name("jsonl")).expect("create");
            let (last, rest) = lines.split_last().expect("lines");
            for l in rest {
                writeln!(f, "{l}").expect("write");
            }
            let half = last.len() / 2;
            write!(f, "{}", &last[..half]).expect("write");
            pause(rng);
            writeln!(f, "{}", &last[half..]).expect("write");
        }
        // Many lines at once under the final name, no temporary name.
        _ => std::fs::write(name("jsonl"), lines.join("\n") + "\n").expect("write"),
    }
}

/// Eight writers drop files in every style for `run`, while the daemon is
/// killed (SIGKILL) and started again every few seconds; then every entry
/// is in the day files exactly once and nothing was rejected.
fn soak(run: Duration) {
    let v = Vault::new();
    let dir = inbox_dir(&v);
    std::fs::create_dir_all(&dir).expect("inbox");
    let until = Instant::now() + run;
    let writers: Vec<_> = (0..8u64)
        .map(|w| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (w + 1));
                let mut written = Vec::new();
                let mut round = 0;
                while Instant::now() < until {
                    let many = if w == 7 { 500 } else { 1 + rng.below(8) };
                    let ns: Vec<u64> = (0..many)
                        .map(|i| w * 10_000_000 + round * 1_000 + i)
                        .collect();
                    drop_in_style(&dir, w, round, &ns, &mut rng);
                    written.extend(ns);
                    round += 1;
                    std::thread::sleep(Duration::from_millis(rng.below(150)));
                }
                written
            })
        })
        .collect();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut kills, mut interrupted) = (0, 0);
    while Instant::now() < until {
        let d = Daemon::start(&v, &["--no-watch-vault"]);
        std::thread::sleep(Duration::from_millis(500 + rng.below(2000)));
        d.kill();
        kills += 1;
        if !files_in(&dir.join(".processing")).is_empty()
            || v.logs().join(".audit/intent.json").exists()
        {
            interrupted += 1;
        }
    }
    let expected: Vec<u64> = writers
        .into_iter()
        .flat_map(|w| w.join().expect("writer"))
        .collect();
    let d = Daemon::start(&v, &["--no-watch-vault"]);
    wait_for(
        "every file to be taken in",
        Duration::from_secs(120),
        || inbox_empty(&v),
    );
    let (code, _) = d.terminate();
    assert_eq!(code, Some(0));
    eprintln!(
        "{} entries, {kills} kills, {interrupted} of them with a claim in hand",
        expected.len()
    );
    let got = counts(&v);
    let doubled: Vec<_> = got.iter().filter(|(_, c)| **c > 1).collect();
    assert!(doubled.is_empty(), "entries written twice: {doubled:?}");
    let missing: Vec<_> = expected.iter().filter(|n| !got.contains_key(n)).collect();
    assert!(
        missing.is_empty(),
        "entries lost: {} of {}: {:?}",
        missing.len(),
        expected.len(),
        &missing[..missing.len().min(10)]
    );
    assert_eq!(got.len(), expected.len());
    assert!(
        files_in(&dir.join("rejected")).is_empty(),
        "{:?}",
        files_in(&dir.join("rejected"))
    );
}

#[test]
fn soak_writers_of_every_style_through_sigkill_restarts_lose_and_double_nothing() {
    soak(Duration::from_secs(10));
}

#[test]
#[ignore = "a minute long: cargo test --test inbox -- --ignored"]
fn soak_for_a_minute_writers_of_every_style_through_sigkill_restarts() {
    soak(Duration::from_secs(60));
}
