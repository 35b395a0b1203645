//! Output formats for `query` and `tail`: table, JSON, JSON Lines, CSV.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};
use unicode_width::UnicodeWidthChar;

use super::Lite;

/// How entries are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns (colour on a terminal).
    Table,
    /// One JSON array.
    Json,
    /// One entry per line, as stored.
    Jsonl,
    /// RFC 4180 CSV with a header row.
    Csv,
}

/// An output format that is not one of [`Format`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("format {value:?} is not one of table, json, jsonl, csv")]
pub struct UnknownFormat {
    /// The format given.
    pub value: String,
}

impl std::str::FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        match s {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "jsonl" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            _ => Err(UnknownFormat {
                value: s.to_owned(),
            }),
        }
    }
}

const CSV_COLUMNS: [&str; 12] = [
    "timestamp",
    "log_level",
    "action_type",
    "actor",
    "target",
    "result",
    "approval_status",
    "approved_by",
    "dry_run",
    "error_message",
    "session_id",
    "parameters",
];

/// Writes entries one at a time in a format.
pub struct Printer<'a> {
    out: &'a mut dyn Write,
    format: Format,
    colour: bool,
    count: u64,
}

fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The columns a character takes on a terminal: 2 for CJK and most emoji,
/// 0 for combining marks.
fn cells(c: char) -> usize {
    UnicodeWidthChar::width(c).unwrap_or(0)
}

/// Cuts `text` to `width` terminal columns (with `…`) and pads it to
/// `width`: display width, not characters, so CJK and emoji line up.
fn column(text: &str, width: usize) -> String {
    let flat = text.chars().map(|c| if c.is_control() { ' ' } else { c });
    let total: usize = flat.clone().map(cells).sum();
    if total <= width {
        let mut out: String = flat.collect();
        out.push_str(&" ".repeat(width - total));
        return out;
    }
    let room = width.saturating_sub(1);
    let mut out = String::new();
    let mut used = 0;
    for c in flat {
        if used + cells(c) > room {
            break;
        }
        used += cells(c);
        out.push(c);
    }
    out.push('…');
    out.push_str(&" ".repeat(room - used));
    out
}

/// How a level is shown in colour.
fn level_style(level: &str) -> Style {
    match level {
        "CRITICAL" => AnsiColor::Red.on_default().bold(),
        "ERROR" => AnsiColor::Red.on_default(),
        "WARNING" => AnsiColor::Yellow.on_default(),
        _ => Style::new(),
    }
}

impl<'a> Printer<'a> {
    /// A printer; `colour` only for a terminal.
    pub fn new(out: &'a mut dyn Write, format: Format, colour: bool) -> Self {
        Printer {
            out,
            format,
            colour,
            count: 0,
        }
    }

    /// Writes what comes before the first entry.
    pub fn begin(&mut self) -> io::Result<()> {
        match self.format {
            Format::Json => write!(self.out, "["),
            Format::Csv => writeln!(self.out, "{}", CSV_COLUMNS.join(",")),
            Format::Table => writeln!(
                self.out,
                "{} {} {} {} {} RESULT",
                column("TIME", 24),
                column("LEVEL", 8),
                column("ACTION", 20),
                column("ACTOR", 24),
                column("TARGET", 40)
            ),
            Format::Jsonl => Ok(()),
        }
    }

    /// Writes one entry, given its stored line and parsed form.
    pub fn entry(&mut self, line: &str, e: &Lite<'_>) -> io::Result<()> {
        let t = |f: &Option<std::borrow::Cow<'_, str>>| f.as_deref().unwrap_or("").to_owned();
        match self.format {
            Format::Jsonl => writeln!(self.out, "{line}")?,
            Format::Json => {
                let sep = if self.count == 0 { "\n" } else { ",\n" };
                write!(self.out, "{sep}  {line}")?;
            }
            Format::Csv => {
                let cells = [
                    t(&e.timestamp),
                    t(&e.log_level),
                    t(&e.action_type),
                    t(&e.actor),
                    t(&e.target),
                    t(&e.result),
                    t(&e.approval_status),
                    t(&e.approved_by),
                    e.dry_run.map(|b| b.to_string()).unwrap_or_default(),
                    t(&e.error_message),
                    t(&e.session_id),
                    e.parameters.map(|p| p.get().to_owned()).unwrap_or_default(),
                ];
                let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                writeln!(self.out, "{}", row.join(","))?;
            }
            Format::Table => {
                let level = t(&e.log_level);
                let shown = column(&level, 8);
                let shown = if self.colour {
                    let style = level_style(&level);
                    format!("{style}{shown}{style:#}")
                } else {
                    shown
                };
                writeln!(
                    self.out,
                    "{} {shown} {} {} {} {}",
                    column(&t(&e.timestamp), 24),
                    column(&t(&e.action_type), 20),
                    column(&t(&e.actor), 24),
                    column(&t(&e.target), 40),
                    t(&e.result)
                )?;
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Pushes what is written out now (for following).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Writes what comes after the last entry.
    pub fn end(&mut self) -> io::Result<()> {
        match self.format {
            Format::Json if self.count == 0 => writeln!(self.out, "]"),
            Format::Json => writeln!(self.out, "\n]"),
            _ => Ok(()),
        }?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn cjk_and_emoji_columns_line_up_by_display_width() {
        for text in [
            "plain",
            "日本語のファイル名.md",
            "🚀 launch ✅",
            "e\u{301}te\u{301}",
            "",
            "a\tb",
        ] {
            for width in [1, 2, 5, 8, 24] {
                let cell = column(text, width);
                assert_eq!(cell.width(), width, "{text:?} in {width}: {cell:?}");
            }
        }
        assert_eq!(column("日本語", 5), "日本…");
        assert_eq!(column("日本語", 6), "日本語");
    }

    #[test]
    fn colour_only_when_asked_and_never_a_stray_escape() {
        let line = r#"{"timestamp":"t","log_level":"ERROR","action_type":"a","actor":"b","target":"c","result":"failure"}"#;
        let e: Lite = serde_json::from_str(line).expect("lite");
        let render = |colour| {
            let mut out = Vec::new();
            let mut p = Printer::new(&mut out, Format::Table, colour);
            p.entry(line, &e).expect("entry");
            String::from_utf8(out).expect("utf8")
        };
        assert!(!render(false).contains('\x1b'));
        assert!(render(true).contains("\x1b[31m"));
    }
}
