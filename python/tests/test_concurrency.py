"""Many writers at once: Python processes, CLI processes and threads share
one vault through the same lock; nothing is lost or doubled."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import List, Tuple

from conftest import all_entries
from vault_audit import AuditLogger

PER_WRITER = 250

PYTHON_WRITER = textwrap.dedent(
    """
    import sys
    from vault_audit import AuditLogger
    vault, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    logger = AuditLogger(vault, dry_run=False)
    for n in range(count):
        ok = logger.log({
            "log_level": "INFO", "action_type": "system_event", "actor": name,
            "target": "interop", "parameters": {"writer": name, "n": n},
            "approval_status": "not_required", "approved_by": "system",
            "dry_run": False, "result": "success", "error_message": None,
        })
        if not ok:
            sys.exit(f"{name}: entry {n} not written")
    """
)

CLI_WRITER = textwrap.dedent(
    """
    import subprocess, sys
    cli, vault, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    for n in range(count):
        subprocess.run(
            [cli, "--vault", vault, "--no-dry-run", "log", "--level", "INFO",
             "--action", "system_event", "--actor", name, "--target", "interop",
             "--param", f"writer={name}", "--param", f"n={n}"],
            check=True, stdout=subprocess.DEVNULL,
        )
    """
)


def test_four_python_and_four_cli_processes_lose_and_double_nothing(
    vault: Path, cli: Path, tmp_path: Path
) -> None:
    py_script = tmp_path / "py_writer.py"
    py_script.write_text(PYTHON_WRITER, "utf-8")
    cli_script = tmp_path / "cli_writer.py"
    cli_script.write_text(CLI_WRITER, "utf-8")
    procs = [
        subprocess.Popen(
            [sys.executable, str(py_script), str(vault), f"py-{i}", str(PER_WRITER)],
            stderr=subprocess.PIPE,
        )
        for i in range(4)
    ] + [
        subprocess.Popen(
            [sys.executable, str(cli_script), str(cli), str(vault), f"cli-{i}", str(PER_WRITER)],
            stderr=subprocess.PIPE,
        )
        for i in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate()
        assert proc.returncode == 0, err.decode()

    seen: List[Tuple[str, int]] = [
        (e["parameters"]["writer"], int(e["parameters"]["n"]))
        for e in all_entries(vault)
        if e["target"] == "interop"
    ]
    assert len(seen) == 8 * PER_WRITER
    assert len(set(seen)) == 8 * PER_WRITER
    assert not (vault / "Logs" / "failed_writes.json").exists()
    report = AuditLogger(vault, dry_run=False).verify()
    assert report.ok, report.problems
    assert report.entries == 8 * PER_WRITER

    verified = subprocess.run(
        [str(cli), "--vault", str(vault), "verify"], capture_output=True, text=True
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_threads_share_one_logger(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    failures: List[str] = []

    def write(name: str) -> None:
        with logger.session(name) as session:
            for n in range(50):
                receipt = logger.log_action("INFO", "system_event", name, "threads", n=n)
                if receipt.entries[0]["session_id"] != session:
                    failures.append(f"{name}: entry {n} has session {receipt.entries[0]['session_id']}")

    threads = [threading.Thread(target=write, args=(f"t{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    entries = [e for e in all_entries(vault) if e["target"] == "threads"]
    assert len(entries) == 400
    by_actor = {e["actor"]: set() for e in entries}  # type: ignore[var-annotated]
    for e in entries:
        by_actor[e["actor"]].add(e["session_id"])
    assert all(len(sessions) == 1 for sessions in by_actor.values())
    assert len({s for sessions in by_actor.values() for s in sessions}) == 8
    assert logger.verify().ok
