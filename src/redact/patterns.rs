//! The secret forms recognised inside any text: the patterns, the card
//! numbers (Luhn-checked) and the URL-decoding that shows an encoded secret.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet};

use super::REDACTED;

/// The built-in patterns, in the order they are applied, with what replaces
/// a match (`$1` keeps a leading group, such as `password=`).
const PATTERNS: &[(&str, &str)] = &[
    // PEM private keys and PGP private key blocks, whole (or to the end,
    // when cut short).
    (
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\z)",
        REDACTED,
    ),
    // Credentials in URLs: scheme://user:pass@host
    (
        r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s:@]+:[^/\s@]+@",
        "${1}[REDACTED]@",
    ),
    // Authorization headers and Bearer tokens.
    (
        r"(?i)\b(authorization\s*[:=]\s*)(?:(?:basic|bearer|token)\s+)?[^\s,;]+",
        "${1}[REDACTED]",
    ),
    (r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*", "${1}[REDACTED]"),
    // key=value, key: value and "key": "value" for keys that name a secret:
    // a word of it (`db_password`, `x-api-key`), or its ending (`dbPassword`,
    // `csrftoken`) for the longer words. The value may be quoted, also with
    // escaped quotes (JSON inside a JSON string).
    (
        concat!(
            r#"(?i)(\b(?:[a-z0-9]+[_\-.])*"#,
            r#"(?:[a-z0-9]*?(?:password|passwd|passphrase|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|credentials?)(?:[_\-.]?key)?|pass|pwd|auth)"#,
            r#"\\?["']?\s*[:=]\s*)"#,
            r#"("(?:[^"\\]|\\.)*"|'[^']*'|\\"(?:[^"\\]|\\[^"])*\\"|[^\s"'&,;]+)"#,
        ),
        "${1}[REDACTED]",
    ),
    // Command-line flags: --password SECRET, --token SECRET.
    (
        r#"(?i)((?:^|\s)--?(?:[a-z0-9]+-)*(?:password|passwd|passphrase|pass|pwd|secret|token|api-?key|access-key|private-key|secret-key)\s+)([^\s\-"'][^\s"']*|"(?:[^"\\]|\\.)*"|'[^']*')"#,
        "${1}[REDACTED]",
    ),
    // The MySQL clients' -pSECRET.
    (
        r#"(\b(?i:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlpump|mysqlsh|mysqlbinlog|mariadb|mariadb-dump|mariadb-admin)\b[^\n;|&]*?\s-p)([^\s"']+|"(?:[^"\\]|\\.)*"|'[^']*')"#,
        "${1}[REDACTED]",
    ),
    // AWS access key ids.
    (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", REDACTED),
    // GitHub tokens (classic and fine-grained).
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", REDACTED),
    (r"\bgithub_pat_[A-Za-z0-9_]{20,}\b", REDACTED),
    // Slack tokens and webhook URLs.
    (r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", REDACTED),
    (
        r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+",
        REDACTED,
    ),
    // OpenAI (sk-..., sk-proj-...) and Anthropic (sk-ant-...) API keys.
    (r"\bsk-[A-Za-z0-9_\-]{20,}", REDACTED),
    // JWTs.
    (
        r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}",
        REDACTED,
    ),
];

/// The patterns, compiled.
static BUILT_IN: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    PATTERNS
        .iter()
        .map(|(re, with)| (Regex::new(re).expect("built-in pattern"), *with))
        .collect()
});

/// All of them at once, to learn in one pass which ones a text holds.
static ANY: LazyLock<RegexSet> =
    LazyLock::new(|| RegexSet::new(PATTERNS.iter().map(|(re, _)| re)).expect("built-in set"));

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
    let found = ANY.matches(text);
    if found.matched_any() {
        for (i, (re, with)) in BUILT_IN.iter().enumerate() {
            // Each pattern only removes text, so one absent at first stays so.
            if !found.matched(i) {
                continue;
            }
            if let Cow::Owned(o) = re.replace_all(&out, *with) {
                out = Cow::Owned(o);
            }
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
}
