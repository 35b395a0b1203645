//! The `vault-audit` command: parse arguments, run, exit with the documented code.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(vault_audit::cli::run(std::env::args_os()))
}
