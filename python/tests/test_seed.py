"""The skill specification's own checks, against the package: section 15's
post-conditions, section 14's DRY_RUN steps, and its `__main__` self-test
run unchanged but for the import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import read_day, seed_entry, snapshot, today
from vault_audit import AuditLogger


def test_the_day_file_holds_the_entry_with_its_counts_incremented(vault: Path) -> None:
    logger = AuditLogger(vault_path=str(vault), dry_run=False)
    assert logger.log(seed_entry()) is True
    assert logger.log(seed_entry(log_level="WARNING", target="second")) is True

    day = read_day(vault, today())
    assert day["date"] == today()
    assert day["total_entries"] == 2
    assert day["summary"] == {"INFO": 1, "WARNING": 1, "ERROR": 0, "CRITICAL": 0}
    assert [e["target"] for e in day["entries"]] == ["self_test", "second"]
    assert day["entries"][0]["parameters"] == {"test_id": 123}


def test_the_index_is_updated_with_a_new_time_and_the_counts(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    logger.log(seed_entry())
    logger.log(seed_entry())

    index = json.loads((vault / "Logs" / "index.json").read_text("utf-8"))
    assert datetime.fromisoformat(index["last_updated"].replace("Z", "+00:00")) >= before
    assert index["total_entries_all_time"] == 2
    files = {f["file"]: f for f in index["log_files"]}
    assert files[f"{today()}.json"]["entry_count"] == 2


def test_the_dashboard_shows_the_new_entry_at_the_top(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    logger.log(seed_entry(action_type="file_drop", actor="first"))
    logger.log(seed_entry(action_type="plan_created", actor="newest"))

    text = (vault / "Dashboard.md").read_text("utf-8")
    table = text.split("## Recent Activity", 1)[1].split("## Notes", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert "newest" in rows[1], rows  # rows[0] is the header
    assert "first" in rows[2], rows
    assert "- kept as it is" in text


def old_day_file(vault: Path, days_back: int) -> Path:
    """A day file written by the specification's logger `days_back` days ago."""
    day = (datetime.now(timezone.utc) - timedelta(days=days_back)).strftime("%Y-%m-%d")
    entry = seed_entry(timestamp=f"{day}T12:00:00+00:00", log_level="CRITICAL")
    data = {
        "date": day,
        "total_entries": 1,
        "summary": {"INFO": 0, "WARNING": 0, "ERROR": 0, "CRITICAL": 1},
        "entries": [entry],
    }
    path = vault / "Logs" / f"{day}.json"
    path.write_text(json.dumps(data, indent=2), "utf-8")
    return path


def test_rotate_logs_deletes_files_older_than_90_days_and_keeps_critical_entries(
    vault: Path,
) -> None:
    old = old_day_file(vault, 100)
    recent = old_day_file(vault, 30)
    logger = AuditLogger(vault, dry_run=False)

    assert logger.rotate_logs() == 1
    assert not old.exists()
    assert recent.exists()
    archive = (vault / "Logs" / "critical_archive.json").read_text("utf-8")
    assert "self_test" in archive
    assert any(e["action_type"] == "log_retention" for e in read_day(vault, today())["entries"])
    assert logger.rotate_logs() == 0


def test_dry_run_prints_the_entry_and_changes_nothing(
    vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    AuditLogger(vault, dry_run=False).log(seed_entry(target="written for real"))
    old = old_day_file(vault, 100)
    before = snapshot(vault)

    logger = AuditLogger(vault, dry_run=True)
    entry = seed_entry(target="dry", dry_run=True)
    assert logger.log(entry) is True

    out = capsys.readouterr().out
    assert out.startswith("[DRY_RUN] Log Entry: "), out
    printed = json.loads(out[len("[DRY_RUN] Log Entry: ") :])
    assert {k: v for k, v in printed.items() if k != "timestamp"} == {
        k: v for k, v in entry.items() if k != "timestamp"
    }
    assert logger.rotate_logs() == 0
    assert old.exists()
    assert snapshot(vault) == before


def selftest_script(source: Path) -> str:
    """The specification's module with its class replaced by our import."""
    text = source.read_text("utf-8")
    start = text.index("class AuditLogger:")
    end = text.index("# Standalone execution for testing")
    return text[:start] + "from vault_audit import AuditLogger\n\n" + text[end:]


@pytest.mark.parametrize("dry_run", ["false", "true"])
def test_the_specifications_self_test_runs_with_only_the_import_changed(
    vault: Path, tmp_path: Path, seed_logger_source: Path, dry_run: str
) -> None:
    script = tmp_path / "selftest.py"
    script.write_text(selftest_script(seed_logger_source), "utf-8")
    env = {**os.environ, "VAULT_PATH": str(vault), "DRY_RUN": dry_run}
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "Test log written successfully." in run.stdout, run.stdout
    day_file = vault / "Logs" / f"{today()}.json"
    if dry_run == "true":
        assert "[DRY_RUN] Log Entry: " in run.stdout
        assert not day_file.exists()
    else:
        assert "Deleted 0 old log file(s)." in run.stdout
        entries = read_day(vault, today())["entries"]
        assert [(e["actor"], e["parameters"]) for e in entries] == [
            ("audit_logger_test", {"test_id": 123})
        ]
