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
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timezone
from pathlib import Path, PurePath
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

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

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


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


#: Deeper than the parser accepts (128), shallow enough for Python's stack.
_MAX_DEPTH = 200


#: The exact types json writes as they are.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _json_key(key: Any) -> str:
    """A mapping key as ``json`` would spell it."""
    if isinstance(key, str):
        return str.__str__(key)
    if isinstance(key, bool) or key is None:
        return json.dumps(key)
    if isinstance(key, int):
        return int.__repr__(key)
    if isinstance(key, float) and key == key and key not in (float("inf"), float("-inf")):
        return float.__repr__(key)
    raise TypeError(f"a key must be a str, int, float, bool or None, not {type(key).__name__}")


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` in plain JSON types: any mapping a dict with str keys (two
    keys that are spelled alike in JSON are refused, not one dropped),
    tuples and sets lists, the values of :func:`_json_default` converted."""
    if isinstance(value, (str, int, float)) or value is None:
        return value
    if depth > _MAX_DEPTH:
        raise ValueError(f"nested deeper than {_MAX_DEPTH} levels (or holds itself)")
    if isinstance(value, Mapping):
        out: Dict[str, Any] = {}
        for key, item in value.items():
            name = key if type(key) is str else _json_key(key)
            if name in out:
                raise ValueError(f"two keys are both {name!r} in JSON")
            # Plain values inline: this runs for every field of every entry.
            out[name] = item if type(item) in _SCALARS else _plain(item, depth + 1)
        return out
    if isinstance(value, list):
        return [_plain(item, depth + 1) for item in value]
    return _plain(_json_default(value), depth + 1)


def _to_json(
    entry: Mapping[str, Any], position: int, session: str, redact: Callable[[str], str]
) -> str:
    if not isinstance(entry, Mapping):
        raise EntryRejected(
            f"entry rejected: an entry must be a dict, not {type(entry).__name__}",
            [Problem(position, None, f"an entry must be a dict, not {type(entry).__name__}")],
        )
    try:
        plain = _plain(entry)
        if plain.get("session_id") is None:  # missing or null: this block's session
            plain["session_id"] = session
        # ASCII escapes: a lone surrogate reaches the parser as \udXXX and is
        # rejected there, with the other problems, instead of failing to encode.
        return json.dumps(plain, allow_nan=False)
    except Exception as e:  # anything a value's own code raises
        # Redacted: the text may hold a key or a value (a key that is a token).
        reason = redact(str(e) or type(e).__name__)
        raise EntryRejected(f"entry rejected: {reason}", [Problem(position, None, reason)]) from None


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
    archived_days: int = 0
    """Days checked in the cold archive (``vault-audit verify --archive``; 0 here)."""
    archived_entries: int = 0

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
        # Text or bytes; made absolute now, so a later chdir() cannot send
        # the entries to another folder.
        folder = os.fsdecode(os.fspath(vault_path))
        if not os.path.isabs(folder):
            folder = os.path.join(os.getcwd(), folder)
        if session_id is not None:
            if not isinstance(session_id, str):
                raise TypeError(f"session_id must be a str or None, not {type(session_id).__name__}")
            _check_text("session_id", session_id)
        self._native = _native.Logger(folder, bool(dry_run), session_id)
        self.session_id: str = self._native.session_id
        """The session id of entries logged outside a :meth:`session`
        block; may be set, as the specification's attribute."""
        self._session: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar(
            f"vault_audit_session_{id(self)}", default=None
        )

    @property
    def vault_path(self) -> Path:
        """The vault folder (absolute)."""
        return Path(self._native.vault_path)

    @property
    def logs_dir(self) -> Path:
        """The vault's ``Logs/`` folder."""
        return self.vault_path / "Logs"

    @property
    def dry_run(self) -> bool:
        """Whether nothing is written. May be set, as the specification's
        attribute: the next call runs with the new setting."""
        return self._native.dry_run

    @dry_run.setter
    def dry_run(self, value: bool) -> None:
        if bool(value) != self._native.dry_run:
            self._native = _native.Logger(str(self.vault_path), bool(value), self.session_id)

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
            self._write_raw([entry], receipt=False)
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
        /,
        **parameters: Any,
    ) -> Receipt:
        """Logs an action with ``parameters`` (approval ``not_required`` by
        ``system``, result ``success``). The four fields are positional
        only, so a parameter may be named ``target`` or ``level`` too."""
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
            _check_text("session name", name)
            # Redacted before the words are joined: a secret followed by
            # "_" is no longer a word of its own to the patterns.
            label = "_".join(self._native.redact(name).split())
            session_id = self._native.redact(f"{label}{session_id[len('AI_EMP'):]}")
        token = self._session.set(session_id)
        try:
            yield session_id
        finally:
            self._session.reset(token)

    def query(
        self,
        since: Optional[Union[str, datetime, date]] = None,
        until: Optional[Union[str, datetime, date]] = None,
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
        RFC 3339 time or a date (text, or a ``datetime``/``date``). Raises
        :class:`QueryRejected` naming every wrong argument."""
        lines = self._native.query(**_filters(locals()))
        return (json.loads(line) for line in lines)

    def stats(
        self,
        since: Optional[Union[str, datetime, date]] = None,
        until: Optional[Union[str, datetime, date]] = None,
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
        found = json.loads(self._native.verify())
        # Fields a newer library adds are left out rather than refused.
        known = {f.name for f in fields(Report)}
        return Report(**{k: v for k, v in found.items() if k in known})

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
        return Receipt._from_native(self._write_raw(entries, receipt=True))

    def _write_raw(self, entries: Sequence[Mapping[str, Any]], receipt: bool) -> Any:
        """The receipt as the extension gives it; with `receipt` False, None
        unless the logger runs dry (the specification's `log()` needs none)."""
        session = self._current_session()
        redact = self._native.redact
        texts = [
            _to_json(entry, position, session, redact) for position, entry in enumerate(entries)
        ]
        raw = self._native.log_json(texts, receipt)
        if raw is not None and raw["dry_run"]:
            _preview(raw["entries"])
        return raw


def _preview(lines: List[str]) -> None:
    """Prints the dry run's preview through ``sys.stdout``, in ASCII as the
    specification's ``json.dumps`` (any stdout encoding can take it), best
    effort: a closed or broken stdout does not fail the call."""
    try:
        for line in lines:
            text = json.dumps(json.loads(line), separators=(",", ":"))
            print(f"[DRY_RUN] Log Entry: {text}")
    except (OSError, ValueError):
        pass


def _check_text(what: str, text: str) -> None:
    """Refuses text that cannot be UTF-8 (a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"{what} is not valid text: it holds a lone surrogate") from None


def _kinds(value: Any) -> str:
    """The type of ``value`` (and of its items), never the value: it may be a secret."""
    if isinstance(value, (list, tuple, set, frozenset)):
        inner = sorted({type(v).__name__ for v in value})
        return f"{type(value).__name__} of {', '.join(inner) or 'nothing'}"
    return type(value).__name__


_WHEN = "a str (7d, 30m, an RFC 3339 time or a date), a datetime or a date"


def _filters(arguments: Dict[str, Any]) -> Dict[str, Any]:
    """The filter arguments of `query()` or `stats()` (their `locals()`) as
    the extension takes them, or :class:`QueryRejected` naming every
    argument of a wrong type."""
    out: Dict[str, Any] = {}
    problems: List[Problem] = []
    for name, value in arguments.items():
        if name == "self":
            continue
        if value is None:
            out[name] = None
        elif name in ("since", "until") and isinstance(value, datetime):
            # A naive datetime is local time, as datetime.astimezone() reads it.
            out[name] = value.astimezone().isoformat()
        elif name in ("since", "until") and isinstance(value, date):
            out[name] = value.isoformat()
        elif name == "level" and not isinstance(value, str):
            levels = None
            if not isinstance(value, (bytes, bytearray, Mapping)):
                with contextlib.suppress(TypeError):
                    levels = list(value)
            if levels is None or not all(isinstance(v, str) for v in levels):
                problems.append(Problem(0, name, f"level must be a str or a list of str, not {_kinds(value)}"))
            else:
                out[name] = levels
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
                out[name] = value
            except UnicodeEncodeError:
                problems.append(Problem(0, name, f"{name} holds a lone surrogate"))
        else:
            accepted = _WHEN if name in ("since", "until") else "a str"
            problems.append(Problem(0, name, f"{name} must be {accepted}, not {type(value).__name__}"))
    if problems:
        raise QueryRejected("query rejected: " + "; ".join(p.message for p in problems), problems)
    return out
