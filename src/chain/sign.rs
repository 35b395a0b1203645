//! Ed25519 keys and signatures: what lets anyone holding the public key
//! check a vault's days without any secret.
//!
//! A private key file holds one line, `ed25519-private-key <64 hex digits>`
//! (the 32-byte seed); the public key file beside it (`PATH.pub`) holds
//! `ed25519-public-key <64 hex digits>`. A signed line is the signed text, a
//! space, and `ed25519:<128 hex digits>`.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ed25519_dalek::{Signature, Signer, Verifier};

use super::state::{Head, State};
use crate::fsutil::{ensure_dir, write_atomic};
use crate::vault::Vault;

/// What opens a private key file's line.
const PRIVATE_TAG: &str = "ed25519-private-key";
/// What opens a public key file's line.
const PUBLIC_TAG: &str = "ed25519-public-key";
/// What opens a signature on a signed line.
const SIG_TAG: &str = "ed25519:";

/// An Ed25519 private key. Its `Debug` never shows it.
#[derive(Clone)]
pub struct SigningKey(Arc<ed25519_dalek::SigningKey>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public {})", self.public().to_text())
    }
}

/// An Ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

/// Why a key file was refused.
fn bad_key(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} is not an Ed25519 {what} key file of vault-audit (one line: `{} <64 hex digits>`; `vault-audit keygen PATH` writes one)",
            path.display(),
            if what == "private" { PRIVATE_TAG } else { PUBLIC_TAG }
        ),
    )
}

/// The 32 bytes after `tag` on the one line of `text`.
fn key_bytes(text: &str, tag: &str) -> Option<[u8; 32]> {
    let hex = text.trim().strip_prefix(tag)?.trim();
    super::from_hex(hex)
}

impl SigningKey {
    /// A new random key.
    pub fn generate() -> SigningKey {
        let seed: [u8; 32] = rand::random();
        SigningKey(Arc::new(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// Reads a private key file.
    pub fn read(path: &Path) -> io::Result<SigningKey> {
        let text = std::fs::read_to_string(path)?;
        let seed = key_bytes(&text, PRIVATE_TAG).ok_or_else(|| bad_key(path, "private"))?;
        Ok(SigningKey(Arc::new(ed25519_dalek::SigningKey::from_bytes(
            &seed,
        ))))
    }

    /// Its public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// `text`, a space and its signature: one signed line.
    pub fn sign_line(&self, text: &str) -> String {
        let sig: Signature = self.0.sign(text.as_bytes());
        format!("{text} {SIG_TAG}{}", hex(&sig.to_bytes()))
    }

    /// Writes this key to `path` (mode 0600, never over an existing file)
    /// and its public key to `PATH.pub`; returns the public key's path.
    pub fn write_pair(&self, path: &Path) -> io::Result<PathBuf> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path)?;
        writeln!(file, "{PRIVATE_TAG} {}", hex(&self.0.to_bytes()))?;
        file.sync_all()?;
        let mut public = path.as_os_str().to_owned();
        public.push(".pub");
        let public = PathBuf::from(public);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&public)?;
        writeln!(file, "{}", self.public().to_text())?;
        file.sync_all()?;
        Ok(public)
    }
}

impl PublicKey {
    /// Reads a public key file.
    pub fn read(path: &Path) -> io::Result<PublicKey> {
        let text = std::fs::read_to_string(path)?;
        key_bytes(&text, PUBLIC_TAG)
            .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
            .map(PublicKey)
            .ok_or_else(|| bad_key(path, "public"))
    }

    /// The line of its key file.
    pub fn to_text(&self) -> String {
        format!("{PUBLIC_TAG} {}", hex(self.0.as_bytes()))
    }

    /// The signed text of a signed line, when its signature holds.
    pub fn check_line<'a>(&self, line: &'a str) -> Result<&'a str, SignatureProblem> {
        let (text, sig) = split_line(line).ok_or(SignatureProblem::Unreadable)?;
        let bytes = from_hex_vec(sig).ok_or(SignatureProblem::Unreadable)?;
        let sig = Signature::from_slice(&bytes).map_err(|_| SignatureProblem::Unreadable)?;
        self.0
            .verify(text.as_bytes(), &sig)
            .map(|()| text)
            .map_err(|_| SignatureProblem::Wrong)
    }
}

/// Signs a day's state (`Logs/.audit/signatures/<day>.sig`), durably.
pub fn sign_day(vault: &Vault, key: &SigningKey, state: &State, seq: u64) -> io::Result<()> {
    ensure_dir(&vault.signatures())?;
    let line = key.sign_line(&state.signed_text(seq));
    write_atomic(
        &vault.day_signature(state.day),
        format!("{line}\n").as_bytes(),
    )
}

/// Signs the head record with the entry counts of every signed day
/// (`Logs/.audit/head.sig`), durably: removing a day's signature is then
/// evident.
pub fn sign_head(vault: &Vault, key: &SigningKey, head: &Head) -> io::Result<()> {
    let mut days = serde_json::Map::new();
    for day in vault.signed_days()? {
        let text = crate::fsutil::read_no_follow(&vault.day_signature(day))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        if let Some((state, _)) = split_line(&text).and_then(|(t, _)| State::from_signed_text(t)) {
            days.insert(day.format("%Y-%m-%d").to_string(), state.entries.into());
        }
    }
    let text = serde_json::json!({"head": head.line, "days": days}).to_string();
    let line = key.sign_line(&text);
    write_atomic(&vault.head_signature(), format!("{line}\n").as_bytes())
}

/// What a signed head says: the head line and each signed day's count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHead {
    /// The head record as signed.
    pub head: Head,
    /// The days whose signatures existed then, with the entries they signed.
    pub days: std::collections::BTreeMap<chrono::NaiveDate, u64>,
}

impl SignedHead {
    /// Reads the signed text of `Logs/.audit/head.sig`.
    pub fn parse(text: &str) -> Option<SignedHead> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let head = Head::parse(v.get("head")?.as_str()?)?;
        let days = v
            .get("days")?
            .as_object()?
            .iter()
            .filter_map(|(d, n)| Some((crate::time::parse_day(d)?, n.as_u64()?)))
            .collect();
        Some(SignedHead { head, days })
    }
}

/// The signed text and the signature's hex of a signed line.
pub fn split_line(line: &str) -> Option<(&str, &str)> {
    let (text, sig) = line.trim_end().rsplit_once(' ')?;
    Some((text, sig.strip_prefix(SIG_TAG)?))
}

/// Why a signed line does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    /// It is not a signed line.
    #[error("is not a signed line of vault-audit")]
    Unreadable,
    /// The signature does not match the text under this public key.
    #[error("its signature does not hold under this public key: it was changed, or signed with another key")]
    Wrong,
}

/// Lower-case hex of any bytes.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Bytes from hex digits.
fn from_hex_vec(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_line_holds_under_its_public_key_only() {
        let key = SigningKey::generate();
        let line = key.sign_line("{\"day\":\"2026-11-22\"}");
        assert_eq!(
            key.public().check_line(&line),
            Ok("{\"day\":\"2026-11-22\"}")
        );
        let changed = line.replace("22", "23");
        assert_eq!(
            key.public().check_line(&changed),
            Err(SignatureProblem::Wrong)
        );
        let other = SigningKey::generate().public();
        assert_eq!(other.check_line(&line), Err(SignatureProblem::Wrong));
        assert_eq!(
            key.public().check_line("no signature"),
            Err(SignatureProblem::Unreadable)
        );
    }

    #[test]
    fn a_key_pair_round_trips_through_its_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.key");
        let key = SigningKey::generate();
        let public = key.write_pair(&path).expect("write");
        assert_eq!(
            SigningKey::read(&path).expect("read").public(),
            key.public()
        );
        assert_eq!(PublicKey::read(&public).expect("read"), key.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(key.write_pair(&path).is_err(), "never over an existing key");
        assert!(
            PublicKey::read(&path).is_err(),
            "a private key is not a public one"
        );
    }
}
