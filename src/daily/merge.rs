//! Two versions of one day file made one, by entry identity (the stored
//! line): a day file with Git conflict markers, and the Git merge driver.
//!
//! The union keeps one version's entries as they stand and adds the other
//! version's entries it lacks, in their order, after them: each entry once,
//! and the kept version's chain still holds over the entries it had.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::Value;

use super::read::parse_entries;
use super::{parse_head, render_file, Summary, Trailer};
use crate::chain::{ChainKey, Start};

/// The entries of `other` that `have` lacks, in their order, matched by
/// stored line (an entry twice in `other` and once in `have` is lacking once).
pub fn missing_from(have: &[Value], other: &[Value]) -> Vec<Value> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for v in have {
        *counts.entry(v.to_string()).or_default() += 1;
    }
    other
        .iter()
        .filter(|v| match counts.get_mut(&v.to_string()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}

/// The two sides of a file with Git conflict markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sides {
    /// The file as this side had it (the lines outside the markers and
    /// those between `<<<<<<<` and `=======` or `|||||||`).
    pub ours: Vec<u8>,
    /// The file as the other side had it.
    pub theirs: Vec<u8>,
    /// What the `>>>>>>>` marker names (a branch or commit; `unknown`).
    pub device: String,
}

/// Which part of a conflicted file a line is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Both,
    Ours,
    Base,
    Theirs,
}

/// The two sides of `bytes`, if it has Git conflict markers (the ancestor's
/// lines of the `diff3` style are left out).
pub fn conflict_sides(bytes: &[u8]) -> Option<Sides> {
    let mut part = Part::Both;
    let mut seen = false;
    let mut sides = Sides {
        ours: Vec::new(),
        theirs: Vec::new(),
        device: String::new(),
    };
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        match (part, marker(bare)) {
            (Part::Both, Some(b'<')) => part = Part::Ours,
            (Part::Ours, Some(b'|')) => part = Part::Base,
            (Part::Ours | Part::Base, Some(b'=')) => part = Part::Theirs,
            (Part::Theirs, Some(b'>')) => {
                seen = true;
                part = Part::Both;
                let label = String::from_utf8_lossy(&bare[7..]).trim().to_owned();
                if sides.device.is_empty() && !label.is_empty() {
                    sides.device = label;
                }
            }
            (Part::Both, _) => {
                sides.ours.extend_from_slice(line);
                sides.theirs.extend_from_slice(line);
            }
            (Part::Ours, _) => sides.ours.extend_from_slice(line),
            (Part::Theirs, _) => sides.theirs.extend_from_slice(line),
            (Part::Base, _) => {}
        }
    }
    if sides.device.is_empty() {
        "unknown".clone_into(&mut sides.device);
    }
    (seen && part == Part::Both).then_some(sides)
}

/// The marker a line is (`<`, `|`, `=` or `>` seven times, then the end of
/// the line or a space), if it is one.
fn marker(line: &[u8]) -> Option<u8> {
    let first = *line.first()?;
    let is = matches!(first, b'<' | b'|' | b'=' | b'>')
        && line.len() >= 7
        && line[..7].iter().all(|&b| b == first)
        && (line.len() == 7 || (first != b'=' && line[7] == b' '));
    is.then_some(first)
}

/// The date a day file's bytes say they are of.
fn date_of(bytes: &[u8]) -> Option<NaiveDate> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    crate::time::parse_day(value.get("date")?.as_str()?)
}

/// The Git merge driver's result for two versions of a day file: `ours`'
/// entries as they stand, then those of `theirs` it lacks, as one file of
/// our layout, chained from `ours`' chain start (else `theirs`', else the
/// start of a chain) with `key`. `None` when neither names its day.
pub fn merged(ours: &[u8], theirs: &[u8], key: &ChainKey) -> std::io::Result<Option<String>> {
    let Some(date) = date_of(ours).or_else(|| date_of(theirs)) else {
        return Ok(None);
    };
    let start = parse_head(ours, date)
        .and_then(|h| h.start)
        .or_else(|| parse_head(theirs, date).and_then(|h| h.start))
        .unwrap_or_else(|| Start::genesis(key.alg()));
    let mine = parse_entries(ours).entries;
    let mut all = mine.clone();
    all.extend(missing_from(&mine, &parse_entries(theirs).entries));
    let lines: Vec<String> = all.iter().map(Value::to_string).collect();
    let folder = key.folder(start.alg)?;
    let values = folder.fold_all(start.value, lines.iter().map(String::as_bytes));
    let mut trailer = Trailer {
        total_entries: all.len() as u64,
        summary: Summary::default(),
        chain: Some(values.last().copied().unwrap_or(start.value)),
    };
    all.iter().for_each(|e| trailer.summary.add_value(e));
    Ok(Some(render_file(
        date,
        Some(&start),
        lines.iter().map(String::as_str),
        &trailer,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sides_leave_out_the_markers_and_the_ancestor() {
        let text = "a\n<<<<<<< HEAD\nb\n||||||| base\nx\n=======\nc\n>>>>>>> laptop\nd\n";
        let sides = conflict_sides(text.as_bytes()).expect("conflict");
        assert_eq!(sides.ours, b"a\nb\nd\n");
        assert_eq!(sides.theirs, b"a\nc\nd\n");
        assert_eq!(sides.device, "laptop");
        assert!(conflict_sides(b"a\n=======\nb\n").is_none());
        assert!(conflict_sides(b"<<<<<<< HEAD\nunfinished\n").is_none());
    }

    #[test]
    fn missing_from_counts_copies() {
        let (a, b) = (json!({"n": 1}), json!({"n": 2}));
        let have = vec![a.clone()];
        let other = vec![a.clone(), a.clone(), b.clone()];
        assert_eq!(missing_from(&have, &other), vec![a, b]);
    }
}
