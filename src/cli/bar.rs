//! Progress bars on stderr (indicatif) for the long commands: drawn only
//! on a terminal, and only once a run has taken a few seconds, so short runs,
//! pipes, logs and tests see nothing of them.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::meter::Meter;

/// How long a run goes before its bar appears.
const DELAY: Duration = Duration::from_secs(2);

/// A [`Meter`] drawn as a progress bar.
pub struct Bar {
    bar: ProgressBar,
    delay: Duration,
    terminal: bool,
    /// Whether the timer that reveals the bar runs.
    armed: bool,
    shown: Arc<AtomicBool>,
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
            delay,
            terminal,
            armed: false,
            shown: Arc::new(AtomicBool::new(false)),
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

    /// On a terminal, starts the timer that shows the bar after the delay,
    /// however rarely the run reports (an import's batches are large).
    fn arm(&mut self) {
        if !self.terminal || self.armed {
            return;
        }
        self.armed = true;
        let (bar, group, shown) = (self.bar.clone(), self.group.clone(), self.shown.clone());
        let delay = self.delay;
        // Without the thread there is no bar, and nothing else changes.
        let _ = std::thread::Builder::new()
            .name("progress-bar".into())
            .spawn(move || {
                std::thread::sleep(delay);
                reveal(&bar, group.as_ref(), &shown);
            });
    }
}

/// Draws the bar from now on, unless it is finished or drawn already.
fn reveal(bar: &ProgressBar, group: Option<&MultiProgress>, shown: &AtomicBool) {
    if bar.is_finished() || shown.swap(true, Ordering::SeqCst) {
        return;
    }
    match group {
        Some(group) => {
            group.add(bar.clone());
        }
        None => bar.set_draw_target(ProgressDrawTarget::stderr()),
    }
    bar.enable_steady_tick(Duration::from_millis(250));
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
        self.arm();
    }

    fn advance(&mut self, n: u64) {
        self.bar.inc(n);
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

    fn shown(bar: &Bar) -> bool {
        bar.shown.load(Ordering::SeqCst)
    }

    #[test]
    fn no_terminal_no_bar_however_long_the_run() {
        let mut out = Vec::new();
        {
            let mut bar = Bar::with(false, Duration::ZERO).notes_to(&mut out, "x: ");
            bar.start("checking", 3);
            bar.advance(3);
            std::thread::sleep(Duration::from_millis(50));
            assert!(bar.bar.bar.is_hidden() && !shown(&bar.bar));
            bar.note("read 3 days");
        }
        assert_eq!(String::from_utf8_lossy(&out), "x: read 3 days\n");
    }

    #[test]
    fn a_terminal_sees_the_bar_only_after_the_delay() {
        let mut bar = Bar::with(true, Duration::from_millis(200));
        bar.start("checking", 3);
        bar.advance(1);
        assert!(!shown(&bar));
        std::thread::sleep(Duration::from_millis(1000));
        assert!(shown(&bar), "the timer shows it with no further report");
        assert_eq!(bar.bar.position(), 1);
    }

    #[test]
    fn a_run_over_before_the_delay_never_shows() {
        let bar = Bar::with(true, Duration::from_millis(50));
        let mut early = bar;
        early.start("checking", 1);
        let flag = early.shown.clone();
        drop(early);
        std::thread::sleep(Duration::from_millis(300));
        assert!(!flag.load(Ordering::SeqCst));
    }
}
