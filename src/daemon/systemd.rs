//! Telling systemd (`Type=notify`) that the daemon is ready, alive and
//! stopping, through sd-notify; nothing at all unless the service manager
//! gave a socket (`NOTIFY_SOCKET`), and nothing off Unix.

use std::time::{Duration, Instant};

/// The daemon's side of the notify protocol.
#[derive(Debug)]
pub struct Notifier {
    on: bool,
    /// Half the watchdog period systemd set (`WatchdogSec=`), if it set one.
    every: Option<Duration>,
    last: Instant,
}

impl Notifier {
    /// A notifier that talks only when `on` (systemd gave a socket).
    pub fn new(on: bool) -> Notifier {
        Notifier {
            on,
            every: if on { watchdog() } else { None },
            last: Instant::now(),
        }
    }

    /// Start-up is over: the pid file is ready and the loop begins.
    pub fn ready(&mut self) {
        self.send(State::Ready);
        self.last = Instant::now();
    }

    /// The loop turned: a watchdog ping when one is due.
    pub fn alive(&mut self) {
        if self.every.is_some_and(|every| self.last.elapsed() >= every) {
            self.send(State::Watchdog);
            self.last = Instant::now();
        }
    }

    /// The stop has begun (the last batch, the views).
    pub fn stopping(&mut self) {
        self.send(State::Stopping);
    }

    fn send(&self, state: State) {
        if self.on {
            notify(state);
        }
    }
}

#[cfg(unix)]
fn notify(state: State) {
    let state = match state {
        State::Ready => sd_notify::NotifyState::Ready,
        State::Watchdog => sd_notify::NotifyState::Watchdog,
        State::Stopping => sd_notify::NotifyState::Stopping,
    };
    // A manager that went away is not the daemon's problem.
    let _ = sd_notify::notify(&[state]);
}

#[cfg(not(unix))]
fn notify(_state: State) {}

/// What the daemon reports.
#[derive(Debug, Clone, Copy)]
enum State {
    Ready,
    Watchdog,
    Stopping,
}

#[cfg(unix)]
fn watchdog() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|period| period / 2)
}

#[cfg(not(unix))]
fn watchdog() -> Option<Duration> {
    None
}
