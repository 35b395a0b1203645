//! Which sinks run: the forwarding settings, read through a lookup the
//! caller passes in (the command line passes its environment; the library
//! never reads the environment itself).
//!
//! | variable | meaning |
//! |---|---|
//! | `AUDIT_FORWARD_POSTGRES` | `postgres://user:pass@host:5432/db` |
//! | `AUDIT_FORWARD_SYSLOG` | `udp://host:514` or `tcp://host:514` |
//! | `AUDIT_FORWARD_SYSLOG_FACILITY` | name or number, default `local0` |
//! | `AUDIT_FORWARD_HTTP` | the store's URL |
//! | `AUDIT_FORWARD_HTTP_FORMAT` | `jsonline` (VictoriaLogs, default) or `loki` |
//! | `AUDIT_FORWARD_HTTP_HEADERS` | a JSON object, or lines of `Name: value` |
//! | `AUDIT_FORWARD_CLOUDWATCH` | `region/log-group[/log-stream]`, with the AWS variables ([`aws`]) |
//! | `AUDIT_FORWARD_BATCH` | entries per batch, 1 to 10,000, default 500 |
//! | `AUDIT_FORWARD_BACKOFF_MAX` | the longest wait between retries, default `5m` |
//! | `AUDIT_VAULT_NAME` | the vault's name in the stores, default its folder's name |

use std::fmt;

pub use super::ConfigError;
use super::{Pace, Sink};
use crate::time::parse_duration;
use crate::vault::Vault;
use aws::{CloudWatchSettings, CLOUDWATCH_VAR};

pub mod aws;

/// The PostgreSQL sink's variable.
pub const POSTGRES_VAR: &str = "AUDIT_FORWARD_POSTGRES";

fn invalid(name: &'static str, value: &str, why: impl fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        why: why.to_string(),
    }
}

/// The syslog sink's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogSettings {
    /// `udp://host:port` or `tcp://host:port`.
    pub url: String,
    /// The facility, 0 to 23 (default 16, `local0`).
    pub facility: u8,
}

/// The HTTP sink's settings.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// The store's URL.
    pub url: String,
    /// `jsonline` or `loki`, as given (checked when the sink is made).
    pub format: Option<String>,
    /// The headers, as given (they hold credentials).
    pub headers: Option<String>,
}

impl fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSettings")
            .field("url", &self.url)
            .field("format", &self.format)
            .field("headers", &self.headers.as_ref().map(|_| "(set)"))
            .finish()
    }
}

/// The forwarding settings, checked: which sinks, their pace, the names
/// the stores get. Sinks are made from them by [`Settings::setup`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// The PostgreSQL connection string (it may hold a password).
    pub postgres: Option<String>,
    /// The syslog sink.
    pub syslog: Option<SyslogSettings>,
    /// The HTTP sink.
    pub http: Option<HttpSettings>,
    /// The CloudWatch Logs sink (its credentials are never shown).
    pub cloudwatch: Option<CloudWatchSettings>,
    /// Batches and backoff.
    pub pace: Pace,
    /// The vault's name in the stores (default its folder's name).
    pub vault_name: Option<String>,
    /// The host name syslog messages carry (default the system's).
    pub hostname: Option<String>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("postgres", &self.postgres.as_ref().map(|_| "(set)"))
            .field("syslog", &self.syslog)
            .field("http", &self.http)
            .field("cloudwatch", &self.cloudwatch)
            .field("pace", &self.pace)
            .field("vault_name", &self.vault_name)
            .field("hostname", &self.hostname)
            .finish()
    }
}

/// The sinks the settings ask for, and their pace.
pub struct Setup {
    /// The sinks, in the order PostgreSQL, syslog, HTTP, CloudWatch Logs.
    pub sinks: Vec<Box<dyn Sink>>,
    /// Batches and backoff.
    pub pace: Pace,
    /// The vault's name in the stores.
    pub vault_name: String,
}

impl Settings {
    /// Reads the `AUDIT_FORWARD_*` variables and `AUDIT_VAULT_NAME` through
    /// `var`; empty values count as unset. An error names the variable, its
    /// value and what is accepted.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut pace = Pace::default();
        if let Some(v) = get("AUDIT_FORWARD_BATCH") {
            pace.batch = match v.trim().parse::<usize>() {
                Ok(n) if (1..=10_000).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        "AUDIT_FORWARD_BATCH",
                        &v,
                        "expected a number from 1 to 10000",
                    ))
                }
            };
        }
        if let Some(v) = get("AUDIT_FORWARD_BACKOFF_MAX") {
            pace.max_backoff = parse_duration(&v)
                .map_err(|e| invalid("AUDIT_FORWARD_BACKOFF_MAX", &v, e))?
                .max(pace.min_backoff);
        }
        let syslog = match get("AUDIT_FORWARD_SYSLOG") {
            Some(url) => Some(SyslogSettings {
                url: url.trim().to_owned(),
                facility: facility(get("AUDIT_FORWARD_SYSLOG_FACILITY"))?,
            }),
            None => None,
        };
        let http = get("AUDIT_FORWARD_HTTP").map(|url| HttpSettings {
            url: url.trim().to_owned(),
            format: get("AUDIT_FORWARD_HTTP_FORMAT"),
            headers: get("AUDIT_FORWARD_HTTP_HEADERS"),
        });
        Ok(Settings {
            postgres: get(POSTGRES_VAR).map(|u| u.trim().to_owned()),
            syslog,
            http,
            cloudwatch: aws::from_vars(&get)?,
            pace,
            vault_name: get("AUDIT_VAULT_NAME"),
            hostname: None,
        })
    }

    /// Whether any sink is configured.
    pub fn any_sink(&self) -> bool {
        self.postgres.is_some()
            || self.syslog.is_some()
            || self.http.is_some()
            || self.cloudwatch.is_some()
    }

    /// The vault's name in the stores: the configured one, or the name of
    /// the vault's folder.
    pub fn vault_name(&self, vault: &Vault) -> String {
        self.vault_name.clone().unwrap_or_else(|| {
            vault
                .root()
                .canonicalize()
                .unwrap_or_else(|_| vault.root().to_path_buf())
                .file_name()
                .map_or_else(|| "vault".to_owned(), |n| n.to_string_lossy().into_owned())
        })
    }

    /// Makes the sinks for `vault` (nothing is connected yet). An error
    /// names the variable whose value a sink does not accept.
    pub fn setup(&self, vault: &Vault) -> Result<Setup, ConfigError> {
        let name = self.vault_name(vault);
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        if let Some(url) = &self.postgres {
            sinks.push(postgres_sink(url, &name)?);
        }
        if let Some(s) = &self.syslog {
            let mut sink =
                super::syslog::SyslogSink::new(&s.url, s.facility, &name).map_err(|source| {
                    ConfigError::Sink {
                        name: "AUDIT_FORWARD_SYSLOG",
                        source,
                    }
                })?;
            if let Some(host) = &self.hostname {
                sink = sink.host(host);
            }
            sinks.push(Box::new(sink));
        }
        if let Some(h) = &self.http {
            sinks.push(http_sink(h, &name)?);
        }
        if let Some(c) = &self.cloudwatch {
            sinks.push(cloudwatch_sink(c, &name)?);
        }
        Ok(Setup {
            sinks,
            pace: self.pace,
            vault_name: name,
        })
    }
}

fn facility(text: Option<String>) -> Result<u8, ConfigError> {
    let Some(f) = text else {
        return Ok(16);
    };
    super::syslog::parse_facility(&f).ok_or_else(|| {
        invalid(
            "AUDIT_FORWARD_SYSLOG_FACILITY",
            &f,
            "expected a facility name (kern, user, daemon, auth, local0 to local7, ...) or 0 to 23",
        )
    })
}

#[cfg(feature = "postgres")]
fn postgres_sink(url: &str, vault: &str) -> Result<Box<dyn Sink>, ConfigError> {
    // The value may hold a password: the error does not repeat it.
    super::postgres::PostgresSink::new(url, vault)
        .map(|s| Box::new(s) as Box<dyn Sink>)
        .map_err(|source| ConfigError::Sink {
            name: POSTGRES_VAR,
            source,
        })
}

#[cfg(not(feature = "postgres"))]
fn postgres_sink(_url: &str, _vault: &str) -> Result<Box<dyn Sink>, ConfigError> {
    Err(ConfigError::Unsupported {
        name: POSTGRES_VAR,
        sink: "PostgreSQL",
        feature: "postgres",
    })
}

#[cfg(feature = "http")]
fn http_sink(settings: &HttpSettings, vault: &str) -> Result<Box<dyn Sink>, ConfigError> {
    use super::http::{parse_headers, Format, HttpSink};
    let format: Format = match &settings.format {
        Some(f) => f.parse().map_err(|source| ConfigError::Sink {
            name: "AUDIT_FORWARD_HTTP_FORMAT",
            source,
        })?,
        None => Format::JsonLine,
    };
    // Header values are credentials: errors name the variable and the line,
    // never the value.
    let headers = match &settings.headers {
        Some(h) => parse_headers(h).map_err(|source| ConfigError::Sink {
            name: "AUDIT_FORWARD_HTTP_HEADERS",
            source,
        })?,
        None => Vec::new(),
    };
    let sink = HttpSink::new(&settings.url, format, headers, vault).map_err(|source| {
        ConfigError::Sink {
            name: "AUDIT_FORWARD_HTTP",
            source,
        }
    })?;
    Ok(Box::new(sink))
}

#[cfg(not(feature = "http"))]
fn http_sink(_settings: &HttpSettings, _vault: &str) -> Result<Box<dyn Sink>, ConfigError> {
    Err(ConfigError::Unsupported {
        name: "AUDIT_FORWARD_HTTP",
        sink: "HTTP",
        feature: "http",
    })
}

#[cfg(feature = "cloudwatch")]
fn cloudwatch_sink(
    settings: &CloudWatchSettings,
    vault: &str,
) -> Result<Box<dyn Sink>, ConfigError> {
    super::cloudwatch::CloudWatchSink::new(settings, vault)
        .map(|s| Box::new(s) as Box<dyn Sink>)
        .map_err(|source| ConfigError::Sink {
            name: CLOUDWATCH_VAR,
            source,
        })
}

#[cfg(not(feature = "cloudwatch"))]
fn cloudwatch_sink(
    _settings: &CloudWatchSettings,
    _vault: &str,
) -> Result<Box<dyn Sink>, ConfigError> {
    Err(ConfigError::Unsupported {
        name: CLOUDWATCH_VAR,
        sink: "CloudWatch Logs",
        feature: "cloudwatch",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_vars(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn nothing_set_is_no_sink_and_the_default_pace() {
        let s = settings(&[("AUDIT_FORWARD_HTTP", "  ")]).expect("ok");
        assert!(!s.any_sink());
        assert_eq!(s.pace, Pace::default());
    }

    #[test]
    fn bad_values_name_the_variable_and_what_is_accepted() {
        let e = settings(&[("AUDIT_FORWARD_BATCH", "0")]).expect_err("bad");
        assert_eq!(
            e.to_string(),
            "AUDIT_FORWARD_BATCH=\"0\": expected a number from 1 to 10000"
        );
        let e = settings(&[
            ("AUDIT_FORWARD_SYSLOG", "udp://x"),
            ("AUDIT_FORWARD_SYSLOG_FACILITY", "local9"),
        ])
        .expect_err("bad");
        assert!(e
            .to_string()
            .contains("AUDIT_FORWARD_SYSLOG_FACILITY=\"local9\""));
    }

    #[test]
    fn a_sink_refusal_names_the_variable_and_what_is_accepted() {
        let vault = Vault::new(std::env::temp_dir());
        let s = settings(&[("AUDIT_FORWARD_SYSLOG", "ftp://x")]).expect("parsed");
        let e = s.setup(&vault).err().expect("rejected");
        assert_eq!(
            e.to_string(),
            "AUDIT_FORWARD_SYSLOG: \"ftp://x\" is not accepted; expected udp://host:port or tcp://host:port"
        );
    }

    #[cfg(feature = "http")]
    #[test]
    fn a_bad_header_line_is_named_by_number_not_repeated() {
        let vault = Vault::new(std::env::temp_dir());
        let s = settings(&[
            ("AUDIT_FORWARD_HTTP", "http://h:9428"),
            ("AUDIT_FORWARD_HTTP_HEADERS", "Authorization Bearer t0ken"),
        ])
        .expect("parsed");
        let e = s.setup(&vault).err().expect("rejected");
        assert_eq!(
            e.to_string(),
            "AUDIT_FORWARD_HTTP_HEADERS: header line 1 has no colon; expected `Name: value`"
        );
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn a_bad_connection_string_is_not_repeated() {
        let s = settings(&[(POSTGRES_VAR, "postgres://u:hunter2@[bad")]).expect("parsed");
        let vault = Vault::new(std::env::temp_dir());
        let e = s.setup(&vault).err().expect("rejected");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
