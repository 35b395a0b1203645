//! Which keys name a secret, read as words: `snake_case`, `kebab-case`,
//! `camelCase`, `APIKey`, dots and spaces all split.

/// Key words that mark a value as secret, whatever the value.
const SECRET: &[&[&str]] = &[
    &["password"],
    &["passwd"],
    &["pass"],
    &["passphrase"],
    &["secret"],
    &["token"],
    &["api", "key"],
    &["apikey"],
    &["access", "key"],
    &["auth"],
    &["authorization"],
    &["credential"],
    &["credentials"],
    &["cookie"],
    &["private", "key"],
];

/// Plurals: a count when the value is a number (`max_tokens: 1000`), a
/// secret otherwise (`tokens: ["..."]`).
const PLURAL: &[&[&str]] = &[
    &["passwords"],
    &["passphrases"],
    &["secrets"],
    &["tokens"],
    &["api", "keys"],
    &["apikeys"],
    &["access", "keys"],
    &["cookies"],
    &["private", "keys"],
];

/// Endings that mark one word run together (`dbpassword`, `csrftoken`).
const SECRET_ENDINGS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "credential",
    "credentials",
];

/// Their plurals.
const PLURAL_ENDINGS: &[&str] = &["passwords", "secrets", "tokens", "apikeys"];

/// What a key says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyKind {
    /// The value is a secret, whatever it is.
    Secret,
    /// A plural: a count when the value is a number, else a secret.
    Plural,
    /// Nothing: the value is searched like any text.
    Plain,
}

/// What `key` says about its value.
pub(super) fn kind(key: &str) -> KeyKind {
    let words = words(key);
    let has = |list: &[&[&str]], endings: &[&str]| {
        list.iter()
            .any(|needle| words.windows(needle.len()).any(|w| w == *needle))
            || words
                .iter()
                .any(|w| endings.iter().any(|e| w.len() > e.len() && w.ends_with(e)))
    };
    if has(SECRET, SECRET_ENDINGS) {
        KeyKind::Secret
    } else if has(PLURAL, PLURAL_ENDINGS) {
        KeyKind::Plural
    } else {
        KeyKind::Plain
    }
}

/// The words of a key, in lower case.
fn words(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1);
        // `dbPassword` splits before P; `APIKey` before K.
        let camel = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
        if camel && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_words() {
        assert_eq!(words("dbPassword"), ["db", "password"]);
        assert_eq!(words("X-API-Key"), ["x", "api", "key"]);
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(words("password=hunter2"), ["password", "hunter2"]);
        assert_eq!(words("max_tokens"), ["max", "tokens"]);
    }

    #[test]
    fn plurals_are_counts_or_secrets() {
        assert_eq!(kind("max_tokens"), KeyKind::Plural);
        assert_eq!(kind("maxTokens"), KeyKind::Plural);
        assert_eq!(kind("db_pass"), KeyKind::Secret);
        assert_eq!(kind("DBPassword"), KeyKind::Secret);
        assert_eq!(kind("author"), KeyKind::Plain);
    }
}
