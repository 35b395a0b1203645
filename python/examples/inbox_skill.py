"""An example vault skill: moves notes from Inbox/ to Needs_Action/ and
audits every step with vault_audit. `mypy --strict` checks it in CI.

Run: VAULT_PATH=/path/to/vault python examples/inbox_skill.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List

from vault_audit import AuditLogger, EntryRejected, LockTimeout, Receipt, VaultAuditError


def move_inbox(logger: AuditLogger) -> List[Receipt]:
    """Moves each note in Inbox/ and logs it; returns the receipts."""
    inbox = logger.vault_path / "Inbox"
    target = logger.vault_path / "Needs_Action"
    receipts: List[Receipt] = []
    with logger.session("inbox-mover"):
        for note in sorted(inbox.glob("*.md")) if inbox.is_dir() else []:
            destination = target / note.name
            if not logger.dry_run:
                target.mkdir(exist_ok=True)
                note.rename(destination)
            receipts.append(
                logger.log_action(
                    "INFO",
                    "file_moved",
                    "inbox-mover",
                    str(destination.relative_to(logger.vault_path)),
                    source=str(note.relative_to(logger.vault_path)),
                )
            )
    return receipts


def recent_failures(logger: AuditLogger) -> int:
    """How many entries of the last day failed."""
    return sum(1 for _ in logger.query(since="1d", result="failure"))


def main() -> int:
    try:
        logger = AuditLogger(dry_run="--dry-run" in sys.argv)
        receipts = move_inbox(logger)
    except EntryRejected as e:
        for problem in e.problems:
            print(f"entry {problem.entry}: {problem.field}: {problem.message}", file=sys.stderr)
        return 1
    except LockTimeout as e:
        print(f"saved to {e.fallback_path} after {e.waited_ms} ms", file=sys.stderr)
        return 2
    except VaultAuditError as e:
        print(f"vault-audit: {e}", file=sys.stderr)
        return 3
    moved: Path = logger.vault_path
    print(f"moved {len(receipts)} notes in {moved}; {recent_failures(logger)} failures today")
    report = logger.verify()
    return 0 if report.ok else 4


if __name__ == "__main__":
    sys.exit(main())
