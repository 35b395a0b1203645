//! Which sinks run, from the environment.
//!
//! | variable | meaning |
//! |---|---|
//! | `AUDIT_FORWARD_POSTGRES` | `postgres://user:pass@host:5432/db` |
//! | `AUDIT_FORWARD_SYSLOG` | `udp://host:514` or `tcp://host:514` |
//! | `AUDIT_FORWARD_SYSLOG_FACILITY` | name or number, default `local0` |
//! | `AUDIT_FORWARD_HTTP` | the store's URL |
//! | `AUDIT_FORWARD_HTTP_FORMAT` | `jsonline` (VictoriaLogs, default) or `loki` |
//! | `AUDIT_FORWARD_HTTP_HEADERS` | a JSON object, or lines of `Name: value` |
//! | `AUDIT_FORWARD_BATCH` | entries per batch, 1 to 10,000, default 500 |
//! | `AUDIT_FORWARD_BACKOFF_MAX` | the longest wait between retries, default `5m` |
//! | `AUDIT_VAULT_NAME` | the vault's name in the stores, default its folder's name |

use super::{Pace, Sink};
use crate::time::parse_duration;
use crate::vault::Vault;

/// The sinks the environment asks for, and their pace.
pub struct Setup {
    /// The sinks, in the order PostgreSQL, syslog, HTTP.
    pub sinks: Vec<Box<dyn Sink>>,
    /// Batches and backoff.
    pub pace: Pace,
    /// The vault's name in the stores.
    pub vault_name: String,
}

/// The vault's name in the stores.
pub fn vault_name(vault: &Vault, env: &dyn Fn(&str) -> Option<String>) -> String {
    env("AUDIT_VAULT_NAME")
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| {
            vault
                .root()
                .canonicalize()
                .unwrap_or_else(|_| vault.root().to_path_buf())
                .file_name()
                .map_or_else(|| "vault".to_owned(), |n| n.to_string_lossy().into_owned())
        })
}

fn bad(name: &str, value: &str, why: impl std::fmt::Display) -> String {
    format!("{name}={value:?}: {why}")
}

/// Reads the `AUDIT_FORWARD_*` variables through `env`. An error names the
/// variable, its value and what is accepted.
pub fn from_env(vault: &Vault, env: &dyn Fn(&str) -> Option<String>) -> Result<Setup, String> {
    let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let name = vault_name(vault, env);
    let mut pace = Pace::default();
    if let Some(v) = get("AUDIT_FORWARD_BATCH") {
        pace.batch = match v.trim().parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return Err(bad(
                    "AUDIT_FORWARD_BATCH",
                    &v,
                    "expected a number from 1 to 10000",
                ))
            }
        };
    }
    if let Some(v) = get("AUDIT_FORWARD_BACKOFF_MAX") {
        pace.max_backoff = parse_duration(&v)
            .map_err(|e| bad("AUDIT_FORWARD_BACKOFF_MAX", &v, e))?
            .max(pace.min_backoff);
    }
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(url) = get("AUDIT_FORWARD_POSTGRES") {
        sinks.push(postgres_sink(&url, &name)?);
    }
    if let Some(url) = get("AUDIT_FORWARD_SYSLOG") {
        let facility = match get("AUDIT_FORWARD_SYSLOG_FACILITY") {
            Some(f) => super::syslog::parse_facility(&f).ok_or_else(|| {
                bad(
                    "AUDIT_FORWARD_SYSLOG_FACILITY",
                    &f,
                    "expected a facility name (kern, user, daemon, auth, local0 to local7, ...) or 0 to 23",
                )
            })?,
            None => 16,
        };
        let sink = super::syslog::SyslogSink::new(url.trim(), facility, &name)
            .map_err(|e| bad("AUDIT_FORWARD_SYSLOG", &url, e))?;
        sinks.push(Box::new(sink));
    }
    if let Some(url) = get("AUDIT_FORWARD_HTTP") {
        sinks.push(http_sink(&url, &get, &name)?);
    }
    Ok(Setup {
        sinks,
        pace,
        vault_name: name,
    })
}

#[cfg(feature = "postgres")]
fn postgres_sink(url: &str, vault: &str) -> Result<Box<dyn Sink>, String> {
    // The value may hold a password: the error does not repeat it.
    super::postgres::PostgresSink::new(url.trim(), vault)
        .map(|s| Box::new(s) as Box<dyn Sink>)
        .map_err(|e| format!("AUDIT_FORWARD_POSTGRES: {e}"))
}

#[cfg(not(feature = "postgres"))]
fn postgres_sink(_url: &str, _vault: &str) -> Result<Box<dyn Sink>, String> {
    Err("AUDIT_FORWARD_POSTGRES is set, but this build has no PostgreSQL sink (build with the `postgres` feature)".into())
}

#[cfg(feature = "http")]
fn http_sink(
    url: &str,
    get: &dyn Fn(&str) -> Option<String>,
    vault: &str,
) -> Result<Box<dyn Sink>, String> {
    use super::http::{parse_headers, Format, HttpSink};
    let format: Format = match get("AUDIT_FORWARD_HTTP_FORMAT") {
        Some(f) => f
            .parse()
            .map_err(|e| bad("AUDIT_FORWARD_HTTP_FORMAT", &f, e))?,
        None => Format::JsonLine,
    };
    // Header values are credentials: errors name the variable, not the value.
    let headers = match get("AUDIT_FORWARD_HTTP_HEADERS") {
        Some(h) => parse_headers(&h).map_err(|e| format!("AUDIT_FORWARD_HTTP_HEADERS: {e}"))?,
        None => Vec::new(),
    };
    let sink = HttpSink::new(url.trim(), format, headers, vault)
        .map_err(|e| bad("AUDIT_FORWARD_HTTP", url, e))?;
    Ok(Box::new(sink))
}

#[cfg(not(feature = "http"))]
fn http_sink(
    _url: &str,
    _get: &dyn Fn(&str) -> Option<String>,
    _vault: &str,
) -> Result<Box<dyn Sink>, String> {
    Err("AUDIT_FORWARD_HTTP is set, but this build has no HTTP sink (build with the `http` feature)".into())
}
