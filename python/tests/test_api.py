"""The API beyond the specification: query, stats, verify, index, the
Dashboard, sessions, receipts, and the GIL released while waiting."""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path
from typing import List

from conftest import pause, read_day, seed_entry, today
from vault_audit import AuditLogger, LockTimeout, Receipt


def filled(vault: Path) -> AuditLogger:
    logger = AuditLogger(vault, dry_run=False)
    logger.log_batch(
        [
            seed_entry(actor="inbox", action_type="file_drop", target="Inbox/a.md"),
            seed_entry(actor="planner", action_type="plan_created", log_level="WARNING"),
            seed_entry(actor="mailer", action_type="email_sent", result="failure",
                       log_level="ERROR", error_message="smtp down"),
        ]
    )
    return logger


def test_query_filters_as_the_cli_does(vault: Path) -> None:
    logger = filled(vault)
    assert [e["actor"] for e in logger.query()] == ["inbox", "planner", "mailer"]
    assert [e["actor"] for e in logger.query(level=["WARNING", "ERROR"])] == ["planner", "mailer"]
    assert [e["actor"] for e in logger.query(result="failure")] == ["mailer"]
    assert [e["actor"] for e in logger.query(contains="Inbox/a.md")] == ["inbox"]
    assert [e["actor"] for e in logger.query(since="1h", actor="planner")] == ["planner"]
    assert list(logger.query(until="2000-01-01")) == []


def test_query_is_lazy_and_reads_a_day_at_a_time(vault: Path) -> None:
    logger = filled(vault)
    lines = logger.query()
    first = next(lines)
    assert first["actor"] == "inbox"
    logger.log(seed_entry(actor="later"))
    # The day was read when the first entry was asked for.
    assert [e["actor"] for e in lines] == ["planner", "mailer"]


def test_stats_counts_by_level_and_action(vault: Path) -> None:
    stats = filled(vault).stats()
    assert stats["count"] == 3
    assert stats["by_level"] == {"INFO": 1, "WARNING": 1, "ERROR": 1}
    assert stats["by_result"]["failure"] == 1


def test_verify_detects_an_edited_entry(vault: Path) -> None:
    logger = filled(vault)
    assert logger.verify()
    path = vault / "Logs" / f"{today()}.json"
    path.write_text(path.read_text("utf-8").replace("smtp down", "all fine"), "utf-8")
    report = logger.verify()
    assert not report
    assert report.problems and report.problems[0]["file"] == f"Logs/{today()}.json"


def test_index_and_dashboard_can_be_rebuilt_by_hand(vault: Path) -> None:
    logger = filled(vault)
    (vault / "Logs" / "index.json").unlink()
    index = logger.index()
    assert index["total_entries_all_time"] == 3
    assert (vault / "Logs" / "index.json").exists()
    logger.refresh_dashboard()
    assert "mailer" in (vault / "Dashboard.md").read_text("utf-8")


def test_receipt_says_what_was_stored(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False, session_id="AI_EMP_20260101_FIXED1")
    receipt = logger.log_action("INFO", "file_moved", "mover", "Done/a.md", source="Inbox/a.md")
    assert isinstance(receipt, Receipt)
    assert receipt.written == 1
    stored = receipt.entries[0]
    assert stored["session_id"] == "AI_EMP_20260101_FIXED1"
    assert stored["parameters"] == {"source": "Inbox/a.md"}
    assert stored["timestamp"].endswith("Z")
    assert receipt.files[0].path == f"Logs/{today()}.json"
    assert receipt.files[0].total_entries == 1
    assert read_day(vault, today())["entries"] == [stored]


def test_sessions_nest_and_end(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    outer_id = logger.session_id
    with logger.session("weekly report") as weekly:
        assert weekly.startswith("weekly_report_")
        with logger.session() as inner:
            assert inner.startswith("AI_EMP_") and inner != weekly
            logger.log(seed_entry_without_session())
        logger.log(seed_entry_without_session())
    logger.log(seed_entry_without_session())
    sessions = [e["session_id"] for e in read_day(vault, today())["entries"]]
    assert sessions == [inner, weekly, outer_id]


def seed_entry_without_session() -> dict:  # type: ignore[type-arg]
    entry = seed_entry()
    del entry["session_id"]
    return entry


def test_the_gil_is_released_while_a_call_waits_for_the_lock(
    vault: Path, monkeypatch: object
) -> None:
    logger = AuditLogger(vault, dry_run=False)
    logger.log(seed_entry())
    outcome: List[str] = []

    def write() -> None:
        try:
            logger.log_entry(seed_entry(target="waited"))
            outcome.append("written")
        except LockTimeout:
            outcome.append("timed out")

    with open(vault / "Logs" / ".audit" / "lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        worker = threading.Thread(target=write)
        worker.start()
        # Python code runs here only if the waiting call let go of the GIL;
        # if it did not, the lock is released only after its 5 s deadline.
        pause(0.3)
        fcntl.flock(held, fcntl.LOCK_UN)
    worker.join()
    assert outcome == ["written"]


def test_a_critical_entry_raises_one_alert_note_with_no_daemon(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    logger.log(seed_entry(log_level="CRITICAL", result="failure", error_message="payment failed"))
    logger.log(seed_entry())
    notes = sorted((vault / "Needs_Action").glob("ALERT_*_CRITICAL.md"))
    assert len(notes) == 1, notes
    assert "# A CRITICAL entry was logged" in notes[0].read_text("utf-8")
