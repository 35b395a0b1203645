//! One daemon per vault: `Logs/.audit/daemon.pid`, locked for the daemon's life.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use crate::fsutil::ensure_dir;
use crate::vault::Vault;

/// The pid file's path.
pub fn path(vault: &Vault) -> PathBuf {
    vault.state_file("daemon.pid")
}

/// The held pid file: the lock lasts until the process ends.
pub struct PidFile {
    _guard: fd_lock::RwLockWriteGuard<'static, File>,
}

/// Why the pid file could not be taken.
#[derive(Debug)]
pub enum Taken {
    /// Another daemon runs, with this pid (if it could be read).
    Running(Option<u32>),
    /// The file could not be opened or written.
    Io(io::Error),
}

fn open(vault: &Vault) -> io::Result<File> {
    ensure_dir(&vault.state_dir())?;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path(vault))
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

impl PidFile {
    /// Takes the pid file and writes our pid into it.
    pub fn acquire(vault: &Vault) -> Result<PidFile, Taken> {
        let file = open(vault).map_err(Taken::Io)?;
        // The lock must outlive every borrow of it: it lives as long as the process.
        let lock: &'static mut fd_lock::RwLock<File> =
            Box::leak(Box::new(fd_lock::RwLock::new(file)));
        match lock.try_write() {
            Ok(mut guard) => {
                let pid = std::process::id().to_string();
                guard.set_len(0).map_err(Taken::Io)?;
                guard.seek(SeekFrom::Start(0)).map_err(Taken::Io)?;
                guard.write_all(pid.as_bytes()).map_err(Taken::Io)?;
                guard.sync_data().map_err(Taken::Io)?;
                Ok(PidFile { _guard: guard })
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let mut file = File::open(path(vault)).map_err(Taken::Io)?;
                Err(Taken::Running(read_pid(&mut file)))
            }
            Err(e) => Err(Taken::Io(e)),
        }
    }
}

/// The pid of the daemon running for this vault, if one runs.
pub fn running(vault: &Vault) -> io::Result<Option<u32>> {
    if !path(vault).exists() {
        return Ok(None);
    }
    let file = open(vault)?;
    let mut lock = fd_lock::RwLock::new(file);
    let busy = match lock.try_write() {
        Ok(_) => false,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
        Err(e) => return Err(e),
    };
    if !busy {
        return Ok(None);
    }
    let mut file = File::open(path(vault))?;
    Ok(Some(read_pid(&mut file).unwrap_or(0)))
}
