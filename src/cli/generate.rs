//! `vault-audit completions <shell>` and `vault-audit man`: the shell
//! completion script and the roff manual page, both from the argument
//! definitions, so they never fall behind them.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::args::{Args, Command};
use crate::cli::exit;

/// Prints what `command` asks for, or `None` when it is not one of these.
pub fn run(command: &Command, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Option<u8> {
    // Rendered in memory first: clap_complete panics when its writer fails
    // (a closed pipe), and nothing here may panic.
    let mut text = Vec::new();
    let rendered = match command {
        Command::Completions(c) => {
            clap_complete::generate(c.shell, &mut Args::command(), "vault-audit", &mut text);
            Ok(())
        }
        Command::Man => clap_mangen::Man::new(Args::command()).render(&mut text),
        _ => return None,
    };
    let written = rendered.and_then(|()| {
        stdout.write_all(&text)?;
        stdout.flush()
    });
    Some(match written {
        Ok(()) => exit::OK,
        // `vault-audit man | head`: the reader had enough.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            let _ = writeln!(stderr, "vault-audit: write to stdout: {e}");
            exit::IO
        }
    })
}
