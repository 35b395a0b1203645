//! How far a long run has got (`verify`, `repair`, `import`, forwarding),
//! told to whoever shows it: the command line draws a progress bar on a
//! terminal; the library's own callers see nothing.

/// Told how far a run has got. Every method does nothing unless overridden.
pub trait Meter {
    /// A phase begins: `total` units of work (days, entries), named `what`
    /// (`"checking"`, `"importing"`). A run may have several phases.
    fn start(&mut self, what: &str, total: u64) {
        let _ = (what, total);
    }

    /// `n` more units of the phase are done.
    fn advance(&mut self, n: u64) {
        let _ = n;
    }

    /// A line worth showing where there is no bar (a log, a pipe).
    fn note(&mut self, line: &str) {
        let _ = line;
    }
}

/// Makes a meter for each of several runs at once (a sink thread each).
pub type NewMeter = std::sync::Arc<dyn Fn() -> Box<dyn Meter + Send> + Send + Sync>;

/// A meter that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Meter for Silent {}

/// A meter that keeps count, for tests and callers that want the numbers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Each phase's name and total, in order.
    pub phases: Vec<(String, u64)>,
    /// The units done, all phases together.
    pub done: u64,
    /// The notes.
    pub notes: Vec<String>,
}

impl Meter for Tally {
    fn start(&mut self, what: &str, total: u64) {
        self.phases.push((what.to_owned(), total));
    }

    fn advance(&mut self, n: u64) {
        self.done += n;
    }

    fn note(&mut self, line: &str) {
        self.notes.push(line.to_owned());
    }
}
