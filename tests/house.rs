//! The house rules: the layering of `src/lib.rs` holds (every `crate::` path in a
//! module's files names a module on a lower floor), no two files use each
//! other in a circle (inside a module too: `chain/head.rs` is `chain::head`),
//! no function outside tests runs past 80 lines, every setting is named in
//! `src/config.rs` alone and only the front ends read the process
//! environment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The floors of the table in `src/lib.rs`, by module.
fn floors(lib: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! | ") else {
            continue;
        };
        let mut cells = row.split('|').map(str::trim);
        let Some(Ok(floor)) = cells.next().map(str::parse::<usize>) else {
            continue;
        };
        for module in cells.next().unwrap_or("").split(',') {
            out.insert(module.trim().to_owned(), floor);
        }
    }
    out
}

/// The text of a file without its `#[cfg(test)]` module (tests may reach anywhere).
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// The top-level modules a file's code names through `crate::`.
fn uses(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => out.extend(group_heads(group)),
            None => out.extend(ident(rest)),
        }
    }
    out
}

/// The first segment of every path in a `{...}` group (up to its closing brace).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect_head = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => expect_head = true,
            c if expect_head && !c.is_whitespace() => {
                expect_head = false;
                heads.extend(ident(&group[i..]));
            }
            _ => {}
        }
    }
    heads
}

/// The lower-case identifier at the start of `text`, if any.
fn ident(text: &str) -> Option<String> {
    let end = text
        .find(|c: char| !(c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()))
        .unwrap_or(text.len());
    (end > 0).then(|| text[..end].to_owned())
}

/// The module a file under `src/` belongs to (`logger/write.rs` is `logger`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
    (name != "lib" && name != "main").then_some(name)
}

#[test]
fn every_crate_path_points_to_a_lower_floor() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let floors = floors(&lib);
    assert!(floors.len() > 10, "the layer table in lib.rs was not found");
    let mut wrong = Vec::new();
    for item in walkdir::WalkDir::new(&src) {
        let item = item.expect("walk src");
        let file = item.path();
        if file.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let Some(&mine) = floors.get(&module) else {
            wrong.push(format!("{module}: not in the layer table of lib.rs"));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read");
        for used in uses(without_tests(&text)) {
            if used == module {
                continue;
            }
            match floors.get(&used) {
                Some(&theirs) if theirs < mine => {}
                Some(&theirs) => wrong.push(format!(
                    "{} (floor {mine}) uses {used} (floor {theirs})",
                    file.display()
                )),
                None => wrong.push(format!("{}: uses {used}, not in the table", file.display())),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_reader_catches_an_arrow_up() {
    let text =
        "use crate::{daily::{self, Line}, logger::AuditLogger};\nfn f() { crate::cli::run(); }";
    let found = uses(text);
    assert_eq!(
        found,
        ["cli", "daily", "logger"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}

/// The longest a function outside tests may be, in lines.
const MAX_FN_LINES: usize = 80;

/// Functions longer than [`MAX_FN_LINES`] in `text`: (name, first line, lines).
fn long_functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = without_tests(text).lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let Some(name) = fn_name(trimmed) else {
            continue;
        };
        if trimmed.ends_with(';') || trimmed.ends_with('}') {
            continue;
        }
        let close = format!("{indent}}}");
        let Some(len) = lines[i..].iter().position(|l| *l == close) else {
            continue;
        };
        if len + 1 > MAX_FN_LINES {
            out.push((name, i + 1, len + 1));
        }
    }
    out
}

/// The name of the function a line declares, if it declares one.
fn fn_name(line: &str) -> Option<String> {
    let mut rest = line;
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "async ",
        "unsafe ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    ident(rest.strip_prefix("fn ")?)
}

#[test]
fn no_function_outside_tests_is_longer_than_80_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for item in walkdir::WalkDir::new(&src) {
        let item = item.expect("walk src");
        if item.path().extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(item.path()).expect("read");
        for (name, line, len) in long_functions(&text) {
            long.push(format!(
                "{}:{line} {name}: {len} lines",
                item.path().display()
            ));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_length_check_sees_a_long_function() {
    let body = "    let x = 1;\n".repeat(MAX_FN_LINES);
    let text = format!("pub fn short() {{}}\n\nfn long() {{\n{body}}}\n");
    assert_eq!(
        long_functions(&text),
        vec![("long".to_owned(), 3, MAX_FN_LINES + 2)]
    );
}

/// What only `src/daily*` may spell: the marks of a day file's line layout
/// (how entry lines are indented, split and closed by the trailer).
const LAYOUT_MARKS: [&str; 7] = [
    "split_lines",
    "trailer_offset",
    "TRAILER_MARK",
    "head.len",
    "b\"    ",
    "\"    {",
    "\"  ],",
];

/// The lines of `text` (outside tests and comments) that spell a layout mark.
fn layout_marks(text: &str) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    for (i, line) in without_tests(text).lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        out.extend(
            LAYOUT_MARKS
                .iter()
                .filter(|mark| line.contains(*mark))
                .map(|mark| (i + 1, *mark)),
        );
    }
    out
}

#[test]
fn no_module_outside_daily_parses_a_stored_line() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (file, text) in sources() {
        if module_of(&src, &file).as_deref() == Some("daily") {
            continue;
        }
        for (line, mark) in layout_marks(&text) {
            wrong.push(format!("{}:{line} spells {mark:?}", file.display()));
        }
    }
    assert!(
        wrong.is_empty(),
        "only daily/ knows how a day file lays out its lines (use daily::read_after, scan_entries, stored_lines):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_layout_check_sees_a_planted_parser() {
    let text = "fn f(l: &[u8]) -> bool {\n    // \"    {\" in a comment is fine\n    l.starts_with(b\"    {\")\n}\n";
    assert_eq!(layout_marks(text), vec![(3, "b\"    "), (3, "\"    {")]);
}

#[test]
fn one_cursor_type_lives_in_daily() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| without_tests(text).contains("struct DayCursor"))
        .map(|(file, _)| file.display().to_string())
        .collect();
    assert_eq!(
        found,
        vec![src.join("daily/cursor.rs").display().to_string()],
        "one DayCursor, in daily/cursor.rs"
    );
}

/// Settings named by a prefix: any variable that starts with one.
const SETTING_PREFIXES: [&str; 2] = ["AUDIT_", "AWS_"];

/// Settings named whole.
const SETTINGS: [&str; 14] = [
    "VAULT_PATH",
    "DRY_RUN",
    "NO_COLOR",
    "CLICOLOR_FORCE",
    "CLICOLOR",
    "TERM",
    "HOME",
    "USERPROFILE",
    "XDG_STATE_HOME",
    "CLAUDE_PROJECT_DIR",
    "NOTIFY_SOCKET",
    "HOSTNAME",
    "RUST_LOG",
    "SHELL",
];

/// Whether `text` starts with a setting's name (and the name ends there).
fn starts_with_setting(text: &str) -> bool {
    let name_len = text
        .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(text.len());
    let name = &text[..name_len];
    SETTINGS.contains(&name)
        || SETTING_PREFIXES
            .iter()
            .any(|p| name.len() > p.len() && name.starts_with(p))
}

/// The lines of code (not comments, not tests) of `text` with a string
/// literal that starts with a setting's name: (line number, line).
fn settings_named(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in without_tests(text).lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        if line
            .match_indices('"')
            .any(|(at, _)| starts_with_setting(&line[at + 1..]))
        {
            out.push((i + 1, line.trim().to_owned()));
        }
    }
    out
}

/// Every `.rs` file under `src/`, with its text.
fn sources() -> Vec<(std::path::PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    for item in walkdir::WalkDir::new(&src) {
        let item = item.expect("walk src");
        if item.path().extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(item.path()).expect("read");
        out.push((item.path().to_path_buf(), text));
    }
    out
}

#[test]
fn no_module_but_config_names_a_setting() {
    let home = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config.rs");
    let mut found = Vec::new();
    for (file, text) in sources() {
        if file == home {
            continue;
        }
        for (line, code) in settings_named(&text) {
            found.push(format!("{}:{line}: {code}", file.display()));
        }
    }
    assert!(
        found.is_empty(),
        "settings named outside src/config.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_reader_catches_a_setting_named_in_code() {
    let text = concat!(
        "//! Reads `AUDIT_DRY_RUN`.\n",
        "/// `VAULT_PATH` in a doc comment is fine.\n",
        "fn f(env: impl Fn(&str) -> Option<String>) {\n",
        "    let _ = env(\"AUDIT_CHAIN_KEY\");\n",
        "    let _ = env(\"HOME\");\n",
        "    let _ = \"HOMER\";\n",
        "    let _ = format!(\"set AUDIT_CHAIN_KEY to the key\");\n",
        "    // env(\"NO_COLOR\") in a comment is fine\n",
        "    let _ = [\"AWS_PROFILE\", \"x\"];\n",
        "}\n",
        "#[cfg(test)]\nmod tests {\n    const K: &str = \"AUDIT_HOST\";\n}\n",
    );
    let lines: Vec<usize> = settings_named(text).into_iter().map(|(n, _)| n).collect();
    assert_eq!(lines, vec![4, 5, 9]);
}

#[test]
fn only_the_front_ends_read_the_process_environment() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let front = [src.join("main.rs"), src.join("cli.rs"), src.join("cli")];
    let mut found = Vec::new();
    for (file, text) in sources() {
        if front.iter().any(|f| file.starts_with(f)) {
            continue;
        }
        for (i, line) in without_tests(&text).lines().enumerate() {
            let code = !line.trim_start().starts_with("//");
            if code && (line.contains("env::var") || line.contains("env::set_var")) {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the environment read outside the front ends:\n{}",
        found.join("\n")
    );
}
/// A module path, as segments: `src/chain/head.rs` is `["chain", "head"]`.
type ModPath = Vec<String>;

/// The module a file under `src/` is (`chain/head.rs` is `chain::head`);
/// none for the crate root and the binary.
fn module_path(src: &Path, file: &Path) -> Option<ModPath> {
    let rel = file.strip_prefix(src).ok()?.with_extension("");
    let mut path: ModPath = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    (path != ["lib"] && path != ["main"] && !path.is_empty()).then_some(path)
}

/// Every path a `use` tree or an expression names from the start of `text`
/// (what follows `crate::`, `super::` or `self::`), as segments: `a::{b,
/// c::d}` is `[a, b]` and `[a, c, d]`.
fn paths_at(text: &str) -> Vec<ModPath> {
    let text = text.trim_start();
    if let Some(group) = text.strip_prefix('{') {
        return group_items(group).into_iter().flat_map(paths_at).collect();
    }
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    if end == 0 {
        return vec![Vec::new()];
    }
    let head = text[..end].to_owned();
    match text[end..].strip_prefix("::") {
        Some(more) => paths_at(more)
            .into_iter()
            .map(|tail| std::iter::once(head.clone()).chain(tail).collect())
            .collect(),
        None => vec![vec![head]],
    }
}

/// The items of a `{...}` group, up to its closing brace.
fn group_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut from) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[from..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    items
}

/// The modules (among `known`) that the code of module `me` names through
/// `crate::`, `super::` or `self::` paths, comments left out.
fn file_uses(me: &[String], text: &str, known: &BTreeSet<ModPath>) -> BTreeSet<ModPath> {
    let code: String = without_tests(text)
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut out = BTreeSet::new();
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(start) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut base: ModPath = match start {
                "crate::" => Vec::new(),
                "super::" => me[..me.len().saturating_sub(1)].to_vec(),
                _ => me.to_vec(),
            };
            for path in paths_at(&code[at + start.len()..]) {
                let mut segments = path.into_iter().peekable();
                while segments.next_if(|s| s == "super").is_some() {
                    base.pop();
                }
                let full: ModPath = base.iter().cloned().chain(segments).collect();
                let target = (1..=full.len())
                    .rev()
                    .map(|n| full[..n].to_vec())
                    .find(|p| known.contains(p));
                out.extend(target.filter(|t| t != me));
            }
        }
    }
    out
}

/// Every circle in the graph of uses between files, each as `a -> b -> a`.
fn circles(files: &BTreeMap<ModPath, String>) -> Vec<String> {
    let known: BTreeSet<ModPath> = files.keys().cloned().collect();
    let graph: BTreeMap<&ModPath, BTreeSet<ModPath>> = files
        .iter()
        .map(|(me, text)| (me, file_uses(me, text, &known)))
        .collect();
    let mut found = BTreeSet::new();
    let mut done = BTreeSet::new();
    for start in graph.keys() {
        let mut stack = vec![(*start).clone()];
        walk(&graph, &mut stack, &mut done, &mut found);
    }
    found.into_iter().collect()
}

/// Depth first from the top of `stack`; a use of a module on the stack closes a circle.
fn walk(
    graph: &BTreeMap<&ModPath, BTreeSet<ModPath>>,
    stack: &mut Vec<ModPath>,
    done: &mut BTreeSet<ModPath>,
    found: &mut BTreeSet<String>,
) {
    let Some(top) = stack.last().cloned() else {
        return;
    };
    if done.contains(&top) {
        return;
    }
    for next in graph.get(&top).into_iter().flatten() {
        if let Some(at) = stack.iter().position(|m| m == next) {
            let names: Vec<String> = stack[at..]
                .iter()
                .chain([next])
                .map(|m| m.join("::"))
                .collect();
            found.insert(names.join(" -> "));
            continue;
        }
        stack.push(next.clone());
        walk(graph, stack, done, found);
        stack.pop();
    }
    done.insert(top);
}

#[test]
fn no_circle_between_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    for item in walkdir::WalkDir::new(&src) {
        let item = item.expect("walk src");
        if item.path().extension().is_none_or(|e| e != "rs") {
            continue;
        }
        if let Some(module) = module_path(&src, item.path()) {
            let text = std::fs::read_to_string(item.path()).expect("read");
            files.insert(module, text);
        }
    }
    assert!(files.len() > 50, "the files under src/ were not found");
    let found = circles(&files);
    assert!(
        found.is_empty(),
        "files using each other in a circle:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_circle_check_catches_a_planted_circle() {
    let files: BTreeMap<ModPath, String> = [
        (
            vec!["chain".into()],
            "pub mod head;\npub mod sign;\n".into(),
        ),
        (
            vec!["chain".into(), "head".into()],
            "use super::{sign::sign_day, from_hex};\n".into(),
        ),
        (
            vec!["chain".into(), "sign".into()],
            "// crate::chain::head in a comment is no use\nfn f(h: &crate::chain::head::Head) {}\n"
                .into(),
        ),
        (vec!["time".into()], "use super::chain::sign;\n".into()),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        circles(&files),
        vec!["chain::head -> chain::sign -> chain::head".to_owned()]
    );
}
