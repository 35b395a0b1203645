//! The AWS CloudWatch Logs sink: `PutLogEvents` over the JSON 1.1 protocol
//! (`X-Amz-Target: Logs_20140328.PutLogEvents`), signed with SigV4
//! (`aws-sigv4`) and sent with the HTTP sinks' `ureq`.
//!
//! One event per entry: the entry's time, and as message the entry's JSON
//! object with `vault`, `day_file` and `position` added (what Logs Insights
//! queries). The requests keep to the API's limits ([`batch`]); entries the
//! API refuses for good (older than 14 days, more than 2 hours ahead) are
//! left out and named ([`Sink::take_skipped`]). A missing group or stream
//! is created, then the request made again.

pub mod batch;

use std::io::Read;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::{json, Value};

use super::config::aws::{check_stream, default_endpoint, CloudWatchSettings};
use super::{Record, Sink, SinkConfigError, SinkError, Skipped};
use crate::chain::head::Head;
use batch::{Event, Refusal};

/// How long a request may take in all.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The API version every target names.
const TARGET_PREFIX: &str = "Logs_20140328.";
/// The `stream` field of a chain head's message, apart from the entries
/// (the HTTP sinks' label too).
pub const HEAD_STREAM: &str = "chain_head";
/// The content type of the JSON 1.1 protocol.
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Why a call did not succeed: no answer, or the API's error.
#[derive(Debug)]
enum Failure {
    /// No answer (connection refused, timed out, reset).
    Transport(String),
    /// The request could not be signed (an endpoint the signer cannot read).
    Signing(String),
    /// An error answer: its HTTP status, its type (`ThrottlingException`)
    /// and message.
    Api {
        status: u16,
        kind: String,
        message: String,
    },
}

/// Sends entries to a CloudWatch Logs stream.
pub struct CloudWatchSink {
    url: String,
    region: String,
    group: String,
    stream: String,
    vault: String,
    credentials: aws_credential_types::Credentials,
    agent: ureq::Agent,
    skipped: Vec<Skipped>,
}

impl CloudWatchSink {
    /// A sink for `settings`; the stream is the vault's name unless the
    /// settings name one. Nothing is connected yet.
    pub fn new(settings: &CloudWatchSettings, vault: &str) -> Result<Self, SinkConfigError> {
        let t = &settings.target;
        let stream = t.stream.clone().unwrap_or_else(|| vault.to_owned());
        check_stream(&stream).map_err(|why| SinkConfigError::CloudWatch {
            why: format!(
                "{why}; name the stream (region/log-group/log-stream) or set AUDIT_VAULT_NAME"
            ),
        })?;
        let endpoint = settings
            .endpoint
            .clone()
            .unwrap_or_else(|| default_endpoint(&t.region));
        let c = &settings.credentials;
        Ok(CloudWatchSink {
            url: format!("{endpoint}/"),
            region: t.region.clone(),
            group: t.group.clone(),
            stream,
            vault: vault.to_owned(),
            credentials: aws_credential_types::Credentials::new(
                &c.access_key_id,
                &c.secret_access_key,
                c.session_token.clone(),
                None,
                "vault-audit",
            ),
            agent: super::http_agent(TIMEOUT),
            skipped: Vec::new(),
        })
    }

    /// The log group and stream it writes to.
    pub fn destination(&self) -> (&str, &str) {
        (&self.group, &self.stream)
    }

    /// Makes one signed call of `action` with `body`; its answer's JSON.
    fn call(&self, action: &str, body: &Value) -> Result<Value, Failure> {
        let text = body.to_string();
        let target = format!("{TARGET_PREFIX}{action}");
        let headers = [("content-type", CONTENT_TYPE), ("x-amz-target", &target)];
        let signed = self.signature(&text, &headers).map_err(Failure::Signing)?;
        let mut req = self.agent.post(&self.url);
        for (k, v) in headers
            .iter()
            .copied()
            .chain(signed.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        {
            req = req.header(k, v);
        }
        let resp = req
            .send(text.as_bytes())
            .map_err(|e| Failure::Transport(format!("{}: {e}", self.url)))?;
        let status = resp.status().as_u16();
        let kind_header = resp
            .headers()
            .get("x-amzn-ErrorType")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut raw = Vec::new();
        // An answer is small; at most 1 MiB is read.
        let read = resp
            .into_body()
            .into_reader()
            .take(1 << 20)
            .read_to_end(&mut raw);
        if let Err(e) = read {
            return Err(Failure::Transport(format!(
                "{}: reading the answer: {e}",
                self.url
            )));
        }
        let answer: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        Err(api_failure(status, kind_header.as_deref(), &answer, &raw))
    }

    /// The SigV4 headers for a POST of `body` with `headers`.
    fn signature(
        &self,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, String> {
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("logs")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("signing: {e}"))?
            .into();
        let request = SignableRequest::new(
            "POST",
            &self.url,
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| format!("signing: {e}"))?;
        let (instructions, _) = sign(request, &params)
            .map_err(|e| format!("signing: {e}"))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }

    /// Puts one request's events; creates the stream (and the group) when
    /// the API says one is missing, then puts again.
    fn put(&self, events: &[Event]) -> Result<Value, SinkError> {
        let log_events: Vec<Value> = events
            .iter()
            .map(|e| json!({"timestamp": e.timestamp, "message": e.message}))
            .collect();
        let body = json!({"logGroupName": self.group, "logStreamName": self.stream, "logEvents": log_events});
        match self.call("PutLogEvents", &body) {
            Err(Failure::Api { kind, .. }) if kind == "ResourceNotFoundException" => {
                self.create()?;
                self.call("PutLogEvents", &body).map_err(classify)
            }
            other => other.map_err(classify),
        }
    }

    /// Creates the stream, and first the group if that is what is missing.
    /// Either existing already is fine; creation refused is a clear error.
    fn create(&self) -> Result<(), SinkError> {
        let stream = json!({"logGroupName": self.group, "logStreamName": self.stream});
        match self.call("CreateLogStream", &stream) {
            Ok(_) => return Ok(()),
            Err(Failure::Api { kind, .. }) if kind == "ResourceAlreadyExistsException" => {
                return Ok(())
            }
            Err(Failure::Api { kind, .. }) if kind == "ResourceNotFoundException" => {}
            Err(f) => return Err(self.refused_creation("stream", "logs:CreateLogStream", f)),
        }
        match self.call("CreateLogGroup", &json!({"logGroupName": self.group})) {
            Ok(_) => {}
            Err(Failure::Api { kind, .. }) if kind == "ResourceAlreadyExistsException" => {}
            Err(f) => return Err(self.refused_creation("group", "logs:CreateLogGroup", f)),
        }
        match self.call("CreateLogStream", &stream) {
            Ok(_) => Ok(()),
            Err(Failure::Api { kind, .. }) if kind == "ResourceAlreadyExistsException" => Ok(()),
            Err(f) => Err(self.refused_creation("stream", "logs:CreateLogStream", f)),
        }
    }

    /// The error when the group or stream is missing and could not be made.
    fn refused_creation(&self, what: &str, permission: &str, f: Failure) -> SinkError {
        match classify(f) {
            SinkError::Rejected(m) => SinkError::Rejected(format!(
                "log {what} of {}/{} does not exist in {} and could not be created ({m}); create it, or allow {permission} (docs/forwarding.md, CloudWatch Logs)",
                self.group, self.stream, self.region
            )),
            other => other,
        }
    }
}

/// Maps a failure to what the forwarder does: retry with backoff, slow
/// down, or wait for a remedy.
fn classify(f: Failure) -> SinkError {
    match f {
        Failure::Transport(m) => SinkError::Unavailable(m),
        Failure::Signing(m) => SinkError::Rejected(m),
        Failure::Api {
            status,
            kind,
            message,
        } => {
            let text = format!("CloudWatch Logs answered {status} {kind}: {message}");
            match kind.as_str() {
                "ThrottlingException" | "TooManyRequestsException" => SinkError::RateLimited {
                    message: text,
                    retry_after: None,
                },
                "ServiceUnavailableException" | "InternalFailure" => SinkError::Unavailable(text),
                _ if status >= 500 => SinkError::Unavailable(text),
                _ => SinkError::Rejected(text),
            }
        }
    }
}

/// An error answer read: the type from the body's `__type` (after any `#`)
/// or the `x-amzn-ErrorType` header (before any `:`), and the message.
fn api_failure(status: u16, header: Option<&str>, answer: &Value, raw: &[u8]) -> Failure {
    let from_body = answer.get("__type").and_then(Value::as_str);
    let kind = from_body
        .or(header)
        .map(|k| k.rsplit('#').next().unwrap_or(k))
        .map(|k| k.split(':').next().unwrap_or(k))
        .filter(|k| !k.is_empty())
        .unwrap_or("UnknownError")
        .to_owned();
    let message = answer
        .get("message")
        .or_else(|| answer.get("Message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned());
    let message: String = message.trim().chars().take(300).collect();
    Failure::Api {
        status,
        kind,
        message,
    }
}

/// An entry's time in milliseconds: its `timestamp`, else its day's midnight.
fn timestamp_ms(r: &Record) -> i64 {
    chrono::DateTime::parse_from_rfc3339(r.field("timestamp"))
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|_| {
            r.date
                .and_hms_opt(0, 0, 0)
                .map_or(0, |t| t.and_utc().timestamp_millis())
        })
}

/// The events the answer says were refused (`rejectedLogEventsInfo`):
/// (index in the request, why). `tooOldLogEventEndIndex` and
/// `expiredLogEventEndIndex` end before the index they give.
fn rejected(answer: &Value, len: usize) -> Vec<(usize, Refusal)> {
    let Some(info) = answer.get("rejectedLogEventsInfo") else {
        return Vec::new();
    };
    let index = |k: &str| {
        info.get(k)
            .and_then(Value::as_u64)
            .map(|i| (i as usize).min(len))
    };
    let mut out = Vec::new();
    if let Some(end) = index("tooOldLogEventEndIndex") {
        out.extend((0..end).map(|i| (i, Refusal::TooOld)));
    }
    if let Some(end) = index("expiredLogEventEndIndex") {
        out.extend((0..end).map(|i| (i, Refusal::Expired)));
    }
    if let Some(start) = index("tooNewLogEventStartIndex") {
        out.extend((start..len).map(|i| (i, Refusal::TooNew)));
    }
    out.sort_by_key(|(i, _)| *i);
    out.dedup_by_key(|(i, _)| *i);
    out
}

fn skipped(r: &Record, why: Refusal) -> Skipped {
    Skipped {
        date: r.date,
        position: r.position,
        reason: why.as_str().to_owned(),
    }
}

impl Sink for CloudWatchSink {
    fn name(&self) -> &str {
        "cloudwatch"
    }

    fn send(&mut self, batch: &[Record]) -> Result<(), SinkError> {
        self.skipped.clear();
        let events = batch
            .iter()
            .enumerate()
            .map(|(i, r)| Event {
                timestamp: timestamp_ms(r),
                message: batch::message(r.tagged(&self.vault)),
                record: i,
            })
            .collect();
        let plan = batch::plan(events, chrono::Utc::now().timestamp_millis());
        let mut left_out: Vec<Skipped> = plan
            .refused
            .iter()
            .filter_map(|(i, why)| batch.get(*i).map(|r| skipped(r, *why)))
            .collect();
        for request in &plan.requests {
            let answer = self.put(request)?;
            for (i, why) in rejected(&answer, request.len()) {
                if let Some(r) = request.get(i).and_then(|e| batch.get(e.record)) {
                    left_out.push(skipped(r, why));
                }
            }
        }
        left_out.sort_by_key(|s| (s.date, s.position));
        self.skipped = left_out;
        Ok(())
    }

    fn send_head(&mut self, head: &Head) -> Result<(), SinkError> {
        let day = head.state.day.format("%Y-%m-%d").to_string();
        let message = json!({"stream": HEAD_STREAM, "vault": self.vault, "seq": head.seq,
                             "day_file": day, "entries": head.state.entries, "head": head.line});
        let event = Event {
            timestamp: chrono::Utc::now().timestamp_millis(),
            message: message.to_string(),
            record: 0,
        };
        self.put(&[event]).map(|_| ())
    }

    fn take_skipped(&mut self) -> Vec<Skipped> {
        std::mem::take(&mut self.skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::config::aws::{check_endpoint, parse_target, Credentials};
    use proptest::prelude::*;

    proptest! {
        /// Whatever the settings say, making the sink and signing a
        /// request either works or is an error: no panic in our checks or
        /// in the signer's.
        #[test]
        fn no_setting_panics_the_sink_or_the_signer(
            target in "[ -~]{0,24}",
            endpoint in prop_oneof!["[ -~]{0,24}", "https?://[ -~]{0,16}"],
            key in "[ -~]{0,12}",
        ) {
            let (Ok(target), Ok(endpoint)) = (parse_target(&target), check_endpoint(&endpoint)) else {
                return Ok(());
            };
            let settings = CloudWatchSettings {
                target,
                credentials: Credentials {
                    access_key_id: key.clone(),
                    secret_access_key: key.clone(),
                    session_token: Some(key),
                },
                endpoint: Some(endpoint),
            };
            if let Ok(sink) = CloudWatchSink::new(&settings, "vault") {
                let _ = sink.signature("{}", &[("content-type", CONTENT_TYPE)]);
            }
        }
    }

    #[test]
    fn error_answers_are_read_from_the_body_or_the_header() {
        let body = json!({"__type": "com.amazonaws.logs#ResourceNotFoundException", "message": "The specified log group does not exist."});
        let Failure::Api { kind, message, .. } = api_failure(400, None, &body, b"") else {
            panic!("api");
        };
        assert_eq!(kind, "ResourceNotFoundException");
        assert_eq!(message, "The specified log group does not exist.");
        let Failure::Api { kind, message, .. } = api_failure(
            400,
            Some("ThrottlingException:http://internal"),
            &Value::Null,
            b"Rate exceeded",
        ) else {
            panic!("api");
        };
        assert_eq!(
            (kind.as_str(), message.as_str()),
            ("ThrottlingException", "Rate exceeded")
        );
    }

    fn api(status: u16, kind: &str) -> Failure {
        Failure::Api {
            status,
            kind: kind.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn throttling_waits_outages_retry_and_the_rest_are_refusals() {
        assert!(matches!(
            classify(api(400, "ThrottlingException")),
            SinkError::RateLimited {
                retry_after: None,
                ..
            }
        ));
        for f in [
            api(503, "ServiceUnavailableException"),
            api(500, "InternalFailure"),
            api(502, "UnknownError"),
            Failure::Transport("refused".into()),
        ] {
            assert!(matches!(classify(f), SinkError::Unavailable(_)));
        }
        for kind in [
            "AccessDeniedException",
            "UnrecognizedClientException",
            "InvalidParameterException",
        ] {
            assert!(matches!(classify(api(400, kind)), SinkError::Rejected(_)));
        }
        let settings = CloudWatchSettings {
            target: parse_target("eu-west-1/audit/ops").expect("target"),
            credentials: Credentials {
                access_key_id: "AKID".into(),
                secret_access_key: "s3cret".into(),
                session_token: None,
            },
            endpoint: None,
        };
        let sink = CloudWatchSink::new(&settings, "vault").expect("sink");
        assert_eq!(sink.url, "https://logs.eu-west-1.amazonaws.com/");
        let denied = sink.refused_creation(
            "group",
            "logs:CreateLogGroup",
            api(400, "AccessDeniedException"),
        );
        assert_eq!(
            denied.to_string(),
            "rejected: log group of audit/ops does not exist in eu-west-1 and could not be created \
             (CloudWatch Logs answered 400 AccessDeniedException: m); create it, or allow \
             logs:CreateLogGroup (docs/forwarding.md, CloudWatch Logs)"
        );
        // A throttled creation is retried like any throttling, not refused.
        let slow = sink.refused_creation(
            "stream",
            "logs:CreateLogStream",
            api(400, "ThrottlingException"),
        );
        assert!(matches!(slow, SinkError::RateLimited { .. }));
    }

    #[test]
    fn refusals_in_an_answer_name_their_events() {
        let answer = json!({"nextSequenceToken": "1", "rejectedLogEventsInfo": {"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 4}});
        assert_eq!(
            rejected(&answer, 5),
            vec![
                (0, Refusal::TooOld),
                (1, Refusal::TooOld),
                (4, Refusal::TooNew)
            ]
        );
        let wild = json!({"rejectedLogEventsInfo": {"tooOldLogEventEndIndex": 99, "tooNewLogEventStartIndex": 0}});
        assert_eq!(rejected(&wild, 3).len(), 3);
        assert!(rejected(&json!({}), 3).is_empty());
    }
}
