"""The exceptions of vault_audit: all derive from :class:`VaultAuditError`.

Each also derives from the built-in exception a caller would catch without
knowing this package (``ValueError``, ``TimeoutError``, ``OSError``).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union


class Problem(NamedTuple):
    """One thing wrong with one entry (or one query argument)."""

    entry: int
    """The entry's position in the call, from 0."""
    field: Optional[str]
    """The field it is about (``log_level``, ``parameters.api_key``, ...)."""
    message: str
    """What is wrong and what is accepted, the value redacted."""


ProblemLike = Union[Problem, Tuple[int, Optional[str], str]]


class VaultAuditError(Exception):
    """Anything vault_audit raises."""


class ConfigError(VaultAuditError, ValueError):
    """A setting (an argument or an environment variable) is not valid."""


class EntryRejected(VaultAuditError, ValueError):
    """An entry failed validation; nothing of the call was written.

    ``problems`` lists every problem of every entry, not only the first.
    """

    problems: List[Problem]

    def __init__(self, message: str, problems: Sequence[ProblemLike] = ()) -> None:
        super().__init__(message)
        self.problems = [Problem(*p) for p in problems]


class QueryRejected(EntryRejected):
    """A query argument is not valid (``since="yesterday"``, a bad level)."""


class LockTimeout(VaultAuditError, TimeoutError):
    """Another writer held the vault's lock past the deadline.

    The entries were saved, durably, to ``fallback_path``
    (``Logs/failed_writes.json``); ``vault-audit replay`` writes them later.
    """

    fallback_path: Path
    waited_ms: int

    def __init__(self, message: str, fallback_path: Union[str, Path], waited_ms: int) -> None:
        super().__init__(message)
        self.fallback_path = Path(fallback_path)
        self.waited_ms = waited_ms


class AuditIOError(VaultAuditError, OSError):
    """A file-system operation failed (disk full, permissions, a symlink).

    ``path`` is the file or folder; ``fallback_path`` is where the entries
    that were not written were saved instead (``None`` if that failed too);
    ``partly_written`` is true when a batch spanning several days had its
    earlier days written.
    """

    path: Path
    fallback_path: Optional[Path]
    partly_written: bool

    def __init__(
        self,
        errno: int,
        message: str,
        path: Union[str, Path],
        fallback_path: Optional[Union[str, Path]] = None,
        partly_written: bool = False,
    ) -> None:
        super().__init__(errno, message, str(path))
        self.message = message
        self.path = Path(path)
        self.fallback_path = None if fallback_path is None else Path(fallback_path)
        self.partly_written = partly_written

    def __str__(self) -> str:
        return self.message
