//! Accepting a day as it now stands (`repair --accept`) and sealing the
//! vault with the signing key (`seal`), each under the writers' lock.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use super::AuditLogger;
use crate::chain::head::{self, State};
use crate::chain::sign;
use crate::daily::{self, Inspection};
use crate::entry::{ActionType, Entry, LogLevel};
use crate::error::Error;
use crate::fsutil::{at, IoFailure};
use crate::vault::day_file_name;
use crate::verify;

/// What `repair --accept` accepted.
#[derive(Debug, Clone, Serialize)]
pub struct Accepted {
    /// The day file, relative to the vault.
    pub file: String,
    /// Entries it holds now, the state accepted.
    pub entries: u64,
    /// What `verify` reported for it, now accepted.
    pub problems: Vec<String>,
}

/// What `seal` signed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sealed {
    /// The days signed now (their state had no signature yet).
    pub days: Vec<String>,
    /// The head record's sequence number signed.
    pub seq: u64,
}

/// Why a day cannot be accepted or a vault sealed.
fn refused(message: String) -> Error {
    Error::Config { message }
}

impl AuditLogger {
    /// Accepts the day file of `date` as it now stands: what vault-audit
    /// recorded of it before no longer counts, a ledger line says so, and a
    /// WARNING entry (`system_event`, `tamper_accepted`) says what was
    /// accepted. For a person who has looked at what `verify` reports.
    pub fn accept_day(&self, date: NaiveDate) -> Result<Accepted, Error> {
        let name = format!("Logs/{}", day_file_name(date));
        let (accepted, entry) = self.with_writer_lock_at(|| {
            let logs = self.vault.logs();
            let report = at("read", &logs, verify::verify(&self.vault, &self.chain_key))?;
            let problems: Vec<String> = report
                .problems
                .iter()
                .filter(|p| p.file == name)
                .map(ToString::to_string)
                .collect();
            let state = day_state(&self.vault, date)?;
            let Some(state) = state else {
                return Ok(Err(format!("{name} is not in vault-audit's chained layout: run `vault-audit repair` first, then accept it")));
            };
            let note = format!("accepted by a person as it stands ({} entries): {}", state.entries, problems.join(" | "));
            let path = self.vault.ledger();
            at("write", &path, head::accept(&self.vault, &self.chain_key, &state, &note))?;
            let accepted = Accepted { file: name.clone(), entries: state.entries, problems };
            Ok(Ok((accepted.clone(), self.accept_event(&accepted))))
        })?
        .map_err(refused)?;
        self.log(entry)?;
        Ok(accepted)
    }

    fn accept_event(&self, accepted: &Accepted) -> Entry {
        Entry::new(
            LogLevel::Warning,
            ActionType::system_event(),
            "audit_logger",
            accepted.file.clone(),
        )
        .param("event", "tamper_accepted")
        .param("entries", accepted.entries)
        .param("accepted_problems", json!(accepted.problems))
        .param(
            "detail",
            "a person accepted this day file as it now stands: what vault-audit had recorded of it before no longer counts",
        )
    }

    /// Signs, with the signing key, every chained day whose present state
    /// has no signature yet, then the head record. Refused unless the vault
    /// verifies: a seal never signs a change.
    pub fn seal(&self) -> Result<Sealed, Error> {
        let Some(signer) = self.chain_key.signer().cloned() else {
            return Err(refused("seal needs a signing key: set AUDIT_SIGNING_KEY to a private key file (`vault-audit keygen PATH` makes one)".into()));
        };
        self.with_writer_lock_at(|| {
            let logs = self.vault.logs();
            let report = at("read", &logs, verify::verify(&self.vault, &self.chain_key))?;
            if !report.ok {
                let lines: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
                return Ok(Err(format!(
                    "the vault does not verify, so it is not sealed:\n{}",
                    lines.join("\n")
                )));
            }
            let path = self.vault.head_record();
            let head = match at("read", &path, head::read_head(&self.vault, &self.chain_key))? {
                Ok(h) => h,
                Err(_) => {
                    return Ok(Err(
                        "nothing to seal: no entry was written with a head record yet".into(),
                    ))
                }
            };
            let mut sealed = Sealed {
                seq: head.seq,
                ..Sealed::default()
            };
            for date in at("read", &logs, self.vault.day_files())? {
                let Some(state) = day_state(&self.vault, date)? else {
                    continue;
                };
                if state.chain.is_none() || signed_entries(&self.vault, date) >= Some(state.entries)
                {
                    continue;
                }
                let sig = self.vault.day_signature(date);
                at(
                    "write",
                    &sig,
                    sign::sign_day(&self.vault, &signer, &state, head.seq),
                )?;
                sealed.days.push(format!("Logs/{}", day_file_name(date)));
            }
            let sig = self.vault.head_signature();
            at("write", &sig, sign::sign_head(&self.vault, &signer, &head))?;
            Ok(Ok(sealed))
        })?
        .map_err(refused)
    }
}

/// The state of a day file in our layout (none when it is in another).
fn day_state(vault: &crate::vault::Vault, date: NaiveDate) -> Result<Option<State>, IoFailure> {
    let path = vault.day_file(date);
    let mut file = match crate::fsutil::open_read(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Some(State {
                day: date,
                start: None,
                entries: 0,
                chain: None,
            }))
        }
        Err(e) => return Err(IoFailure::new("open", &path, e)),
    };
    Ok(match at("read", &path, daily::inspect(&mut file, date))? {
        Inspection::Ours(s) => Some(State {
            day: date,
            start: s.head.start,
            entries: s.trailer.total_entries,
            chain: s.trailer.chain,
        }),
        _ => None,
    })
}

/// The entries a day's signature covers, if it has one.
fn signed_entries(vault: &crate::vault::Vault, date: NaiveDate) -> Option<u64> {
    let bytes = crate::fsutil::read_no_follow(&vault.day_signature(date)).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let (signed, _) = sign::split_line(&text)?;
    State::from_signed_text(signed).map(|(s, _)| s.entries)
}
