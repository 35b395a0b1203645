//! One daemon per vault: `Logs/.audit/daemon.pid`, locked for the daemon's life.
//!
//! The file holds the daemon's pid, and a second line `ready` once the daemon
//! watches the inbox and the vault. A probe (`daemon status`) takes a shared
//! lock for a moment; the daemon's exclusive lock excludes it. A daemon that
//! starts while a probe holds its shared lock retries for a moment rather than
//! taking the probe for a running daemon.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

use crate::fsutil::ensure_dir;
use crate::vault::Vault;

/// How long a starting daemon retries a lock held by someone else.
const ACQUIRE_PATIENCE: Duration = Duration::from_millis(1500);

/// The held pid file: locked until it is dropped (or the process ends).
pub struct PidFile {
    file: File,
}

/// Why the pid file could not be taken.
#[derive(Debug)]
pub enum Taken {
    /// Another daemon runs, with this pid (if it could be read).
    Running(Option<u32>),
    /// The file could not be opened or written.
    Io(io::Error),
}

/// A running daemon, as its pid file tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Running {
    /// Its pid (0 if the file could not be read).
    pub pid: u32,
    /// Whether it has finished starting and watches the inbox and vault.
    pub ready: bool,
}

fn open(vault: &Vault) -> io::Result<File> {
    ensure_dir(&vault.state_dir())?;
    crate::fsutil::open_no_follow(
        &vault.pid_file(),
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
}

fn read_state(file: &mut File) -> Running {
    let mut text = String::new();
    let read = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_string(&mut text));
    if read.is_err() {
        return Running {
            pid: 0,
            ready: false,
        };
    }
    let mut lines = text.lines();
    Running {
        pid: lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0),
        ready: lines.next().is_some_and(|l| l.trim() == "ready"),
    }
}

fn write_state(file: &mut File, text: &str) -> io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(text.as_bytes())?;
    file.sync_data()
}

impl PidFile {
    /// Takes the pid file and writes our pid into it.
    pub fn acquire(vault: &Vault) -> Result<PidFile, Taken> {
        let mut file = open(vault).map_err(Taken::Io)?;
        let started = Instant::now();
        while !crate::lock::try_exclusive(&file).map_err(Taken::Io)? {
            if started.elapsed() >= ACQUIRE_PATIENCE {
                let mut file = crate::fsutil::open_read(&vault.pid_file()).map_err(Taken::Io)?;
                return Err(Taken::Running(Some(read_state(&mut file).pid)));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        write_state(&mut file, &std::process::id().to_string()).map_err(Taken::Io)?;
        Ok(PidFile { file })
    }

    /// Marks the daemon ready: it has taken in what waited and watches.
    pub fn ready(&mut self) -> io::Result<()> {
        write_state(&mut self.file, &format!("{}\nready\n", std::process::id()))
    }
}

/// The daemon running for this vault, if one runs.
pub fn running(vault: &Vault) -> io::Result<Option<Running>> {
    if !vault.pid_file().exists() {
        return Ok(None);
    }
    let file = open(vault)?;
    if crate::lock::try_shared(&file)? {
        // No daemon holds it; the shared lock ends as the file closes.
        return Ok(None);
    }
    let mut file = crate::fsutil::open_read(&vault.pid_file())?;
    Ok(Some(read_state(&mut file)))
}
