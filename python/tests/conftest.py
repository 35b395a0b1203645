"""Shared fixtures: a fresh vault per test, the CLI binary, entry helpers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

REPO = Path(__file__).resolve().parents[2]

DASHBOARD = """# AI Employee Dashboard

## Recent Activity

| Time | Action | Actor | Result |
|------|--------|-------|--------|

## Notes

- kept as it is
"""


def today() -> str:
    """Today's UTC date, as the logger names day files."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def seed_entry(**changes: Any) -> Dict[str, Any]:
    """A valid entry with all twelve keys, as the specification's self-test
    builds it."""
    entry: Dict[str, Any] = {
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "log_level": "INFO",
        "action_type": "system_event",
        "actor": "audit_logger_test",
        "target": "self_test",
        "parameters": {"test_id": 123},
        "approval_status": "not_required",
        "approved_by": "N/A",
        "dry_run": False,
        "result": "success",
        "error_message": None,
        "session_id": "AI_EMP_TEST_000001",
    }
    entry.update(changes)
    return entry


def read_day(vault: Path, day: str) -> Dict[str, Any]:
    """A day file, parsed as any JSON reader would."""
    data: Dict[str, Any] = json.loads((vault / "Logs" / f"{day}.json").read_text("utf-8"))
    return data


def snapshot(folder: Path) -> Dict[str, bytes]:
    """Every file under `folder` with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def pause(seconds: float) -> None:
    """Waits `seconds`. (Not `time.sleep`: under libfaketime, which the
    any-hour checks run the suite with, Python's sleep fails with EINVAL.)"""
    threading.Event().wait(seconds)


#: Longer than the whole suite takes (about 40 s here).
SUITE_BUDGET_S = 180


@pytest.fixture(scope="session", autouse=True)
def not_across_midnight() -> None:
    """Tests compare the day files written with the day they were written:
    a run that starts just before midnight UTC waits for the new day, so no
    test straddles two days (the Rust tests retry instead, see
    `tests/common::on_one_utc_day`)."""
    now = datetime.now(timezone.utc)
    left = 86_400 - (now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6)
    if left < SUITE_BUDGET_S:
        pause(left + 1)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting of the machine leaks into a test."""
    for key in list(os.environ):
        if key.startswith("AUDIT_") or key in ("VAULT_PATH", "DRY_RUN"):
            monkeypatch.delenv(key)


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    """A vault with a Dashboard and an empty Logs/."""
    root = tmp_path / "vault"
    (root / "Logs").mkdir(parents=True)
    (root / "Dashboard.md").write_text(DASHBOARD, "utf-8")
    return root


@pytest.fixture(scope="session")
def cli() -> Path:
    """The vault-audit binary `cargo test` built (or VAULT_AUDIT_BIN)."""
    named = os.environ.get("VAULT_AUDIT_BIN")
    path = Path(named) if named else REPO / "target" / "debug" / "vault-audit"
    if not path.is_file():
        subprocess.run(["cargo", "build", "--bin", "vault-audit"], cwd=REPO, check=True)
    assert path.is_file(), f"no vault-audit binary at {path}"
    return path


def all_entries(vault: Path) -> List[Dict[str, Any]]:
    """Every entry of every day file."""
    out: List[Dict[str, Any]] = []
    for path in sorted((vault / "Logs").glob("????-??-??.json")):
        out.extend(json.loads(path.read_text("utf-8"))["entries"])
    return out


@pytest.fixture
def seed_logger_source() -> Iterator[Path]:
    yield REPO / "python" / "bench" / "seed_audit_logger.py"


def copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst)
