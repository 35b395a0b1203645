//! The tamper-evident hash chain over the stored entry lines.
//!
//! Each entry's exact stored line is folded into a running value:
//! `v(i) = H(v(i-1) || line(i))`, with `H` SHA-256, or HMAC-SHA-256 keyed by
//! `AUDIT_CHAIN_KEY` when that is set. A day's chain starts from the value of
//! the day before it at the entry count that day had when this one was
//! created (recorded in the header as `chain_start`), or from the genesis
//! value (32 zero bytes) for the first day. The trailer records the value after
//! the last entry (`chain_end`), written in the same positioned write.
//!
//! So that `verify` can point at the entry that changed, every value is also
//! kept, 32 bytes per entry, in `Logs/.audit/chain/YYYY-MM-DD.bin`. That file
//! is a locator, not the evidence: it is written without a sync of its own,
//! and `verify` falls back to the trailer's value where it is short.
//!
//! What vault-audit wrote is recorded apart from the day files, so that a
//! day cut short, deleted or rewritten stays accountable: the head record and
//! the ledger ([`head`]), covered by the key, and with a signing key, Ed25519
//! signatures anyone can check with the public key ([`sign`]). Both are about
//! the records of [`state`]: a day file's state and the head line.

pub mod head;
pub mod sign;
pub mod state;

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One chain value.
pub type ChainValue = [u8; 32];

/// The value a chain with nothing before it starts from.
pub const GENESIS: ChainValue = [0; 32];

/// How a file's chain is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Alg {
    /// Plain SHA-256: detects edits by anyone who does not recompute it.
    #[serde(rename = "sha256")]
    Sha256,
    /// HMAC-SHA-256 with `AUDIT_CHAIN_KEY`: only the key holder can forge it.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
}

impl Alg {
    /// The name used in the day file.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Sha256 => "sha256",
            Alg::HmacSha256 => "hmac-sha256",
        }
    }

    /// The algorithm of a name used in the day file.
    pub fn from_name(name: &str) -> Option<Alg> {
        match name {
            "sha256" => Some(Alg::Sha256),
            "hmac-sha256" => Some(Alg::HmacSha256),
            _ => None,
        }
    }
}

/// The keys of the chain: the HMAC key (`AUDIT_CHAIN_KEY`), if any, and
/// the Ed25519 signing key (`AUDIT_SIGNING_KEY`), if any. Its `Debug` never
/// shows a secret.
#[derive(Clone, Default)]
pub struct ChainKey(Option<Arc<[u8]>>, Option<sign::SigningKey>);

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ChainKey({}, {})",
            if self.0.is_some() { "set" } else { "none" },
            if self.1.is_some() {
                "signing"
            } else {
                "not signing"
            }
        )
    }
}

impl ChainKey {
    /// No key: new days are chained with plain SHA-256.
    pub fn none() -> Self {
        ChainKey(None, None)
    }

    /// A key (its bytes as given); an empty key counts as none.
    pub fn new(key: impl AsRef<[u8]>) -> Self {
        let key = key.as_ref();
        ChainKey((!key.is_empty()).then(|| Arc::from(key)), None)
    }

    /// These keys, and `signer` to sign each day's final state and the head
    /// record with.
    pub fn with_signer(mut self, signer: Option<sign::SigningKey>) -> Self {
        self.1 = signer;
        self
    }

    /// The signing key, if one is set.
    pub fn signer(&self) -> Option<&sign::SigningKey> {
        self.1.as_ref()
    }

    /// Whether a key is set.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// The algorithm a new day is chained with: with a signing key, plain
    /// SHA-256, which anyone can recompute (the signatures make it
    /// unforgeable); else HMAC-SHA-256 when a key is set.
    pub fn alg(&self) -> Alg {
        if self.is_set() && self.1.is_none() {
            Alg::HmacSha256
        } else {
            Alg::Sha256
        }
    }

    /// The algorithm and function the head record and the ledger are
    /// authenticated with: HMAC-SHA-256 when a key is set, else SHA-256.
    pub fn mac(&self) -> (Alg, Folder) {
        match &self.0 {
            Some(key) => (
                Alg::HmacSha256,
                Folder::Hmac(Box::new(
                    Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length"),
                )),
            ),
            None => (Alg::Sha256, Folder::Sha256),
        }
    }

    /// The folding function for a file chained with `alg`; fails when that
    /// needs the key and none is set.
    pub fn folder(&self, alg: Alg) -> io::Result<Folder> {
        match (alg, &self.0) {
            (Alg::Sha256, _) => Ok(Folder::Sha256),
            (Alg::HmacSha256, Some(key)) => Ok(Folder::Hmac(Box::new(
                Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length"),
            ))),
            (Alg::HmacSha256, None) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "this day file is chained with HMAC-SHA-256: set AUDIT_CHAIN_KEY to the key it was written with",
            )),
        }
    }
}

/// Folds entry lines into a chain value.
#[derive(Clone)]
pub enum Folder {
    /// Plain SHA-256.
    Sha256,
    /// HMAC-SHA-256, key already set up.
    Hmac(Box<Hmac<Sha256>>),
}

impl Folder {
    /// The value after `line` when the value before it was `prev`.
    pub fn fold(&self, prev: &ChainValue, line: &[u8]) -> ChainValue {
        match self {
            Folder::Sha256 => {
                let mut h = Sha256::new();
                h.update(prev);
                h.update(line);
                h.finalize().into()
            }
            Folder::Hmac(mac) => {
                let mut mac = (**mac).clone();
                mac.update(prev);
                mac.update(line);
                mac.finalize().into_bytes().into()
            }
        }
    }

    /// The value after each of `lines` in turn, starting from `start`.
    pub fn fold_all<'a>(
        &self,
        start: ChainValue,
        lines: impl IntoIterator<Item = &'a [u8]>,
    ) -> Vec<ChainValue> {
        let mut at = start;
        lines
            .into_iter()
            .map(|line| {
                at = self.fold(&at, line);
                at
            })
            .collect()
    }
}

/// Where a day's chain starts, as recorded in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// How the chain is computed.
    pub alg: Alg,
    /// The day it continues from (none: genesis).
    pub after: Option<NaiveDate>,
    /// How many entries that day held when this one was created.
    pub at: u64,
    /// The value it starts from.
    pub value: ChainValue,
}

#[derive(Serialize, Deserialize)]
struct RawStart {
    alg: Alg,
    after: Option<String>,
    at: u64,
    value: String,
}

impl Start {
    /// The start of a first day.
    pub fn genesis(alg: Alg) -> Self {
        Start {
            alg,
            after: None,
            at: 0,
            value: GENESIS,
        }
    }

    /// The compact JSON object written in the header.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&RawStart {
            alg: self.alg,
            after: self.after.map(|d| d.format("%Y-%m-%d").to_string()),
            at: self.at,
            value: to_hex(&self.value),
        })
        .expect("a start serialises")
    }

    /// Reads the header's object back.
    pub fn parse(json: &[u8]) -> Option<Start> {
        let raw: RawStart = serde_json::from_slice(json).ok()?;
        let after = match raw.after {
            Some(day) => Some(crate::time::parse_day(&day)?),
            None => None,
        };
        Some(Start {
            alg: raw.alg,
            after,
            at: raw.at,
            value: from_hex(&raw.value)?,
        })
    }
}

/// Lower-case hex.
pub fn to_hex(value: &ChainValue) -> String {
    sign::hex(value)
}

/// A short name for a stored line (hex of the first 16 bytes of its
/// SHA-256): what cursors keep of the last line they passed.
pub fn short_hash(line: &[u8]) -> String {
    sign::hex(&Sha256::digest(line)[..16])
}

/// A value from 64 hex digits.
pub fn from_hex(text: &str) -> Option<ChainValue> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// The per-entry value file of a day file: `Logs/.audit/chain/<day>.bin`.
pub fn side_path(day_file: &Path) -> PathBuf {
    crate::vault::chain_record_of(day_file)
}

/// Records the values of entries `first..` (0-based) of a day file. Best
/// effort, not synced: the file only locates changes, and a failure here
/// must never stop an entry from being written.
pub fn record(day_file: &Path, first: u64, values: &[ChainValue]) {
    let path = side_path(day_file);
    let _ = (|| -> io::Result<()> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut file = crate::fsutil::open_no_follow(
            &path,
            OpenOptions::new().write(true).create(true).truncate(false),
        )?;
        crate::fsutil::write_at(&mut file, values.concat().as_slice(), first * 32)
    })();
}

/// Cuts a day file's value record to its first `count` values.
pub fn cut(day_file: &Path, count: u64) {
    let path = side_path(day_file);
    if let Ok(file) = crate::fsutil::open_no_follow(&path, OpenOptions::new().write(true)) {
        if file.metadata().is_ok_and(|m| m.len() > count * 32) {
            let _ = file.set_len(count * 32);
        }
    }
}

/// Replaces a day file's value record with `values`.
pub fn replace(day_file: &Path, values: &[ChainValue]) {
    forget(day_file);
    record(day_file, 0, values);
}

/// Removes a day file's value record.
pub fn forget(day_file: &Path) {
    let _ = fs::remove_file(side_path(day_file));
}

/// The recorded values of a day file (none if it has no record). A value of
/// all zeros is a hole left by a write that failed, and stands for unknown.
pub fn recorded(day_file: &Path) -> Vec<Option<ChainValue>> {
    let mut bytes = Vec::new();
    if let Ok(mut file) = crate::fsutil::open_read(&side_path(day_file)) {
        let _ = file.read_to_end(&mut bytes);
    }
    bytes
        .chunks_exact(32)
        .map(|c| {
            let v: ChainValue = c.try_into().expect("32 bytes");
            (v != GENESIS).then_some(v)
        })
        .collect()
}

/// The value a chained day file had after its first `count` entries, from
/// its record, if the record holds it.
pub fn recorded_at(day_file: &Path, count: u64) -> Option<ChainValue> {
    if count == 0 {
        return None;
    }
    let mut file = crate::fsutil::open_read(&side_path(day_file)).ok()?;
    let bytes = crate::fsutil::read_range(&mut file, (count - 1) * 32, 32).ok()?;
    let value: ChainValue = bytes.as_slice().try_into().ok()?;
    (value != GENESIS).then_some(value)
}

/// `Logs/.audit/anchors.json`: for each day retention deleted, its chain
/// values at the counts later days start from, so what remains still verifies.
pub fn anchors_path(logs: &Path) -> PathBuf {
    crate::vault::anchors_in(logs)
}

/// A deleted day's recorded values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    /// How many entries it held.
    pub total_entries: u64,
    /// Its value after the last entry, hex.
    pub chain_end: String,
    /// Its value at entry counts later days start from: count -> hex.
    pub at: std::collections::BTreeMap<u64, String>,
}

/// The anchors of deleted days, by day.
pub type Anchors = std::collections::BTreeMap<String, Anchor>;

/// Reads the anchors file (empty when there is none).
pub fn load_anchors(logs: &Path) -> Anchors {
    crate::fsutil::read_no_follow(&anchors_path(logs))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Writes the anchors file durably.
pub fn save_anchors(logs: &Path, anchors: &Anchors) -> io::Result<()> {
    let text = serde_json::to_string_pretty(anchors).map_err(io::Error::other)?;
    crate::fsutil::write_replace(&anchors_path(logs), text.as_bytes(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let v: ChainValue = std::array::from_fn(|i| (i * 7) as u8);
        assert_eq!(from_hex(&to_hex(&v)), Some(v));
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn the_keyed_chain_differs_from_the_plain_one_and_needs_the_key() {
        let plain = ChainKey::none().folder(Alg::Sha256).expect("plain");
        let keyed = ChainKey::new("k1").folder(Alg::HmacSha256).expect("keyed");
        let other = ChainKey::new("k2").folder(Alg::HmacSha256).expect("keyed");
        let a = plain.fold(&GENESIS, b"{}");
        let b = keyed.fold(&GENESIS, b"{}");
        assert_ne!(a, b);
        assert_ne!(b, other.fold(&GENESIS, b"{}"));
        assert_eq!(b, keyed.fold(&GENESIS, b"{}"));
        assert!(ChainKey::none().folder(Alg::HmacSha256).is_err());
    }

    #[test]
    fn a_start_round_trips_through_its_header_json() {
        let start = Start {
            alg: Alg::HmacSha256,
            after: crate::time::parse_day("2026-11-21"),
            at: 12,
            value: [9; 32],
        };
        assert_eq!(Start::parse(start.to_json().as_bytes()), Some(start));
        let genesis = Start::genesis(Alg::Sha256);
        assert_eq!(Start::parse(genesis.to_json().as_bytes()), Some(genesis));
    }
}
