//! The command-line interface: arguments, configuration, one file per command.

pub mod agent;
pub mod args;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod exit;
pub mod forward;
pub mod log;
pub mod maintain;
pub mod mcp;
pub mod query;
pub mod response;
pub mod verify;

use std::ffi::OsString;
use std::io::{self, Write};

use clap::error::ErrorKind;
use clap::Parser;

use args::{Args, Command};
use config::Config;
use response::Response;

/// A variable of the process environment (after `.env` was loaded). A value
/// that is not UTF-8 is read lossily rather than taken as unset, so that a
/// key in it is never silently dropped.
fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Parses `argv`, runs the command and returns the exit code.
pub fn run<I: IntoIterator<Item = OsString>>(argv: I) -> u8 {
    // `.env` in the working folder (or above) fills variables the real
    // environment does not set; the real environment wins.
    let _ = dotenvy::dotenv();
    let argv: Vec<OsString> = argv.into_iter().collect();
    let stdout = &mut io::stdout().lock();
    let stderr = &mut io::stderr().lock();
    let args = match Args::try_parse_from(&argv) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                return exit::OK;
            }
            // `log` promises a response line on stdout, even for bad usage.
            if argv.iter().skip(1).any(|a| a == "log") {
                let first = e.to_string();
                let first = first.lines().next().unwrap_or("usage error");
                let _ = writeln!(
                    stdout,
                    "{}",
                    Response::failed(first.trim_start_matches("error: ")).to_line()
                );
            }
            // A hook must never block the agent, whatever went wrong.
            if argv.iter().skip(1).any(|a| a == "hook") {
                return exit::OK;
            }
            return exit::USAGE;
        }
    };
    let config = match Config::new(&args, process_env) {
        Ok(config) => config,
        Err(e) => {
            let _ = writeln!(stderr, "vault-audit: {e}");
            match args.command {
                Command::Log(_) | Command::SkillRun(_) => {
                    let _ = writeln!(stdout, "{}", Response::failed(e.0).to_line());
                }
                Command::Hook(_) => return exit::OK,
                _ => {}
            }
            return exit::USAGE;
        }
    };
    match &args.command {
        Command::Log(log_args) => log::run(
            &config,
            log_args,
            log::Io {
                stdin: &mut io::stdin().lock(),
                stdout,
                stderr,
            },
        ),
        Command::Index => maintain::run(&config, maintain::Task::Index, stdout, stderr),
        Command::Dashboard => maintain::run(&config, maintain::Task::Dashboard, stdout, stderr),
        Command::Rotate(r) => {
            maintain::run(&config, maintain::Task::Rotate(r.days), stdout, stderr)
        }
        Command::Query(q) => query::run(&config, q, stdout, stderr).unwrap_or_else(|e| {
            let _ = writeln!(stderr, "vault-audit: {e}");
            exit::USAGE
        }),
        Command::Tail(t) => query::tail(&config, t, stdout, stderr).unwrap_or_else(|e| {
            let _ = writeln!(stderr, "vault-audit: {e}");
            exit::USAGE
        }),
        Command::Daemon(d) => daemon::run(&config, d, stdout, stderr).unwrap_or_else(|e| {
            let _ = writeln!(stderr, "vault-audit: {e}");
            exit::USAGE
        }),
        Command::Replay => daemon::replay(&config, stdout, stderr).unwrap_or_else(|e| {
            let _ = writeln!(stderr, "vault-audit: {e}");
            exit::USAGE
        }),
        Command::Hook(_) => agent::hook(&config, &mut io::stdin().lock(), stderr),
        Command::SkillRun(a) => agent::skill_run(&config, a, stdout, stderr),
        Command::Mcp => mcp::run(&config, &mut io::stdin().lock(), stdout, stderr),
        Command::Verify(v) => verify::verify(&config, v, stdout).unwrap_or_else(|e| {
            let _ = writeln!(stderr, "vault-audit: {e}");
            exit::USAGE
        }),
        Command::Repair(r) => verify::repair(&config, r, stdout, stderr),
        Command::Forward(f) => forward::run(&config, f, stdout, stderr).unwrap_or_else(|e| {
            let _ = writeln!(stderr, "vault-audit: {e}");
            exit::USAGE
        }),
        Command::Demo(demo_args) => demo::run(&config, demo_args, stdout).unwrap_or_else(|e| {
            let _ = writeln!(stderr, "vault-audit: {e}");
            exit::USAGE
        }),
    }
}
