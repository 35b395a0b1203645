//! Redaction and truncation, applied to every entry before it is written
//! anywhere (day file, `failed_writes.json`, dry-run output, rejected lines).
//!
//! - A value whose key looks secret (`password`, `passwd`, `secret`, `token`,
//!   `api_key`, `apikey`, `authorization`, `cookie`, `private_key`, in any
//!   case, as a whole key or a word of one: `access_token`, `X-Api-Key`,
//!   `clientSecret`), at any depth of `parameters`, becomes `"[REDACTED]"`.
//!   Plural words such as `max_tokens` are counts, not secrets, and are kept.
//! - Inside every string (actor, target, error message, parameter values):
//!   `password=…`, `token: …`, `api-key=…`, `Bearer …`, AWS access key ids,
//!   PEM private key blocks, GitHub and Slack tokens, JWTs and credentials in
//!   URLs are replaced by `[REDACTED]`, keeping the text around them; so are
//!   matches of the extra patterns in `AUDIT_REDACT_PATTERNS`.
//! - Then any string over `AUDIT_MAX_FIELD_CHARS` characters (default 2,000)
//!   is cut, with a marker saying how many characters were cut.
//!
//! Redaction is turned off only by `AUDIT_REDACTION=off`; entries written so
//! carry `"redaction": "off"` in their parameters. Truncation always applies.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::entry::Entry;

/// What a secret is replaced by.
pub const REDACTED: &str = "[REDACTED]";

/// The default longest string kept whole, in characters.
pub const DEFAULT_MAX_FIELD_CHARS: usize = 2000;

/// Key words that mark a value as secret.
const SECRET_KEYS: &[&[&str]] = &[
    &["password"],
    &["passwd"],
    &["secret"],
    &["token"],
    &["api", "key"],
    &["apikey"],
    &["authorization"],
    &["cookie"],
    &["private", "key"],
];

/// The built-in patterns, in the order they are applied, with what replaces
/// a match (`$1` keeps a leading group, such as `password=`).
static BUILT_IN: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // PEM private keys, whole blocks (or to the end, when cut short).
        (
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
            REDACTED,
        ),
        // Credentials in URLs: scheme://user:pass@host
        (r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s:@]+:[^/\s@]+@", "${1}[REDACTED]@"),
        // Authorization headers and Bearer tokens.
        (
            r"(?i)\b(authorization\s*[:=]\s*)(?:(?:basic|bearer|token)\s+)?[^\s,;]+",
            "${1}[REDACTED]",
        ),
        (r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*", "${1}[REDACTED]"),
        // key=value and key: value for secret-looking keys.
        (
            r#"(?i)\b((?:[a-z0-9]+[_\-])*(?:password|passwd|pwd|secret|token|api[_\-]?key|private[_\-]?key|access[_\-]?key)["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s"'&,;]+)"#,
            "${1}[REDACTED]",
        ),
        // AWS access key ids.
        (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", REDACTED),
        // GitHub tokens (classic and fine-grained).
        (r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", REDACTED),
        (r"\bgithub_pat_[A-Za-z0-9_]{20,}\b", REDACTED),
        // Slack tokens and webhook URLs.
        (r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", REDACTED),
        (r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+", REDACTED),
        // JWTs.
        (
            r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}",
            REDACTED,
        ),
    ]
    .into_iter()
    .map(|(re, with)| (Regex::new(re).expect("built-in pattern"), with))
    .collect()
});

/// A bad `AUDIT_REDACT_PATTERNS` or `AUDIT_MAX_FIELD_CHARS`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Redacts secrets and cuts long strings.
#[derive(Debug, Clone)]
pub struct Redactor {
    on: bool,
    extra: Vec<Regex>,
    max_chars: usize,
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor {
            on: true,
            extra: Vec::new(),
            max_chars: DEFAULT_MAX_FIELD_CHARS,
        }
    }
}

impl Redactor {
    /// Redaction with the built-in patterns, strings cut at 2,000 characters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Turns redaction off (entries then say so); truncation stays.
    pub fn off(mut self) -> Self {
        self.on = false;
        self
    }

    /// Whether redaction is on.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Adds patterns (regular expressions) whose matches are redacted.
    pub fn patterns<S: AsRef<str>>(mut self, patterns: &[S]) -> Result<Self, ConfigError> {
        for p in patterns {
            let p = p.as_ref();
            let re = Regex::new(p).map_err(|e| {
                ConfigError(format!(
                    "AUDIT_REDACT_PATTERNS: {p:?} is not a valid regular expression: {e}"
                ))
            })?;
            self.extra.push(re);
        }
        Ok(self)
    }

    /// Strings longer than `n` characters are cut (at least 100).
    pub fn max_chars(mut self, n: usize) -> Self {
        self.max_chars = n.max(100);
        self
    }

    /// From `AUDIT_REDACTION` (`on`/`off`), `AUDIT_REDACT_PATTERNS` (a JSON
    /// array of regexes, or one regex per line) and `AUDIT_MAX_FIELD_CHARS`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut r = Redactor::new();
        match var("AUDIT_REDACTION").as_deref().map(str::trim) {
            None | Some("") => {}
            Some(v) if v.eq_ignore_ascii_case("on") || v.eq_ignore_ascii_case("true") => {}
            Some(v) if v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("false") => {
                r = r.off();
            }
            Some(v) => {
                return Err(ConfigError(format!(
                    "AUDIT_REDACTION: {v:?} is not accepted; use on or off"
                )))
            }
        }
        if let Some(text) = var("AUDIT_REDACT_PATTERNS") {
            let text = text.trim();
            let list: Vec<String> = if text.starts_with('[') {
                serde_json::from_str(text).map_err(|e| {
                    ConfigError(format!(
                        "AUDIT_REDACT_PATTERNS: not a JSON array of strings ({e}); give a JSON array or one pattern per line"
                    ))
                })?
            } else {
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            r = r.patterns(&list)?;
        }
        if let Some(n) = var("AUDIT_MAX_FIELD_CHARS") {
            let parsed = n.trim().parse::<usize>().ok().filter(|n| *n >= 100);
            let Some(n) = parsed else {
                return Err(ConfigError(format!(
                    "AUDIT_MAX_FIELD_CHARS: {n:?} is not accepted; give a whole number of at least 100"
                )));
            };
            r = r.max_chars(n);
        }
        Ok(r)
    }

    /// A string with secrets redacted and, if too long, cut.
    pub fn text<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(s);
        if self.on {
            for (re, with) in BUILT_IN.iter() {
                if let Cow::Owned(o) = re.replace_all(&out, *with) {
                    out = Cow::Owned(o);
                }
            }
            for re in &self.extra {
                if let Cow::Owned(o) = re.replace_all(&out, REDACTED) {
                    out = Cow::Owned(o);
                }
            }
        }
        match cut(&out, self.max_chars) {
            Some(short) => Cow::Owned(short),
            None => out,
        }
    }

    /// Redacts a JSON value in place: secret-looking keys, then every string.
    pub fn value(&self, v: &mut Value) {
        match v {
            Value::String(s) => {
                if let Cow::Owned(o) = self.text(s) {
                    *s = o;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.value(i)),
            Value::Object(map) => self.map(map),
            _ => {}
        }
    }

    fn map(&self, map: &mut Map<String, Value>) {
        for (k, v) in map.iter_mut() {
            if self.on && secret_key(k) {
                *v = Value::String(REDACTED.to_owned());
            } else {
                self.value(v);
            }
        }
    }

    /// Redacts an entry in place; with redaction off, marks it so.
    pub fn entry(&self, e: &mut Entry) {
        for s in [&mut e.actor, &mut e.target] {
            if let Cow::Owned(o) = self.text(s) {
                *s = o;
            }
        }
        if let Some(m) = &mut e.error_message {
            if let Cow::Owned(o) = self.text(m) {
                *m = o;
            }
        }
        self.map(&mut e.parameters);
        if !self.on {
            e.parameters
                .insert("redaction".into(), Value::String("off".into()));
        }
    }
}

/// `s` cut to at most `max` characters, marker included, if it is longer.
/// What comes out is never cut again: redacting twice changes nothing.
fn cut(s: &str, max: usize) -> Option<String> {
    s.char_indices().nth(max)?;
    let total = s.chars().count();
    let marker = |cut: usize| format!("…[truncated {cut} of {total} characters]");
    let keep = max.saturating_sub(marker(total).chars().count());
    let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
    Some(format!("{}{}", &s[..end], marker(total - keep)))
}

/// Whether a key names a secret: one of the words, whole or as consecutive
/// words of it (`snake_case`, `kebab-case`, `camelCase` and spaces all split).
pub fn secret_key(key: &str) -> bool {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if c == '_' || c == '-' || c == ' ' || c == '.' {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    SECRET_KEYS
        .iter()
        .any(|needle| words.windows(needle.len()).any(|w| w == *needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_are_found_in_any_case_and_spelling() {
        for k in [
            "password",
            "PASSWORD",
            "db_password",
            "passwd",
            "client_secret",
            "clientSecret",
            "token",
            "access_token",
            "accessToken",
            "api_key",
            "X-Api-Key",
            "apiKey",
            "apikey",
            "Authorization",
            "cookie",
            "Set-Cookie",
            "private_key",
            "privateKey",
        ] {
            assert!(secret_key(k), "{k}");
        }
        for k in [
            "max_tokens",
            "input_tokens",
            "path",
            "keyboard",
            "author",
            "tokenizer",
        ] {
            assert!(!secret_key(k), "{k}");
        }
    }

    #[test]
    fn secrets_inside_strings_are_replaced_keeping_the_text_around_them() {
        let r = Redactor::new();
        let cases = [
            ("login password=hunter2 ok", "login password=[REDACTED] ok"),
            ("token: abc123def", "token: [REDACTED]"),
            ("curl -H 'api-key=zz9'", "curl -H 'api-key=[REDACTED]'"),
            (
                "Authorization: Bearer eyJhbGciOi.x.y",
                "Authorization: [REDACTED]",
            ),
            ("use Bearer abc.def-ghi now", "use Bearer [REDACTED] now"),
            ("key AKIAIOSFODNN7EXAMPLE here", "key [REDACTED] here"),
            (
                "git clone https://bob:s3cr3t@github.com/x",
                "git clone https://[REDACTED]@github.com/x",
            ),
            (
                "gh ghp_0123456789abcdefghijABCDEFGHIJ012345 x",
                "gh [REDACTED] x",
            ),
            ("slack xoxb-1234567890-abcdefghij x", "slack [REDACTED] x"),
        ];
        for (input, want) in cases {
            assert_eq!(r.text(input), want, "{input}");
        }
        let pem = "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\nabc\n-----END RSA PRIVATE KEY-----\nb";
        assert_eq!(r.text(pem), "a\n[REDACTED]\nb");
    }

    #[test]
    fn long_strings_are_cut_with_a_marker() {
        let r = Redactor::new().max_chars(100);
        let long = "é".repeat(150);
        let out = r.text(&long);
        assert!(out.chars().count() <= 100, "{out}");
        assert!(out.starts_with(&"é".repeat(60)));
        assert!(out.ends_with("…[truncated 84 of 150 characters]"), "{out}");
        assert_eq!(r.text(&out), out, "cutting twice changes nothing");
    }

    #[test]
    fn bad_settings_are_clear_errors() {
        let vars =
            |k: &'static str, v: &'static str| move |name: &str| (name == k).then(|| v.to_owned());
        let e = Redactor::from_vars(vars("AUDIT_REDACT_PATTERNS", "(unclosed")).unwrap_err();
        assert!(
            e.0.contains("\"(unclosed\" is not a valid regular expression"),
            "{e}"
        );
        let e = Redactor::from_vars(vars("AUDIT_MAX_FIELD_CHARS", "ten")).unwrap_err();
        assert!(e.0.contains("AUDIT_MAX_FIELD_CHARS"), "{e}");
        let e = Redactor::from_vars(vars("AUDIT_REDACTION", "maybe")).unwrap_err();
        assert!(e.0.contains("use on or off"), "{e}");
        let r =
            Redactor::from_vars(vars("AUDIT_REDACT_PATTERNS", r#"["CUST-[0-9]+"]"#)).expect("ok");
        assert_eq!(r.text("id CUST-42 x"), "id [REDACTED] x");
    }
}
