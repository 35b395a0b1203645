//! The two records the head and the signatures are about: the [`State`] of
//! one day file as vault-audit wrote it, and the [`Head`] line that carries
//! the last one. They sit below both `head` (which writes them) and `sign`
//! (which signs them), so that neither file reaches into the other for them.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::{from_hex, to_hex, Alg, ChainValue, Start};
use crate::time::parse_day;

/// What vault-audit wrote to one day file: where its chain starts, how many
/// entries it held and the chain value after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    /// The day.
    pub day: NaiveDate,
    /// Its chain start (none: an unchained file).
    pub start: Option<Start>,
    /// Entries it held.
    pub entries: u64,
    /// The chain value after them (none: an unchained file).
    pub chain: Option<ChainValue>,
}

impl State {
    pub(super) fn put(&self, map: &mut Map<String, Value>) {
        map.insert("day".into(), self.day.format("%Y-%m-%d").to_string().into());
        let start = self
            .start
            .and_then(|s| serde_json::from_str(&s.to_json()).ok());
        map.insert("start".into(), start.unwrap_or(Value::Null));
        map.insert("entries".into(), self.entries.into());
        map.insert(
            "chain".into(),
            self.chain.map_or(Value::Null, |c| to_hex(&c).into()),
        );
    }

    pub(super) fn take(v: &Value) -> Option<State> {
        let start = match v.get("start")? {
            Value::Null => None,
            s => Some(Start::parse(s.to_string().as_bytes())?),
        };
        let chain = match v.get("chain")? {
            Value::Null => None,
            c => Some(from_hex(c.as_str()?)?),
        };
        Some(State {
            day: parse_day(v.get("day")?.as_str()?)?,
            start,
            entries: v.get("entries")?.as_u64()?,
            chain,
        })
    }

    /// The text signed for a day: its state and the sequence number then.
    pub fn signed_text(&self, seq: u64) -> String {
        let mut map = Map::new();
        self.put(&mut map);
        map.insert("seq".into(), seq.into());
        Value::Object(map).to_string()
    }

    /// Reads back [`State::signed_text`].
    pub fn from_signed_text(text: &str) -> Option<(State, u64)> {
        let v: Value = serde_json::from_str(text).ok()?;
        Some((State::take(&v)?, v.get("seq")?.as_u64()?))
    }
}

/// The head record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Its sequence number: one more at every append.
    pub seq: u64,
    /// The day file the last append left.
    pub state: State,
    /// Lines the ledger held then.
    pub ledger: u64,
    /// The MAC of the last of them (zeros for none).
    pub ledger_mac: ChainValue,
    /// The line as stored.
    pub line: String,
}

/// What opens a head record's body.
const HEAD_OPEN: &str = "{\"head\":1,";

impl Head {
    pub(super) fn body(seq: u64, state: &State, ledger: u64, ledger_mac: &ChainValue) -> String {
        let mut map = Map::new();
        map.insert("head".into(), 1.into());
        map.insert("seq".into(), seq.into());
        state.put(&mut map);
        map.insert("ledger".into(), ledger.into());
        map.insert("ledger_mac".into(), to_hex(ledger_mac).into());
        Value::Object(map).to_string()
    }

    /// Reads a head line (its MAC is checked by [`mac_holds`]).
    pub fn parse(line: &str) -> Option<Head> {
        let (body, _) = split_mac(line)?;
        if !body.starts_with(HEAD_OPEN) {
            return None;
        }
        let v: Value = serde_json::from_str(body).ok()?;
        Some(Head {
            seq: v.get("seq")?.as_u64()?,
            state: State::take(&v)?,
            ledger: v.get("ledger")?.as_u64()?,
            ledger_mac: from_hex(v.get("ledger_mac")?.as_str()?)?,
            line: line.trim_end().to_owned(),
        })
    }
}

/// A line's body and its MAC (`alg:hex`).
pub(super) fn split_mac(line: &str) -> Option<(&str, (Alg, ChainValue))> {
    let (body, mac) = line.trim_end().rsplit_once(' ')?;
    let (alg, hex) = mac.split_once(':')?;
    Some((body, (Alg::from_name(alg)?, from_hex(hex)?)))
}
