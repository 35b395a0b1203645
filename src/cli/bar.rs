//! Progress bars on stderr (indicatif) for the long commands: drawn only
//! on a terminal, and only once a run has taken a few seconds, so short runs,
//! pipes, logs and tests see nothing of them.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::meter::Meter;

/// How long a run goes before its bar appears.
const DELAY: Duration = Duration::from_secs(2);

/// A [`Meter`] drawn as a progress bar; where there is no terminal, its
/// notes may go to a writer as lines instead.
pub struct Bar<'a> {
    bar: ProgressBar,
    started: Instant,
    delay: Duration,
    terminal: bool,
    shown: bool,
    notes: Option<(&'a mut dyn Write, &'static str)>,
}

impl<'a> Bar<'a> {
    /// A bar for stderr, if stderr is a terminal.
    pub fn new() -> Bar<'a> {
        Bar::with(std::io::stderr().is_terminal(), DELAY)
    }

    fn with(terminal: bool, delay: Duration) -> Bar<'a> {
        let style = ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = ProgressBar::hidden();
        bar.set_style(style);
        Bar {
            bar,
            started: Instant::now(),
            delay,
            terminal,
            shown: false,
            notes: None,
        }
    }

    /// Where there is no terminal, notes go to `out` as lines after `prefix`.
    pub fn notes_to(mut self, out: &'a mut dyn Write, prefix: &'static str) -> Bar<'a> {
        self.notes = Some((out, prefix));
        self
    }

    fn reveal(&mut self) {
        if !self.shown && self.terminal && self.started.elapsed() >= self.delay {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
    }
}

impl Default for Bar<'_> {
    fn default() -> Self {
        Bar::new()
    }
}

impl Meter for Bar<'_> {
    fn start(&mut self, what: &str, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(0);
        self.bar.set_message(what.to_owned());
        self.reveal();
    }

    fn advance(&mut self, n: u64) {
        self.bar.inc(n);
        self.reveal();
    }

    fn note(&mut self, line: &str) {
        if self.terminal {
            return;
        }
        if let Some((out, prefix)) = &mut self.notes {
            let _ = writeln!(out, "{prefix}{line}");
        }
    }
}

impl Drop for Bar<'_> {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_terminal_no_bar_however_long_the_run() {
        let mut out = Vec::new();
        {
            let mut bar = Bar::with(false, Duration::ZERO).notes_to(&mut out, "x: ");
            bar.start("checking", 3);
            bar.advance(3);
            assert!(bar.bar.is_hidden() && !bar.shown);
            bar.note("read 3 days");
        }
        assert_eq!(String::from_utf8_lossy(&out), "x: read 3 days\n");
    }

    #[test]
    fn a_terminal_sees_the_bar_only_after_the_delay() {
        let mut bar = Bar::with(true, Duration::from_secs(3600));
        bar.start("checking", 3);
        bar.advance(1);
        assert!(!bar.shown);
        bar.delay = Duration::ZERO;
        bar.advance(1);
        assert!(bar.shown);
        assert_eq!(bar.bar.position(), 2);
    }
}
