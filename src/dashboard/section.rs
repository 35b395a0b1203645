//! A `Dashboard.md` section by its heading: where it is (headings in fenced
//! code blocks do not count) and the note with its body replaced, every
//! other byte kept.

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

/// Where the section under `wanted` (a heading line such as `## Audit
/// Summary`) is: the heading line's index and the index of the line that
/// ends the body (a heading of the same level or above, or `lines.len()`).
/// Headings inside fenced code blocks do not count; the first match wins.
fn find_section(doc: &[u8], lines: &[DocLine], wanted: &str) -> Option<(usize, usize)> {
    let (level, title) = heading(wanted.as_bytes())?;
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
            (Some((l, t)), None) if l == level && t == title => heading_at = Some(i),
            (Some((l, _)), Some(h)) if l <= level => return Some((h, i)),
            _ => {}
        }
    }
    heading_at.map(|h| (h, lines.len()))
}

/// Whether `doc` has the section `heading` (outside code blocks).
pub fn has_section(doc: &[u8], heading: &str) -> bool {
    find_section(doc, &lines(doc), heading).is_some()
}

/// The document with the body of the section `heading` (a line such as
/// `## Recent Activity`) replaced by `body`, or the section appended at the
/// end when there is none. Every other byte is kept; the body uses the
/// heading's line ending (or the document's first).
pub fn replace_section(doc: &[u8], heading: &str, body: &[String]) -> Vec<u8> {
    splice(doc, heading, body, true).unwrap_or_else(|| doc.to_vec())
}

/// Like [`replace_section`], but `None` when the document has no such
/// section: nothing is ever appended.
pub fn replace_existing_section(doc: &[u8], heading: &str, body: &[String]) -> Option<Vec<u8>> {
    splice(doc, heading, body, false)
}

fn splice(doc: &[u8], heading: &str, body_lines: &[String], append: bool) -> Option<Vec<u8>> {
    let lines = lines(doc);
    let found = find_section(doc, &lines, heading);
    if found.is_none() && !append {
        return None;
    }
    let eol: &[u8] = {
        let first_break = |l: &DocLine| (l.end < l.next).then(|| &doc[l.end..l.next]);
        let heading_eol = found.and_then(|(h, _)| first_break(&lines[h]));
        heading_eol
            .or_else(|| lines.iter().find_map(first_break))
            .unwrap_or(b"\n")
    };
    let mut body = eol.to_vec();
    for line in body_lines {
        body.extend_from_slice(line.as_bytes());
        body.extend_from_slice(eol);
    }
    let mut out = Vec::with_capacity(doc.len() + body.len() + 32);
    match found {
        Some((h, end)) => {
            let at = &lines[h];
            out.extend_from_slice(&doc[..at.next]);
            if at.end == at.next {
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
            out.extend_from_slice(heading.as_bytes());
            out.extend_from_slice(eol);
            out.extend_from_slice(&body);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "## Recent Activity";
    const S: &str = "## Audit Summary";
    const HEADER: &str = "| Time (UTC) | Level | Action | Actor | Target | Result |";
    const RULE: &str = "|------|-------|--------|-------|--------|--------|";

    fn table(n: usize) -> Vec<String> {
        let mut t = vec![HEADER.to_owned(), RULE.to_owned()];
        t.extend((0..n).map(|i| format!("| 10:00:0{i} | INFO | x | a | t | success |")));
        t
    }

    #[test]
    fn only_the_section_body_changes() {
        let doc =
            "# Dash\n\nintro\n\n## Recent Activity\nold row\nold row 2\n\n## Notes\nkeep me\n";
        let out = String::from_utf8(replace_section(doc.as_bytes(), H, &table(1))).expect("utf-8");
        assert_eq!(
            out,
            "# Dash\n\nintro\n\n## Recent Activity\n\n| Time (UTC) | Level | Action | Actor | Target | Result |\n|------|-------|--------|-------|--------|--------|\n| 10:00:00 | INFO | x | a | t | success |\n\n## Notes\nkeep me\n"
        );
    }

    #[test]
    fn a_thousand_refreshes_leave_one_table() {
        let mut doc = b"# D\n\n## Recent Activity\n\n## Next\n".to_vec();
        for i in 0..1000 {
            doc = replace_section(&doc, H, &table(i % 10));
        }
        let text = String::from_utf8(doc).expect("utf-8");
        assert_eq!(text.matches(HEADER).count(), 1);
        assert_eq!(text.matches("## Recent Activity").count(), 1);
        assert!(text.ends_with("|\n\n## Next\n"), "{text}");
    }

    #[test]
    fn level_three_headings_stay_inside_and_fenced_headings_do_not_count() {
        let doc = "## Recent Activity\n### sub\n```\n## Not a heading\n```\n# Top\n";
        let out = String::from_utf8(replace_section(doc.as_bytes(), H, &table(0))).expect("utf-8");
        assert!(
            out.ends_with("|------|-------|--------|-------|--------|--------|\n\n# Top\n"),
            "{out}"
        );
        assert!(!out.contains("### sub"));
        let fenced = "```\n## Recent Activity\n```\n";
        let out =
            String::from_utf8(replace_section(fenced.as_bytes(), H, &table(0))).expect("utf-8");
        assert!(
            out.starts_with(fenced) && out.matches("## Recent Activity").count() == 2,
            "{out}"
        );
    }

    #[test]
    fn crlf_documents_keep_crlf_and_a_missing_section_is_appended() {
        let doc = "# D\r\n\r\n## Recent Activity\r\n\r\n## Next\r\n";
        let out = String::from_utf8(replace_section(doc.as_bytes(), H, &table(1))).expect("utf-8");
        assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
        let out =
            String::from_utf8(replace_section(b"# D\nno newline", H, &table(0))).expect("utf-8");
        assert!(
            out.starts_with("# D\nno newline\n\n## Recent Activity\n\n| Time"),
            "{out}"
        );
        assert_eq!(
            replace_section(out.as_bytes(), H, &table(0)),
            out.as_bytes()
        );
    }

    #[test]
    fn a_heading_at_the_very_end_gets_its_line_break() {
        let out = String::from_utf8(replace_section(b"# D\n## Recent Activity", H, &table(0)))
            .expect("utf-8");
        assert!(
            out.starts_with("# D\n## Recent Activity\n\n| Time"),
            "{out}"
        );
        assert_eq!(
            replace_section(out.as_bytes(), H, &table(0)),
            out.as_bytes()
        );
    }

    fn summary() -> Vec<String> {
        vec!["| | Entries |".to_owned(), "Last alert: none".to_owned()]
    }

    #[test]
    fn an_existing_section_is_replaced_by_its_heading_and_a_missing_one_never_appended() {
        let doc =
            "# D\n\n## Audit Summary\nold\n### kept inside\n\n## Recent Activity\n\n## Notes\n";
        let out = replace_existing_section(doc.as_bytes(), S, &summary()).expect("found");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "# D\n\n## Audit Summary\n\n| | Entries |\nLast alert: none\n\n## Recent Activity\n\n## Notes\n"
        );
        for missing in [
            "# D\n\n## Recent Activity\n",
            "# D\n\n### Audit Summary\n",
            "# D\n\n## Audit Summaryx\n",
            "",
        ] {
            assert_eq!(
                replace_existing_section(missing.as_bytes(), S, &summary()),
                None,
                "{missing:?}"
            );
            assert!(!has_section(missing.as_bytes(), S));
        }
    }

    #[test]
    fn a_fenced_summary_heading_does_not_count_and_a_later_real_one_does() {
        for fenced in [
            "```\n## Audit Summary\n```\n",
            "~~~~\n## Audit Summary\n~~~\n",
        ] {
            assert_eq!(
                replace_existing_section(fenced.as_bytes(), S, &summary()),
                None,
                "{fenced:?}"
            );
        }
        let doc = "```md\n## Audit Summary\n```\n\n## Audit Summary\nold\n";
        let out = String::from_utf8(
            replace_existing_section(doc.as_bytes(), S, &summary()).expect("found"),
        )
        .expect("utf-8");
        assert!(
            out.starts_with("```md\n## Audit Summary\n```\n\n## Audit Summary\n\n| |"),
            "{out}"
        );
        assert!(!out.contains("old"), "{out}");
    }

    #[test]
    fn a_crlf_summary_stays_crlf_and_a_heading_at_the_very_end_gets_its_break() {
        let doc = "# D\r\n## Audit Summary\r\nold\r\n## Next\r\n";
        let out = String::from_utf8(
            replace_existing_section(doc.as_bytes(), S, &summary()).expect("found"),
        )
        .expect("utf-8");
        assert_eq!(
            out,
            "# D\r\n## Audit Summary\r\n\r\n| | Entries |\r\nLast alert: none\r\n\r\n## Next\r\n"
        );
        let end =
            replace_existing_section(b"# D\r\n## Audit Summary", S, &summary()).expect("found");
        let end = String::from_utf8(end).expect("utf-8");
        assert_eq!(
            end,
            "# D\r\n## Audit Summary\r\n\r\n| | Entries |\r\nLast alert: none\r\n"
        );
        assert_eq!(
            replace_existing_section(end.as_bytes(), S, &summary()),
            Some(end.into_bytes())
        );
    }

    #[test]
    fn the_summary_heading_is_found_as_markdown_reads_it() {
        for found in [
            "## Audit Summary ##\n",
            "   ## Audit Summary\n",
            "##  Audit Summary  \n",
        ] {
            assert!(has_section(found.as_bytes(), S), "{found:?}");
        }
        // Four spaces make code; `#` alone or another level is another heading.
        for not in [
            "    ## Audit Summary\n",
            "# Audit Summary\n",
            "##Audit Summary\n",
            "> ## Audit Summary\n",
        ] {
            assert!(!has_section(not.as_bytes(), S), "{not:?}");
        }
    }
}
