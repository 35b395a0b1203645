//! The head record and the ledger: what vault-audit wrote, kept apart from
//! the day files, so that a day cut short, deleted or rewritten by someone
//! without the key stays accountable.
//!
//! `Logs/.audit/head` is one line, rewritten after every append under the
//! writers' lock: the day just written, its chain start, entry count and
//! chain value, a sequence number that only grows, and where the ledger
//! stands; then its MAC (HMAC-SHA-256 with `AUDIT_CHAIN_KEY`, SHA-256
//! without), padded with spaces to one 512-byte sector. It is written in
//! place, one positioned write into that sector (a rename per append cost
//! more than the rest of the append), and not synced on its own: a head
//! lost to a crash only lags behind (entries beyond it still chain from it).
//!
//! `Logs/.audit/ledger` gets a line (synced) whenever the head moves off a
//! state without extending it (the first write of a new day, a back-dated
//! append, a day repaired shorter), and for what repairs, retention and
//! people do to recorded days. Each line's MAC chains to the one before.
//!
//! Every recorded state of a day must stay a prefix of that day's chain:
//! `verify` checks them all, whatever happened to the file, until a person
//! accepts the day as it is (`vault-audit repair --accept DAY`).

use std::collections::BTreeMap;
use std::io;

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::state::split_mac;
pub use super::state::{Head, State};
use super::{to_hex, Alg, ChainKey, ChainValue, GENESIS};
use crate::fsutil::{append_durable, read_no_follow, write_atomic, write_replace};
use crate::vault::Vault;

/// `body` with its MAC after `prev`, as a stored line.
fn seal_line(key: &ChainKey, prev: &ChainValue, body: &str) -> (String, ChainValue) {
    let (alg, folder) = key.mac();
    let mac = folder.fold(prev, body.as_bytes());
    (format!("{body} {}:{}", alg.as_str(), to_hex(&mac)), mac)
}

/// Whether a stored line's MAC holds after `prev`: `None` when it needs a
/// key that is not set (or the line has no MAC to read). With a key set, a
/// line with a plain SHA-256 MAC does not hold: anyone can write one.
pub fn mac_holds(key: &ChainKey, prev: &ChainValue, line: &str) -> Option<bool> {
    mac_check(key, prev, line, false)
}

/// Like [`mac_holds`]; `plain_ok` takes a plain SHA-256 MAC even with a key
/// set (ledger lines written before the first keyed one).
fn mac_check(key: &ChainKey, prev: &ChainValue, line: &str, plain_ok: bool) -> Option<bool> {
    let (body, (alg, mac)) = split_mac(line)?;
    let (have, folder) = key.mac();
    match (alg, have) {
        (Alg::HmacSha256, Alg::Sha256) => None,
        (Alg::Sha256, Alg::HmacSha256) if !plain_ok => Some(false),
        (Alg::Sha256, _) => Some(super::Folder::Sha256.fold(prev, body.as_bytes()) == mac),
        (Alg::HmacSha256, Alg::HmacSha256) => Some(folder.fold(prev, body.as_bytes()) == mac),
    }
}

/// Why a ledger line was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The head moved off this state without extending it.
    Moved,
    /// Retention deleted the day (this was its last state).
    Purged,
    /// A repair found the day's entries differing from what was recorded
    /// and kept the differing ones aside, unchained.
    Diverged,
    /// A person accepted the day as it now stands.
    Accepted,
    /// The head record was missing, unreadable or forged when vault-audit
    /// next wrote.
    HeadLost,
}

impl Event {
    fn as_str(self) -> &'static str {
        match self {
            Event::Moved => "moved",
            Event::Purged => "purged",
            Event::Diverged => "diverged",
            Event::Accepted => "accepted",
            Event::HeadLost => "head_lost",
        }
    }

    fn from_name(name: &str) -> Option<Event> {
        [
            Event::Moved,
            Event::Purged,
            Event::Diverged,
            Event::Accepted,
            Event::HeadLost,
        ]
        .into_iter()
        .find(|e| e.as_str() == name)
    }
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    /// Its number, from 1.
    pub n: u64,
    /// The head's sequence number when it was written.
    pub seq: u64,
    /// Why.
    pub event: Event,
    /// The day's state it records.
    pub state: State,
    /// What happened, in words (diverged, head lost, accepted).
    pub note: Option<String>,
    /// Whether its MAC holds (`None`: it needs the key, which is not set).
    pub mac: Option<bool>,
}

/// The ledger as read, in order, and whether it reads whole.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Its lines.
    pub lines: Vec<LedgerLine>,
    /// The MAC stored on each line.
    pub macs: Vec<ChainValue>,
    /// Lines that are not ledger lines (numbers from 1).
    pub unreadable: Vec<u64>,
}

/// Reads the ledger, checking each line's MAC against the one before.
pub fn read_ledger(vault: &Vault, key: &ChainKey) -> io::Result<Ledger> {
    let bytes = match read_no_follow(&vault.ledger()) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Ledger::default()),
        Err(e) => return Err(e),
    };
    let mut ledger = Ledger::default();
    let mut prev = GENESIS;
    let mut keyed_seen = false;
    for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
        let parsed = split_mac(line).and_then(|(body, (alg, mac))| {
            keyed_seen |= alg == Alg::HmacSha256;
            let v: Value = serde_json::from_str(body).ok()?;
            let event = Event::from_name(v.get("event")?.as_str()?)?;
            let line = LedgerLine {
                n: v.get("n")?.as_u64()?,
                seq: v.get("seq")?.as_u64()?,
                event,
                state: State::take(&v)?,
                note: v.get("note").and_then(Value::as_str).map(str::to_owned),
                mac: mac_check(key, &prev, line, !keyed_seen),
            };
            Some((line, mac))
        });
        match parsed {
            Some((line, mac)) => {
                prev = mac;
                ledger.lines.push(line);
                ledger.macs.push(mac);
            }
            None => ledger.unreadable.push(i as u64 + 1),
        }
    }
    Ok(ledger)
}

/// Why the head record could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadTrouble {
    /// There is none.
    Missing,
    /// It is not a head line.
    Unreadable,
    /// Its MAC does not hold: it was edited, or forged without the key.
    Forged,
}

/// Reads the head record, checking its MAC when the key allows.
pub fn read_head(vault: &Vault, key: &ChainKey) -> io::Result<Result<Head, HeadTrouble>> {
    // A reader without the lock may meet a write in place half done: it
    // reads again before it calls the record damaged.
    let mut found = read_head_once(vault, key)?;
    for _ in 0..3 {
        if matches!(found, Ok(_) | Err(HeadTrouble::Missing)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        found = read_head_once(vault, key)?;
    }
    Ok(found)
}

fn read_head_once(vault: &Vault, key: &ChainKey) -> io::Result<Result<Head, HeadTrouble>> {
    let bytes = match read_no_follow(&vault.head_record()) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Err(HeadTrouble::Missing)),
        Err(e) => return Err(e),
    };
    let text = String::from_utf8_lossy(&bytes);
    let Some(head) = Head::parse(&text) else {
        return Ok(Err(HeadTrouble::Unreadable));
    };
    Ok(match mac_holds(key, &GENESIS, &head.line) {
        Some(false) => Err(HeadTrouble::Forged),
        _ => Ok(head),
    })
}

/// Appends a line to the ledger, durably; returns its number and MAC.
pub fn note(
    vault: &Vault,
    key: &ChainKey,
    event: Event,
    state: &State,
    note: Option<&str>,
) -> io::Result<(u64, ChainValue)> {
    let (n, prev) = ledger_end(vault)?;
    let seq = match read_head(vault, key)? {
        Ok(head) => head.seq,
        Err(_) => 0,
    };
    append_line(vault, key, (n, prev), seq, event, state, note)
}

/// Where the ledger ends: its last line's number and MAC (read from the
/// line, not checked: `verify` checks the whole ledger).
fn ledger_end(vault: &Vault) -> io::Result<(u64, ChainValue)> {
    let bytes = match read_no_follow(&vault.ledger()) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, GENESIS)),
        Err(e) => return Err(e),
    };
    let text = String::from_utf8_lossy(&bytes);
    let Some(last) = text.lines().rev().find(|l| !l.trim().is_empty()) else {
        return Ok((0, GENESIS));
    };
    let parsed = split_mac(last).and_then(|(body, (_, mac))| {
        let v: Value = serde_json::from_str(body).ok()?;
        Some((v.get("n")?.as_u64()?, mac))
    });
    Ok(parsed.unwrap_or((text.lines().count() as u64, GENESIS)))
}

fn append_line(
    vault: &Vault,
    key: &ChainKey,
    (n, prev): (u64, ChainValue),
    seq: u64,
    event: Event,
    state: &State,
    note: Option<&str>,
) -> io::Result<(u64, ChainValue)> {
    let mut map = Map::new();
    map.insert("n".into(), (n + 1).into());
    map.insert("seq".into(), seq.into());
    map.insert("event".into(), event.as_str().into());
    state.put(&mut map);
    if let Some(note) = note {
        map.insert("note".into(), note.into());
    }
    let (line, mac) = seal_line(key, &prev, &Value::Object(map).to_string());
    append_durable(&vault.ledger(), format!("{line}\n").as_bytes())?;
    Ok((n + 1, mac))
}

/// Records that an append to `after.day`, which found the file at
/// `before` (entries, chain value), left it at `after`. The caller holds
/// the writers' lock and has synced the day file.
///
/// When the head held another state than `before` (another day, or the same
/// day cut short or rewritten by a repair), that state goes to the ledger
/// first, so it stays checked. At the first write of a later day, with a
/// signing key, the day before is signed, then the new head.
pub fn advance(
    vault: &Vault,
    key: &ChainKey,
    before: (u64, Option<ChainValue>),
    after: &State,
) -> io::Result<()> {
    let old = read_head(vault, key)?;
    let (mut ledger, mut ledger_mac, seq) = match &old {
        Ok(h) => (h.ledger, h.ledger_mac, h.seq),
        Err(_) => (0, GENESIS, 0),
    };
    let mut closed = None;
    match &old {
        Ok(h) if h.state.day == after.day && (h.state.entries, h.state.chain) == before => {}
        Ok(h) => {
            let end = ledger_end(vault)?;
            (ledger, ledger_mac) =
                append_line(vault, key, end, h.seq, Event::Moved, &h.state, None)?;
            closed = (h.state.day < after.day).then_some((h.state, h.seq));
        }
        Err(trouble) => {
            let end = ledger_end(vault)?;
            if end.0 > 0 || *trouble != HeadTrouble::Missing {
                let why = match trouble {
                    HeadTrouble::Missing => "the head record was missing",
                    HeadTrouble::Unreadable => "the head record was unreadable",
                    HeadTrouble::Forged => "the head record's MAC did not hold",
                };
                let seq = read_ledger_seq(vault, key)?;
                (ledger, ledger_mac) =
                    append_line(vault, key, end, seq, Event::HeadLost, after, Some(why))?;
            }
        }
    }
    let seq = seq.max(read_seq_floor(&old, ledger)) + 1;
    let head = write_head(vault, key, seq, after, (ledger, &ledger_mac), false)?;
    if let (Some(signer), Some((state, at))) = (key.signer(), closed) {
        super::sign::sign_day(vault, signer, &state, at)?;
        super::sign::sign_head(vault, signer, &head)?;
    }
    Ok(())
}

/// The highest sequence number in the ledger (for a head made anew).
fn read_ledger_seq(vault: &Vault, key: &ChainKey) -> io::Result<u64> {
    Ok(read_ledger(vault, key)?
        .lines
        .iter()
        .map(|l| l.seq)
        .max()
        .unwrap_or(0))
}

/// A head made anew never goes below the ledger's line count (each line
/// took at least one step).
fn read_seq_floor(old: &Result<Head, HeadTrouble>, ledger: u64) -> u64 {
    match old {
        Ok(_) => 0,
        Err(_) => ledger,
    }
}

/// Writes the head record: replaced atomically, and synced only when
/// `durable` (after an append the day file's next sync commits it).
fn write_head(
    vault: &Vault,
    key: &ChainKey,
    seq: u64,
    state: &State,
    (ledger, ledger_mac): (u64, &ChainValue),
    durable: bool,
) -> io::Result<Head> {
    let body = Head::body(seq, state, ledger, ledger_mac);
    let (line, _) = seal_line(key, &GENESIS, &body);
    let path = vault.head_record();
    let bytes = padded(&line);
    if durable {
        write_atomic(&path, &bytes)?;
    } else if !overwrite(&path, &bytes)? {
        write_replace(&path, &bytes, false)?;
    }
    Ok(Head {
        seq,
        state: *state,
        ledger,
        ledger_mac: *ledger_mac,
        line,
    })
}

/// The size the head record is padded to: one disk sector, so that a
/// write of it in place lands whole or not at all.
const HEAD_SIZE: usize = 512;

/// The line, padded with spaces to [`HEAD_SIZE`] (a longer line as it is),
/// and a newline.
fn padded(line: &str) -> Vec<u8> {
    let mut bytes = line.as_bytes().to_vec();
    bytes.resize(bytes.len().max(HEAD_SIZE - 1), b' ');
    bytes.push(b'\n');
    bytes
}

/// Writes `bytes` over the head record in place when it is a regular file
/// of the same size (one positioned write into one sector: no new inode, no
/// rename, which cost more than the rest of an append); false when it is
/// not, and it must be replaced.
fn overwrite(path: &std::path::Path, bytes: &[u8]) -> io::Result<bool> {
    if bytes.len() != HEAD_SIZE {
        return Ok(false);
    }
    let mut file =
        match crate::fsutil::open_no_follow(path, std::fs::OpenOptions::new().write(true)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
    if file.metadata()?.len() != HEAD_SIZE as u64 {
        return Ok(false);
    }
    crate::fsutil::write_at(&mut file, bytes, 0)?;
    Ok(true)
}

/// A person accepts `state` as what the day now holds: a ledger line says
/// so, and the head, when it stands on that day, is set to it. Synced.
pub fn accept(vault: &Vault, key: &ChainKey, state: &State, note: &str) -> io::Result<()> {
    let old = read_head(vault, key)?;
    let seq = old.as_ref().map_or(0, |h| h.seq) + 1;
    let end = ledger_end(vault)?;
    let (ledger, mac) = append_line(vault, key, end, seq, Event::Accepted, state, Some(note))?;
    let head_state = match &old {
        Ok(h) if h.state.day != state.day => h.state,
        _ => *state,
    };
    write_head(vault, key, seq, &head_state, (ledger, &mac), true).map(|_| ())
}

/// One state a day must still hold as a prefix, and where it was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The state.
    pub state: State,
    /// Where it is recorded, for messages (`Logs/.audit/head`, `ledger line 4`).
    pub source: String,
}

/// What the head record and the ledger say about every day.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// The head record, or why there is none to use.
    pub head: Option<Result<Head, HeadTrouble>>,
    /// The states each day must still hold, oldest first.
    pub days: BTreeMap<NaiveDate, Vec<Record>>,
    /// Days retention deleted, with their last state.
    pub purged: BTreeMap<NaiveDate, State>,
    /// What repairs found and the head's losses, by day, not yet accepted.
    pub notes: BTreeMap<NaiveDate, Vec<String>>,
    /// Problems with the head record and the ledger themselves.
    pub problems: Vec<String>,
    /// Whether there is any record at all (a vault written before them has none).
    pub any: bool,
}

impl Records {
    /// The latest recorded state of `day`, if any.
    pub fn latest(&self, day: NaiveDate) -> Option<State> {
        self.days
            .get(&day)
            .and_then(|r| r.iter().max_by_key(|r| r.state.entries))
            .map(|r| r.state)
    }
}

/// Reads the head record and the ledger into what every day must hold.
pub fn records(vault: &Vault, key: &ChainKey) -> io::Result<Records> {
    let mut unreadable = Vec::new();
    let ledger = read_ledger(vault, key).unwrap_or_else(|e| {
        unreadable.push(format!("Logs/.audit/ledger: could not be read: {e}"));
        Ledger::default()
    });
    let head = read_head(vault, key).unwrap_or_else(|e| {
        unreadable.push(format!("Logs/.audit/head: could not be read: {e}"));
        Err(HeadTrouble::Unreadable)
    });
    let mut out = Records {
        any: !ledger.lines.is_empty() || head.is_ok(),
        problems: unreadable,
        ..Records::default()
    };
    let mut reset: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    let mut trusted = true;
    for n in &ledger.unreadable {
        out.problems.push(format!(
            "Logs/.audit/ledger: line {n} is not a ledger line: it was edited"
        ));
        trusted = false;
    }
    for line in &ledger.lines {
        if line.mac == Some(false) && trusted {
            out.problems.push(format!(
                "Logs/.audit/ledger: line {} was changed or forged (its MAC does not hold); what it and later lines accept or purge is not taken",
                line.n
            ));
            trusted = false;
        }
        ledger_line(&mut out, &mut reset, line, trusted);
    }
    check_head(&mut out, &head, &ledger, &reset);
    out.head = Some(head);
    Ok(out)
}

/// Takes one ledger line into the records.
fn ledger_line(
    out: &mut Records,
    reset: &mut BTreeMap<NaiveDate, u64>,
    line: &LedgerLine,
    trusted: bool,
) {
    let day = line.state.day;
    let source = format!("Logs/.audit/ledger line {}", line.n);
    let record = Record {
        state: line.state,
        source,
    };
    match line.event {
        Event::Moved => out.days.entry(day).or_default().push(record),
        Event::Purged | Event::Accepted if trusted => {
            out.days.remove(&day);
            out.notes.remove(&day);
            reset.insert(day, line.seq);
            if line.event == Event::Accepted {
                out.purged.remove(&day);
                out.days.entry(day).or_default().push(record);
            } else {
                out.purged.insert(day, line.state);
            }
        }
        Event::Purged | Event::Accepted => out.days.entry(day).or_default().push(record),
        Event::Diverged | Event::HeadLost => {
            let note = line.note.clone().unwrap_or_default();
            out.notes.entry(day).or_default().push(note);
        }
    }
}

/// Takes the head into the records and checks it against the ledger.
fn check_head(
    out: &mut Records,
    head: &Result<Head, HeadTrouble>,
    ledger: &Ledger,
    reset: &BTreeMap<NaiveDate, u64>,
) {
    let head = match head {
        Ok(h) => h,
        Err(HeadTrouble::Missing) => {
            if !ledger.lines.is_empty() {
                out.problems.push("Logs/.audit/head: missing, though the ledger has lines: it was removed, so the last entries written are not accounted for".into());
            }
            return;
        }
        Err(HeadTrouble::Unreadable) => {
            out.problems
                .push("Logs/.audit/head: not a head record: it was edited or damaged".into());
            return;
        }
        Err(HeadTrouble::Forged) => {
            out.problems.push("Logs/.audit/head: its MAC does not hold under AUDIT_CHAIN_KEY: it was edited, or written without the key (a vault written before the key was set gets a keyed head at its next write)".into());
            return;
        }
    };
    let held = ledger.lines.len() as u64;
    if ledger_mac_at(ledger, head.ledger) != Some(head.ledger_mac) {
        out.problems.push(format!(
            "Logs/.audit/ledger: holds {held} lines, but the head record (seq {}) was written when it held {} ending in another line: lines were removed or changed",
            head.seq, head.ledger
        ));
    }
    if reset.get(&head.state.day).is_none_or(|&s| s < head.seq) {
        out.days.entry(head.state.day).or_default().push(Record {
            state: head.state,
            source: format!("Logs/.audit/head (seq {})", head.seq),
        });
    }
}

/// The MAC stored on the ledger's `n`th line (zeros for none).
fn ledger_mac_at(ledger: &Ledger, n: u64) -> Option<ChainValue> {
    match n {
        0 => Some(GENESIS),
        n => ledger.macs.get(n as usize - 1).copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::Start;
    use crate::time::parse_day;

    fn state(day: &str, entries: u64, chain: u8) -> State {
        State {
            day: parse_day(day).expect("day"),
            start: Some(Start::genesis(Alg::HmacSha256)),
            entries,
            chain: Some([chain; 32]),
        }
    }

    fn vault() -> (tempfile::TempDir, Vault) {
        let dir = tempfile::tempdir().expect("tempdir");
        let vault = Vault::new(dir.path());
        std::fs::create_dir_all(vault.state_dir()).expect("mkdir");
        (dir, vault)
    }

    #[test]
    fn an_append_that_extends_the_head_writes_no_ledger_line() {
        let (_d, vault) = vault();
        let key = ChainKey::new("k");
        advance(&vault, &key, (0, Some(GENESIS)), &state("2026-11-22", 1, 1)).expect("first");
        advance(&vault, &key, (1, Some([1; 32])), &state("2026-11-22", 2, 2)).expect("second");
        assert!(!vault.ledger().exists());
        let head = read_head(&vault, &key).expect("read").expect("head");
        assert_eq!((head.seq, head.state.entries), (2, 2));
        let records = records(&vault, &key).expect("records");
        assert!(records.problems.is_empty(), "{:?}", records.problems);
        assert_eq!(records.latest(head.state.day), Some(head.state));
    }

    #[test]
    fn a_state_left_without_being_extended_stays_recorded_until_accepted() {
        let (_d, vault) = vault();
        let key = ChainKey::new("k");
        advance(&vault, &key, (0, Some(GENESIS)), &state("2026-11-22", 5, 5)).expect("day 1");
        // The day was cut to 3 entries before this append (a repair, say).
        advance(&vault, &key, (3, Some([3; 32])), &state("2026-11-22", 4, 9)).expect("cut");
        let day = parse_day("2026-11-22").expect("day");
        let records = records(&vault, &key).expect("records");
        let counts: Vec<u64> = records.days[&day].iter().map(|r| r.state.entries).collect();
        assert_eq!(
            counts,
            vec![5, 4],
            "the 5 recorded before are still checked"
        );
        accept(&vault, &key, &state("2026-11-22", 4, 9), "looked at").expect("accept");
        let records = records_after(&vault, &key);
        let counts: Vec<u64> = records.days[&day].iter().map(|r| r.state.entries).collect();
        assert_eq!(counts, vec![4]);
    }

    fn records_after(vault: &Vault, key: &ChainKey) -> Records {
        records(vault, key).expect("records")
    }

    #[test]
    fn a_head_written_without_the_key_or_a_ledger_line_removed_is_reported() {
        let (_d, vault) = vault();
        let key = ChainKey::new("k");
        advance(&vault, &key, (0, Some(GENESIS)), &state("2026-11-21", 2, 2)).expect("day 1");
        advance(&vault, &key, (0, Some(GENESIS)), &state("2026-11-22", 1, 1)).expect("day 2");
        let head = std::fs::read_to_string(vault.head_record()).expect("head");
        std::fs::write(vault.ledger(), "").expect("empty the ledger");
        let found = records(&vault, &key).expect("records").problems;
        assert!(
            found.iter().any(|p| p.contains("lines were removed")),
            "{found:?}"
        );
        write_head(
            &vault,
            &ChainKey::none(),
            9,
            &state("2026-11-22", 1, 1),
            (0, &GENESIS),
            false,
        )
        .expect("forge");
        assert_eq!(
            read_head(&vault, &key).expect("read"),
            Err(HeadTrouble::Forged)
        );
        assert!(!head.is_empty());
    }
}
