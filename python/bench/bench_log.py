"""Figures for the Python package, each measured side by side in one run.

    pip install ./python python-dotenv        # a release build of the package
    cargo build --release                      # for the CLI figure
    python python/bench/bench_log.py [--cli target/release/vault-audit]

1. `log()` per call at 1,000 entries in the day: the package against the
   skill specification's reference `AuditLogger.log()` (bench/seed_audit_logger.py).
2. The package's `log()` at 100,000 entries in the day against 10 entries.
3. The package's `log()` against the Rust library's `log()` called in the
   same process with no Python in between (the overhead of the binding).
4. With --cli: a `vault-audit log` process against a `vault-audit --version`
   process, interleaved.

Every figure is a median over interleaved rounds; the machine's other work
shows up as spread, so the script prints the spread too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from vault_audit import AuditLogger  # noqa: E402

DASHBOARD = "# Dashboard\n\n## Recent Activity\n\n| Time | Action | Actor | Result |\n|---|---|---|---|\n"


def entry(n: int) -> Dict[str, Any]:
    return {
        "timestamp": datetime.now(timezone.utc).isoformat(),
        "log_level": "INFO",
        "action_type": "file_drop",
        "actor": "bench",
        "target": f"Inbox/note-{n}.md",
        "parameters": {"n": n, "size": 1234},
        "approval_status": "not_required",
        "approved_by": "system",
        "dry_run": False,
        "result": "success",
        "error_message": None,
        "session_id": "AI_EMP_BENCH_000001",
    }


def new_vault(root: Path, name: str) -> Path:
    vault = root / name
    (vault / "Logs").mkdir(parents=True)
    (vault / "Dashboard.md").write_text(DASHBOARD, "utf-8")
    return vault


def ours(vault: Path, prefill: int) -> AuditLogger:
    logger = AuditLogger(vault, dry_run=False)
    chunk = 10_000
    for start in range(0, prefill, chunk):
        logger.log_batch(entry(n) for n in range(start, min(prefill, start + chunk)))
    return logger


def reference(vault: Path, prefill: int) -> Any:
    """The reference logger, its day file filled as it would have been."""
    import seed_audit_logger  # needs python-dotenv, as the reference does

    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    data = {
        "date": day,
        "total_entries": prefill,
        "summary": {"INFO": prefill, "WARNING": 0, "ERROR": 0, "CRITICAL": 0},
        "entries": [entry(n) for n in range(prefill)],
    }
    (vault / "Logs" / f"{day}.json").write_text(json.dumps(data, indent=2), "utf-8")
    return seed_audit_logger.AuditLogger(vault_path=vault, dry_run=False)


def per_call(call: Callable[[Dict[str, Any]], Any], calls: int) -> float:
    """Seconds per call over `calls` calls, each with a new entry (made
    before the clock starts)."""
    entries = [entry(n) for n in range(calls)]
    start = time.perf_counter()
    for e in entries:
        call(e)
    return (time.perf_counter() - start) / calls


def interleave(rounds: int, sides: Dict[str, Callable[[], float]]) -> Dict[str, List[float]]:
    out: Dict[str, List[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, measure in sides.items():
            out[name].append(measure())
    return out


def show(title: str, figures: Dict[str, List[float]], unit: float = 1e6, label: str = "µs") -> Dict[str, float]:
    print(f"\n{title}")
    medians = {}
    for name, values in figures.items():
        medians[name] = statistics.median(values)
        print(
            f"  {name:<34} median {medians[name] * unit:9.1f} {label}"
            f"   (min {min(values) * unit:.1f}, max {max(values) * unit:.1f}, {len(values)} rounds)"
        )
    return medians


def against_reference(root: Path) -> Tuple[float, float]:
    ref = reference(new_vault(root, "reference"), 1000)
    pkg = ours(new_vault(root, "package"), 1000)
    figures = interleave(
        5,
        {
            "reference AuditLogger.log()": lambda: per_call(ref.log, 10),
            "vault_audit AuditLogger.log()": lambda: per_call(pkg.log, 50),
        },
    )
    m = show("1. log() at 1,000 entries in the day", figures)
    ratio = m["reference AuditLogger.log()"] / m["vault_audit AuditLogger.log()"]
    print(f"  the package is {ratio:.1f}x faster (target: at least 20x)")
    return m["reference AuditLogger.log()"], m["vault_audit AuditLogger.log()"]


def against_size(root: Path) -> float:
    small = ours(new_vault(root, "small"), 10)
    large = ours(new_vault(root, "large"), 100_000)
    figures = interleave(
        7,
        {
            "log() at 10 entries": lambda: per_call(small.log, 100),
            "log() at 100,000 entries": lambda: per_call(large.log, 100),
        },
    )
    m = show("2. the package's log() against the size of the day", figures)
    ratio = m["log() at 100,000 entries"] / m["log() at 10 entries"]
    print(f"  100,000 entries cost {ratio:.2f}x 10 entries (target: at most 1.3x)")
    return ratio


def against_library(root: Path) -> float:
    logger = ours(new_vault(root, "binding"), 1000)
    calls = 100

    def library() -> float:
        texts = [json.dumps(entry(n)) for n in range(calls)]
        return logger._native._time_library_log(texts) / calls

    figures = interleave(
        9,
        {
            "Rust library log()": library,
            "Python AuditLogger.log()": lambda: per_call(logger.log, calls),
        },
    )
    m = show("3. the binding's overhead (same vault, same process)", figures)
    overhead = m["Python AuditLogger.log()"] / m["Rust library log()"] - 1
    print(f"  Python log() costs {overhead * 100:+.1f}% over the library's (target: at most 15%)")
    return overhead


def against_version(root: Path, cli: str) -> float:
    vault = new_vault(root, "cli")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_")}
    log = [cli, "--vault", str(vault), "--no-dry-run", "log", "--level", "INFO", "--action",
           "file_drop", "--actor", "bench", "--target", "Inbox/a.md"]
    version = [cli, "--version"]

    def run(argv: List[str]) -> float:
        start = time.perf_counter()
        subprocess.run(argv, env=env, cwd=root, stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - start

    figures = interleave(60, {"vault-audit log": lambda: run(log), "vault-audit --version": lambda: run(version)})
    m = show("4. whole CLI processes", figures, 1e3, "ms")
    ratio = m["vault-audit log"] / m["vault-audit --version"]
    print(f"  a log call costs {ratio:.2f}x a --version call (target: at most 2x)")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", help="the vault-audit binary, for figure 4")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        against_reference(root)
        against_size(root)
        against_library(root)
        if args.cli:
            against_version(root, os.path.abspath(args.cli))


if __name__ == "__main__":
    main()
