//! The command-line interface: arguments, configuration, one file per command.
//!
//! Two stages, as ripgrep has them: clap parses the raw [`args::Args`]
//! (flags only), then [`Config::new`] resolves them, as
//! [`crate::config::Overrides`], with the environment (the process's over
//! the `.env` file's) once into a checked [`Config`]. Every command takes the
//! `Config` and its own arguments, never the environment, and returns an
//! exit code or a [`CliError`], which `fail` reports and [`exit::code`] maps.

pub(crate) mod agent;
pub(crate) mod args;
pub(crate) mod bar;
pub(crate) mod daemon;
pub(crate) mod demo;
pub(crate) mod error;
pub(crate) mod exit;
pub(crate) mod forward;
pub(crate) mod generate;
pub(crate) mod import;
pub(crate) mod log;
pub(crate) mod maintain;
pub(crate) mod mcp;
pub(crate) mod messages;
pub(crate) mod query;
pub(crate) mod report;
pub(crate) mod response;
pub(crate) mod sync;
pub(crate) mod verify;

use std::ffi::OsString;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use crate::config::{self, Config};
use crate::redact::Redactor;
use args::{Args, Command};
pub(crate) use error::CliError;
use response::Response;

/// The streams a command talks to.
pub(crate) struct Io<'a> {
    /// Standard input.
    pub stdin: &'a mut dyn BufRead,
    /// Standard output.
    pub stdout: &'a mut dyn Write,
    /// Standard error.
    pub stderr: &'a mut dyn Write,
}

/// Standard input or output, locked at its first use and then kept locked
/// (a command printing many lines takes the lock once).
enum Locked {
    Stdin(Option<io::StdinLock<'static>>),
    Stdout(Option<io::StdoutLock<'static>>),
}

impl Locked {
    fn stdin(&mut self) -> io::Result<&mut io::StdinLock<'static>> {
        match self {
            Locked::Stdin(lock) => Ok(lock.get_or_insert_with(|| io::stdin().lock())),
            Locked::Stdout(_) => Err(io::Error::other("standard output is not readable")),
        }
    }

    fn stdout(&mut self) -> io::Result<&mut io::StdoutLock<'static>> {
        match self {
            Locked::Stdout(lock) => Ok(lock.get_or_insert_with(|| io::stdout().lock())),
            Locked::Stdin(_) => Err(io::Error::other("standard input is not writable")),
        }
    }
}

impl io::Read for Locked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stdin()?.read(buf)
    }
}

impl BufRead for Locked {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.stdin()?.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if let Ok(lock) = self.stdin() {
            lock.consume(amount);
        }
    }
}

impl Write for Locked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stdout()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Locked::Stdout(Some(lock)) => lock.flush(),
            _ => Ok(()),
        }
    }
}

/// A variable of the process environment. A value that is not UTF-8 is
/// read lossily rather than taken as unset, so that a key in it is never
/// silently dropped.
fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Parses `argv`, runs the command and returns the exit code.
pub fn run<I: IntoIterator<Item = OsString>>(argv: I) -> u8 {
    let argv: Vec<OsString> = argv.into_iter().collect();
    // Locked at first use, not before: `mcp` hands the process's streams
    // to the SDK's own threads, and operational messages reach stderr from
    // any thread, so none may be held locked for the whole run.
    let io = &mut Io {
        stdin: &mut Locked::Stdin(None),
        stdout: &mut Locked::Stdout(None),
        stderr: &mut io::stderr(),
    };
    // The env file's settings go under the real environment (see
    // `config::dotenv` for which file).
    let (command, explicit) = early(&argv);
    let mut notes = Vec::new();
    let mut file = Vec::new();
    if let Some(path) = config::dotenv::choose(command.as_deref(), explicit.as_deref()) {
        match config::dotenv::read(&path) {
            Ok(pairs) if explicit.is_some() => file = pairs,
            Ok(pairs) => {
                notes = config::weakening_notes(process_env, &pairs, &path);
                file = pairs;
            }
            Err(e) => {
                let e = CliError::from(e);
                // The parser quotes the line it refused.
                let message = early_redactor(&process_env)
                    .text(&e.to_string())
                    .into_owned();
                let _ = writeln!(io.stderr, "vault-audit: {message}");
                return match command.as_deref() {
                    Some("hook") => exit::OK,
                    _ => exit::code(&e),
                };
            }
        }
    }
    let env = config::layered(process_env, file);
    let parsed = Args::try_parse_from(&argv);
    messages::init(
        &message_settings(parsed.as_ref().ok(), &env),
        early_redactor(&env),
    );
    for note in notes {
        tracing::warn!("{note}");
    }
    let args = match parsed {
        Ok(args) => args,
        Err(e) => return bad_usage(&e, subcommand(&argv).as_deref(), &env, io),
    };
    if let Some(code) = generate::run(&args.command, io.stdout, io.stderr) {
        return code;
    }
    let config = match Config::new(&args.overrides(), &env) {
        Ok(config) => config,
        Err(e) => return fail(&args.command, &e.into(), &early_redactor(&env), io),
    };
    match dispatch(&config, &args.command, io) {
        Ok(code) => code,
        Err(e) => fail(&args.command, &e, &config.redactor, io),
    }
}

/// How operational messages are shown: `-v`/`-q` (none when the arguments
/// did not parse), `RUST_LOG`, colour on a terminal unless `NO_COLOR`.
fn message_settings(
    args: Option<&Args>,
    env: &impl Fn(&str) -> Option<String>,
) -> messages::Settings {
    use std::io::IsTerminal;
    messages::Settings {
        verbose: args.map_or(0, |a| a.verbose),
        quiet: args.map_or(0, |a| a.quiet),
        filter: config::log_filter(env),
        color: io::stderr().is_terminal() && !config::no_color(env),
    }
}

/// The redactor for messages written before the configuration is known
/// (or when it is not accepted): the environment's, else the built-in one.
fn early_redactor(env: &impl Fn(&str) -> Option<String>) -> Redactor {
    config::redactor(env).unwrap_or_default()
}

/// Runs the command.
fn dispatch(config: &Config, command: &Command, io: &mut Io<'_>) -> Result<u8, CliError> {
    match command {
        Command::Log(a) => log::run(config, a, io),
        Command::Index => maintain::run(config, maintain::Task::Index, io),
        Command::Dashboard => maintain::run(config, maintain::Task::Dashboard, io),
        Command::Rotate(r) => maintain::run(config, maintain::Task::Rotate(r.days), io),
        Command::Query(q) => query::run(config, q, io),
        Command::Tail(t) => query::tail(config, t, io),
        Command::Report(r) => report::run(config, r, io),
        Command::Daemon(d) => daemon::run(config, d, io),
        Command::Replay(r) => daemon::replay(config, r, io),
        Command::Hook(h) => agent::hook(config, h, io),
        Command::SkillRun(a) => agent::skill_run(config, a, io),
        Command::Mcp => mcp::run(config, io),
        Command::Verify(v) => verify::verify(config, v, io),
        Command::Repair(r) => verify::repair(config, r, io),
        Command::Import(a) => import::run(config, a, io),
        Command::Keygen(k) => verify::keygen(k, io),
        Command::Seal(s) => verify::seal(config, s, io),
        Command::Forward(f) => forward::run(config, f, io),
        Command::Demo(d) => demo::run(config, d, io),
        Command::InitSync(a) => sync::init(config, a, io),
        Command::MergeDriver(a) => sync::merge_driver(config, a, io),
        // Answered before the configuration is read (see `run`).
        Command::Completions(_) | Command::Man => Ok(exit::OK),
    }
}

/// Whether the command promises a response object as the last line of
/// stdout, whatever happens.
/// clap's message on one line, without its usage and help hints.
fn clap_message(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let joined = lines.join(" ");
    joined.trim_start_matches("error: ").to_owned()
}

/// The commands whose last line of stdout is always a response object.
const RESPONDING: [&str; 7] = [
    "log",
    "skill-run",
    "index",
    "dashboard",
    "rotate",
    "replay",
    "import",
];

fn prints_response(command: &Command) -> bool {
    matches!(
        command,
        Command::Log(_)
            | Command::SkillRun(_)
            | Command::Index
            | Command::Dashboard
            | Command::Rotate(_)
            | Command::Replay(_)
            | Command::Import(_)
    )
}

/// Reports a failed command and returns its exit code: the one place a
/// [`CliError`] becomes output. The message may quote what was given, so it
/// is redacted.
fn fail(command: &Command, error: &CliError, red: &Redactor, io: &mut Io<'_>) -> u8 {
    let message = red.text(&error.to_string()).into_owned();
    if let Command::Hook(_) = command {
        // A hook must never block the agent, whatever went wrong.
        let _ = writeln!(io.stderr, "vault-audit hook: warning: {message}");
        return exit::OK;
    }
    let _ = writeln!(io.stderr, "vault-audit: {message}");
    if prints_response(command) {
        let _ = writeln!(io.stdout, "{}", Response::failed(message).to_line());
    }
    exit::code(error)
}

/// The subcommand clap finds in `argv`, parsing as far as it can.
fn subcommand(argv: &[OsString]) -> Option<String> {
    early(argv).0
}

/// The subcommand and `--env-file`, as far as clap can parse `argv`
/// before the environment is read.
fn early(argv: &[OsString]) -> (Option<String>, Option<PathBuf>) {
    let Ok(matches) = Args::command()
        .ignore_errors(true)
        .try_get_matches_from(argv)
    else {
        return (None, None);
    };
    let file = matches
        .try_get_one::<PathBuf>("env_file")
        .ok()
        .flatten()
        .cloned();
    (matches.subcommand_name().map(str::to_owned), file)
}

/// Reports arguments clap did not accept (or help and version, which it
/// asked for) and returns the exit code.
fn bad_usage(
    e: &clap::Error,
    command: Option<&str>,
    env: &impl Fn(&str) -> Option<String>,
    io: &mut Io<'_>,
) -> u8 {
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return exit::OK;
    }
    // clap quotes the value it refused: redacted, as every message is.
    let text = early_redactor(env).text(&e.to_string()).into_owned();
    let _ = write!(io.stderr, "{text}");
    match command {
        // These promise a response line on stdout, even for bad usage.
        Some(name) if RESPONDING.contains(&name) => {
            let message = clap_message(&text);
            let _ = writeln!(io.stdout, "{}", Response::failed(message).to_line());
            exit::USAGE
        }
        // A hook must never block the agent.
        Some("hook") => exit::OK,
        _ => exit::USAGE,
    }
}
