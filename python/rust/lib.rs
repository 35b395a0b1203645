//! `vault_audit._native`: the vault-audit library, in-process, for Python.
//!
//! A thin layer: settings are resolved by the library's own [`Config`]
//! (the same environment variables as the CLI), entries are parsed, validated, redacted
//! and appended by the same [`AuditLogger`], queries run the same
//! [`Filter`]. The pure-Python part (`vault_audit/__init__.py`) gives the
//! skill specification's `AuditLogger` its names and types; the exceptions
//! it raises are defined there (`vault_audit._errors`) and raised from here.
//!
//! Every call that touches the disk releases the GIL.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::TryLockError;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use vault_audit::config::{self, Config, ConfigError, Overrides};
use vault_audit::entry::EntryError;
use vault_audit::query::{self, Filter, FilterSpec};
use vault_audit::{verify, AuditLogger, Entry, Error, Receipt};

/// The module holding the exception classes raised here.
const ERRORS: &str = "vault_audit._errors";

/// Builds an exception of `vault_audit._errors` (`class`, called with
/// `args`) as a `PyErr`.
fn raise<'py, A>(py: Python<'py>, class: &str, args: A) -> PyErr
where
    A: pyo3::call::PyCallArgs<'py>,
{
    let built = py
        .import(ERRORS)
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.call1(args));
    match built {
        Ok(value) => PyErr::from_value(value),
        Err(e) => e,
    }
}

fn config_error(py: Python<'_>, e: ConfigError) -> PyErr {
    raise(py, "ConfigError", (e.to_string(),))
}

/// One logger for one vault, shared by every thread of the process.
#[pyclass(frozen, module = "vault_audit._native")]
struct Logger {
    inner: AuditLogger,
    config: Config,
}

/// The configuration for these settings, the rest from the process
/// environment (which the Python side filled from `.env`).
fn resolve(
    vault: Option<&Path>,
    dry_run: bool,
    session_id: Option<&str>,
) -> Result<Config, ConfigError> {
    let given = Overrides {
        vault: vault.map(Path::to_path_buf),
        dry_run: Some(dry_run),
        // A blank id leaves it to AUDIT_SESSION_ID.
        session_id: session_id
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned),
        // As the skill's AuditLogger: the vault folder gets its Logs/ folder.
        init: true,
        ..Overrides::default()
    };
    Config::new(&given, |name| std::env::var(name).ok())
}

#[pymethods]
impl Logger {
    #[new]
    #[pyo3(signature = (vault_path, dry_run, session_id=None))]
    fn new(
        py: Python<'_>,
        vault_path: Option<PathBuf>,
        dry_run: bool,
        session_id: Option<&str>,
    ) -> PyResult<Self> {
        let config =
            resolve(vault_path.as_deref(), dry_run, session_id).map_err(|e| config_error(py, e))?;
        // Dry run previews are printed by the Python side, through sys.stdout.
        let built = || -> Result<AuditLogger, ConfigError> {
            let vault = config.vault()?;
            config.writable_vault(vault)?;
            let builder = config.builder_for(vault, config.dry_run);
            Ok(builder.dry_run_output(std::io::sink()).build()?)
        };
        let inner = py.detach(built).map_err(|e| match e {
            ConfigError::Logger(error) => match *error {
                Error::VaultNotFound { path } => {
                    let message = format!("vault {} is not an existing folder", path.display());
                    raise(
                        py,
                        "AuditIOError",
                        (2, message, path, None::<PathBuf>, false),
                    )
                }
                other => config_error(py, ConfigError::from(other)),
            },
            // The vault's Logs/ could not be created: a disk problem.
            ConfigError::CreateLogs { path, source } => {
                let message = format!("could not create {}: {source}", path.display());
                let errno = source.raw_os_error().unwrap_or(0);
                raise(
                    py,
                    "AuditIOError",
                    (errno, message, path, None::<PathBuf>, false),
                )
            }
            other => config_error(py, other),
        })?;
        Ok(Logger { inner, config })
    }

    /// The session id given to entries that carry none.
    #[getter]
    fn session_id(&self) -> &str {
        self.inner.session_id()
    }

    /// The vault folder.
    #[getter]
    fn vault_path(&self) -> PathBuf {
        self.inner.vault().root().to_path_buf()
    }

    /// `text` redacted as entries are (for session ids made in Python).
    fn redact(&self, text: &str) -> String {
        self.inner.redactor().text(text).into_owned()
    }

    /// Whether nothing is written.
    #[getter]
    fn dry_run(&self) -> bool {
        self.inner.is_dry_run()
    }

    /// Days of logs kept.
    #[getter]
    fn retention_days(&self) -> u32 {
        self.inner.retention_days()
    }

    /// Parses, validates and appends entries given as JSON texts, all or
    /// none: every problem of every entry is reported at once. Returns the
    /// receipt, or with `receipt=False` (the specification's `log()`, which
    /// answers a bool) None unless the logger runs dry.
    #[pyo3(signature = (texts, receipt=true))]
    fn log_json<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
        receipt: bool,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let entries = self.parse_all(py, &texts)?;
        let written = py.detach(|| self.inner.log_batch(entries));
        match written {
            Ok(done) if receipt || done.dry_run => receipt_dict(py, &self.inner, &done).map(Some),
            Ok(_) => Ok(None),
            Err(Error::Invalid { entries, .. }) => {
                // The logger stops at the first invalid entry: name them all.
                let all = entries.into_iter().map(|e| self.inner.prepare(e));
                match self.checked(py, all.collect()) {
                    Err(rejected) => Err(rejected),
                    Ok(_) => Err(raise(py, "EntryRejected", ("entry rejected",))),
                }
            }
            Err(error) => Err(library_error(py, &self.inner, error)),
        }
    }

    /// Runs retention now; returns the number of day files deleted (0 in
    /// dry run).
    fn rotate(&self, py: Python<'_>) -> PyResult<u64> {
        match py.detach(|| self.inner.rotate(None)) {
            Ok(report) => Ok(report.deleted),
            Err(error) => Err(library_error(py, &self.inner, error)),
        }
    }

    /// Rebuilds `Logs/index.json`; returns it as JSON text.
    fn index(&self, py: Python<'_>) -> PyResult<String> {
        match py.detach(|| self.inner.rebuild_index()) {
            Ok(index) => Ok(serde_json::to_string(&index).unwrap_or_default()),
            Err(error) => Err(library_error(py, &self.inner, error)),
        }
    }

    /// Refreshes the Dashboard's Recent Activity table; returns the notes.
    fn refresh_dashboard(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        match py.detach(|| self.inner.refresh_dashboard()) {
            Ok((_, notes)) => Ok(notes),
            Err(error) => Err(library_error(py, &self.inner, error)),
        }
    }

    /// Checks every day file and the chain; returns the report as JSON text.
    fn verify(&self, py: Python<'_>) -> PyResult<String> {
        let vault = self.inner.vault();
        let checked = py.detach(|| verify::verify(vault, &self.config.chain_key));
        match checked {
            Ok(report) => Ok(serde_json::to_string(&report).unwrap_or_default()),
            Err(e) => Err(io_error(py, vault.logs(), &e.to_string())),
        }
    }

    /// The entries matching `spec`, lazily, day by day, in time order.
    #[pyo3(signature = (**spec))]
    fn query(&self, py: Python<'_>, spec: Option<&Bound<'_, PyDict>>) -> PyResult<Query> {
        let filter = self.filter(py, spec)?;
        let vault = self.inner.vault().clone();
        let days = py
            .detach(|| vault.day_files())
            .map_err(|e| io_error(py, vault.logs(), &e.to_string()))?;
        let mut days = filter.days(days);
        days.reverse();
        Ok(Query {
            vault,
            filter,
            days: std::sync::Mutex::new((days, Vec::new())),
        })
    }

    /// Counts and figures over the entries matching `spec`, as JSON text.
    #[pyo3(signature = (**spec))]
    fn stats(&self, py: Python<'_>, spec: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
        let filter = self.filter(py, spec)?;
        let vault = self.inner.vault();
        let counted = py.detach(|| query::aggregate(vault, &filter, true));
        match counted {
            Ok((count, mut stats)) => {
                let mut json = stats.to_json();
                if let Some(object) = json.as_object_mut() {
                    object.insert("count".into(), count.into());
                }
                Ok(json.to_string())
            }
            Err(e) => Err(io_error(py, vault.logs(), &e.to_string())),
        }
    }

    /// Times one call of the Rust library's `log()` per entry of `texts`
    /// (parsed before the clock starts), in this process with no Python in
    /// between: the baseline the package's benchmark compares its own
    /// `log()` with. Returns seconds.
    fn _time_library_log(&self, py: Python<'_>, texts: Vec<String>) -> PyResult<f64> {
        let entries = self.parse_all(py, &texts)?;
        py.detach(|| {
            let start = Instant::now();
            for entry in entries {
                self.inner.log(entry).map_err(|e| e.to_string())?;
            }
            Ok(start.elapsed().as_secs_f64())
        })
        .map_err(|message: String| io_error(py, self.inner.vault().logs(), &message))
    }
}

impl Logger {
    /// Every entry parsed, or `EntryRejected` listing every problem of
    /// every entry. (Validation after parsing is the logger's, once, when
    /// it writes; see [`Logger::log_json`].)
    fn parse_all(&self, py: Python<'_>, texts: &[String]) -> PyResult<Vec<Entry>> {
        let parsed = texts.iter().map(|t| self.inner.entry_from_json(t));
        self.checked(py, parsed.collect())
    }

    /// The entries, or `EntryRejected` with every problem of every one
    /// (values redacted).
    fn checked(
        &self,
        py: Python<'_>,
        results: Vec<Result<Entry, EntryError>>,
    ) -> PyResult<Vec<Entry>> {
        let red = self.inner.redactor();
        let count = results.len();
        let mut entries = Vec::with_capacity(count);
        let mut problems: Vec<(usize, Option<String>, String)> = Vec::new();
        for (position, result) in results.into_iter().enumerate() {
            match result {
                Ok(entry) => entries.push(entry),
                Err(e) => problems.extend(described(position, &red.error(e))),
            }
        }
        if problems.is_empty() {
            return Ok(entries);
        }
        let message = problems
            .iter()
            .map(|(position, _, text)| match count {
                1 => text.clone(),
                _ => format!("entry {}: {text}", position + 1),
            })
            .collect::<Vec<_>>()
            .join("; ");
        Err(raise(
            py,
            "EntryRejected",
            (format!("entry rejected: {message}"), problems),
        ))
    }

    fn filter(&self, py: Python<'_>, spec: Option<&Bound<'_, PyDict>>) -> PyResult<Filter> {
        let spec = filter_spec(spec)?;
        Filter::new(&spec, self.inner.now()).map_err(|e| {
            let problems: Vec<(usize, Option<String>, String)> = e
                .fields
                .iter()
                .map(|f| (0, Some(f.field.name().to_owned()), f.to_string()))
                .collect();
            raise(py, "QueryRejected", (e.to_string(), problems))
        })
    }
}

/// A [`FilterSpec`] from keyword arguments (`level` may be a list).
fn filter_spec(spec: Option<&Bound<'_, PyDict>>) -> PyResult<FilterSpec> {
    let mut out = FilterSpec::default();
    let Some(spec) = spec else {
        return Ok(out);
    };
    for (key, value) in spec.iter() {
        if value.is_none() {
            continue;
        }
        let key: String = key.extract()?;
        let wrong = |accepted: &str| {
            let given = value
                .get_type()
                .name()
                .map_or_else(|_| "?".to_owned(), |n| n.to_string());
            pyo3::exceptions::PyTypeError::new_err(format!(
                "query() argument {key:?} must be {accepted}, not {given}"
            ))
        };
        if key == "level" {
            out.levels = match value.extract::<String>() {
                Ok(one) => vec![one],
                Err(_) => value
                    .extract::<Vec<String>>()
                    .map_err(|_| wrong("a str or a list of str"))?,
            };
            continue;
        }
        let text: String = value.extract().map_err(|_| wrong("a str"))?;
        let slot = match key.as_str() {
            "since" => &mut out.since,
            "until" => &mut out.until,
            "action" => &mut out.action,
            "actor" => &mut out.actor,
            "target" => &mut out.target,
            "result" => &mut out.result,
            "session" => &mut out.session,
            "approval_status" => &mut out.approval_status,
            "contains" => &mut out.contains,
            other => {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "query() got an unexpected keyword argument {other:?}"
                )))
            }
        };
        *slot = Some(text);
    }
    Ok(out)
}

/// Each problem of a rejected entry as `(position, field, message)`.
fn described(position: usize, e: &EntryError) -> Vec<(usize, Option<String>, String)> {
    e.problems()
        .iter()
        .map(|p| (position, p.field().map(str::to_owned), p.detail()))
        .collect()
}

/// The matching entries of a query, read one day file at a time.
#[pyclass(frozen, module = "vault_audit._native")]
struct Query {
    vault: vault_audit::Vault,
    filter: Filter,
    /// Days still to read (last first), and the current day's lines not yet
    /// handed out (last first).
    days: std::sync::Mutex<(Vec<NaiveDate>, Vec<String>)>,
}

#[pymethods]
impl Query {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<String> {
        // Waiting for another thread's read with the GIL held would
        // deadlock: that thread needs the GIL back to finish.
        let mut state = loop {
            match self.days.try_lock() {
                Ok(state) => break state,
                Err(TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    py.detach(|| std::thread::sleep(Duration::from_millis(1)))
                }
            }
        };
        loop {
            if let Some(line) = state.1.pop() {
                return Ok(line);
            }
            let Some(day) = state.0.pop() else {
                return Err(PyStopIteration::new_err(()));
            };
            let mut lines = Vec::new();
            py.detach(|| {
                query::scan_days(&self.vault, &self.filter, &[day], true, |line, _| {
                    lines.push(line.to_owned());
                    ControlFlow::Continue(())
                })
            })
            .map_err(|e| io_error(py, self.vault.logs(), &e.to_string()))?;
            lines.reverse();
            state.1 = lines;
        }
    }
}

/// What a write did, for `vault_audit.Receipt`.
fn receipt_dict<'py>(
    py: Python<'py>,
    logger: &AuditLogger,
    receipt: &Receipt,
) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    let entries: Vec<String> = receipt.entries.iter().map(Entry::to_json_line).collect();
    out.set_item("entries", entries)?;
    let files = PyList::empty(py);
    for file in &receipt.files {
        let day = PyDict::new(py);
        day.set_item("date", file.date.format("%Y-%m-%d").to_string())?;
        day.set_item("path", logger.vault().relative(&file.path).into_owned())?;
        day.set_item("total_entries", file.total_entries)?;
        day.set_item("size_bytes", file.size_bytes)?;
        files.append(day)?;
    }
    out.set_item("files", files)?;
    out.set_item("dry_run", receipt.dry_run)?;
    out.set_item("notes", receipt.notes.clone())?;
    out.set_item("warnings", receipt.post_write_errors.clone())?;
    Ok(out)
}

/// The exception for a library error, its message redacted.
fn library_error(py: Python<'_>, logger: &AuditLogger, error: Error) -> PyErr {
    let message = logger.redactor().text(&error.to_string()).into_owned();
    match error {
        Error::Invalid {
            position, source, ..
        } => {
            let source = logger.redactor().error(source);
            raise(
                py,
                "EntryRejected",
                (message, described(position.saturating_sub(1), &source)),
            )
        }
        Error::LockTimeout {
            fallback, waited, ..
        } => raise(
            py,
            "LockTimeout",
            (message, fallback, waited.as_millis() as u64),
        ),
        Error::Config { .. } => raise(py, "ConfigError", (message,)),
        Error::Io {
            ref path,
            ref source,
            ref entries,
            ref written,
            ..
        } => {
            let written: u64 = written.iter().map(|f| f.total_entries).sum();
            let kept = if entries.is_empty() {
                None
            } else {
                py.detach(|| logger.save_failed(entries).ok())
            };
            raise(
                py,
                "AuditIOError",
                (
                    source.raw_os_error().unwrap_or(0),
                    message,
                    path.clone(),
                    kept,
                    written > 0,
                ),
            )
        }
        Error::VaultNotFound { ref path } => raise(
            py,
            "AuditIOError",
            (2, message, path.clone(), None::<PathBuf>, false),
        ),
        _ => raise(
            py,
            "AuditIOError",
            (0, message, logger.vault().logs(), None::<PathBuf>, false),
        ),
    }
}

fn io_error(py: Python<'_>, path: PathBuf, message: &str) -> PyErr {
    raise(
        py,
        "AuditIOError",
        (0, message.to_owned(), path, None::<PathBuf>, false),
    )
}

/// A new session id, `AI_EMP_YYYYMMDD_XXXXXX`.
#[pyfunction]
fn new_session_id() -> String {
    vault_audit::time::new_session_id(chrono::Utc::now())
}

/// The settings of an env file, as the CLI reads `.env`, each with the
/// note to print when it weakens auditing.
#[pyfunction]
fn read_env_file(py: Python<'_>, path: PathBuf) -> PyResult<Vec<(String, String, Option<String>)>> {
    let pairs = config::dotenv::read(&path).map_err(|e| config_error(py, e))?;
    Ok(pairs
        .into_iter()
        .map(|(key, value)| {
            let note = config::weakening_note(&key, &value, Path::new(&path));
            (key, value, note)
        })
        .collect())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Logger>()?;
    m.add_class::<Query>()?;
    m.add_function(wrap_pyfunction!(new_session_id, m)?)?;
    m.add_function(wrap_pyfunction!(read_env_file, m)?)?;
    Ok(())
}
