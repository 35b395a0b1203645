//! The one day-file reader: the entries of a day file in any layout it is
//! found in (ours, another program's, or damaged).

use std::io;
use std::path::Path;

use serde_json::Value;

/// How a day file's entries were laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One JSON object with an `entries` list: ours, the skill
    /// specification's pretty-printed `{date,total_entries,summary,entries}`,
    /// or any other formatting of it.
    Object,
    /// A top-level JSON array of entry objects.
    Array,
    /// One entry object per line (JSON Lines); blank lines are skipped, and
    /// an unfinished last line (a writer cut short) is set apart in
    /// [`DayEntries::partial`].
    JsonLines,
    /// None of these: the entry objects still found anywhere in the bytes.
    Salvaged,
}

/// The entries of a day file, in the order they are stored.
#[derive(Debug, Clone, PartialEq)]
pub struct DayEntries {
    /// The layout they were read from.
    pub layout: Layout,
    /// The entries.
    pub entries: Vec<Value>,
    /// JSON Lines only: the bytes of a last line that is not a complete
    /// object (an unfinished write), which are no entry.
    pub partial: Option<Vec<u8>>,
}

/// Reads the entries of the day file at `path`, whatever its layout.
pub fn read_entries(path: &Path) -> io::Result<DayEntries> {
    Ok(parse_entries(&crate::fsutil::read_no_follow(path)?))
}

/// The entries of a day file's bytes, whatever its layout. Never fails: what
/// is in no known layout is salvaged entry by entry.
pub fn parse_entries(bytes: &[u8]) -> DayEntries {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(mut map)) => match map.remove("entries") {
            Some(Value::Array(entries)) if entries.iter().all(Value::is_object) => DayEntries {
                layout: Layout::Object,
                entries,
                partial: None,
            },
            // A single entry on its own: JSON Lines of one line.
            None if looks_like_entry(&Value::Object(map.clone())) => DayEntries {
                layout: Layout::JsonLines,
                entries: vec![Value::Object(map)],
                partial: None,
            },
            _ => salvaged(bytes),
        },
        Ok(Value::Array(entries)) if entries.iter().all(Value::is_object) => DayEntries {
            layout: Layout::Array,
            entries,
            partial: None,
        },
        Ok(_) => salvaged(bytes),
        Err(_) => json_lines(bytes).unwrap_or_else(|| salvaged(bytes)),
    }
}

/// The entries of JSON Lines, if every line that is not blank is an entry
/// object, except perhaps the last one: a line cut short by its writer,
/// set apart in [`DayEntries::partial`].
fn json_lines(bytes: &[u8]) -> Option<DayEntries> {
    let mut entries = Vec::new();
    let mut partial = None;
    for line in bytes.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if partial.is_some() {
            // A bad line with more after it: not an unfinished last line.
            return None;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) if v.is_object() => entries.push(v),
            Ok(_) => return None,
            // Only an object cut short is an unfinished write.
            Err(e) if e.is_eof() && line.first() == Some(&b'{') => partial = Some(line.to_vec()),
            Err(_) => return None,
        }
    }
    (!entries.is_empty()).then_some(DayEntries {
        layout: Layout::JsonLines,
        entries,
        partial,
    })
}

fn salvaged(bytes: &[u8]) -> DayEntries {
    DayEntries {
        layout: Layout::Salvaged,
        entries: salvage_entries(bytes),
        partial: None,
    }
}

/// Whether a value looks like an audit entry (has `timestamp` or `log_level`).
pub fn looks_like_entry(v: &Value) -> bool {
    v.get("timestamp").is_some() || v.get("log_level").is_some()
}

/// Every entry object that still parses anywhere in `bytes`, in order:
/// each `{` is tried as the start of an object; an object that looks like an
/// entry (has `timestamp` or `log_level`) is kept and skipped over whole.
pub fn salvage_entries(bytes: &[u8]) -> Vec<Value> {
    salvage_at(bytes).into_iter().map(|(_, v)| v).collect()
}

/// Like [`salvage_entries`], with where each object starts in `bytes`.
pub fn salvage_at(bytes: &[u8]) -> Vec<(usize, Value)> {
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'{') {
        let start = i + off;
        let mut stream = serde_json::Deserializer::from_slice(&bytes[start..]).into_iter::<Value>();
        match stream.next() {
            Some(Ok(v)) if looks_like_entry(&v) => {
                found.push((start, v));
                i = start + stream.byte_offset();
            }
            _ => i = start + 1,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(n: u64) -> Value {
        json!({"timestamp": "2026-01-01T00:00:00Z", "log_level": "INFO", "n": n})
    }

    #[test]
    fn every_layout_gives_its_entries_in_order() {
        let object = json!({"date": "2026-01-01", "entries": [entry(1), entry(2)]});
        let pretty = serde_json::to_vec_pretty(&object).expect("json");
        let array = serde_json::to_vec_pretty(&json!([entry(1), entry(2)])).expect("json");
        let lines = format!("{}\n\n{}\n", entry(1), entry(2));
        let cases: [(&[u8], Layout); 3] = [
            (&pretty, Layout::Object),
            (&array, Layout::Array),
            (lines.as_bytes(), Layout::JsonLines),
        ];
        for (bytes, layout) in cases {
            let read = parse_entries(bytes);
            assert_eq!(read.layout, layout);
            assert_eq!(read.entries, vec![entry(1), entry(2)], "{layout:?}");
        }
    }

    #[test]
    fn one_line_of_json_lines_is_one_entry() {
        let read = parse_entries(entry(7).to_string().as_bytes());
        assert_eq!(read.layout, Layout::JsonLines);
        assert_eq!(read.entries, vec![entry(7)]);
    }

    #[test]
    fn damaged_bytes_are_salvaged_entry_by_entry() {
        let text = format!("{{\"entries\": [{}, {}, {{\"timest", entry(1), entry(2));
        let read = parse_entries(text.as_bytes());
        assert_eq!(read.layout, Layout::Salvaged);
        assert_eq!(read.entries, vec![entry(1), entry(2)]);
        let bad_middle = format!("{}\nnot json\n{}\n", entry(3), entry(4));
        let read = parse_entries(bad_middle.as_bytes());
        assert_eq!(read.layout, Layout::Salvaged);
        assert_eq!(read.entries, vec![entry(3), entry(4)]);
    }

    #[test]
    fn json_lines_with_an_unfinished_last_line_are_json_lines() {
        let torn_lines = format!("{}\n{}\n{{\"timestamp\": \"2026", entry(3), entry(4));
        let read = parse_entries(torn_lines.as_bytes());
        assert_eq!(read.layout, Layout::JsonLines);
        assert_eq!(read.entries, vec![entry(3), entry(4)]);
        assert_eq!(
            read.partial.as_deref(),
            Some(&b"{\"timestamp\": \"2026"[..])
        );
    }
}
