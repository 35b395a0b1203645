//! Cutting a claim into its pieces as it is read, never holding the file:
//! the lines of a `.jsonl` file, or the elements of a `.json` file's
//! top-level array (a top-level object is one piece). Each piece is parsed
//! on its own afterwards, so a file of any size costs the memory of a piece.
//!
//! A piece cut short by the end of the file (a line without its line
//! break, an element without its end) is left unread unless the pass is the
//! last one: its writer may still be at it.

use std::io::{self, BufRead};

/// The most bytes of one piece read as written; a longer piece is rejected.
pub const MAX_PIECE: usize = 1 << 20;
/// How much of an over-long piece is kept, for `rejected/`.
pub const KEPT: usize = 4096;

/// One piece of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// The bytes of one line or one element, to parse as an entry.
    Text(Vec<u8>),
    /// Bytes that cannot be an entry (the start of them), and why.
    Bad {
        /// Its first bytes, at most [`KEPT`].
        raw: Vec<u8>,
        /// What was wrong.
        why: String,
    },
}

/// What reading on found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A piece.
    Piece(Piece),
    /// The end of the file, every piece read.
    End,
    /// The end of the file inside a piece, left for a later pass.
    Unfinished,
}

/// Where a reader can start again: the byte after the last piece read, and
/// whether that byte lies inside the top-level array of a `.json` file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark {
    /// The offset in the file.
    pub offset: u64,
    /// Inside a top-level array.
    pub in_array: bool,
}

/// The bytes of a piece as they are gathered, at most [`MAX_PIECE`].
#[derive(Debug, Default)]
struct Gathered {
    bytes: Vec<u8>,
    len: usize,
}

impl Gathered {
    fn push(&mut self, part: &[u8]) {
        self.len += part.len();
        if self.len <= MAX_PIECE {
            self.bytes.extend_from_slice(part);
        } else if self.bytes.len() < KEPT {
            let room = KEPT - self.bytes.len();
            self.bytes.extend_from_slice(&part[..room.min(part.len())]);
        }
    }

    /// The piece: its text, or (too long) its start and why it was refused.
    fn into_piece(mut self) -> Piece {
        if self.len > MAX_PIECE {
            self.bytes.truncate(KEPT);
            // Its cut end may be the start of a secret that redaction
            // would no longer recognise: the last word goes too.
            self.bytes.truncate(crate::redact::uncut_len(&self.bytes));
            return Piece::Bad {
                raw: self.bytes,
                why: format!(
                    "entry rejected: {} bytes as written; at most {MAX_PIECE} bytes are read per entry (its first {KEPT} bytes, to the last whole word, are kept)",
                    self.len
                ),
            };
        }
        Piece::Text(self.bytes)
    }
}

/// Where a value ends, tracked across buffer refills.
#[derive(Debug, Default)]
struct Scan {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// A top-level value ends where its braces close; an array element
    /// ends before the `,` or `]` that follows it outside any nesting.
    top: bool,
}

impl Scan {
    /// The end of the value in `bytes` (exclusive), if it ends there.
    fn end(&mut self, bytes: &[u8]) -> Option<usize> {
        for (i, &b) in bytes.iter().enumerate() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' if self.depth > 0 => {
                    self.depth -= 1;
                    if self.top && self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                b',' | b']' if !self.top && self.depth == 0 => return Some(i),
                _ => {}
            }
        }
        None
    }
}

/// Reads a claim piece by piece.
#[derive(Debug)]
pub struct Splitter<R> {
    reader: R,
    json: bool,
    /// Bytes consumed, as an offset in the file.
    offset: u64,
    in_array: bool,
    mark: Mark,
}

impl<R: BufRead> Splitter<R> {
    /// A splitter for `reader`, positioned at `from` (`.json` when `json`,
    /// else one piece per line).
    pub fn new(reader: R, json: bool, from: Mark) -> Splitter<R> {
        Splitter {
            reader,
            json,
            offset: from.offset,
            in_array: from.in_array,
            mark: from,
        }
    }

    /// Where to start again: just after the last piece read.
    pub fn mark(&self) -> Mark {
        self.mark
    }

    /// The next piece; at the end of the file inside one, it is given as
    /// [`Piece::Bad`] only if `last` (the last pass), else left unread.
    pub fn next(&mut self, last: bool) -> io::Result<Next> {
        let next = if self.json {
            self.next_value(last)?
        } else {
            self.next_line(last)?
        };
        if matches!(next, Next::Piece(_)) {
            self.mark = Mark {
                offset: self.offset,
                in_array: self.in_array,
            };
        }
        Ok(next)
    }

    fn consume(&mut self, n: usize) {
        self.reader.consume(n);
        self.offset += n as u64;
    }

    fn next_line(&mut self, last: bool) -> io::Result<Next> {
        let mut line = Gathered::default();
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                return Ok(match (line.len, last) {
                    (0, _) => Next::End,
                    (_, true) => Next::Piece(line.into_piece()),
                    (_, false) => Next::Unfinished,
                });
            }
            match memchr::memchr(b'\n', buf) {
                Some(i) => {
                    line.push(&buf[..i]);
                    self.consume(i + 1);
                    if line.len <= MAX_PIECE && line.bytes.ends_with(b"\r") {
                        line.bytes.pop();
                        line.len -= 1;
                    }
                    return Ok(Next::Piece(line.into_piece()));
                }
                None => {
                    let n = buf.len();
                    line.push(buf);
                    self.consume(n);
                }
            }
        }
    }

    /// Skips white space, and the array's brackets and commas; the first
    /// byte of the next value, or none at the end of the file.
    fn skip_between(&mut self) -> io::Result<Option<u8>> {
        loop {
            let buf = self.reader.fill_buf()?;
            let Some(&b) = buf.first() else {
                return Ok(None);
            };
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => {}
                b',' if self.in_array => {}
                b'[' if !self.in_array => self.in_array = true,
                b']' if self.in_array => self.in_array = false,
                _ => return Ok(Some(b)),
            }
            self.consume(1);
        }
    }

    fn next_value(&mut self, last: bool) -> io::Result<Next> {
        let Some(first) = self.skip_between()? else {
            return Ok(Next::End);
        };
        // Outside an array only an object is an entry; anything else makes
        // the rest of the file one bad piece.
        let garbage = !self.in_array && first != b'{';
        let mut scan = Scan {
            top: !self.in_array,
            ..Scan::default()
        };
        let mut value = Gathered::default();
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                if !last {
                    return Ok(Next::Unfinished);
                }
                let at = self.offset - value.len as u64;
                let why = if garbage {
                    format!("entry rejected: not valid JSON from byte {at} on: a .json file holds an object or an array of objects")
                } else {
                    format!("entry rejected: not valid JSON: the file ends inside the value that starts at byte {at}")
                };
                let raw = match value.into_piece() {
                    Piece::Text(raw) | Piece::Bad { raw, .. } => raw,
                };
                return Ok(Next::Piece(Piece::Bad { raw, why }));
            }
            let end = if garbage { None } else { scan.end(buf) };
            let n = end.unwrap_or(buf.len());
            value.push(&buf[..n]);
            self.consume(n);
            if end.is_some() {
                trim_end(&mut value.bytes);
                return Ok(Next::Piece(value.into_piece()));
            }
        }
    }
}

fn trim_end(bytes: &mut Vec<u8>) {
    while bytes.last().is_some_and(u8::is_ascii_whitespace) {
        bytes.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::BufReader;

    /// Every piece of `text` read through a buffer of `cap` bytes, with the
    /// way it ended.
    fn split(text: &[u8], json: bool, cap: usize, last: bool) -> (Vec<Piece>, Next, Mark) {
        let mut s = Splitter::new(BufReader::with_capacity(cap, text), json, Mark::default());
        let mut pieces = Vec::new();
        loop {
            match s.next(last).expect("read") {
                Next::Piece(p) => pieces.push(p),
                end => return (pieces, end, s.mark()),
            }
        }
    }

    fn texts(pieces: &[Piece]) -> Vec<String> {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => String::from_utf8_lossy(t).into_owned(),
                Piece::Bad { why, .. } => format!("BAD {why}"),
            })
            .collect()
    }

    #[test]
    fn an_array_is_cut_into_its_elements_and_an_object_is_one_piece() {
        let text = br#" [ {"a": "x,]}\"{"} , {"b": [1, {"c": 2}]}
        ,3 ] "#;
        let (pieces, end, _) = split(text, true, 3, false);
        assert_eq!(end, Next::End);
        assert_eq!(
            texts(&pieces),
            vec![r#"{"a": "x,]}\"{"}"#, r#"{"b": [1, {"c": 2}]}"#, "3"]
        );
        let (pieces, _, _) = split(b"{\n  \"a\": [1]\n}\n", true, 2, false);
        assert_eq!(texts(&pieces), vec!["{\n  \"a\": [1]\n}"]);
        let (pieces, end, _) = split(b"[]", true, 8, false);
        assert!(pieces.is_empty() && end == Next::End);
    }

    #[test]
    fn an_unfinished_piece_waits_unless_the_pass_is_the_last() {
        let text = b"[{\"a\":1},{\"b\":";
        let (pieces, end, mark) = split(text, true, 4, false);
        assert_eq!(
            (texts(&pieces), end),
            (vec![r#"{"a":1}"#.to_owned()], Next::Unfinished)
        );
        assert_eq!(
            mark,
            Mark {
                offset: 8,
                in_array: true
            }
        );
        let (pieces, end, _) = split(text, true, 4, true);
        assert_eq!(end, Next::End);
        assert!(texts(&pieces)[1].starts_with("BAD entry rejected: not valid JSON: the file ends inside the value that starts at byte 9"), "{pieces:?}");
        let (pieces, end, mark) = split(b"one\r\ntwo", false, 2, false);
        assert_eq!(
            (texts(&pieces), end),
            (vec!["one".to_owned()], Next::Unfinished)
        );
        assert_eq!(mark.offset, 5);
        let (pieces, _, _) = split(b"one\r\ntwo", false, 2, true);
        assert_eq!(texts(&pieces), vec!["one", "two"]);
    }

    #[test]
    fn text_that_is_no_object_is_one_bad_piece_and_an_overlong_piece_is_cut() {
        let (pieces, _, _) = split(b"not json at all", true, 4, true);
        assert_eq!(pieces.len(), 1);
        assert!(texts(&pieces)[0].contains("not valid JSON from byte 0 on"));
        let words = "abcd ".repeat(MAX_PIECE / 5 + 2);
        let long = format!("{words}\nok\n");
        let (pieces, _, _) = split(long.as_bytes(), false, 1000, false);
        match &pieces[0] {
            Piece::Bad { raw, why } => {
                // Cut at KEPT, then back to the last whole word.
                assert_eq!(raw.len(), KEPT / 5 * 5);
                assert!(raw.ends_with(b"abcd "));
                assert!(
                    why.contains(&format!("{} bytes as written", words.len())),
                    "{why}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(texts(&pieces[1..]), vec!["ok"]);
    }

    fn value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-z\\[\\]{}\",\\\\ ]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z\"\\\\]{1,4}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Whatever the buffer size and layout, the elements come back as
        /// they were; and a pass cut short anywhere, resumed from its mark
        /// over the whole file, gives the rest.
        #[test]
        fn elements_come_back_whole_and_a_cut_pass_resumes(
            items in prop::collection::vec(value(), 0..6),
            pretty in any::<bool>(),
            cap in 1usize..40,
            cut in 0.0f64..1.0,
        ) {
            let array = serde_json::Value::Array(items.clone());
            let text = if pretty {
                serde_json::to_string_pretty(&array).expect("json")
            } else {
                array.to_string()
            };
            let parsed = |pieces: &[Piece]| -> Vec<serde_json::Value> {
                pieces.iter().map(|p| match p {
                    Piece::Text(t) => serde_json::from_slice(t).expect("element parses"),
                    Piece::Bad { why, .. } => panic!("{why}"),
                }).collect()
            };
            let (pieces, end, _) = split(text.as_bytes(), true, cap, false);
            prop_assert_eq!(end, Next::End);
            prop_assert_eq!(&parsed(&pieces), &items);
            let at = (text.len() as f64 * cut) as usize;
            let (first, _, mark) = split(&text.as_bytes()[..at], true, cap, false);
            let rest = &text.as_bytes()[mark.offset as usize..];
            let mut s = Splitter::new(BufReader::with_capacity(cap, rest), true, Mark { offset: 0, in_array: mark.in_array });
            let mut all = parsed(&first);
            while let Next::Piece(p) = s.next(false).expect("read") {
                all.extend(parsed(&[p]));
            }
            prop_assert_eq!(&all, &items);
        }
    }
}
