//! Mermaid charts, which Obsidian draws from fenced `mermaid` blocks. Every
//! text that comes from an entry is made a safe label first: a hostile
//! actor name must neither break the chart nor write Mermaid of its own.

use std::fmt::Write as _;

/// The longest label, in characters, before it is shortened.
pub const MAX_LABEL_CHARS: usize = 24;

/// The most categories a chart shows; the rest are summed as one.
pub const MAX_CATEGORIES: usize = 10;

/// `text` as a label safe inside a Mermaid double-quoted string in every
/// Mermaid that Obsidian has shipped (11.4 on; `ci/render/CHARTS.md` has
/// the measurements): letters and digits of any script, space and
/// `_ . : / @ -` kept, every other character `_`; runs of spaces or `_`
/// folded; long text shortened with `...`; `unnamed` when no letter or
/// digit is left.
pub fn label(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_alphanumeric() || " _.:/@-".contains(c) {
            c
        } else {
            '_'
        };
        if !((c == ' ' || c == '_') && out.ends_with(c)) {
            out.push(c);
        }
    }
    let out = out.trim().to_owned();
    if !out.chars().any(char::is_alphanumeric) {
        return "unnamed".to_owned();
    }
    if out.chars().count() > MAX_LABEL_CHARS {
        let short: String = out.chars().take(MAX_LABEL_CHARS - 3).collect();
        return format!("{}...", short.trim_end());
    }
    out
}

/// Safe labels for `names`, made unique with `-2`, `-3`, ... (Mermaid draws
/// equal categories over each other and drops repeated pie slices).
pub fn labels<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let base = label(name);
        let mut l = base.clone();
        let mut n = 1;
        while out.contains(&l) {
            n += 1;
            l = format!("{base}-{n}");
        }
        out.push(l);
    }
    out
}

/// The `n` largest of `counts` by value (ties by name), the rest summed
/// under `other` when there are more.
pub fn top(counts: &[(String, u64)], n: usize, other: &str) -> Vec<(String, u64)> {
    let mut sorted = counts.to_vec();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if sorted.len() <= n {
        return sorted;
    }
    let rest: u64 = sorted[n - 1..].iter().map(|(_, c)| c).sum();
    sorted.truncate(n - 1);
    sorted.push((other.to_owned(), rest));
    sorted
}

/// A bar series: its title (ours, never an entry's text) and its values,
/// one per category.
pub struct Series(pub &'static str, pub Vec<f64>);

/// The colour of the last, all-zero series every bar chart ends with: Mermaid
/// draws a 0 as a sliver of the series' colour, and this one covers them.
const ZERO_COLOUR: &str = "#9e9e9e";

/// An `xychart-beta` bar chart. Series are drawn in order, each over the
/// one before, so cumulative series drawn largest first read as a stack;
/// `colours` are the series' colours in the same order.
pub struct Bars<'a> {
    /// The chart's title (ours: letters, digits, spaces, `( ) , : -`).
    pub title: &'a str,
    /// The category axis's title (the same characters).
    pub across: &'a str,
    /// The categories' names (made safe and unique here).
    pub categories: Vec<String>,
    /// The value axis's title (the same characters).
    pub axis: &'a str,
    /// The series, drawn in order.
    pub series: Vec<Series>,
    /// One colour per series (`#rrggbb`).
    pub colours: &'a [&'a str],
    /// Bars along the vertical axis (long labels read better).
    pub horizontal: bool,
}

/// One of our own titles, kept to the characters safe in a quoted Mermaid
/// string (anything else becomes a space).
fn ours(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " (),:-/".contains(c) {
                c
            } else {
                ' '
            }
        })
        .collect()
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.1}")
    }
}

impl Bars<'_> {
    /// The fenced block, or `None` when there is no category to draw (an
    /// empty axis is not a chart).
    pub fn block(&self) -> Option<String> {
        if self.categories.is_empty() {
            return None;
        }
        let max = self
            .series
            .iter()
            .flat_map(|s| s.1.iter().copied())
            .fold(0.0_f64, f64::max);
        let top = if max < 1.0 { 1.0 } else { max.ceil() };
        let mut out = String::from("```mermaid\n");
        let _ = writeln!(
            out,
            "%%{{init: {{\"themeVariables\": {{\"xyChart\": {{\"plotColorPalette\": \"{}, {ZERO_COLOUR}\"}}}}}}}}%%",
            self.colours.join(", ")
        );
        out.push_str(if self.horizontal {
            "xychart-beta horizontal\n"
        } else {
            "xychart-beta\n"
        });
        let _ = writeln!(out, "    title \"{}\"", ours(self.title));
        let cats: Vec<String> = labels(self.categories.iter().map(String::as_str))
            .into_iter()
            .map(|c| format!("\"{c}\""))
            .collect();
        let _ = writeln!(
            out,
            "    x-axis \"{}\" [{}]",
            ours(self.across),
            cats.join(", ")
        );
        let _ = writeln!(
            out,
            "    y-axis \"{}\" 0 --> {}",
            ours(self.axis),
            number(top)
        );
        let width = self.categories.len();
        for s in &self.series {
            let mut values: Vec<String> = s.1.iter().map(|v| number(*v)).collect();
            values.resize(width, "0".to_owned());
            let _ = writeln!(out, "    bar \"{}\" [{}]", ours(s.0), values.join(", "));
        }
        let _ = writeln!(out, "    bar [{}]", vec!["0"; width].join(", "));
        out.push_str("```\n");
        Some(out)
    }
}

/// A `pie` chart with the values shown, or `None` when every slice is 0.
pub fn pie(title: &str, slices: &[(String, u64)]) -> Option<String> {
    if slices.iter().all(|(_, n)| *n == 0) {
        return None;
    }
    let mut out = String::from("```mermaid\npie showData\n");
    let _ = writeln!(out, "    title {}", ours(title));
    let shown: Vec<&(String, u64)> = slices.iter().filter(|(_, n)| *n > 0).collect();
    let names = labels(shown.iter().map(|(name, _)| name.as_str()));
    for (name, (_, n)) in names.iter().zip(shown) {
        let _ = writeln!(out, "    \"{name}\" : {n}");
    }
    out.push_str("```\n");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_labels_become_plain_text() {
        assert_eq!(label("evil\" ] %%{init}%% ; # x"), "evil_ _ _init_ _ _ x");
        assert_eq!(
            label("<script>alert(1)</script>"),
            "_script_alert_1_/script_"
        );
        assert_eq!(label("  "), "unnamed");
        assert_eq!(label("\"\"%%"), "unnamed");
        assert_eq!(label("café"), "café");
        assert_eq!(label("e\u{301}\u{202e}x"), "e_x");
        assert_eq!(label("😀🔥"), "unnamed");
        assert_eq!(label("email-sender@v2 / eu"), "email-sender@v2 / eu");
        assert_eq!(label("line\nbreak\ttab"), "line_break_tab");
        let long = label(&"x".repeat(100));
        assert_eq!(long.chars().count(), MAX_LABEL_CHARS);
        assert!(long.ends_with("..."));
    }

    #[test]
    fn top_sums_the_rest_as_one() {
        let counts: Vec<(String, u64)> = (1..=5).map(|i| (format!("a{i}"), i)).collect();
        let t = top(&counts, 3, "other");
        assert_eq!(
            t,
            vec![("a5".into(), 5), ("a4".into(), 4), ("other".into(), 6)]
        );
        assert_eq!(top(&counts, 5, "other").len(), 5);
    }

    #[test]
    fn labels_that_collide_are_numbered() {
        assert_eq!(labels(["a#", "a$", "b"]), ["a_", "a_-2", "b"]);
    }

    #[test]
    fn names_in_other_scripts_keep_their_letters_not_collapse_to_unnamed() {
        assert_eq!(
            labels(["ёжик", "ёжик2", "日本", "Ελλάδα"]),
            ["ёжик", "ёжик2", "日本", "Ελλάδα"]
        );
    }

    #[test]
    fn no_category_no_chart_and_zero_data_keeps_an_axis() {
        let mut bars = Bars {
            title: "t",
            across: "c",
            categories: vec![],
            axis: "n",
            series: vec![Series("s", vec![])],
            colours: &["#000000"],
            horizontal: false,
        };
        assert!(bars.block().is_none());
        bars.categories = vec!["a".into()];
        bars.series = vec![Series("s", vec![0.0])];
        let block = bars.block().expect("chart");
        assert!(block.contains("y-axis \"n\" 0 --> 1\n"), "{block}");
        assert!(block.contains("bar \"s\" [0]\n    bar [0]\n"), "{block}");
        assert!(pie("p", &[("a".into(), 0)]).is_none());
    }
}
