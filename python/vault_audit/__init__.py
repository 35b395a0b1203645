"""vault-audit for Python skills: the audit-logger skill's ``AuditLogger``,
in-process, over the Rust library the ``vault-audit`` CLI uses.

Drop-in for the skill specification's class::

    from vault_audit import AuditLogger

    logger = AuditLogger(vault_path, dry_run=False)
    ok = logger.log({...})          # True when written, False otherwise
    deleted = logger.rotate_logs()  # day files deleted

Beyond it: :meth:`AuditLogger.log_entry` (raises instead of returning
False), :meth:`~AuditLogger.log_action`, :meth:`~AuditLogger.log_batch`,
:meth:`~AuditLogger.query`, :meth:`~AuditLogger.stats`,
:meth:`~AuditLogger.verify`, :meth:`~AuditLogger.index`,
:meth:`~AuditLogger.refresh_dashboard` and ``with logger.session("name"):``.

Settings come from the same environment variables as the CLI
(``VAULT_PATH``, ``AUDIT_REDACTION``, ``AUDIT_CHAIN_KEY``,
``AUDIT_RETENTION_DAYS``, ...). Like the specification's module, importing
this package reads ``.env`` in the current folder (never overriding the
real environment).
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path, PurePath
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

from . import _native
from ._errors import (
    AuditIOError,
    ConfigError,
    EntryRejected,
    LockTimeout,
    Problem,
    QueryRejected,
    VaultAuditError,
)

__all__ = [
    "AuditLogger",
    "AuditIOError",
    "ConfigError",
    "DayFile",
    "EntryRejected",
    "LockTimeout",
    "Problem",
    "QueryRejected",
    "Receipt",
    "Report",
    "VaultAuditError",
]

Entry = Dict[str, Any]
"""An entry: the twelve fields of the skill's schema (``timestamp`` and
``session_id`` may be left out: they are filled in)."""

PathLike = Union[str, "os.PathLike[str]"]


def _load_env_file() -> None:
    """Fills ``os.environ`` from ``./.env`` where unset, as the CLI does."""
    path = Path(".env")
    if not path.is_file():
        return
    try:
        settings = _native.read_env_file(str(path))
    except ConfigError as e:
        print(f"vault-audit: warning: {e}", file=sys.stderr)
        return
    for key, value, note in settings:
        if key in os.environ:
            continue
        if note:
            print(f"vault-audit: {note}", file=sys.stderr)
        os.environ[key] = value


_load_env_file()


def _json_default(value: Any) -> Any:
    """JSON for the values a skill commonly puts in an entry."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(
        f"a value of type {type(value).__name__} is not JSON; accepted: str, int, "
        "float, bool, None, list, dict, datetime, date, Path, Enum"
    )


def _to_json(entry: Mapping[str, Any], position: int) -> str:
    if not isinstance(entry, Mapping):
        raise EntryRejected(
            f"entry rejected: an entry must be a dict, not {type(entry).__name__}",
            [Problem(position, None, f"an entry must be a dict, not {type(entry).__name__}")],
        )
    try:
        # ASCII escapes: a lone surrogate reaches the parser as \udXXX and is
        # rejected there, with the other problems, instead of failing to encode.
        return json.dumps(entry, default=_json_default, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        raise EntryRejected(f"entry rejected: {e}", [Problem(position, None, str(e))]) from None


@dataclass(frozen=True)
class DayFile:
    """A day file as a write left it."""

    date: str
    path: str
    """Relative to the vault: ``Logs/2026-11-23.json``."""
    total_entries: int
    size_bytes: int


@dataclass(frozen=True)
class Receipt:
    """What a write did."""

    entries: List[Entry]
    """The entries as stored: timestamp and session filled in, redacted."""
    files: List[DayFile]
    """The day files written (none in dry run)."""
    dry_run: bool
    notes: List[str] = field(default_factory=list)
    """What upkeep did that is worth saying (a purge, say)."""
    warnings: List[str] = field(default_factory=list)
    """Upkeep steps that failed (index, Dashboard); the entries are written."""

    @property
    def written(self) -> int:
        """Entries written to day files (0 in dry run)."""
        return 0 if self.dry_run else len(self.entries)

    @classmethod
    def _from_native(cls, raw: Mapping[str, Any]) -> Receipt:
        return cls(
            entries=[json.loads(line) for line in raw["entries"]],
            files=[DayFile(**f) for f in raw["files"]],
            dry_run=raw["dry_run"],
            notes=list(raw["notes"]),
            warnings=list(raw["warnings"]),
        )


@dataclass(frozen=True)
class Report:
    """What :meth:`AuditLogger.verify` found. True when everything holds."""

    ok: bool
    files: int
    entries: int
    chained: int
    unchained: List[str]
    problems: List[Dict[str, Any]]
    """Each with ``file``, ``kind``, ``entry``, ``timestamp`` and ``problem``."""
    kept_aside: List[str]
    notes: List[str]

    def __bool__(self) -> bool:
        return self.ok


class AuditLogger:
    """Appends audit entries to a vault's ``Logs/YYYY-MM-DD.json``.

    Safe to share between threads, and to use from several processes (and
    alongside the CLI and the daemon) at once: every write takes the vault's
    lock. The GIL is released while the disk is touched.
    """

    def __init__(
        self,
        vault_path: Optional[PathLike] = None,
        dry_run: bool = False,
        session_id: Optional[str] = None,
    ) -> None:
        if vault_path is None or str(vault_path) == "":
            vault_path = os.environ.get("VAULT_PATH") or None
        if not vault_path:
            raise ConfigError("VAULT_PATH cannot be empty.")
        self._native = _native.Logger(os.fspath(vault_path), bool(dry_run), session_id)
        self.vault_path = Path(self._native.vault_path)
        self.logs_dir = self.vault_path / "Logs"
        self.dry_run = self._native.dry_run
        self.session_id: str = self._native.session_id
        self._session: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar(
            f"vault_audit_session_{id(self)}", default=None
        )

    def __repr__(self) -> str:
        return f"AuditLogger({str(self.vault_path)!r}, dry_run={self.dry_run})"

    # The skill specification's API.

    def log(self, entry: Entry) -> bool:
        """Logs one entry; True when written (or previewed in dry run).

        As the specification: fills in ``session_id`` and ``timestamp`` in
        ``entry`` when missing, prints a ``[DRY_RUN] Log Entry: {...}`` line
        in dry run, and returns False (with the reason on stderr) when the
        entry is rejected or could not be written to its day file.
        """
        if isinstance(entry, dict):
            entry.setdefault("session_id", self._current_session())
            entry.setdefault("timestamp", datetime.now(timezone.utc).isoformat())
        try:
            self._write_raw([entry])
        except EntryRejected as e:
            print(f"ERROR: Log entry failed schema validation: {e}", file=sys.stderr)
            return False
        except LockTimeout as e:
            print(f"CRITICAL: File lock failed. Writing to fallback log. Error: {e}", file=sys.stderr)
            return False
        except VaultAuditError as e:
            print(f"CRITICAL: the log entry was not written: {e}", file=sys.stderr)
            return False
        return True

    def rotate_logs(self) -> int:
        """Deletes day files older than the retention period (90 days unless
        ``AUDIT_RETENTION_DAYS`` says otherwise), keeping their CRITICAL
        entries in ``Logs/critical_archive.json``. Returns the number of
        files deleted; 0 in dry run."""
        return self._native.rotate()

    # Beyond the specification.

    def log_entry(self, entry: Mapping[str, Any]) -> Receipt:
        """Logs one entry; raises :class:`EntryRejected`,
        :class:`LockTimeout` or :class:`AuditIOError` instead of returning
        False. ``entry`` is not changed."""
        return self._write([entry])

    def log_batch(self, entries: Iterable[Mapping[str, Any]]) -> Receipt:
        """Logs several entries under one lock, all or none: if any is
        rejected, none is written and every problem is reported."""
        return self._write(list(entries))

    def log_action(
        self,
        level: str,
        action_type: str,
        actor: str,
        target: str,
        **parameters: Any,
    ) -> Receipt:
        """Logs an action with ``parameters`` (approval ``not_required`` by
        ``system``, result ``success``)."""
        return self._write(
            [
                {
                    "log_level": level,
                    "action_type": action_type,
                    "actor": actor,
                    "target": target,
                    "parameters": parameters,
                    "approval_status": "not_required",
                    "approved_by": "system",
                    "dry_run": self.dry_run,
                    "result": "success",
                    "error_message": None,
                }
            ]
        )

    @contextlib.contextmanager
    def session(self, name: Optional[str] = None) -> Iterator[str]:
        """Gives the entries logged in the block (in this thread or task)
        one new session id, ``<name>_YYYYMMDD_XXXXXX``; yields it."""
        session_id = _native.new_session_id()
        if name and name.strip():
            label = "_".join(name.split())
            session_id = f"{label}{session_id[len('AI_EMP'):]}"
        token = self._session.set(session_id)
        try:
            yield session_id
        finally:
            self._session.reset(token)

    def query(
        self,
        since: Optional[str] = None,
        until: Optional[str] = None,
        level: Optional[Union[str, Sequence[str]]] = None,
        action: Optional[str] = None,
        actor: Optional[str] = None,
        target: Optional[str] = None,
        result: Optional[str] = None,
        session: Optional[str] = None,
        contains: Optional[str] = None,
    ) -> Iterator[Entry]:
        """The matching entries, oldest first, read one day file at a time.

        ``since``/``until``: a duration back from now (``30m``, ``7d``), an
        RFC 3339 time or a date. Raises :class:`QueryRejected` naming every
        wrong argument."""
        lines = self._native.query(**_filters(locals()))
        return (json.loads(line) for line in lines)

    def stats(
        self,
        since: Optional[str] = None,
        until: Optional[str] = None,
        level: Optional[Union[str, Sequence[str]]] = None,
        action: Optional[str] = None,
        actor: Optional[str] = None,
        target: Optional[str] = None,
        result: Optional[str] = None,
        session: Optional[str] = None,
        contains: Optional[str] = None,
    ) -> Dict[str, Any]:
        """Counts over the matching entries: ``count``, and by level,
        action, actor and result (as ``vault-audit query --stats``)."""
        text = self._native.stats(**_filters(locals()))
        stats: Dict[str, Any] = json.loads(text)
        return stats

    def verify(self) -> Report:
        """Checks every day file, its counts and its hash chain."""
        return Report(**json.loads(self._native.verify()))

    def index(self) -> Dict[str, Any]:
        """Rebuilds ``Logs/index.json`` and returns it (in dry run, only
        computes it)."""
        index: Dict[str, Any] = json.loads(self._native.index())
        return index

    def refresh_dashboard(self) -> List[str]:
        """Refreshes the Dashboard's Recent Activity table; returns notes."""
        return self._native.refresh_dashboard()

    def _current_session(self) -> str:
        return self._session.get() or self.session_id

    def _write(self, entries: Sequence[Mapping[str, Any]]) -> Receipt:
        return Receipt._from_native(self._write_raw(entries))

    def _write_raw(self, entries: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
        session = self._current_session()
        texts = []
        for position, entry in enumerate(entries):
            if isinstance(entry, Mapping) and "session_id" not in entry:
                entry = {**entry, "session_id": session}
            texts.append(_to_json(entry, position))
        raw = self._native.log_json(texts)
        if raw["dry_run"]:
            for line in raw["entries"]:
                print(f"[DRY_RUN] Log Entry: {line}")
        return raw


def _filters(arguments: Dict[str, Any]) -> Dict[str, Any]:
    """The filter arguments of `query()` or `stats()` (their `locals()`)."""
    filters = {k: v for k, v in arguments.items() if k != "self"}
    level = filters["level"]
    filters["level"] = [level] if isinstance(level, str) else level
    return filters
