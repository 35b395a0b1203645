//! Progress bars on stderr (indicatif) for the long commands: drawn only
//! on a terminal, and only once a run has taken a few seconds, so short runs,
//! pipes, logs and tests see nothing of them.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::meter::Meter;

/// How long a run goes before its bar appears.
const DELAY: Duration = Duration::from_secs(2);

/// A [`Meter`] drawn as a progress bar.
pub struct Bar {
    bar: ProgressBar,
    started: Instant,
    delay: Duration,
    terminal: bool,
    shown: bool,
    group: Option<MultiProgress>,
}

/// A [`Bar`] whose notes go to a writer as lines where there is no terminal.
pub struct Noted<'a> {
    bar: Bar,
    out: &'a mut dyn Write,
    prefix: &'static str,
}

impl Bar {
    /// A bar for stderr, if stderr is a terminal.
    pub fn new() -> Bar {
        Bar::with(std::io::stderr().is_terminal(), DELAY)
    }

    fn with(terminal: bool, delay: Duration) -> Bar {
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
            group: None,
        }
    }

    /// Drawn with the other bars of `group` (one per sink), not over them.
    pub fn in_group(mut self, group: &MultiProgress) -> Bar {
        self.group = Some(group.clone());
        self
    }

    /// Where there is no terminal, notes go to `out` as lines after `prefix`.
    pub fn notes_to<'a>(self, out: &'a mut dyn Write, prefix: &'static str) -> Noted<'a> {
        Noted {
            bar: self,
            out,
            prefix,
        }
    }

    fn reveal(&mut self) {
        if !self.shown && self.terminal && self.started.elapsed() >= self.delay {
            match &self.group {
                Some(group) => {
                    group.add(self.bar.clone());
                }
                None => self.bar.set_draw_target(ProgressDrawTarget::stderr()),
            }
            self.shown = true;
        }
    }
}

impl Default for Bar {
    fn default() -> Self {
        Bar::new()
    }
}

impl Meter for Bar {
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
}

impl Meter for Noted<'_> {
    fn start(&mut self, what: &str, total: u64) {
        self.bar.start(what, total);
    }

    fn advance(&mut self, n: u64) {
        self.bar.advance(n);
    }

    fn note(&mut self, line: &str) {
        if !self.bar.terminal {
            let _ = writeln!(self.out, "{}{line}", self.prefix);
        }
    }
}

impl Drop for Bar {
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
            assert!(bar.bar.bar.is_hidden() && !bar.bar.shown);
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
