//! The secret forms recognised inside any text: the patterns, the card
//! numbers (Luhn-checked) and the URL-decoding that shows an encoded secret.

use std::borrow::Cow;
use std::sync::{LazyLock, OnceLock};

use aho_corasick::AhoCorasick;
use regex::{Captures, Regex};

use super::REDACTED;

/// A built-in secret form.
struct Pattern {
    /// The regular expression.
    re: &'static str,
    /// What replaces a match (`$1` keeps a leading group, such as
    /// `password=`).
    with: &'static str,
    /// Literals, lower case, at least one of which every match contains
    /// (compared with the ASCII-lowercased text): a text holding none of
    /// them cannot match, so the expression is neither run nor compiled.
    needs: &'static [&'static str],
}

/// The built-in patterns, in the order they are applied.
const PATTERNS: &[Pattern] = &[
    // PEM private keys and PGP private key blocks, whole (or to the end,
    // when cut short).
    Pattern {
        re: r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\z)",
        with: REDACTED,
        needs: &["private key"],
    },
    // Credentials in URLs: scheme://user:pass@host
    Pattern {
        re: r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s:@]+:[^/\s@]+@",
        with: "${1}[REDACTED]@",
        needs: &["://"],
    },
    // Authorization headers and Bearer tokens.
    Pattern {
        re: r"(?i)\b(authorization\s*[:=]\s*)(?:(?:basic|bearer|token)\s+)?[^\s,;]+",
        with: "${1}[REDACTED]",
        needs: &["authorization"],
    },
    Pattern {
        re: r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*",
        with: "${1}[REDACTED]",
        needs: &["bearer"],
    },
    // key=value, key: value and "key": "value" for keys that name a secret:
    // a word of it (`db_password`, `x-api-key`), or its ending (`dbPassword`,
    // `csrftoken`) for the longer words. The value may be quoted, also with
    // escaped quotes (JSON inside a JSON string).
    Pattern {
        re: concat!(
            r#"(?i)(\b(?:[a-z0-9]+[_\-.])*"#,
            r#"(?:[a-z0-9]*?(?:password|passwd|passphrase|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|credentials?)(?:[_\-.]?key)?|pass|pwd|auth)"#,
            r#"\\?["']?\s*[:=]\s*)"#,
            r#"("(?:[^"\\]|\\.)*"|'[^']*'|\\"(?:[^"\\]|\\[^"])*\\"|[^\s"'&,;]+)"#,
        ),
        with: "${1}[REDACTED]",
        needs: &[
            "pass",
            "pwd",
            "auth",
            "secret",
            "token",
            "key",
            "credential",
        ],
    },
    // Command-line flags: --password SECRET, --token SECRET.
    Pattern {
        re: r#"(?i)((?:^|\s)--?(?:[a-z0-9]+-)*(?:password|passwd|passphrase|pass|pwd|secret|token|api-?key|access-key|private-key|secret-key)\s+)([^\s\-"'][^\s"']*|"(?:[^"\\]|\\.)*"|'[^']*')"#,
        with: "${1}[REDACTED]",
        needs: &["pass", "pwd", "secret", "token", "key"],
    },
    // The MySQL clients' -pSECRET.
    Pattern {
        re: r#"(\b(?i:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlpump|mysqlsh|mysqlbinlog|mariadb|mariadb-dump|mariadb-admin)\b[^\n;|&]*?\s-p)([^\s"']+|"(?:[^"\\]|\\.)*"|'[^']*')"#,
        with: "${1}[REDACTED]",
        needs: &["mysql", "mariadb"],
    },
    // AWS access key ids.
    Pattern {
        re: r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        with: REDACTED,
        needs: &["akia", "asia"],
    },
    // GitHub tokens (classic and fine-grained).
    Pattern {
        re: r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",
        with: REDACTED,
        needs: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
    },
    Pattern {
        re: r"\bgithub_pat_[A-Za-z0-9_]{20,}\b",
        with: REDACTED,
        needs: &["github_pat_"],
    },
    // Slack tokens and webhook URLs.
    Pattern {
        re: r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
        with: REDACTED,
        needs: &["xox"],
    },
    Pattern {
        re: r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+",
        with: REDACTED,
        needs: &["hooks.slack.com"],
    },
    // OpenAI (sk-..., sk-proj-...) and Anthropic (sk-ant-...) API keys.
    Pattern {
        re: r"\bsk-[A-Za-z0-9_\-]{20,}",
        with: REDACTED,
        needs: &["sk-"],
    },
    // JWTs.
    Pattern {
        re: r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}",
        with: REDACTED,
        needs: &["eyj"],
    },
];

/// The patterns, each compiled the first time a text may hold it: most
/// texts hold none, and a process that logs one entry should not pay for
/// compiling fourteen expressions it never runs.
static COMPILED: [OnceLock<Regex>; PATTERNS.len()] = [const { OnceLock::new() }; PATTERNS.len()];

/// Pattern `i`, compiled. The patterns are constants that a test compiles.
fn compiled(i: usize) -> &'static Regex {
    COMPILED[i].get_or_init(|| Regex::new(PATTERNS[i].re).expect("built-in pattern"))
}

/// Every pattern's literals in one automaton that ignores ASCII case, and
/// the pattern each literal belongs to: one pass over a text finds the
/// patterns it may hold (fourteen `contains` per text, each a search of
/// its own, took a third of the daemon's intake).
static LITERALS: LazyLock<(AhoCorasick, Vec<usize>)> = LazyLock::new(|| {
    let (owners, needles): (Vec<usize>, Vec<&str>) = PATTERNS
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.needs.iter().map(move |n| (i, *n)))
        .unzip();
    let automaton = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(needles)
        .expect("built-in literals");
    (automaton, owners)
});

/// The patterns `text` may hold, one bit each (bit `i` for `PATTERNS[i]`).
/// The literals are ASCII and compared ignoring ASCII case; a text with
/// other characters may hold any (case-insensitive patterns fold some of
/// them to ASCII letters).
fn may_hold(text: &str) -> u32 {
    if !text.is_ascii() {
        return u32::MAX;
    }
    let (automaton, owners) = &*LITERALS;
    automaton
        .find_overlapping_iter(text)
        .fold(0, |found, m| found | 1 << owners[m.pattern().as_usize()])
}

const _: () = assert!(PATTERNS.len() <= 32, "may_hold keeps one bit per pattern");

/// Card numbers: 13 to 19 digits, spaces or dashes allowed between them,
/// starting as the card networks' numbers do (2 to 6); redacted only when
/// the Luhn check holds, so that order numbers and the like are kept.
static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b[2-6](?:[ \-]?[0-9]){12,18}\b").expect("card pattern"));

/// Runs of 32 or more base64 characters: key material, when nothing else
/// says what a text is.
static BLOB: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/]{32,}={0,2}").expect("blob pattern"));

/// `text` with every run of key material replaced (see [`BLOB`]).
pub(super) fn blobs(text: &str) -> Cow<'_, str> {
    BLOB.replace_all(text, REDACTED)
}

/// `text` with every built-in form replaced.
pub(super) fn built_in(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    let candidates = may_hold(text);
    for (i, p) in PATTERNS.iter().enumerate() {
        // Each pattern only removes text, so one absent at first stays so.
        if candidates & 1 << i == 0 {
            continue;
        }
        if let Cow::Owned(o) = compiled(i).replace_all(&out, p.with) {
            out = Cow::Owned(o);
        }
    }
    if out.bytes().filter(u8::is_ascii_digit).nth(12).is_some() {
        let mut changed = false;
        let replaced = CARD.replace_all(&out, |c: &Captures<'_>| {
            if luhn(&c[0]) {
                changed = true;
                REDACTED.to_owned()
            } else {
                c[0].to_owned()
            }
        });
        if changed {
            out = Cow::Owned(replaced.into_owned());
        }
    }
    out
}

/// Whether the digits of `number` pass the Luhn check.
fn luhn(number: &str) -> bool {
    let digits = number.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0');
    let sum: u32 = digits
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d);
            match (i % 2 == 1, d * 2) {
                (false, _) => d,
                (true, double) if double > 9 => double - 9,
                (true, double) => double,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `text` with its `%XX` escapes decoded, if it has any (bytes that do not
/// make UTF-8 become U+FFFD).
pub(super) fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    // Most texts hold no `%`: no copy for them.
    memchr::memchr(b'%', bytes)?;
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let mut any = false;
    while i < bytes.len() {
        let pair = bytes
            .get(i + 1)
            .copied()
            .and_then(hex)
            .zip(bytes.get(i + 2).copied().and_then(hex));
        match (bytes[i], pair) {
            (b'%', Some((high, low))) => {
                out.push((high * 16 + low) as u8);
                any = true;
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    any.then(|| String::from_utf8_lossy(&out).into_owned())
}

/// How much of a text cut short by a byte limit to keep: all but its last
/// word, which may be the start of a secret no pattern recognises any more
/// (`password=hun`, `ghp_A1b2`). Words end at white space, quotes, commas,
/// braces and brackets.
pub fn uncut_len(text: &[u8]) -> usize {
    text.iter()
        .rposition(|b| b.is_ascii_whitespace() || b"\"',{}[]".contains(b))
        .map_or(0, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles_and_matches_only_texts_with_one_of_its_literals() {
        let samples = [
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
            "https://user:hunter2@example.com/x",
            "Authorization: Basic dXNlcjpwYXNz",
            "bearer abcdef123456",
            "db_password=hunter2",
            "run --token abc123",
            "mysql -u root -phunter2",
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "github_pat_abcdefghijklmnopqrstuvwxyz",
            "xoxb-1234567890-abcdef",
            "https://hooks.slack.com/services/T000/B000/XXXX",
            "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
            "eyJhbGciOi.eyJzdWIiOi.SflKxwRJSM",
        ];
        assert_eq!(samples.len(), PATTERNS.len());
        for (i, sample) in samples.into_iter().enumerate() {
            assert!(compiled(i).is_match(sample), "pattern {i} on {sample:?}");
            assert!(
                may_hold(sample) & 1 << i != 0,
                "pattern {i}: no literal in {sample:?}"
            );
            assert_ne!(built_in(sample), sample, "pattern {i} on {sample:?}");
        }
        assert_eq!(built_in("Inbox/note-1.md"), "Inbox/note-1.md");
    }

    #[test]
    fn a_text_that_is_not_ascii_is_checked_by_every_pattern() {
        // U+017F (long s) folds to s and U+212A (Kelvin sign) to k under
        // the patterns' case-insensitive matching: no ASCII literal shows them.
        assert_eq!(
            built_in("pa\u{17f}\u{17f}word=hunter2"),
            "pa\u{17f}\u{17f}word=[REDACTED]"
        );
        assert_eq!(
            built_in("api_\u{212a}ey=hunter2"),
            "api_\u{212a}ey=[REDACTED]"
        );
    }

    #[test]
    fn the_luhn_check_tells_cards_from_order_numbers() {
        assert!(luhn("4111 1111 1111 1111"));
        assert!(luhn("5555-5555-5555-4444"));
        assert!(luhn("378282246310005"));
        assert!(!luhn("4111 1111 1111 1112"));
        assert_eq!(
            built_in("card 4111-1111-1111-1111 ok"),
            "card [REDACTED] ok"
        );
        assert_eq!(
            built_in("order 4111111111111112 ok"),
            "order 4111111111111112 ok"
        );
    }

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(percent_decoded("a%3Db%2x%"), Some("a=b%2x%".to_owned()));
        assert_eq!(percent_decoded("no escapes"), None);
    }

    #[test]
    fn a_cut_text_loses_its_last_word() {
        let cut = br#"{"note": "x password=hunt"#;
        assert_eq!(&cut[..uncut_len(cut)], br#"{"note": "x "#);
        assert_eq!(uncut_len(b"abcdef"), 0);
    }

    proptest::proptest! {
        /// The automaton finds a pattern's literal exactly where a search of
        /// the lowercased text for each literal does (the rule before it).
        #[test]
        fn the_automaton_agrees_with_searching_each_literal(
            text in "(pass|PaSsWoRd|pwd|AUTH|authorization|Bearer|secret|ToKeN|key|credential|Private Key|://|mysql|MariaDB|akia|ASIA|gh[pousr]_|github_pat_|xox|hooks[.]slack[.]com|sk-|eyJ|[ -~]){0,12}"
        ) {
            let lower = text.to_ascii_lowercase();
            let searched = PATTERNS.iter().enumerate().fold(0u32, |found, (i, p)| {
                match p.needs.iter().any(|n| lower.contains(n)) {
                    true => found | 1 << i,
                    false => found,
                }
            });
            proptest::prop_assert_eq!(may_hold(&text), searched);
        }
    }
}
