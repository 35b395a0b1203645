//! Markdown for Obsidian: table cells that stay plain text however Obsidian
//! renders them, and wiki-links to notes that exist. The Dashboard, the
//! alert notes and the report all write their tables with it.

use std::path::{Component, Path};

/// The longest cell text, in characters, before it is shortened.
pub const MAX_CELL_CHARS: usize = 48;

/// Characters that break lines or reorder text on screen: folded to spaces.
fn folds_to_space(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Makes `text` one safe table cell: line breaks and tabs folded to spaces,
/// long text shortened with an ellipsis, and everything Markdown or Obsidian
/// would read as structure escaped: `|` (a new column), `\` (which would
/// escape our own `|`), `<` `>` `&` (inline HTML), `[` `]` (links, wiki-links,
/// embeds), `#` (headings and tags), `` ` `` `*` `~` `=` `$` `^` (code,
/// emphasis, highlights, math, block ids), `%` (comments), and a leading `-`
/// or `+` (list markers).
pub fn cell(text: &str) -> String {
    let folded: String = text
        .chars()
        .map(|c| if folds_to_space(c) { ' ' } else { c })
        .collect();
    let folded = folded.trim();
    let mut chars = folded.chars();
    let mut short: String = chars.by_ref().take(MAX_CELL_CHARS).collect();
    if chars.next().is_some() {
        short = format!("{}…", short.trim_end());
    }
    let mut out = String::with_capacity(short.len() + 8);
    for (i, c) in short.chars().enumerate() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '%' => out.push_str("&#37;"),
            '|' | '\\' | '[' | ']' | '#' | '`' | '*' | '~' | '=' | '$' | '^' => {
                out.push('\\');
                out.push(c);
            }
            '-' | '+' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    if out.is_empty() {
        out.push(' ');
    }
    out
}

/// `[[Plans/x]]` when `target` names an existing note (`.md`) inside the
/// vault, by a relative path or an absolute one under the vault, and its
/// path holds nothing that would break the link; else `None`.
pub fn wiki_link(target: &str, vault: &Path) -> Option<String> {
    let target = target.trim();
    let rel = match Path::new(target).strip_prefix(vault) {
        Ok(rel) => rel.to_path_buf(),
        Err(_) => Path::new(target).to_path_buf(),
    };
    let plain = rel.components().all(|c| matches!(c, Component::Normal(_)));
    let text = rel.to_str()?.replace('\\', "/");
    let note = text.strip_suffix(".md")?;
    let safe = !note.is_empty()
        && note.chars().count() <= 120
        && !note
            .chars()
            .any(|c| folds_to_space(c) || "[]|#^<>%$`".contains(c));
    if plain && safe && vault.join(&rel).is_file() {
        Some(format!("[[{note}]]"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_is_escaped() {
        assert_eq!(
            cell("evil | actor\n## Hacked"),
            "evil \\| actor \\#\\# Hacked"
        );
        assert_eq!(cell("<script>x</script>"), "&lt;script&gt;x&lt;/script&gt;");
        assert_eq!(
            cell("[[Secret]] ![[embed]]"),
            "\\[\\[Secret\\]\\] !\\[\\[embed\\]\\]"
        );
        assert_eq!(cell("- item"), "\\- item");
        assert_eq!(cell("a-b"), "a-b");
        assert_eq!(cell("ends with \\"), "ends with \\\\");
        assert_eq!(
            cell("%%hidden%% ==hi== $x$ ^id"),
            "&#37;&#37;hidden&#37;&#37; \\=\\=hi\\=\\= \\$x\\$ \\^id"
        );
        assert_eq!(cell("tab\there\r\nnext"), "tab here  next");
        assert_eq!(cell("\u{202E}reversed"), "reversed");
        assert_eq!(cell(""), " ");
    }

    #[test]
    fn long_text_is_shortened_with_an_ellipsis() {
        let c = cell(&"x".repeat(500));
        assert_eq!(c.chars().count(), MAX_CELL_CHARS + 1);
        assert!(c.ends_with('…'));
    }

    #[test]
    fn existing_notes_become_wiki_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("Plans")).expect("mkdir");
        std::fs::write(dir.path().join("Plans/x.md"), "# x").expect("write");
        assert_eq!(
            wiki_link("Plans/x.md", dir.path()),
            Some("[[Plans/x]]".into())
        );
        let abs = dir.path().join("Plans/x.md");
        assert_eq!(
            wiki_link(abs.to_str().expect("utf-8"), dir.path()),
            Some("[[Plans/x]]".into())
        );
        assert_eq!(wiki_link("Plans/missing.md", dir.path()), None);
        assert_eq!(wiki_link("../x.md", dir.path()), None);
        assert_eq!(wiki_link("client@example.com", dir.path()), None);
    }
}
