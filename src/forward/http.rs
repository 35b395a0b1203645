//! HTTP log stores: VictoriaLogs JSON lines and Grafana Loki push.
//!
//! - `jsonline`: `POST /insert/jsonline?_stream_fields=vault,actor&_msg_field=_msg&_time_field=timestamp`,
//!   one JSON object per line: the entry, plus `_msg` (a one-line summary),
//!   `vault`, `day_file` and `position`.
//! - `loki`: `POST /loki/api/v1/push` with
//!   `{"streams":[{"stream":{labels},"values":[["<unix ns>","<entry JSON>"]]}]}`;
//!   the labels are `job="vault-audit"`, `vault` and `level` (few values each,
//!   as Loki wants).
//!
//! A URL with no path gets the store's standard path; a URL with a path is
//! used as it is (with the VictoriaLogs parameters added if it lacks them).

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{Record, Sink, SinkConfigError, SinkError};
use crate::chain::head::Head;

/// How long a request may take in all.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// VictoriaLogs `/insert/jsonline`.
    JsonLine,
    /// Loki `/loki/api/v1/push`.
    Loki,
}

impl std::str::FromStr for Format {
    type Err = SinkConfigError;

    fn from_str(s: &str) -> Result<Self, SinkConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "jsonline" | "victorialogs" => Ok(Format::JsonLine),
            "loki" => Ok(Format::Loki),
            _ => Err(SinkConfigError::Format {
                value: s.to_owned(),
            }),
        }
    }
}

/// Splits a URL after its authority: (`scheme://host:port`, `/path?query`).
fn split_url(url: &str) -> Result<(&str, &str), SinkConfigError> {
    const ACCEPTED: &str = "an http:// or https:// URL";
    let after = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| SinkConfigError::Scheme {
            url: url.to_owned(),
            accepted: ACCEPTED,
        })?;
    let host_end = after.find(['/', '?']).unwrap_or(after.len());
    if host_end == 0 {
        return Err(SinkConfigError::NoHost {
            url: url.to_owned(),
            accepted: ACCEPTED,
        });
    }
    let cut = url.len() - after.len() + host_end;
    Ok((&url[..cut], &url[cut..]))
}

/// The URL a batch is posted to.
pub fn endpoint(url: &str, format: Format) -> Result<String, SinkConfigError> {
    let (base, rest) = split_url(url)?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = match (path.trim_end_matches('/'), format) {
        ("", Format::JsonLine) => "/insert/jsonline",
        ("", Format::Loki) => "/loki/api/v1/push",
        (p, _) => p,
    };
    let mut params: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if format == Format::JsonLine {
        for (k, v) in [
            ("_stream_fields", "vault,actor"),
            ("_msg_field", "_msg"),
            ("_time_field", "timestamp"),
        ] {
            if !params.iter().any(|p| p.split('=').next() == Some(k)) {
                params.push(format!("{k}={v}"));
            }
        }
    }
    Ok(if params.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{}", params.join("&"))
    })
}

/// Headers from `AUDIT_FORWARD_HTTP_HEADERS`: a JSON object, or lines of
/// `Name: value`.
pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, SinkConfigError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if text.starts_with('{') {
        let map: Map<String, Value> =
            serde_json::from_str(text).map_err(|e| SinkConfigError::HeadersJson {
                reason: e.to_string(),
            })?;
        return map
            .into_iter()
            .map(|(name, v)| match v {
                Value::String(s) => Ok((name, s)),
                _ => Err(SinkConfigError::HeaderValue { name }),
            })
            .collect();
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let line = i + 1;
            let (k, v) = l
                .split_once(':')
                .ok_or(SinkConfigError::HeaderLine { line })?;
            let k = k.trim();
            if k.is_empty()
                || !k
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            {
                return Err(SinkConfigError::HeaderName { line });
            }
            Ok((k.to_owned(), v.trim().to_owned()))
        })
        .collect()
}

/// A one-line summary for VictoriaLogs' message field.
fn summary(r: &Record) -> String {
    let mut s = format!(
        "{} {} {} {}",
        r.field("action_type"),
        r.field("actor"),
        r.field("target"),
        r.field("result")
    );
    let err = r.field("error_message");
    if !err.is_empty() {
        s.push_str(": ");
        s.push_str(err);
    }
    s.replace(['\n', '\r'], " ")
}

/// The request body for a batch.
pub fn body(batch: &[Record], format: Format, vault: &str) -> String {
    match format {
        Format::JsonLine => {
            let mut out = String::new();
            for r in batch {
                let mut obj = r.tagged(vault);
                obj.insert("_msg".into(), summary(r).into());
                out.push_str(&Value::Object(obj).to_string());
                out.push('\n');
            }
            out
        }
        Format::Loki => {
            let mut streams: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for r in batch {
                let ns = chrono::DateTime::parse_from_rfc3339(r.field("timestamp"))
                    .ok()
                    .and_then(|t| t.timestamp_nanos_opt())
                    .unwrap_or_else(|| {
                        r.date
                            .and_hms_opt(0, 0, 0)
                            .and_then(|t| t.and_utc().timestamp_nanos_opt())
                            .unwrap_or(0)
                    });
                streams
                    .entry(r.level().as_str().to_owned())
                    .or_default()
                    .push(json!([ns.to_string(), r.line]));
            }
            let streams: Vec<Value> = streams
                .into_iter()
                .map(|(level, values)| {
                    json!({
                        "stream": {"job": "vault-audit", "vault": vault, "level": level},
                        "values": values,
                    })
                })
                .collect();
            json!({ "streams": streams }).to_string()
        }
    }
}

/// The stream label chain heads carry (`stream` in JSON lines, a Loki
/// stream label), apart from the entries.
pub const HEAD_STREAM: &str = "chain_head";

/// The request body for a chain head: one line, or one Loki stream, with
/// the label `stream="chain_head"`.
pub fn head_body(head: &Head, format: Format, vault: &str) -> String {
    let day = head.state.day.format("%Y-%m-%d").to_string();
    match format {
        Format::JsonLine => {
            let now = chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string();
            let v = json!({
                "_msg": format!("chain head seq {} {day} {} entries", head.seq, head.state.entries),
                "timestamp": now, "actor": "vault-audit", "stream": HEAD_STREAM, "vault": vault,
                "day_file": day, "seq": head.seq, "entries": head.state.entries, "head": head.line,
            });
            format!("{v}\n")
        }
        Format::Loki => {
            let ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
            let line = json!({"seq": head.seq, "day_file": day, "entries": head.state.entries, "head": head.line});
            json!({"streams": [{
                "stream": {"job": "vault-audit", "vault": vault, "stream": HEAD_STREAM},
                "values": [[ns.to_string(), line.to_string()]],
            }]})
            .to_string()
        }
    }
}

/// Sends entries to an HTTP log store.
pub struct HttpSink {
    endpoint: String,
    format: Format,
    headers: Vec<(String, String)>,
    vault: String,
    agent: ureq::Agent,
}

impl HttpSink {
    /// A sink posting to `url` in `format`, with extra `headers`.
    pub fn new(
        url: &str,
        format: Format,
        headers: Vec<(String, String)>,
        vault: &str,
    ) -> Result<HttpSink, SinkConfigError> {
        Ok(HttpSink {
            endpoint: endpoint(url, format)?,
            format,
            headers,
            vault: vault.to_owned(),
            agent: super::http_agent(TIMEOUT),
        })
    }

    /// Where it posts.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by log stores).
fn retry_after(resp: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    resp.headers()
        .get("Retry-After")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

impl Sink for HttpSink {
    fn name(&self) -> &str {
        "http"
    }

    fn send(&mut self, batch: &[Record]) -> Result<(), SinkError> {
        self.post(&body(batch, self.format, &self.vault))
    }

    fn send_head(&mut self, head: &Head) -> Result<(), SinkError> {
        self.post(&head_body(head, self.format, &self.vault))
    }
}

impl HttpSink {
    fn post(&mut self, text: &str) -> Result<(), SinkError> {
        let content_type = match self.format {
            Format::JsonLine => "application/stream+json",
            Format::Loki => "application/json",
        };
        let mut req = self
            .agent
            .post(&self.endpoint)
            .header("Content-Type", content_type);
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let resp = match req.send(text) {
            Ok(resp) => resp,
            Err(e) => return Err(SinkError::Unavailable(format!("{}: {e}", self.endpoint))),
        };
        let code = resp.status().as_u16();
        if resp.status().is_success() {
            return Ok(());
        }
        let after = retry_after(&resp);
        let mut raw = Vec::new();
        // At most 4 KiB of the answer is read: only its start is shown.
        let _ = resp
            .into_body()
            .into_reader()
            .take(4096)
            .read_to_end(&mut raw);
        let text: String = String::from_utf8_lossy(&raw).chars().take(300).collect();
        let message = format!("{} answered {code}: {}", self.endpoint, text.trim());
        Err(match code {
            429 => SinkError::RateLimited {
                message,
                retry_after: after,
            },
            500.. => SinkError::Unavailable(message),
            _ => SinkError::Rejected(message),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_get_the_standard_path_and_parameters() {
        assert_eq!(
            endpoint("http://h:9428", Format::JsonLine).expect("url"),
            "http://h:9428/insert/jsonline?_stream_fields=vault,actor&_msg_field=_msg&_time_field=timestamp"
        );
        assert_eq!(
            endpoint("https://h/custom?_msg_field=m&x=1", Format::JsonLine).expect("url"),
            "https://h/custom?_msg_field=m&x=1&_stream_fields=vault,actor&_time_field=timestamp"
        );
        assert_eq!(
            endpoint("http://h:3100/", Format::Loki).expect("url"),
            "http://h:3100/loki/api/v1/push"
        );
        assert_eq!(
            endpoint("ftp://h", Format::Loki)
                .expect_err("ftp")
                .to_string(),
            "\"ftp://h\" is not accepted; expected an http:// or https:// URL"
        );
        assert!(matches!(
            endpoint("https://?x", Format::Loki),
            Err(SinkConfigError::NoHost { .. })
        ));
        assert_eq!(
            parse_headers("Authorization: Bearer a:b\nX-Scope-OrgID: t").expect("h"),
            vec![
                ("Authorization".to_owned(), "Bearer a:b".to_owned()),
                ("X-Scope-OrgID".to_owned(), "t".to_owned())
            ]
        );
        assert_eq!(
            parse_headers("A: 1\nBad Name: s3cret"),
            Err(SinkConfigError::HeaderName { line: 2 })
        );
        assert_eq!(
            parse_headers("Bearer s3cret"),
            Err(SinkConfigError::HeaderLine { line: 1 })
        );
        assert_eq!(
            parse_headers(r#"{"A": 1}"#),
            Err(SinkConfigError::HeaderValue { name: "A".into() })
        );
        assert_eq!(
            "xml".parse::<Format>().expect_err("xml").to_string(),
            "format \"xml\" is not one of jsonline (or victorialogs), loki"
        );
    }
}
