//! The seed-000 response object printed as the last line of stdout:
//! `{ok, status, errors, path, details}`.

use serde_json::{json, Map, Value};

/// The response of one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// `success`, `partial`, `failed` or `fallback`.
    pub status: &'static str,
    /// Messages, one per problem.
    pub errors: Vec<String>,
    /// The day file written (vault-relative), if any.
    pub path: Option<String>,
    /// Command-specific details.
    pub details: Map<String, Value>,
}

impl Response {
    /// A response with the given status and no details yet.
    pub fn new(status: &'static str) -> Self {
        Response {
            status,
            errors: Vec::new(),
            path: None,
            details: Map::new(),
        }
    }

    /// A failure with one message.
    pub fn failed(message: impl Into<String>) -> Self {
        let mut r = Response::new("failed");
        r.errors.push(message.into());
        r
    }

    /// As one line of JSON.
    pub fn to_line(&self) -> String {
        json!({
            "ok": self.status == "success",
            "status": self.status,
            "errors": self.errors,
            "path": self.path,
            "details": self.details,
        })
        .to_string()
    }
}
