//! The `## Recent Activity` table of `Dashboard.md`: the ten newest entries,
//! written into that section only, every other byte of the note untouched.
//! Times are shown in one zone ([`Settings::zone`], UTC unless the CLI's
//! `AUDIT_DASHBOARD_TZ` says otherwise), which the Time column's header names.

mod cell;

use std::fs;
use std::io;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde_json::Value;

pub use cell::{cell, wiki_link, MAX_CELL_CHARS};

use crate::daily;
use crate::fsutil::replace_if_unchanged;
use crate::time::{parse_timestamp, Zone};
use crate::vault::Vault;

/// The section's heading.
pub const HEADING: &str = "## Recent Activity";
/// How many entries the table shows.
pub const ROWS: usize = 10;
/// How often a refresh re-reads and redoes when the note changes under it.
const ATTEMPTS: usize = 5;

const RULE: &str = "|------|-------|--------|-------|--------|--------|";

/// How the Dashboard is drawn (the library never reads the environment:
/// the CLI resolves `AUDIT_DASHBOARD_TZ`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The zone times are shown in (default UTC).
    pub zone: Zone,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { zone: Zone::utc() }
    }
}

/// How times are shown at one refresh: in one offset from UTC (the zone's
/// offset at the refresh, so the header is true of every row), with
/// "today" the date there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    offset: FixedOffset,
    today: NaiveDate,
}

impl Shown {
    /// Times in `zone` as it is at `now`.
    pub fn new(zone: Zone, now: DateTime<Utc>) -> Shown {
        let offset = zone.offset_at(now);
        Shown {
            offset,
            today: now.with_timezone(&offset).date_naive(),
        }
    }

    /// The offset times are shown in.
    pub fn offset(&self) -> FixedOffset {
        self.offset
    }

    /// Today's date in that offset.
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    /// The zone as the header names it: `UTC`, or `UTC+05:30`, `UTC-08:00`.
    pub fn label(&self) -> String {
        match self.offset.local_minus_utc() {
            0 => "UTC".to_owned(),
            _ => format!("UTC{}", self.offset),
        }
    }

    /// `HH:MM:SS` for a time today, else `YYYY-MM-DD HH:MM:SS`.
    pub fn time(&self, t: DateTime<Utc>) -> String {
        let local = t.with_timezone(&self.offset);
        match local.date_naive() == self.today {
            true => local.format("%H:%M:%S").to_string(),
            false => local.format("%Y-%m-%d %H:%M:%S").to_string(),
        }
    }

    /// The table's header, naming the zone: `| Time (UTC) | Level | ...`.
    pub fn header(&self) -> String {
        format!(
            "| Time ({}) | Level | Action | Actor | Target | Result |",
            self.label()
        )
    }
}

/// The newest `n` entries over the given days (any order): read from the
/// tails of the newest day files only, returned newest first.
pub fn newest_entries(vault: &Vault, dates: &[NaiveDate], n: usize) -> io::Result<Vec<Value>> {
    let mut dates = dates.to_vec();
    dates.sort_unstable_by(|a, b| b.cmp(a));
    dates.dedup();
    let mut found: Vec<Value> = Vec::new();
    for date in dates {
        if found.len() >= n {
            break;
        }
        match daily::tail_entries(&vault.day_file(date), date, n - found.len()) {
            Ok(mut older) => {
                older.extend(found);
                found = older;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    // Newest first by time (ties: the later written first); entries whose
    // time does not parse go last.
    found.reverse();
    found.sort_by_cached_key(|e| {
        std::cmp::Reverse(
            e.get("timestamp")
                .and_then(Value::as_str)
                .and_then(|t| parse_timestamp(t).ok()),
        )
    });
    Ok(found)
}

fn text<'a>(entry: &'a Value, key: &str) -> &'a str {
    entry.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The table's lines (no line endings): header, rule, one row per entry.
pub fn table_lines(entries: &[Value], vault: &Vault, shown: &Shown) -> Vec<String> {
    let mut lines = vec![shown.header(), RULE.to_owned()];
    for e in entries {
        let raw_time = text(e, "timestamp");
        let time = match parse_timestamp(raw_time) {
            Ok(t) => shown.time(t),
            Err(_) => cell(raw_time),
        };
        let target = text(e, "target");
        let target = wiki_link(target, vault.root()).unwrap_or_else(|| cell(target));
        lines.push(format!(
            "| {time} | {} | {} | {} | {target} | {} |",
            cell(text(e, "log_level")),
            cell(text(e, "action_type")),
            cell(text(e, "actor")),
            cell(text(e, "result")),
        ));
    }
    lines
}

/// One line of a document: where its text ends and where the next begins.
struct DocLine {
    start: usize,
    end: usize,
    next: usize,
}

fn lines(doc: &[u8]) -> Vec<DocLine> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < doc.len() {
        let (end, next) = match doc[start..].iter().position(|&b| b == b'\n') {
            Some(p) => {
                let nl = start + p;
                let end = if nl > start && doc[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                (end, nl + 1)
            }
            None => (doc.len(), doc.len()),
        };
        out.push(DocLine { start, end, next });
        start = next;
    }
    out
}

/// The level and text of an ATX heading line (`## Text ##`), if it is one.
fn heading(line: &[u8]) -> Option<(usize, &[u8])> {
    let indent = line.iter().take_while(|&&b| b == b' ').count();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.iter().take_while(|&&b| b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &rest[level..];
    if !(rest.is_empty() || rest[0] == b' ' || rest[0] == b'\t') {
        return None;
    }
    let mut text = rest.trim_ascii();
    // An optional closing sequence of `#`s after a space.
    let hashes = text.iter().rev().take_while(|&&b| b == b'#').count();
    if hashes == text.len() {
        text = &[];
    } else if hashes > 0 && matches!(text[text.len() - hashes - 1], b' ' | b'\t') {
        text = text[..text.len() - hashes].trim_ascii_end();
    }
    Some((level, text))
}

/// A fence line (```` ``` ```` or `~~~`, indented at most 3): its marker and length.
fn fence(line: &[u8]) -> Option<(u8, usize)> {
    let indent = line.iter().take_while(|&&b| b == b' ').count();
    let rest = line.get(indent..)?;
    let marker = *rest.first()?;
    let len = rest.iter().take_while(|&&b| b == marker).count();
    (indent <= 3 && (marker == b'`' || marker == b'~') && len >= 3).then_some((marker, len))
}

/// Where the section is: the heading line's index and the index of the line
/// that ends the body (a heading of level 1 or 2, or `lines.len()`).
/// Headings inside fenced code blocks do not count.
fn find_section(doc: &[u8], lines: &[DocLine]) -> Option<(usize, usize)> {
    let mut open: Option<(u8, usize)> = None;
    let mut heading_at = None;
    for (i, line) in lines.iter().enumerate() {
        let text = &doc[line.start..line.end];
        if let Some((marker, len)) = fence(text) {
            match open {
                None => open = Some((marker, len)),
                Some((m, l)) if m == marker && len >= l && text.trim_ascii()[len..].is_empty() => {
                    open = None
                }
                Some(_) => {}
            }
            continue;
        }
        if open.is_some() {
            continue;
        }
        match (heading(text), heading_at) {
            (Some((2, t)), None) if t == &HEADING.as_bytes()[3..] => heading_at = Some(i),
            (Some((level, _)), Some(h)) if level <= 2 => return Some((h, i)),
            _ => {}
        }
    }
    heading_at.map(|h| (h, lines.len()))
}

/// The document with the section's body replaced by `table` (or the section
/// appended at the end when there is none). Every other byte is kept; the
/// table uses the heading's line ending (or the document's first).
pub fn replace_section(doc: &[u8], table: &[String]) -> Vec<u8> {
    let lines = lines(doc);
    let eol: &[u8] = {
        let first_break = |l: &DocLine| (l.end < l.next).then(|| &doc[l.end..l.next]);
        let heading_eol = find_section(doc, &lines).and_then(|(h, _)| first_break(&lines[h]));
        heading_eol
            .or_else(|| lines.iter().find_map(first_break))
            .unwrap_or(b"\n")
    };
    let mut body = eol.to_vec();
    for line in table {
        body.extend_from_slice(line.as_bytes());
        body.extend_from_slice(eol);
    }
    let mut out = Vec::with_capacity(doc.len() + body.len() + 32);
    match find_section(doc, &lines) {
        Some((h, end)) => {
            let heading = &lines[h];
            out.extend_from_slice(&doc[..heading.next]);
            if heading.end == heading.next {
                out.extend_from_slice(eol);
            }
            out.extend_from_slice(&body);
            if end < lines.len() {
                out.extend_from_slice(eol);
                out.extend_from_slice(&doc[lines[end].start..]);
            }
        }
        None => {
            out.extend_from_slice(doc);
            if !doc.is_empty() {
                if !doc.ends_with(b"\n") {
                    out.extend_from_slice(eol);
                }
                out.extend_from_slice(eol);
            }
            out.extend_from_slice(HEADING.as_bytes());
            out.extend_from_slice(eol);
            out.extend_from_slice(&body);
        }
    }
    out
}

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// There is no `Dashboard.md`: nothing was done.
    NoDashboard,
    /// The table was already current: the file was not rewritten.
    Unchanged,
    /// The section was rewritten.
    Written,
    /// Dry run: this is what would be written.
    WouldWrite,
}

/// Refreshes the table from the given days' newest entries, as `settings`
/// say and the time is `now`. With `write` false nothing is written. A
/// change made to the note between our read and our write makes us read
/// again and redo, never overwrite it.
pub fn refresh(
    vault: &Vault,
    dates: &[NaiveDate],
    now: DateTime<Utc>,
    settings: &Settings,
    write: bool,
) -> io::Result<(Refresh, Vec<String>)> {
    let path = vault.dashboard();
    let linked = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
    if !linked && !path.is_file() {
        return Ok((Refresh::NoDashboard, Vec::new()));
    }
    let entries = newest_entries(vault, dates, ROWS)?;
    let table = table_lines(&entries, vault, &Shown::new(settings.zone, now));
    if linked {
        // Never read through a link (it could point at a secret): the link
        // is replaced by a note holding just the table.
        if write {
            crate::fsutil::write_replace(&path, &replace_section(b"", &table), true)?;
        }
        return Ok((Refresh::Written, table));
    }
    for _ in 0..ATTEMPTS {
        let before = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok((Refresh::NoDashboard, table))
            }
            Err(e) => return Err(e),
        };
        let after = replace_section(&before, &table);
        if after == before {
            return Ok((Refresh::Unchanged, table));
        }
        if !write {
            return Ok((Refresh::WouldWrite, table));
        }
        if replace_if_unchanged(&path, &before, &after)? {
            return Ok((Refresh::Written, table));
        }
    }
    Err(io::Error::other(format!(
        "{} kept changing while the table was written ({ATTEMPTS} tries); it was left as the user has it",
        path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "| Time (UTC) | Level | Action | Actor | Target | Result |";

    fn table(n: usize) -> Vec<String> {
        let mut t = vec![HEADER.to_owned(), RULE.to_owned()];
        t.extend((0..n).map(|i| format!("| 10:00:0{i} | INFO | x | a | t | success |")));
        t
    }

    fn ts(text: &str) -> DateTime<Utc> {
        parse_timestamp(text).expect("ts")
    }

    #[test]
    fn times_are_shown_in_the_zone_and_today_is_its_date() {
        let now = ts("2026-11-22T20:00:05Z");
        let utc = Shown::new(Zone::utc(), now);
        assert_eq!(utc.header(), HEADER);
        assert_eq!(utc.time(ts("2026-11-22T20:00:00Z")), "20:00:00");
        // In Kolkata it is already the 23rd: the 22nd's evening (UTC) is
        // today there, its afternoon yesterday.
        let kolkata = Shown::new(Zone::parse("+05:30").expect("zone"), now);
        assert_eq!(kolkata.label(), "UTC+05:30");
        assert_eq!(
            kolkata.today(),
            NaiveDate::from_ymd_opt(2026, 11, 23).expect("d")
        );
        assert_eq!(kolkata.time(ts("2026-11-22T20:00:00Z")), "01:30:00");
        assert_eq!(
            kolkata.time(ts("2026-11-22T18:00:00Z")),
            "2026-11-22 23:30:00"
        );
        let west = Shown::new(Zone::parse("-08:00").expect("zone"), now);
        assert_eq!(west.label(), "UTC-08:00");
        assert_eq!(west.time(ts("2026-11-22T07:59:59Z")), "2026-11-21 23:59:59");
        assert_eq!(west.time(ts("2026-11-22T08:00:00Z")), "00:00:00");
        assert!(west.header().starts_with("| Time (UTC-08:00) | Level |"));
    }

    #[test]
    fn only_the_section_body_changes() {
        let doc =
            "# Dash\n\nintro\n\n## Recent Activity\nold row\nold row 2\n\n## Notes\nkeep me\n";
        let out = String::from_utf8(replace_section(doc.as_bytes(), &table(1))).expect("utf-8");
        assert_eq!(
            out,
            "# Dash\n\nintro\n\n## Recent Activity\n\n| Time (UTC) | Level | Action | Actor | Target | Result |\n|------|-------|--------|-------|--------|--------|\n| 10:00:00 | INFO | x | a | t | success |\n\n## Notes\nkeep me\n"
        );
    }

    #[test]
    fn a_thousand_refreshes_leave_one_table() {
        let mut doc = b"# D\n\n## Recent Activity\n\n## Next\n".to_vec();
        for i in 0..1000 {
            doc = replace_section(&doc, &table(i % 10));
        }
        let text = String::from_utf8(doc).expect("utf-8");
        assert_eq!(text.matches(HEADER).count(), 1);
        assert_eq!(text.matches("## Recent Activity").count(), 1);
        assert!(text.ends_with("|\n\n## Next\n"), "{text}");
    }

    #[test]
    fn level_three_headings_stay_inside_and_fenced_headings_do_not_count() {
        let doc = "## Recent Activity\n### sub\n```\n## Not a heading\n```\n# Top\n";
        let out = String::from_utf8(replace_section(doc.as_bytes(), &table(0))).expect("utf-8");
        assert!(
            out.ends_with("|------|-------|--------|-------|--------|--------|\n\n# Top\n"),
            "{out}"
        );
        assert!(!out.contains("### sub"));
        let fenced = "```\n## Recent Activity\n```\n";
        let out = String::from_utf8(replace_section(fenced.as_bytes(), &table(0))).expect("utf-8");
        assert!(
            out.starts_with(fenced) && out.matches("## Recent Activity").count() == 2,
            "{out}"
        );
    }

    #[test]
    fn crlf_documents_keep_crlf_and_a_missing_section_is_appended() {
        let doc = "# D\r\n\r\n## Recent Activity\r\n\r\n## Next\r\n";
        let out = String::from_utf8(replace_section(doc.as_bytes(), &table(1))).expect("utf-8");
        assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
        let out = String::from_utf8(replace_section(b"# D\nno newline", &table(0))).expect("utf-8");
        assert!(
            out.starts_with("# D\nno newline\n\n## Recent Activity\n\n| Time"),
            "{out}"
        );
        assert_eq!(replace_section(out.as_bytes(), &table(0)), out.as_bytes());
    }

    #[test]
    fn a_heading_at_the_very_end_gets_its_line_break() {
        let out = String::from_utf8(replace_section(b"# D\n## Recent Activity", &table(0)))
            .expect("utf-8");
        assert!(
            out.starts_with("# D\n## Recent Activity\n\n| Time"),
            "{out}"
        );
        assert_eq!(replace_section(out.as_bytes(), &table(0)), out.as_bytes());
    }
}
