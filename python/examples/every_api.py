"""Every public name of vault_audit, used once with its documented types:
`mypy --strict python/examples` checks that the stubs and annotations
match what the package does (python/tests/test_adversarial.py runs it).

Run: python examples/every_api.py /path/to/vault
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from vault_audit import (
    AuditIOError,
    AuditLogger,
    ConfigError,
    DayFile,
    EntryRejected,
    LockTimeout,
    Problem,
    QueryRejected,
    Receipt,
    Report,
    VaultAuditError,
)


def entry(target: str) -> Dict[str, Any]:
    return {
        "log_level": "INFO",
        "action_type": "system_event",
        "actor": "every_api",
        "target": target,
        "parameters": {"when": datetime.now(timezone.utc), "path": Path("a.md")},
        "approval_status": "not_required",
        "approved_by": "system",
        "dry_run": False,
        "result": "success",
        "error_message": None,
    }


def main(vault: str) -> int:
    logger = AuditLogger(Path(vault), dry_run=False, session_id=None)
    same: AuditLogger = AuditLogger(vault.encode(), False, "AI_EMP_20260101_ABCDEF")
    session: str = logger.session_id
    folder: Path = logger.vault_path
    logs: Path = logger.logs_dir
    dry: bool = logger.dry_run
    written: bool = logger.log(entry("log"))
    deleted: int = logger.rotate_logs()
    receipt: Receipt = logger.log_entry(entry("log_entry"))
    files: List[DayFile] = receipt.files
    sizes = [(f.date, f.path, f.total_entries, f.size_bytes) for f in files]
    count: int = receipt.written
    batch: Receipt = logger.log_batch([entry("a"), entry("b")])
    action: Receipt = logger.log_action("INFO", "system_event", "every_api", "x", n=1)
    with logger.session("named") as named:
        inside: str = named
        logger.log(entry("in session"))
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    found: Iterator[Dict[str, Any]] = logger.query(
        since=since, until="1m", level=["INFO", "ERROR"], action="system_event",
        actor="every_api", target="a", result="success", session=inside, contains="x",
    )
    rows = list(found) + list(logger.query(since=since.date(), level="INFO"))
    stats: Dict[str, Any] = logger.stats(since="1d")
    report: Report = logger.verify()
    problems: List[Dict[str, Any]] = report.problems
    index: Dict[str, Any] = logger.index()
    notes: List[str] = logger.refresh_dashboard()
    try:
        logger.log_entry({"log_level": "LOUD"})
    except EntryRejected as e:
        first: Problem = e.problems[0]
        where: Optional[str] = first.field
        print(first.entry, where, first.message)
    try:
        list(logger.query(since="yesterday"))
    except QueryRejected as e:
        print(len(e.problems))
    except LockTimeout as e:
        fallback: Path = e.fallback_path
        waited: int = e.waited_ms
        print(fallback, waited)
    except AuditIOError as e:
        print(e.errno, e.path, e.fallback_path, e.partly_written)
    except (ConfigError, VaultAuditError) as e:
        print(e)
    print(same, session, folder, logs, dry, written, deleted, sizes, count, batch.entries,
          action.notes, action.warnings, rows, stats, bool(report), problems, index, notes)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
