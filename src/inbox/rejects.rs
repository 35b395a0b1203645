//! A claim's rejected lines: kept beside it (`.processing/.<id>.rejected`,
//! one JSON record per line, synced before progress passes them), then, once
//! the claim is done, written to `rejected/<name>` with the reasons in
//! `<name>.errors.txt`. Streamed both ways, so any number of rejected lines
//! costs little memory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};

use serde_json::Value;

use super::{Claim, Intake};
use crate::fsutil::{ensure_dir, sync_dir, write_atomic_with};
use crate::redact::Redactor;
use crate::vault::Vault;

/// Messages of rejected lines kept in an [`Intake`] (the rest are counted).
pub(super) const MESSAGES_KEPT: usize = 100;

/// A rejected line as it is kept in `rejected/`: redacted like an entry
/// (by key too, when it parses as JSON), else as a raw line (key material
/// too: see [`Redactor::raw_line`]), so a secret in a bad line never
/// reaches the disk either; on one line.
pub(super) fn redact_raw(red: &Redactor, raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    match serde_json::from_str::<Value>(&text) {
        Ok(mut v) if v.is_object() || v.is_array() => {
            red.value(&mut v);
            v.to_string()
        }
        // Line breaks in an element of a `.json` array are white space.
        _ => red.raw_line(&text).replace(['\n', '\r'], " "),
    }
}

/// Appends records (whole lines) to a claim's side file, synced. A record
/// cut short by a crash is ended first, so it spoils no other.
pub(super) fn append_records(vault: &Vault, id: &str, text: &str) -> io::Result<()> {
    let path = vault.inbox_claim_rejects(id);
    let mut file = crate::fsutil::open_no_follow(
        &path,
        OpenOptions::new().read(true).append(true).create(true),
    )?;
    let len = file.metadata()?.len();
    let mut last = [b'\n'];
    if len > 0 {
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last)?;
    }
    let mut bytes = Vec::with_capacity(text.len() + 1);
    if last != [b'\n'] {
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(text.as_bytes());
    file.write_all(&bytes)?;
    file.sync_data()?;
    if len == 0 {
        sync_dir(&vault.inbox_processing())?;
    }
    Ok(())
}

/// Calls `each` with every record of a side file once (line, error, raw),
/// in order. A crash may have kept lines twice: a claim is read again from
/// its progress, so a record whose line is not past the last one seen is a
/// copy.
fn for_each_record(
    file: &mut File,
    each: &mut dyn FnMut(u64, &str, &str) -> io::Result<()>,
) -> io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    let mut last = 0;
    for line in BufReader::new(file).lines() {
        let Ok(record) = serde_json::from_str::<Value>(&line?) else {
            continue;
        };
        let n = record["line"].as_u64().unwrap_or(0);
        if n <= last {
            continue;
        }
        last = n;
        let error = record["error"].as_str().unwrap_or("");
        each(n, error, record["raw"].as_str().unwrap_or(""))?;
    }
    Ok(())
}

/// Once every line of a claim is consumed: its rejected lines are written to
/// `rejected/` (if any), and the claim and its side file removed.
pub(super) fn finish(vault: &Vault, claim: &Claim, intake: &mut Intake) -> io::Result<()> {
    let sidecar = claim.sidecar(vault);
    match crate::fsutil::open_read(&sidecar) {
        Ok(mut file) => write_rejected(vault, claim, &mut file, intake)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    for path in [&claim.path, &sidecar] {
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    intake.done = true;
    Ok(())
}

/// `rejected/<name>` (the raw lines) and `<name>.errors.txt` (each line's
/// number and problem), from the side file.
fn write_rejected(
    vault: &Vault,
    claim: &Claim,
    sidecar: &mut File,
    intake: &mut Intake,
) -> io::Result<()> {
    let mut count = 0;
    for_each_record(sidecar, &mut |_, _, _| {
        count += 1;
        Ok(())
    })?;
    if count == 0 {
        return Ok(());
    }
    ensure_dir(&vault.inbox_rejected())?;
    let mut name = claim.original.as_str();
    if vault.inbox_rejected_copy(name).exists() {
        name = &claim.id;
    }
    let target = vault.inbox_rejected_copy(name);
    write_atomic_with(&target, &mut |out| {
        for_each_record(sidecar, &mut |_, _, raw| writeln!(out, "{raw}"))
    })?;
    let mut kept = Vec::new();
    write_atomic_with(&vault.inbox_rejected_reasons(name), &mut |out| {
        kept.clear();
        for_each_record(sidecar, &mut |n, error, _| {
            if kept.len() < MESSAGES_KEPT {
                kept.push(format!("line {n}: {error}"));
            }
            writeln!(out, "line {n}: {error}")
        })
    })?;
    intake.rejected = kept;
    intake.rejected_count = count;
    intake.rejected_path = Some(target);
    Ok(())
}
