//! The cross-process writer lock: an exclusive `File::lock` (flock on Unix,
//! LockFileEx on Windows) on the stable file `Logs/.audit/lock`, never on a
//! day file, retried with random jitter until a deadline.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rand::RngExt;

/// The shortest and longest pause between two tries.
const MIN_PAUSE: Duration = Duration::from_micros(200);
const MAX_PAUSE: Duration = Duration::from_millis(25);

/// Why the lock was not taken.
#[derive(Debug)]
pub enum LockFailure {
    /// Another writer held it past the deadline.
    TimedOut(Duration),
    /// The lock file could not be opened or locked.
    Io(io::Error),
}

/// Opens (or creates) the lock file; its content never matters.
fn open(path: &Path) -> io::Result<File> {
    crate::fsutil::open_no_follow(
        path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
}

/// Takes the exclusive lock on `file` if it is free: `Ok(false)` when
/// someone else holds it. Released by [`File::unlock`] or when the file closes.
pub fn try_exclusive(file: &File) -> io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Takes a shared lock on `file` if no one holds it exclusively.
pub fn try_shared(file: &File) -> io::Result<bool> {
    match file.try_lock_shared() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Runs `work` while holding the exclusive lock on `path`, trying until
/// `timeout` has passed. The lock is released when `work` returns.
pub fn with_lock<T>(
    path: &Path,
    timeout: Duration,
    work: impl FnOnce() -> T,
) -> Result<T, LockFailure> {
    let file = open(path).map_err(LockFailure::Io)?;
    let started = Instant::now();
    let mut pause = MIN_PAUSE;
    let mut rng = rand::rng();
    loop {
        if try_exclusive(&file).map_err(LockFailure::Io)? {
            let done = work();
            // Closing the file releases the lock as well; an unlock that
            // fails changes nothing more.
            let _ = file.unlock();
            return Ok(done);
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(LockFailure::TimedOut(waited));
        }
        // Full jitter: sleep a random part of a growing pause, never past the deadline.
        let sleep = rng.random_range(MIN_PAUSE..=pause).min(timeout - waited);
        thread::sleep(sleep);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Holds the lock on `path` until dropped; for tests and tools that need to
/// keep writers out (`hold` blocks until the lock is free).
pub struct HeldLock {
    /// Locked; closing it when `HeldLock` is dropped releases the lock.
    _file: File,
}

impl HeldLock {
    /// Takes the lock at `path` if it is free now; `None` if another
    /// process holds it.
    pub fn try_hold(path: &Path) -> io::Result<Option<HeldLock>> {
        let file = open(path)?;
        Ok(try_exclusive(&file)?.then_some(HeldLock { _file: file }))
    }

    /// Takes the lock, waiting as long as needed.
    pub fn hold(path: &Path) -> io::Result<HeldLock> {
        let file = open(path)?;
        file.lock()?;
        Ok(HeldLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_times_out_other_writers_and_frees_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lock");
        let held = HeldLock::hold(&path).expect("hold");
        let r = with_lock(&path, Duration::from_millis(50), || ());
        assert!(matches!(r, Err(LockFailure::TimedOut(d)) if d >= Duration::from_millis(50)));
        drop(held);
        assert!(with_lock(&path, Duration::from_millis(50), || 7).is_ok_and(|v| v == 7));
    }
}
