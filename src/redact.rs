//! Redaction and truncation, applied to every string the project writes
//! (day files, `failed_writes.json`, dry-run output, rejected lines and
//! their reasons, messages on stderr and in responses), always in this
//! order: redact, then cut. A secret cut first is a secret the patterns no
//! longer recognise.
//!
//! - A value whose key names a secret (`password`, `passwd`, `pass`,
//!   `passphrase`, `secret`, `token`, `api_key`, `apikey`, `access_key`,
//!   `auth`, `authorization`, `credential(s)`, `cookie`, `private_key`, in
//!   any case, as a whole key or a word of one: `db_pass`, `X-Api-Key`,
//!   `clientSecret`, or the end of one run together: `dbpassword`), at any
//!   depth of `parameters`, becomes `"[REDACTED]"`, whatever it is. Plurals
//!   (`max_tokens`, `secrets`) are counts when their value is a number and
//!   are kept; any other value under them is redacted.
//! - Inside every string (actor, target, error message, session id,
//!   parameter keys and values): `password=…`, `"db_pass": "…"`, `token: …`,
//!   `api-key=…`, `passphrase=…`, `--password …`, `mysql -p…`,
//!   `Authorization: …`, `Bearer …`, AWS access key ids, PEM private keys and
//!   PGP private key blocks, GitHub and Slack tokens, OpenAI (`sk-…`,
//!   `sk-proj-…`) and Anthropic (`sk-ant-…`) keys, JWTs, credentials in URLs
//!   and card numbers (13 to 19 digits passing the Luhn check) are replaced
//!   by `[REDACTED]`, keeping the text around them; so are matches of the
//!   extra patterns in `AUDIT_REDACT_PATTERNS`. A string with `%XX` escapes
//!   is searched decoded too; if a secret shows only there, the string is
//!   kept decoded, redacted.
//! - Then any string over `AUDIT_MAX_FIELD_CHARS` characters (default 2,000)
//!   is cut, with a marker saying how many characters were cut.
//!
//! Redaction is turned off only by `AUDIT_REDACTION=off`; entries written so
//! carry `"redaction": "off"` in their parameters. Truncation always applies.

mod keys;
mod patterns;

use std::borrow::Cow;

use regex::Regex;
use serde_json::{Map, Value};

use crate::entry::{ActionType, Entry, EntryError};
use keys::KeyKind;
pub use patterns::uncut_len;

/// What a secret is replaced by.
pub const REDACTED: &str = "[REDACTED]";

/// The default longest string kept whole, in characters.
pub const DEFAULT_MAX_FIELD_CHARS: usize = 2000;

/// How many layers of `%XX` escapes are undone when searching a string.
const MAX_DECODES: usize = 3;

/// A pattern that is not a regular expression; the configuration names
/// the setting it came from (`AUDIT_REDACT_PATTERNS`).
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
                ConfigError(format!("{p:?} is not a valid regular expression: {e}"))
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

    /// A string with secrets redacted and, if too long, cut.
    pub fn text<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let out = if self.on {
            self.secrets_out(s)
        } else {
            Cow::Borrowed(s)
        };
        self.cut(out)
    }

    /// A line of unknown shape, kept as it was written (a rejected line
    /// that is not JSON): redacted as text, and every run of 32 or more
    /// base64 characters too, since a private key's body may stand on lines
    /// of its own, away from the BEGIN line that marks it; then cut.
    pub fn raw_line<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if !self.on {
            return self.text(s);
        }
        let out = match self.secrets_out(s) {
            Cow::Borrowed(b) => patterns::blobs(b),
            Cow::Owned(o) => Cow::Owned(patterns::blobs(&o).into_owned()),
        };
        self.cut(out)
    }

    /// `s` cut if longer than the longest string kept whole.
    fn cut<'a>(&self, s: Cow<'a, str>) -> Cow<'a, str> {
        match cut(&s, self.max_chars) {
            Some(short) => Cow::Owned(short),
            None => s,
        }
    }

    /// A string with its secrets replaced, not cut: searched as it is, then
    /// with its `%XX` escapes undone (up to [`MAX_DECODES`] layers); when a
    /// secret shows only decoded, the decoded text, redacted, is kept.
    fn secrets_out<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let mut out = self.plain(s);
        let mut probe: Option<String> = None;
        for _ in 0..MAX_DECODES {
            let Some(decoded) = patterns::percent_decoded(probe.as_deref().unwrap_or(&out)) else {
                break;
            };
            let redacted = self.plain(&decoded);
            if redacted != decoded {
                let redacted = redacted.into_owned();
                out = Cow::Owned(redacted.clone());
                probe = Some(redacted);
            } else {
                probe = Some(decoded);
            }
        }
        out
    }

    /// The built-in forms and the extra patterns, replaced.
    fn plain<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let mut out = patterns::built_in(s);
        for re in &self.extra {
            if let Cow::Owned(o) = re.replace_all(&out, REDACTED) {
                out = Cow::Owned(o);
            }
        }
        out
    }

    /// Redacts a JSON value in place: keys that name a secret, keys that
    /// hold one, then every string; long strings are cut.
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
        if !self.on {
            map.values_mut().for_each(|v| self.value(v));
            return;
        }
        for (key, mut v) in std::mem::take(map) {
            match keys::kind(&key) {
                KeyKind::Secret => v = Value::String(REDACTED.to_owned()),
                KeyKind::Plural
                    if !matches!(v, Value::Number(_) | Value::Bool(_) | Value::Null) =>
                {
                    v = Value::String(REDACTED.to_owned());
                }
                _ => self.value(&mut v),
            }
            let redacted = match self.secrets_out(&key) {
                Cow::Owned(r) if r != key => Some(r),
                _ => None,
            };
            let key = match redacted {
                Some(r) => unused_key(map, r),
                None => key,
            };
            map.insert(key, v);
        }
    }

    /// Redacts an entry in place (its strings, its session id, its
    /// parameters' keys and values); with redaction off, marks it so.
    pub fn entry(&self, e: &mut Entry) {
        let strings = [&mut e.actor, &mut e.target]
            .into_iter()
            .chain(e.error_message.as_mut())
            .chain(e.session_id.as_mut());
        for s in strings {
            if let Cow::Owned(o) = self.text(s) {
                *s = o;
            }
        }
        // Action types are lower_snake_case, which no built-in form is; an
        // extra pattern may still match one.
        if self.on && self.plain(e.action_type.as_str()) != e.action_type.as_str() {
            if let Ok(redacted) = ActionType::new("redacted") {
                e.action_type = redacted;
            }
        }
        self.map(&mut e.parameters);
        if !self.on {
            e.parameters
                .insert("redaction".into(), Value::String("off".into()));
        }
    }

    /// An entry error with the value it shows redacted, whole, before its
    /// message shortens it. Every message that shows a rejected value to a
    /// person or writes it to disk is made from an error redacted so.
    pub fn error(&self, e: EntryError) -> EntryError {
        if !self.on {
            return e;
        }
        match e {
            EntryError::NotAnObject { found } => EntryError::NotAnObject {
                found: self.json_text(&found),
            },
            EntryError::UnknownField { field } => EntryError::UnknownField {
                field: self.secrets_out(&field).into_owned(),
            },
            EntryError::InvalidValue {
                field,
                value,
                accepted,
            } => EntryError::InvalidValue {
                field,
                value: self.json_text(&value),
                accepted,
            },
            EntryError::Several { problems } => EntryError::Several {
                problems: problems.into_iter().map(|e| self.error(e)).collect(),
            },
            other => other,
        }
    }

    /// [`Entry::from_json`], its error redacted (see [`Redactor::error`]).
    pub fn parse_json(&self, text: &str) -> Result<Entry, EntryError> {
        Entry::from_json(text).map_err(|e| self.error(e))
    }

    /// [`Entry::from_value`], its error redacted (see [`Redactor::error`]).
    pub fn parse_value(&self, value: Value) -> Result<Entry, EntryError> {
        Entry::from_value(value).map_err(|e| self.error(e))
    }

    /// JSON text redacted as a value (keys too), or as text if it is not JSON.
    fn json_text(&self, text: &str) -> String {
        match serde_json::from_str::<Value>(text) {
            Ok(mut v) => {
                self.value(&mut v);
                v.to_string()
            }
            Err(_) => self.text(text).into_owned(),
        }
    }
}

/// `key`, or, when `map` has it already (two keys redacted alike), `key#2`,
/// `key#3`, ...
fn unused_key(map: &Map<String, Value>, key: String) -> String {
    if !map.contains_key(&key) {
        return key;
    }
    (2..)
        .map(|n| format!("{key}#{n}"))
        .find(|k| !map.contains_key(k))
        .unwrap_or(key)
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

/// Whether a key names a secret, so that its value is redacted whatever it
/// is: one of the words, whole or as consecutive words of it (`snake_case`,
/// `kebab-case`, `camelCase` and spaces all split), or the end of a word run
/// together (`dbpassword`). Plurals (`max_tokens`) are not: their value is
/// redacted only when it is not a number.
pub fn secret_key(key: &str) -> bool {
    keys::kind(key) == KeyKind::Secret
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
            "pass",
            "db_pass",
            "DB_PASS",
            "dbPass",
            "passphrase",
            "auth",
            "x-auth-token",
            "credential",
            "aws_credentials",
            "dbpassword",
            "csrftoken",
            "AWS_SECRET_ACCESS_KEY",
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
            "bypass",
            "compass",
            "oauth_provider",
            "secretary",
        ] {
            assert!(!secret_key(k), "{k}");
        }
    }

    #[test]
    fn plural_keys_keep_counts_and_redact_anything_else() {
        let r = Redactor::new();
        let mut v = serde_json::json!({
            "max_tokens": 1000, "tokens": ["tok-one"], "secrets": "s3", "input_tokens": null
        });
        r.value(&mut v);
        assert_eq!(
            v,
            serde_json::json!({
                "max_tokens": 1000, "tokens": REDACTED, "secrets": REDACTED, "input_tokens": null
            })
        );
    }

    #[test]
    fn a_secret_as_a_parameter_key_is_replaced_in_the_key() {
        let r = Redactor::new();
        let mut v = serde_json::json!({
            "AKIAIOSFODNN7EXAMPLE": 1,
            "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8": {"AKIAIOSFODNN7EXAMPLF": "x"},
            "plain": "kept"
        });
        r.value(&mut v);
        let text = v.to_string();
        assert!(!text.contains("AKIA") && !text.contains("ghp_"), "{text}");
        assert_eq!(v["[REDACTED]"], 1, "{text}");
        assert_eq!(v["[REDACTED]#2"]["[REDACTED]"], "x", "{text}");
        assert_eq!(v["plain"], "kept");
    }

    #[test]
    fn the_forms_added_for_issue_12_are_replaced() {
        let r = Redactor::new();
        let cases = [
            ("k sk-abcdefghijklmnopqrstuvwxyz0123 x", "k [REDACTED] x"),
            ("k sk-proj-Abc123Def456Ghi789Jkl012Mno x", "k [REDACTED] x"),
            (
                "k sk-ant-api03-Abc123Def456Ghi789Jkl012-xyz x",
                "k [REDACTED] x",
            ),
            ("pay 4111 1111 1111 1111 now", "pay [REDACTED] now"),
            (
                "order 4111 1111 1111 1112 now",
                "order 4111 1111 1111 1112 now",
            ),
            (
                "gpg passphrase=correct-horse x",
                "gpg passphrase=[REDACTED] x",
            ),
            (
                r#"cfg {"db_pass": "hunter2 x", "host": "db"}"#,
                r#"cfg {"db_pass": [REDACTED], "host": "db"}"#,
            ),
            (
                r#"cfg {\"db_pass\": \"hunter2\"}"#,
                r#"cfg {\"db_pass\": [REDACTED]}"#,
            ),
            ("cfg dbPassword=hunter2 x", "cfg dbPassword=[REDACTED] x"),
            (
                "mysql -u root -pHunter2Pw -h db",
                "mysql -u root -p[REDACTED] -h db",
            ),
            ("mysql -P 3306 -p db", "mysql -P 3306 -p db"),
            (
                "mysqldump --password=Hunter2Pw db",
                "mysqldump --password=[REDACTED] db",
            ),
            ("tool --token Tok3nValue x", "tool --token [REDACTED] x"),
            (
                "psql postgres://app:Pg5ecret@db:5432/x",
                "psql postgres://[REDACTED]@db:5432/x",
            ),
            (
                "url ?password%3DHunter2Pw%26x%3D1",
                "url ?password=[REDACTED]&x=1",
            ),
            (
                "t %67hp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
                "t [REDACTED]",
            ),
            ("100%25 done, 50%", "100%25 done, 50%"),
        ];
        for (input, want) in cases {
            assert_eq!(r.text(input), want, "{input}");
        }
        let pgp = "a\n-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0\n-----END PGP PRIVATE KEY BLOCK-----\nb";
        assert_eq!(r.text(pgp), "a\n[REDACTED]\nb");
    }

    #[test]
    fn redacting_twice_changes_nothing() {
        let r = Redactor::new().max_chars(100);
        let mut v = serde_json::json!({
            "AKIAIOSFODNN7EXAMPLE": "login?token%3Dabc123def456",
            "AKIAIOSFODNN7EXAMPLF": {"password=x": "card 4111 1111 1111 1111"},
            "long": "y ".repeat(80),
        });
        r.value(&mut v);
        let once = v.clone();
        r.value(&mut v);
        assert_eq!(v, once);
    }

    #[test]
    fn a_session_id_holding_a_secret_is_redacted() {
        let r = Redactor::new();
        let action = ActionType::new("x").expect("action");
        let mut e = Entry::new(crate::entry::LogLevel::Info, action, "a", "t")
            .session("s ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8");
        r.entry(&mut e);
        assert_eq!(e.session_id.as_deref(), Some("s [REDACTED]"));
    }

    #[test]
    fn a_rejected_value_is_redacted_before_it_is_shortened() {
        let r = Redactor::new();
        let token = "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8";
        let long = format!("{}{token}", "x ".repeat(20));
        let entry = serde_json::json!({"log_level": long, "parameters": {}});
        let plain = Entry::from_value(entry.clone())
            .expect_err("bad level")
            .to_string();
        // Shortened alone, the message keeps a start no pattern recognises.
        assert!(
            plain.contains("ghp_A1b2") && !plain.contains(token),
            "{plain}"
        );
        assert_eq!(r.text(&plain), plain);
        let e = r.parse_value(entry).expect_err("bad level").to_string();
        assert!(!e.contains("ghp_") && !e.contains("A1b2C3"), "{e}");
        let e = r
            .parse_json(&format!("{{\"{token}\": 1}}"))
            .expect_err("unknown")
            .to_string();
        assert!(e.contains("unknown field \"[REDACTED]\""), "{e}");
        let e = r
            .parse_json(&format!("[\"{long}\"]"))
            .expect_err("array")
            .to_string();
        assert!(!e.contains("ghp_"), "{e}");
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
}
