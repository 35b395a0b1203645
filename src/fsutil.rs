//! Durable file-system steps: atomic replace, directory sync, durable append.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An I/O failure with what was being done and where.
#[derive(Debug, thiserror::Error)]
#[error("could not {op} {}: {source}", path.display())]
pub struct IoFailure {
    /// What was being done: "write", "sync", "open", ...
    pub op: &'static str,
    /// The file or folder.
    pub path: PathBuf,
    /// The operating system's error.
    #[source]
    pub source: io::Error,
}

impl IoFailure {
    /// `source`, while doing `op` on `path`.
    pub fn new(op: &'static str, path: &Path, source: io::Error) -> IoFailure {
        IoFailure {
            op,
            path: path.to_owned(),
            source,
        }
    }
}

/// Tags an I/O result with what was being done and where.
pub fn at<T>(op: &'static str, path: &Path, r: io::Result<T>) -> Result<T, IoFailure> {
    r.map_err(|source| IoFailure::new(op, path, source))
}

/// The error for a symbolic link where vault-audit will not go through one.
fn link_refused(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} is a symbolic link; vault-audit never writes or reads its own files through one (move it away; `vault-audit verify` lists what is in the way)",
        path.display()
    ))
}

/// Whether `path` is itself a symbolic link (a missing path is not).
fn is_link(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Refuses `path` when a folder between it and the `Logs/` folder above it
/// is a symbolic link (a planted `Logs/.audit -> /elsewhere` would send our
/// writes outside the vault). `Logs/` itself may be a link: users put logs
/// on another disk. A path with no `Logs/` above it is not checked.
pub fn refuse_linked_folders(path: &Path) -> io::Result<()> {
    let mut folders = Vec::new();
    for folder in path.ancestors().skip(1) {
        if folder.file_name().is_some_and(|n| n == "Logs") {
            return match folders.into_iter().find(|f: &&Path| is_link(f)) {
                Some(link) => Err(link_refused(link)),
                None => Ok(()),
            };
        }
        folders.push(folder);
    }
    Ok(())
}

/// Refuses `path` when a folder between `root` (the vault) and it is a
/// symbolic link: a planted `Briefings -> /elsewhere` must not send a note
/// out of the vault. A path outside `root` is not checked: the user named it.
pub fn refuse_linked_folders_below(root: &Path, path: &Path) -> io::Result<()> {
    let folders = path.ancestors().skip(1);
    match folders
        .take_while(|f| f.starts_with(root) && *f != root)
        .find(|f| is_link(f))
    {
        Some(link) => Err(io::Error::other(format!(
            "{} is a symbolic link: vault-audit writes notes only into real folders of the vault",
            link.display()
        ))),
        None => Ok(()),
    }
}

/// Opens `path` with `options` without following a symbolic link at it
/// (`O_NOFOLLOW`) or at a folder between it and `Logs/`.
pub fn open_no_follow(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    refuse_linked_folders(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: a FIFO planted in our place must not hang the writer
        // (it is refused below); regular files ignore the flag.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        // FILE_FLAG_OPEN_REPARSE_POINT: a symbolic link is opened itself, not
        // followed, and refused below as not a regular file.
        options.custom_flags(0x0020_0000);
    }
    let file = options.open(path).map_err(|e| match is_link(path) {
        true => link_refused(path),
        false => e,
    })?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file (a folder, a pipe or a device); vault-audit only reads and writes regular files there",
            path.display()
        )));
    }
    Ok(file)
}

/// Opens `path` for reading without following a symbolic link.
pub fn open_read(path: &Path) -> io::Result<File> {
    open_no_follow(path, OpenOptions::new().read(true))
}

/// Reads all of `path` without following a symbolic link.
pub fn read_no_follow(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut open_read(path)?, &mut bytes)?;
    Ok(bytes)
}

/// Syncs a directory so that a new or renamed entry in it survives a crash.
/// A no-op where directories cannot be opened (Windows).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Creates `dir` (and its parents) if needed, syncing the parent of every
/// folder it creates.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return refuse_linked_folders(&dir.join("x"));
    }
    if let Some(parent) = dir.parent() {
        ensure_dir(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// A hidden temporary name beside `path` (hidden from Obsidian, never
/// matching a day-file name).
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nonce: u32 = rand::random();
    path.with_file_name(format!(".{name}.{}-{nonce:08x}.tmp", std::process::id()))
}

/// Replaces `path` with `bytes` atomically and durably: write a temporary
/// file in the same folder, sync it, rename it over `path`, sync the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_replace(path, bytes, true)?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Like [`write_atomic`], with the bytes that `fill` writes, streamed
/// through a buffer (never all in memory at once).
pub fn write_atomic_with(
    path: &Path,
    fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    refuse_linked_folders(path)?;
    let tmp = temp_path(path);
    let result = (|| {
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let mut out = io::BufWriter::new(file);
        fill(&mut out)?;
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_data()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    match path.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Replaces `path` with `bytes` atomically: a temporary file in the same
/// folder renamed over it, so readers see the old or the new file, whole.
/// With `sync`, the new bytes are on disk before the rename, so a crash can
/// never leave an empty file behind.
///
/// A symbolic link at `path` is replaced (the link, never what it points
/// to); one at a folder between it and `Logs/` is refused.
pub fn write_replace(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    refuse_linked_folders(path)?;
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        if sync {
            file.sync_data()?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Replaces `path` with `bytes` (synced first) only if it still holds
/// `expected` just before the rename; returns false, leaving it alone, if it
/// changed meanwhile (someone editing it). Its permissions are kept.
pub fn replace_if_unchanged(path: &Path, expected: &[u8], bytes: &[u8]) -> io::Result<bool> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        if let Ok(meta) = fs::metadata(path) {
            fs::set_permissions(&tmp, meta.permissions())?;
        }
        file.sync_data()?;
        if fs::read(path)? != expected {
            return Ok(false);
        }
        fs::rename(&tmp, path)?;
        Ok(true)
    })();
    if !matches!(result, Ok(true)) {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Appends `bytes` to `path` with one write and a sync, creating the file
/// (and syncing its folder) when it is new.
///
/// A symbolic link at `path` or at a folder up to `Logs/` is refused.
pub fn append_durable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let existed = path.exists();
    let mut file = open_no_follow(path, OpenOptions::new().append(true).create(true))?;
    file.write_all(bytes)?;
    file.sync_data()?;
    if !existed {
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
    }
    Ok(())
}

/// Reads `len` bytes at `offset` (fewer at the end of the file) with one
/// positioned read where the platform has one.
pub fn read_range(file: &mut File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len as usize];
    let mut filled = 0;
    while filled < buf.len() {
        let n = positioned::read(file, &mut buf[filled..], offset + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Overwrites `path` in place with `bytes` (no temporary file, no rename,
/// no sync): for state the caller holds the writers' lock over and can
/// afford to lose to a crash, as a cut write reads as no state at all.
/// Rewriting one inode costs the next `fdatasync` of a day file far less
/// than a new file renamed into place does. A symbolic link at `path` is
/// replaced by a file, never followed.
pub fn overwrite_in_place(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if is_link(path) {
        return write_replace(path, bytes, false);
    }
    let mut file = open_no_follow(path, OpenOptions::new().write(true).create(true))?;
    write_at(&mut file, bytes, 0)?;
    file.set_len(bytes.len() as u64)
}

/// Writes all of `bytes` at `offset` with positioned writes.
pub fn write_at(file: &mut File, bytes: &[u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < bytes.len() {
        match positioned::write(file, &bytes[done..], offset + done as u64)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => done += n,
        }
    }
    Ok(())
}

#[cfg(unix)]
mod positioned {
    use std::fs::File;
    use std::io;
    use std::os::unix::fs::FileExt;

    pub fn read(file: &mut File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        file.read_at(buf, offset)
    }

    pub fn write(file: &mut File, buf: &[u8], offset: u64) -> io::Result<usize> {
        file.write_at(buf, offset)
    }
}

/// Windows: `seek_read`/`seek_write` (they move the file's cursor, which
/// nothing here relies on).
#[cfg(windows)]
mod positioned {
    use std::fs::File;
    use std::io;
    use std::os::windows::fs::FileExt;

    pub fn read(file: &mut File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        file.seek_read(buf, offset)
    }

    pub fn write(file: &mut File, buf: &[u8], offset: u64) -> io::Result<usize> {
        file.seek_write(buf, offset)
    }
}

#[cfg(not(any(unix, windows)))]
mod positioned {
    use std::fs::File;
    use std::io::{self, Read, Seek, SeekFrom, Write};

    pub fn read(file: &mut File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        file.seek(SeekFrom::Start(offset))?;
        file.read(buf)
    }

    pub fn write(file: &mut File, buf: &[u8], offset: u64) -> io::Result<usize> {
        file.seek(SeekFrom::Start(offset))?;
        file.write(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_edited_meanwhile_is_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("Dashboard.md");
        fs::write(&path, "what we read").expect("write");
        fs::write(&path, "what the user typed since").expect("edit");
        assert!(!replace_if_unchanged(&path, b"what we read", b"ours").expect("replace"));
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            "what the user typed since"
        );
        assert!(
            replace_if_unchanged(&path, b"what the user typed since", b"ours").expect("replace")
        );
        assert_eq!(fs::read_to_string(&path).expect("read"), "ours");
        let leftovers = fs::read_dir(dir.path()).expect("ls").count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }
}
