//! Which sinks run: the forwarding settings, as values. The configuration
//! (`src/config.rs`) reads them from the variables below and names them
//! in messages; this module never reads the environment.
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

use super::{Pace, Sink, SinkConfigError};
use crate::vault::Vault;
use aws::CloudWatchSettings;

pub mod aws;

/// The names of the sinks' settings, as the configuration spells them, for
/// the messages of [`Settings::setup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkNames {
    /// The PostgreSQL sink's connection string.
    pub postgres: &'static str,
    /// The syslog sink's URL.
    pub syslog: &'static str,
    /// The HTTP sink's URL.
    pub http: &'static str,
    /// The HTTP sink's format.
    pub http_format: &'static str,
    /// The HTTP sink's headers.
    pub http_headers: &'static str,
    /// The CloudWatch Logs sink's target.
    pub cloudwatch: &'static str,
}

/// A forwarding setting that is not accepted. The message names the
/// variable and what is accepted, and repeats the value unless it may hold
/// a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value that is not accepted.
    #[error("{name}={value:?}: {why}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong, and what is accepted.
        why: String,
    },
    /// A value a sink does not accept. The sink's message repeats the
    /// value only where it cannot hold a password or a token.
    #[error("{name}: {source}")]
    Sink {
        /// The variable.
        name: &'static str,
        /// What the sink refused, and what it accepts.
        #[source]
        source: SinkConfigError,
    },
    /// A sink that needs credentials, and found none usable.
    #[error("{name} is set, but {why}")]
    Credentials {
        /// The sink's variable.
        name: &'static str,
        /// What is missing, and where it was looked for.
        why: String,
    },
    /// A sink this build was compiled without.
    #[error(
        "{name} is set, but this build has no {sink} sink (build with the `{feature}` feature)"
    )]
    Unsupported {
        /// The variable.
        name: &'static str,
        /// The sink's name.
        sink: &'static str,
        /// The Cargo feature that brings it.
        feature: &'static str,
    },
}

/// A value of the setting `name` that is not accepted, and why.
pub fn invalid(name: &'static str, value: &str, why: impl fmt::Display) -> ConfigError {
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
    /// names the setting (as `names` spell them) whose value a sink does
    /// not accept.
    pub fn setup(&self, vault: &Vault, names: &SinkNames) -> Result<Setup, ConfigError> {
        let name = self.vault_name(vault);
        let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
        if let Some(url) = &self.postgres {
            sinks.push(postgres_sink(url, &name, names.postgres)?);
        }
        if let Some(s) = &self.syslog {
            let mut sink =
                super::syslog::SyslogSink::new(&s.url, s.facility, &name).map_err(|source| {
                    ConfigError::Sink {
                        name: names.syslog,
                        source,
                    }
                })?;
            if let Some(host) = &self.hostname {
                sink = sink.host(host);
            }
            sinks.push(Box::new(sink));
        }
        if let Some(h) = &self.http {
            sinks.push(http_sink(h, &name, names)?);
        }
        if let Some(c) = &self.cloudwatch {
            sinks.push(cloudwatch_sink(c, &name, names.cloudwatch)?);
        }
        Ok(Setup {
            sinks,
            pace: self.pace,
            vault_name: name,
        })
    }
}

#[cfg(feature = "postgres")]
fn postgres_sink(url: &str, vault: &str, name: &'static str) -> Result<Box<dyn Sink>, ConfigError> {
    // The value may hold a password: the error does not repeat it.
    super::postgres::PostgresSink::new(url, vault)
        .map(|s| Box::new(s) as Box<dyn Sink>)
        .map_err(|source| ConfigError::Sink { name, source })
}

#[cfg(not(feature = "postgres"))]
fn postgres_sink(
    _url: &str,
    _vault: &str,
    name: &'static str,
) -> Result<Box<dyn Sink>, ConfigError> {
    Err(ConfigError::Unsupported {
        name,
        sink: "PostgreSQL",
        feature: "postgres",
    })
}

#[cfg(feature = "http")]
fn http_sink(
    settings: &HttpSettings,
    vault: &str,
    names: &SinkNames,
) -> Result<Box<dyn Sink>, ConfigError> {
    use super::http::{parse_headers, Format, HttpSink};
    let format: Format = match &settings.format {
        Some(f) => f.parse().map_err(|source| ConfigError::Sink {
            name: names.http_format,
            source,
        })?,
        None => Format::JsonLine,
    };
    // Header values are credentials: errors name the variable and the line,
    // never the value.
    let headers = match &settings.headers {
        Some(h) => parse_headers(h).map_err(|source| ConfigError::Sink {
            name: names.http_headers,
            source,
        })?,
        None => Vec::new(),
    };
    let sink = HttpSink::new(&settings.url, format, headers, vault).map_err(|source| {
        ConfigError::Sink {
            name: names.http,
            source,
        }
    })?;
    Ok(Box::new(sink))
}

#[cfg(not(feature = "http"))]
fn http_sink(
    _settings: &HttpSettings,
    _vault: &str,
    names: &SinkNames,
) -> Result<Box<dyn Sink>, ConfigError> {
    Err(ConfigError::Unsupported {
        name: names.http,
        sink: "HTTP",
        feature: "http",
    })
}

#[cfg(feature = "cloudwatch")]
fn cloudwatch_sink(
    settings: &CloudWatchSettings,
    vault: &str,
    name: &'static str,
) -> Result<Box<dyn Sink>, ConfigError> {
    super::cloudwatch::CloudWatchSink::new(settings, vault)
        .map(|s| Box::new(s) as Box<dyn Sink>)
        .map_err(|source| ConfigError::Sink { name, source })
}

#[cfg(not(feature = "cloudwatch"))]
fn cloudwatch_sink(
    _settings: &CloudWatchSettings,
    _vault: &str,
    name: &'static str,
) -> Result<Box<dyn Sink>, ConfigError> {
    Err(ConfigError::Unsupported {
        name,
        sink: "CloudWatch Logs",
        feature: "cloudwatch",
    })
}
