//! Operational messages (what the daemon does, warnings, what dependencies
//! report through `log`) as `tracing` events, written to stderr with a
//! timestamp and a level, each line redacted. Never to stdout, which carries
//! command results, and never into the audit log.
//!
//! What is shown: `RUST_LOG` when set (`RUST_LOG=vault_audit=debug,ureq=info`),
//! else this crate's messages from INFO and other crates' from WARN, one
//! step more per `-v` and one less per `-q`.

use std::io::{self, Write};
use std::sync::Arc;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::redact::Redactor;

/// What the command line and the environment say about messages.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// How many `-v` were given.
    pub verbose: u8,
    /// How many `-q` were given.
    pub quiet: u8,
    /// `RUST_LOG`, if set: a filter in `tracing_subscriber::EnvFilter` syntax.
    pub filter: Option<String>,
    /// Whether to colour the levels (stderr is a terminal, `NO_COLOR` unset).
    pub color: bool,
}

/// The levels, quietest first, and the step the defaults stand on.
const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
const DEFAULT: i16 = 3;

impl Settings {
    /// The filter directives: `RUST_LOG` when set, else from `-v` / `-q`.
    pub fn directives(&self) -> String {
        if let Some(filter) = self.filter.as_deref().filter(|f| !f.trim().is_empty()) {
            return filter.to_owned();
        }
        let step = DEFAULT + i16::from(self.verbose) - i16::from(self.quiet);
        let level = |offset: i16| {
            let at = (step + offset).clamp(0, LEVELS.len() as i16 - 1);
            LEVELS[at as usize]
        };
        // Other crates speak one step less: at -v ours say debug, theirs info.
        format!("{},vault_audit={}", level(-1), level(0))
    }
}

/// Starts writing messages to stderr as `settings` say; a `RUST_LOG` that
/// does not parse is reported and the defaults are used. Returns nothing:
/// a second call (a test calling `cli::run` twice) keeps the first setup.
pub fn init(settings: &Settings, redactor: Redactor) {
    let (filter, refused) = match EnvFilter::try_new(settings.directives()) {
        Ok(filter) => (filter, None),
        Err(e) => {
            let fallback = Settings {
                filter: None,
                ..settings.clone()
            };
            (EnvFilter::new(fallback.directives()), Some(e))
        }
    };
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(settings.color)
        .with_writer(Stderr(Arc::new(redactor)))
        .try_init()
        .is_ok();
    if let (true, Some(e)) = (installed, refused) {
        tracing::warn!("the filter in RUST_LOG does not parse ({e}); using the defaults");
    }
}

/// Standard error, each message redacted on its way: a message may quote
/// what was given, and a dependency's may hold a URL with its password.
#[derive(Clone)]
struct Stderr(Arc<Redactor>);

/// One message being written.
struct Line(Arc<Redactor>);

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line(Arc::clone(&self.0))
    }
}

impl Write for Line {
    /// The formatter hands over each message whole, in one write.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        io::stderr().write_all(self.0.text(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(verbose: u8, quiet: u8) -> String {
        Settings {
            verbose,
            quiet,
            ..Settings::default()
        }
        .directives()
    }

    #[test]
    fn v_and_q_step_the_levels_and_rust_log_wins() {
        assert_eq!(with(0, 0), "warn,vault_audit=info");
        assert_eq!(with(1, 0), "info,vault_audit=debug");
        assert_eq!(with(2, 0), "debug,vault_audit=trace");
        assert_eq!(with(9, 0), "trace,vault_audit=trace");
        assert_eq!(with(0, 1), "error,vault_audit=warn");
        assert_eq!(with(0, 2), "off,vault_audit=error");
        assert_eq!(with(0, 9), "off,vault_audit=off");
        let set = Settings {
            filter: Some("ureq=debug".into()),
            verbose: 2,
            ..Settings::default()
        };
        assert_eq!(set.directives(), "ureq=debug");
    }
}
