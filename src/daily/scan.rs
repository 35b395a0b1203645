//! Walking a day file of our layout line by line, as `verify` reads it: every
//! entry line however damaged, in constant memory; and a file's stored lines
//! whole, as the cold archive keeps them.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::Path;

use chrono::NaiveDate;

use super::{inspect, split_lines, DayState, Head, Inspection};
use crate::fsutil::read_range;

/// A line of the entry list as the walk finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanned<'a> {
    /// Bytes right after the header, where the file has a line break only.
    UnexpectedAfterHeader,
    /// An entry line.
    Entry {
        /// The entry's JSON, or `None` when the line is not laid out as an
        /// entry line (no indent).
        json: Option<&'a [u8]>,
        /// Whether the line ends with the comma that separates it from the
        /// next entry.
        comma: bool,
    },
}

/// How a walk over the entry lines ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEnd {
    /// At the trailer: its text, after its mark.
    Trailer(Vec<u8>),
    /// The file ends inside the entry list (a torn tail).
    Torn,
    /// The caller stopped it.
    Stopped,
}

/// Walks the entry lines of an open day file after its header `head`,
/// handing each to `on` until it breaks.
pub fn scan_entries(
    file: &mut File,
    head: &Head,
    mut on: impl FnMut(Scanned<'_>) -> ControlFlow<()>,
) -> io::Result<ScanEnd> {
    file.seek(SeekFrom::Start(head.len))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    let mut first = true;
    let mut trailer_text: Option<Vec<u8>> = None;
    while reader.read_until(b'\n', &mut line)? > 0 {
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if let Some(t) = trailer_text.as_mut() {
            t.extend_from_slice(&line);
        } else if first {
            first = false;
            if !text.is_empty() && on(Scanned::UnexpectedAfterHeader).is_break() {
                return Ok(ScanEnd::Stopped);
            }
        } else if text == b"  ]," {
            trailer_text = Some(Vec::new());
        } else {
            let (json, comma) = match text.strip_suffix(b",") {
                Some(j) => (j, true),
                None => (text, false),
            };
            let line = Scanned::Entry {
                json: json.strip_prefix(b"    "),
                comma,
            };
            if on(line).is_break() {
                return Ok(ScanEnd::Stopped);
            }
        }
        line.clear();
    }
    Ok(trailer_text.map_or(ScanEnd::Torn, ScanEnd::Trailer))
}

/// The stored lines of a day file of our layout, whole, with its state;
/// `None` when it is in another layout, or its lines do not add up to its
/// trailer's count.
pub fn stored_lines(path: &Path, date: NaiveDate) -> io::Result<Option<(DayState, Vec<String>)>> {
    let mut file = crate::fsutil::open_read(path)?;
    let Inspection::Ours(state) = inspect(&mut file, date)? else {
        return Ok(None);
    };
    let head_len = state.head.len;
    let bytes = read_range(&mut file, head_len, state.trailer_offset - head_len)?;
    let lines: Option<Vec<String>> = split_lines(&bytes, true)
        .into_iter()
        .map(|(json, _)| String::from_utf8(json.to_vec()).ok())
        .collect();
    Ok(lines
        .filter(|l| l.len() as u64 == state.trailer.total_entries)
        .map(|l| (state, l)))
}
