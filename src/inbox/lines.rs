//! Reading a claim's lines after its progress, a chunk at a time, parsed
//! and validated on every core. A line is a line of a `.jsonl` file, or an
//! element of a `.json` file's top-level array (its top-level object is
//! line 1); both are streamed (see [`super::split`]).

use std::fs::File;
use std::io::{self, BufReader, Seek, SeekFrom};

use super::split::{Mark, Next, Piece, Splitter};
use super::Claim;
use crate::entry::Entry;
use crate::logger::AuditLogger;

/// One line of a claim: its number, what it parsed to (the entry with its
/// stored line, or why not) and its raw bytes.
pub(super) type Parsed = (u64, Result<(Entry, String), Refused>, Vec<u8>);

/// Why a line gives no entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum Refused {
    /// Only white space: skipped, not rejected.
    #[error("a blank line")]
    Blank,
    /// Rejected, with the reason (field, value and what is accepted).
    #[error("{0}")]
    Rejected(String),
}

/// Lines read at a time and parsed side by side on every core ...
const CHUNK: usize = 4096;
/// ... or fewer, when they come to this many bytes.
const CHUNK_BYTES: usize = 4 << 20;

/// Where a claim was read to: its last line read (from 1) and where the
/// next one starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Position {
    pub line: u64,
    pub mark: Mark,
}

/// Parses and validates one raw line.
fn parse_line(logger: &AuditLogger, line: &[u8]) -> Result<(Entry, String), Refused> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Err(Refused::Blank);
    }
    let text = std::str::from_utf8(line).map_err(|e| {
        Refused::Rejected(format!(
            "entry rejected: not valid UTF-8 (invalid byte at column {}); accepted: UTF-8 JSON text",
            e.valid_up_to() + 1
        ))
    })?;
    // The reason shows the value redacted before it is shortened.
    let red = logger.redactor();
    let rejected = |e: crate::entry::EntryError| Refused::Rejected(red.error(e).to_string());
    let entry = logger.entry_from_json(text).map_err(rejected)?;
    logger.prepare_line(entry).map_err(rejected)
}

fn parse_piece(logger: &AuditLogger, n: u64, piece: Piece) -> Parsed {
    match piece {
        Piece::Text(raw) => (n, parse_line(logger, &raw), raw),
        Piece::Bad { raw, why } => (n, Err(Refused::Rejected(why)), raw),
    }
}

/// Parses pieces in order, spread over the machine's cores.
fn parse_all(logger: &AuditLogger, raw: Vec<(u64, Piece)>) -> Vec<Parsed> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if workers < 2 || raw.len() < 256 {
        return raw
            .into_iter()
            .map(|(n, piece)| parse_piece(logger, n, piece))
            .collect();
    }
    let per = raw.len().div_ceil(workers);
    let mut parts: Vec<Vec<(u64, Piece)>> = Vec::with_capacity(workers);
    let mut rest = raw;
    while rest.len() > per {
        let tail = rest.split_off(per);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    part.into_iter()
                        .map(|(n, piece)| parse_piece(logger, n, piece))
                        .collect::<Vec<Parsed>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Reads the lines of a claim after line `from`, a chunk at a time.
pub(super) struct Lines {
    split: Splitter<BufReader<File>>,
    number: u64,
    from: u64,
    last_pass: bool,
}

impl Lines {
    /// Opens a claim to read its lines after `from`: at `resume` when that
    /// is where line `from` ended, else from the start. On the `last_pass`
    /// an unfinished last line is read too (and rejected); otherwise it is
    /// left for later.
    pub fn open(
        claim: &Claim,
        from: u64,
        resume: Option<Position>,
        last_pass: bool,
    ) -> io::Result<Lines> {
        let mut file = crate::fsutil::open_read(&claim.path)?;
        let json = !claim.original.ends_with(".jsonl");
        let start = match resume {
            Some(p) if p.line == from && p.mark.offset <= file.metadata()?.len() => {
                file.seek(SeekFrom::Start(p.mark.offset))?;
                p
            }
            _ => Position::default(),
        };
        let reader = BufReader::with_capacity(1 << 16, file);
        Ok(Lines {
            split: Splitter::new(reader, json, start.mark),
            number: start.line,
            from,
            last_pass,
        })
    }

    /// Where the lines read so far end.
    pub fn position(&self) -> Position {
        Position {
            line: self.number,
            mark: self.split.mark(),
        }
    }

    /// The next lines after `from`, parsed and validated; empty at the end.
    pub fn next_chunk(&mut self, logger: &AuditLogger) -> io::Result<Vec<Parsed>> {
        let mut pieces = Vec::new();
        let mut bytes = 0;
        while pieces.len() < CHUNK && bytes < CHUNK_BYTES {
            let piece = match self.split.next(self.last_pass)? {
                Next::Piece(piece) => piece,
                Next::End | Next::Unfinished => break,
            };
            self.number += 1;
            if self.number <= self.from {
                continue;
            }
            bytes += match &piece {
                Piece::Text(raw) | Piece::Bad { raw, .. } => raw.len(),
            };
            pieces.push((self.number, piece));
        }
        Ok(parse_all(logger, pieces))
    }
}
