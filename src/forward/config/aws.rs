//! The CloudWatch Logs sink's settings: `AUDIT_FORWARD_CLOUDWATCH`, and
//! credentials and endpoint from the standard AWS variables and profile
//! file, read once through the lookup the caller passes in.
//!
//! Credentials, first found wins: `AWS_ACCESS_KEY_ID` with
//! `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`); else the profile
//! `AWS_PROFILE` (default `default`) of the file `AWS_SHARED_CREDENTIALS_FILE`
//! (default `~/.aws/credentials`). Endpoint: `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`,
//! else `AWS_ENDPOINT_URL`, else the region's.

use std::fmt;
use std::path::PathBuf;

use crate::forward::ConfigError;

/// The sink's variable.
pub const CLOUDWATCH_VAR: &str = "AUDIT_FORWARD_CLOUDWATCH";

/// What `AUDIT_FORWARD_CLOUDWATCH` accepts.
const ACCEPTED: &str = "region/log-group or region/log-group/log-stream, e.g. eu-west-1/vault-audit/ops (a group name with / needs the stream, or a trailing / for the default one)";

/// Where the entries go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The AWS region, e.g. `eu-west-1`.
    pub region: String,
    /// The log group.
    pub group: String,
    /// The log stream; `None` is the vault's name.
    pub stream: Option<String>,
}

/// An access key: its secret and session token never appear in a `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &"(set)")
            .field("secret_access_key", &"(set)")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "(set)"),
            )
            .finish()
    }
}

/// The CloudWatch Logs sink's settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudWatchSettings {
    /// The region, group and stream.
    pub target: Target,
    /// The access key.
    pub credentials: Credentials,
    /// The endpoint, when one is set (a test server, a VPC endpoint).
    pub endpoint: Option<String>,
}

/// Reads `region/log-group[/log-stream]`.
pub fn parse_target(text: &str) -> Result<Target, String> {
    let text = text.trim();
    let Some((region, rest)) = text.split_once('/') else {
        return Err(format!("no log group; expected {ACCEPTED}"));
    };
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "{region:?} is not a region (lower-case letters, digits and -); expected {ACCEPTED}"
        ));
    }
    let (group, stream) = match rest.rsplit_once('/') {
        Some((g, s)) if !g.is_empty() => (g, (!s.is_empty()).then_some(s)),
        _ => (rest, None),
    };
    let group_ok = |b: u8| b.is_ascii_alphanumeric() || b"_-/.#".contains(&b);
    if group.is_empty() || group.len() > 512 || !group.bytes().all(group_ok) {
        return Err(format!(
            "{group:?} is not a log group name (1 to 512 of letters, digits, _ - / . #); expected {ACCEPTED}"
        ));
    }
    if let Some(s) = stream {
        check_stream(s)?;
    }
    Ok(Target {
        region: region.to_owned(),
        group: group.to_owned(),
        stream: stream.map(str::to_owned),
    })
}

/// A log stream name: 1 to 512 characters, no `:` or `*`.
pub fn check_stream(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 512 || name.contains([':', '*']) {
        return Err(format!(
            "{name:?} is not a log stream name (1 to 512 characters, no : or *)"
        ));
    }
    Ok(())
}

/// Reads the sink's settings through `get` (empty values are unset), or
/// `None` when `AUDIT_FORWARD_CLOUDWATCH` is unset. The profile file is
/// read only then. No message repeats a key, a secret or a token.
pub fn from_vars(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<CloudWatchSettings>, ConfigError> {
    let Some(text) = get(CLOUDWATCH_VAR) else {
        return Ok(None);
    };
    let target = parse_target(&text).map_err(|why| ConfigError::Invalid {
        name: CLOUDWATCH_VAR,
        value: text.clone(),
        why,
    })?;
    let endpoint = match ["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ENDPOINT_URL"]
        .into_iter()
        .find_map(|name| get(name).map(|v| (name, v)))
    {
        Some((name, value)) => {
            Some(check_endpoint(&value).map_err(|why| ConfigError::Invalid {
                name,
                value: value.clone(),
                why,
            })?)
        }
        None => None,
    };
    Ok(Some(CloudWatchSettings {
        target,
        credentials: credentials(get)?,
        endpoint,
    }))
}

/// An endpoint: `http://` or `https://` and a host, without its trailing `/`.
pub fn check_endpoint(text: &str) -> Result<String, String> {
    const ACCEPTED: &str = "expected an http:// or https:// URL, e.g. http://127.0.0.1:5000";
    let text = text.trim().trim_end_matches('/');
    let Some(rest) = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
    else {
        return Err(format!("not an http:// or https:// URL; {ACCEPTED}"));
    };
    if rest.is_empty() || rest.starts_with(['/', '?', ':']) {
        return Err(format!("no host; {ACCEPTED}"));
    }
    if rest.contains(['?', '#', '@', ' ']) {
        return Err(format!(
            "a query, fragment, user or space is not accepted; {ACCEPTED}"
        ));
    }
    Ok(text.to_owned())
}

fn no_credentials(why: String) -> ConfigError {
    ConfigError::Credentials {
        name: CLOUDWATCH_VAR,
        why,
    }
}

/// The access key from the variables, else from the profile file.
fn credentials(get: &impl Fn(&str) -> Option<String>) -> Result<Credentials, ConfigError> {
    match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => {
            return Ok(Credentials {
                access_key_id: id.trim().to_owned(),
                secret_access_key: secret.trim().to_owned(),
                session_token: get("AWS_SESSION_TOKEN").map(|t| t.trim().to_owned()),
            })
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(no_credentials(
                "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set; set both, or neither to use the profile file".into(),
            ))
        }
        (None, None) => {}
    }
    let profile = get("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
    let path = match get("AWS_SHARED_CREDENTIALS_FILE") {
        Some(p) => PathBuf::from(p.trim()),
        None => match get("HOME").or_else(|| get("USERPROFILE")) {
            Some(home) => PathBuf::from(home).join(".aws").join("credentials"),
            None => return Err(no_credentials(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE (there is no HOME for ~/.aws/credentials)".into(),
            )),
        },
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        no_credentials(format!(
            "no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are unset, and the profile file {} cannot be read ({e})",
            path.display()
        ))
    })?;
    profile_credentials(&text, &profile)
        .map_err(|why| no_credentials(format!("profile file {}: {why}", path.display())))
}

/// The keys of `profile` in the text of a credentials file (INI: `[name]`
/// sections of `key = value` lines, `#` and `;` comments).
pub fn profile_credentials(text: &str, profile: &str) -> Result<Credentials, String> {
    let mut section = None::<String>;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            section = Some(
                name.strip_prefix("profile ")
                    .unwrap_or(name)
                    .trim()
                    .to_owned(),
            );
            continue;
        }
        if section.as_deref() != Some(profile) {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        match key.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => id = value,
            "aws_secret_access_key" => secret = value,
            "aws_session_token" => token = value,
            _ => {}
        }
    }
    match (id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Credentials {
            access_key_id,
            secret_access_key,
            session_token: token,
        }),
        _ => Err(format!(
            "profile {profile:?} has no aws_access_key_id and aws_secret_access_key (set AWS_PROFILE to another [profile], or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        )),
    }
}

/// The region's endpoint when none is set.
pub fn default_endpoint(region: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://logs.{region}.{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn targets_name_a_region_a_group_and_maybe_a_stream() {
        let t = parse_target("eu-west-1/vault-audit").expect("ok");
        assert_eq!(
            (t.region.as_str(), t.group.as_str()),
            ("eu-west-1", "vault-audit")
        );
        assert_eq!(t.stream, None);
        let t = parse_target("us-east-1/audit/ops vault").expect("ok");
        assert_eq!(t.stream.as_deref(), Some("ops vault"));
        let t = parse_target("us-east-1//aws/audit/").expect("ok");
        assert_eq!((t.group.as_str(), t.stream), ("/aws/audit", None));
        for bad in [
            "eu-west-1",
            "EU/x",
            "/g",
            "eu-west-1/",
            "r/g%/s",
            "r/g/s:1",
            "r/g/*",
        ] {
            let e = parse_target(bad).expect_err(bad);
            assert!(
                e.contains("expected") || e.contains("no : or *"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn credentials_come_from_the_variables_first() {
        let get = vars(&[
            (CLOUDWATCH_VAR, "eu-west-1/g"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "s3cretKEY"),
            ("AWS_SESSION_TOKEN", "t0ken"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
        ]);
        let s = from_vars(&get).expect("ok").expect("set");
        assert_eq!(s.credentials.secret_access_key, "s3cretKEY");
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("t0ken") && !shown.contains("AKID"));
        let half = vars(&[
            (CLOUDWATCH_VAR, "eu-west-1/g"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
        ]);
        let e = from_vars(&half).expect_err("half").to_string();
        assert!(e.contains("set both"), "{e}");
        assert!(from_vars(&vars(&[])).expect("unset").is_none());
        let bad = vars(&[
            (CLOUDWATCH_VAR, "eu-west-1/g"),
            ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "ftp://h"),
        ]);
        let e = from_vars(&bad).expect_err("ftp").to_string();
        assert!(
            e.starts_with("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=\"ftp://h\""),
            "{e}"
        );
        assert_eq!(
            check_endpoint("http://127.0.0.1:5000/").as_deref(),
            Ok("http://127.0.0.1:5000")
        );
    }

    #[test]
    fn a_profile_file_gives_the_named_profile() {
        let text = "# keys\n[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n\n[ci]\naws_access_key_id=A2\naws_secret_access_key=S2\naws_session_token = T2\n";
        let c = profile_credentials(text, "ci").expect("ci");
        assert_eq!(
            (c.access_key_id.as_str(), c.session_token.as_deref()),
            ("A2", Some("T2"))
        );
        assert_eq!(
            profile_credentials(text, "default")
                .expect("d")
                .access_key_id,
            "A1"
        );
        let e = profile_credentials(text, "prod").expect_err("none");
        assert!(e.contains("\"prod\"") && !e.contains("S1"), "{e}");
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("credentials");
        std::fs::write(&path, text).expect("write");
        let p = path.to_string_lossy().into_owned();
        let pairs = [
            (CLOUDWATCH_VAR, "eu-west-1/g/s"),
            ("AWS_SHARED_CREDENTIALS_FILE", p.as_str()),
            ("AWS_PROFILE", "ci"),
        ];
        let get = vars(&pairs);
        let s = from_vars(&get).expect("ok").expect("set");
        assert_eq!(s.credentials.secret_access_key, "S2");
        let missing = vars(&[(CLOUDWATCH_VAR, "eu-west-1/g"), ("HOME", "/nonexistent")]);
        let e = from_vars(&missing).expect_err("no file").to_string();
        assert!(e.contains("/nonexistent/.aws/credentials"), "{e}");
    }
}
