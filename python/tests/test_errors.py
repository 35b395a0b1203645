"""Each exception with its documented fields; no input crashes the
interpreter or escapes as anything but a VaultAuditError."""

from __future__ import annotations

import fcntl
import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List

import pytest

from conftest import seed_entry, today
from vault_audit import (
    AuditIOError,
    AuditLogger,
    ConfigError,
    EntryRejected,
    LockTimeout,
    Problem,
    QueryRejected,
    VaultAuditError,
)


def test_entry_rejected_lists_every_problem_of_every_entry(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    bad = [
        seed_entry(),
        seed_entry(log_level="DEBUG", result="maybe"),
        seed_entry(actor=""),
    ]
    with pytest.raises(EntryRejected) as caught:
        logger.log_batch(bad)
    problems = caught.value.problems
    assert [(p.entry, p.field) for p in problems] == [
        (1, "log_level"),
        (1, "result"),
        (2, "actor"),
    ]
    assert all(isinstance(p, Problem) for p in problems)
    assert '"DEBUG"' in problems[0].message and "INFO, WARNING, ERROR, CRITICAL" in problems[0].message
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, VaultAuditError)
    assert not (vault / "Logs" / f"{today()}.json").exists(), "all or none"


def test_a_rejected_secret_is_not_repeated_in_the_message(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    secret = "sk-ant-api03-" + "A" * 40
    with pytest.raises(EntryRejected) as caught:
        logger.log_entry(seed_entry(log_level=secret))
    assert secret not in str(caught.value)
    assert all(secret not in p.message for p in caught.value.problems)


def test_the_spec_api_returns_false_and_says_why(
    vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = AuditLogger(vault, dry_run=False)
    assert logger.log({"log_level": "INFO"}) is False
    err = capsys.readouterr().err
    assert "ERROR: Log entry failed schema validation" in err
    assert 'missing field "actor"' in err


def test_lock_timeout_names_the_fallback_and_the_entry_is_kept(
    vault: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUDIT_LOCK_TIMEOUT_MS", "200")
    logger = AuditLogger(vault, dry_run=False)
    logger.log(seed_entry(target="first"))  # creates the lock file
    lock = vault / "Logs" / ".audit" / "lock"
    with open(lock, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(LockTimeout) as caught:
            logger.log_entry(seed_entry(target="held out"))
        assert logger.log(seed_entry(target="held out again")) is False
    error = caught.value
    assert error.fallback_path == vault / "Logs" / "failed_writes.json"
    assert error.waited_ms >= 200
    assert isinstance(error, TimeoutError)
    saved = [json.loads(line) for line in error.fallback_path.read_text("utf-8").splitlines()]
    assert [e["target"] for e in saved] == ["held out", "held out again"]
    assert "CRITICAL: File lock failed" in capsys.readouterr().err


def test_audit_io_error_names_the_path_and_keeps_the_entry(vault: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("not ours", "utf-8")
    (vault / "Logs" / f"{today()}.json").symlink_to(elsewhere)
    logger = AuditLogger(vault, dry_run=False)
    with pytest.raises(AuditIOError) as caught:
        logger.log_entry(seed_entry(target="not through a symlink"))
    error = caught.value
    assert error.path == vault / "Logs" / f"{today()}.json"
    assert error.fallback_path == vault / "Logs" / "failed_writes.json"
    assert "not through a symlink" in error.fallback_path.read_text("utf-8")
    assert isinstance(error, OSError)
    assert elsewhere.read_text("utf-8") == "not ours"


def test_config_errors_name_the_setting(vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_RETENTION_DAYS", "0")
    with pytest.raises(ConfigError) as caught:
        AuditLogger(vault)
    assert "AUDIT_RETENTION_DAYS" in str(caught.value) or "retention" in str(caught.value)
    monkeypatch.delenv("AUDIT_RETENTION_DAYS")
    with pytest.raises(ConfigError, match="VAULT_PATH"):
        AuditLogger(None)
    with pytest.raises(AuditIOError):
        AuditLogger(vault / "missing")


def test_vault_path_comes_from_the_environment(vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_PATH", str(vault))
    logger = AuditLogger()
    assert logger.vault_path == vault
    assert logger.log(seed_entry())


def test_query_rejected_names_every_wrong_argument(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    with pytest.raises(QueryRejected) as caught:
        list(logger.query(since="yesterday", level="LOUD", result="perhaps"))
    assert [p.field for p in caught.value.problems] == ["since", "level", "result"]


class Unencodable:
    pass


HOSTILE: List[Any] = [
    None,
    [],
    "a string",
    42,
    {"log_level": float("nan")},
    {"parameters": {"x": math.inf}},
    {"parameters": {"x": Unencodable()}},
    {"parameters": {"x": b"bytes"}},
    {("tuple", "key"): 1},
    {"actor": "\ud800 lone surrogate"},
    {"parameters": {"deep": None}},
    {"target": "x" * 2_000_000},
    {"timestamp": "2026-13-45T99:99:99Z"},
    {"timestamp": "not a time"},
    {"timestamp": 1234},
    {"parameters": "not an object"},
    {"dry_run": "yes"},
    {"session_id": ""},
    {"unknown_key": 1},
]


def deep(levels: int) -> Dict[str, Any]:
    value: Dict[str, Any] = {}
    for _ in range(levels):
        value = {"d": value}
    return value


@pytest.mark.parametrize("changes", HOSTILE + [{"parameters": deep(5000)}])
def test_hostile_input_is_rejected_cleanly(vault: Path, changes: Any) -> None:
    logger = AuditLogger(vault, dry_run=False)
    entry = seed_entry(**changes) if isinstance(changes, dict) and all(
        isinstance(k, str) for k in changes
    ) else changes
    if isinstance(changes, dict) and not all(isinstance(k, str) for k in changes):
        entry = {**seed_entry(), **changes}
    try:
        logger.log_entry(entry)
    except VaultAuditError:
        pass
    assert logger.log(entry) in (True, False)


def test_non_json_values_a_skill_commonly_uses_are_written(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    receipt = logger.log_entry(
        seed_entry(
            timestamp=datetime.now(timezone.utc),
            parameters={"file": Path("Inbox/a.md"), "tags": ("a", "b"), "when": datetime(2026, 1, 2)},
        )
    )
    assert receipt.entries[0]["parameters"] == {
        "file": "Inbox/a.md",
        "tags": ["a", "b"],
        "when": "2026-01-02T00:00:00",
    }


def test_env_file_in_the_current_folder_fills_unset_settings(tmp_path: Path, vault: Path) -> None:
    import subprocess
    import sys

    (tmp_path / ".env").write_text(f"VAULT_PATH={vault}\nAUDIT_REDACTION=off\n", "utf-8")
    run = subprocess.run(
        [sys.executable, "-c", "import os, vault_audit; print(os.environ['VAULT_PATH'])"],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k not in ("VAULT_PATH", "AUDIT_REDACTION")},
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(vault)
    assert "AUDIT_REDACTION=off comes from .env" in run.stderr


def test_entries_refused_after_parsing_are_all_named_too(vault: Path) -> None:
    from datetime import timedelta

    logger = AuditLogger(vault, dry_run=False)
    old = [
        (datetime.now(timezone.utc) - timedelta(days=days)).isoformat() for days in (200, 300)
    ]
    with pytest.raises(EntryRejected) as caught:
        logger.log_batch([seed_entry(), seed_entry(timestamp=old[0]), seed_entry(timestamp=old[1])])
    assert [(p.entry, p.field) for p in caught.value.problems] == [(1, "timestamp"), (2, "timestamp")]
    assert "90" in caught.value.problems[0].message
    assert not (vault / "Logs" / f"{today()}.json").exists()
