"""Regressions found by review, each named after its defect, and the
hostile situations beside them: a full disk, kill -9, fork, symlinks,
threads, dry run of every call."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List

import pytest

from conftest import REPO, all_entries, pause, read_day, seed_entry, today
from vault_audit import (
    AuditIOError,
    AuditLogger,
    ConfigError,
    EntryRejected,
    LockTimeout,
    QueryRejected,
)

GITHUB_TOKEN = "ghp_" + "B" * 36


# Hostile entries.


def test_a_mapping_that_is_not_a_dict_is_logged_like_a_dict(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    proxy = types.MappingProxyType(seed_entry(parameters={"m": types.MappingProxyType({"a": 1})}))
    stored = logger.log_entry(proxy).entries[0]
    assert stored["session_id"] == "AI_EMP_TEST_000001"
    assert stored["parameters"] == {"m": {"a": 1}}


class RaisingDict(Dict[str, Any]):
    def items(self) -> Any:
        raise RuntimeError("items() fails")


class RaisingPath(type(Path())):  # type: ignore[misc]
    def __str__(self) -> str:
        raise RuntimeError("__str__ fails")


@pytest.mark.parametrize(
    "entry",
    [RaisingDict(seed_entry()), seed_entry(parameters={"p": RaisingPath("a.md")})],
    ids=["dict_items_raises", "path_str_raises"],
)
def test_an_exception_raised_by_a_value_s_own_code_is_entry_rejected_and_log_returns_false(
    vault: Path, entry: Dict[str, Any]
) -> None:
    logger = AuditLogger(vault, dry_run=False)
    with pytest.raises(EntryRejected, match="fails"):
        logger.log_entry(entry)
    assert logger.log(entry) is False
    assert not (vault / "Logs" / f"{today()}.json").exists()


def test_two_keys_spelled_alike_in_json_are_refused_not_one_silently_dropped(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    with pytest.raises(EntryRejected, match="two keys are both '1'"):
        logger.log_entry(seed_entry(parameters={1: "kept?", "1": "or this?"}))
    stored = logger.log_entry(seed_entry(parameters={7: "a", True: "b", None: "c", 2.5: "d"}))
    assert stored.entries[0]["parameters"] == {"7": "a", "true": "b", "null": "c", "2.5": "d"}


def test_an_entry_holding_itself_is_rejected(vault: Path) -> None:
    loop: Dict[str, Any] = {}
    loop["self"] = loop
    assert AuditLogger(vault, dry_run=False).log(seed_entry(parameters=loop)) is False


def test_log_action_takes_parameters_named_like_its_own_fields(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    receipt = logger.log_action("INFO", "file_moved", "mover", "Done/a.md", target="Inbox/a.md", level=2)
    assert receipt.entries[0]["target"] == "Done/a.md"
    assert receipt.entries[0]["parameters"] == {"target": "Inbox/a.md", "level": 2}


def test_setting_dry_run_on_a_logger_is_obeyed_as_by_the_specification_s_class(
    vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = AuditLogger(vault, dry_run=False, session_id="AI_EMP_20260101_KEPT01")
    logger.dry_run = True
    assert logger.log(seed_entry(target="previewed"))
    assert "[DRY_RUN] Log Entry: " in capsys.readouterr().out
    assert not (vault / "Logs" / f"{today()}.json").exists()
    logger.dry_run = False
    assert logger.log(seed_entry(target="written"))
    assert [e["target"] for e in read_day(vault, today())["entries"]] == ["written"]
    assert logger.session_id == "AI_EMP_20260101_KEPT01"
    with pytest.raises(AttributeError):
        logger.vault_path = vault.parent  # type: ignore[misc]


# Secrets.


def test_a_secret_in_a_session_name_is_redacted_in_the_id_given_and_stored(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    with logger.session("deploy " + GITHUB_TOKEN) as session:
        stored = logger.log_entry(seed_entry(session_id=session)).entries[0]["session_id"]
    assert GITHUB_TOKEN not in session
    assert session.startswith("deploy_[REDACTED]_")
    assert stored == session
    assert GITHUB_TOKEN not in (vault / "Logs" / f"{today()}.json").read_text("utf-8")


def test_a_secret_session_id_given_to_the_constructor_is_never_stored(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False, session_id=GITHUB_TOKEN)
    assert GITHUB_TOKEN not in logger.session_id
    entry = seed_entry()
    del entry["session_id"]
    logger.log(entry)
    assert GITHUB_TOKEN not in (vault / "Logs" / f"{today()}.json").read_text("utf-8")


def test_a_secret_key_in_parameters_is_redacted(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    stored = logger.log_entry(seed_entry(parameters={GITHUB_TOKEN: 1})).entries[0]
    assert GITHUB_TOKEN not in json.dumps(stored)
    with pytest.raises(EntryRejected) as caught:
        logger.log_entry({**seed_entry(), GITHUB_TOKEN: 1})
    assert GITHUB_TOKEN not in str(caught.value) + repr(caught.value.problems)


def test_a_secret_in_the_text_of_a_python_side_rejection_is_redacted(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)

    class Leaky:
        def __str__(self) -> str:
            raise ValueError(f"cannot show {GITHUB_TOKEN}")

    leaky = type("LeakyPath", (RaisingPath,), {"__str__": Leaky.__str__})("a")
    with pytest.raises(EntryRejected) as caught:
        logger.log_entry(seed_entry(parameters={"p": leaky}))
    assert "cannot show" in str(caught.value)
    assert GITHUB_TOKEN not in str(caught.value) + repr(caught.value.problems)


# Constructor arguments.


def test_a_session_id_or_vault_starting_with_a_dash_is_taken_as_given(
    vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert AuditLogger(vault, session_id="--help").session_id == "--help"
    assert AuditLogger(vault, session_id="-x").session_id == "-x"
    dashed = vault.parent / "-vault"
    (dashed / "Logs").mkdir(parents=True)
    monkeypatch.chdir(vault.parent)
    assert AuditLogger("-vault").vault_path == dashed


def test_a_session_id_that_is_not_text_is_refused_by_name(vault: Path) -> None:
    with pytest.raises(TypeError, match="session_id must be a str"):
        AuditLogger(vault, session_id=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="session_id"):
        AuditLogger(vault, session_id="\ud800")


def test_a_bytes_vault_path_is_accepted(vault: Path) -> None:
    assert AuditLogger(os.fsencode(vault)).vault_path == vault


def test_a_relative_vault_path_stays_the_same_folder_after_chdir(
    vault: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(vault.parent)
    logger = AuditLogger(vault.name, dry_run=False)
    assert logger.vault_path == vault
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / vault.name / "Logs").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    assert logger.log(seed_entry())
    assert read_day(vault, today())["total_entries"] == 1
    assert not (elsewhere / vault.name / "Logs" / f"{today()}.json").exists()


def test_a_file_named_logs_in_the_vault_is_an_audit_io_error_not_a_config_error(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "Logs").write_text("not a folder", "utf-8")
    with pytest.raises(AuditIOError) as caught:
        AuditLogger(folder)
    assert caught.value.path == folder / "Logs"
    assert caught.value.errno == 17


@pytest.mark.parametrize(
    "name, value",
    [("AUDIT_LOCK_TIMEOUT_MS", "soon"), ("AUDIT_RETENTION_DAYS", "0"), ("AUDIT_RETENTION_DAYS", "")],
)
def test_an_environment_setting_error_names_the_variable_not_the_cli_flag(
    vault: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        AuditLogger(vault)
    message = str(caught.value)
    assert name in message and "--" not in message and "\n" not in message, message


@pytest.mark.parametrize(
    "name, value",
    [
        ("AUDIT_MAX_FIELD_CHARS", "0"),
        ("AUDIT_REDACTION", "maybe"),
        ("AUDIT_REDACT_PATTERNS", "(unclosed"),
        ("AUDIT_STRICT", "maybe"),
        ("AUDIT_SIGNING_KEY", "/nonexistent/key"),
        ("AUDIT_IMPORT_TZ", "Mars/Olympus"),
    ],
)
def test_every_bad_environment_setting_is_a_config_error_naming_it(
    vault: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        AuditLogger(vault)


# Exceptions travel between processes.


def test_lock_timeout_survives_pickling() -> None:
    error = LockTimeout("busy", "/v/Logs/failed_writes.json", 5000)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.fallback_path, copy.waited_ms) == (
        "busy",
        Path("/v/Logs/failed_writes.json"),
        5000,
    )
    io = pickle.loads(pickle.dumps(AuditIOError(28, "full", "/v/Logs", None, True)))
    assert (io.errno, str(io), io.path, io.fallback_path, io.partly_written) == (
        28, "full", Path("/v/Logs"), None, True,
    )
    rejected = pickle.loads(pickle.dumps(EntryRejected("bad", [(0, "actor", "missing")])))
    assert rejected.problems[0].field == "actor"


# Queries.


@pytest.mark.parametrize(
    "arguments, named",
    [
        ({"since": 5}, ["since"]),
        ({"level": [1, 2]}, ["level"]),
        ({"level": b"INFO"}, ["level"]),
        ({"actor": 5, "until": ["x"]}, ["until", "actor"]),
        ({"contains": "\ud800"}, ["contains"]),
    ],
)
def test_query_arguments_of_wrong_types_are_rejected_by_name(
    vault: Path, arguments: Dict[str, Any], named: List[str]
) -> None:
    logger = AuditLogger(vault, dry_run=False)
    for call in (lambda: list(logger.query(**arguments)), lambda: logger.stats(**arguments)):
        with pytest.raises(QueryRejected) as caught:
            call()
        assert [p.field for p in caught.value.problems] == named


def test_query_takes_a_datetime_or_a_date(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    logger.log(seed_entry())
    hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    assert len(list(logger.query(since=hour_ago))) == 1
    assert len(list(logger.query(since=datetime.now() - timedelta(hours=1)))) == 1, "naive: local"
    assert len(list(logger.query(until=hour_ago.date() - timedelta(days=1)))) == 0


def test_a_native_query_read_by_two_threads_does_not_deadlock(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    logger.log_batch([seed_entry() for _ in range(300)])
    script = textwrap.dedent(
        f"""
        import threading
        from vault_audit import AuditLogger
        query = AuditLogger({str(vault)!r})._native.query()
        seen = []
        def read():
            seen.extend(query)
        threads = [threading.Thread(target=read) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(len(seen))
        """
    )
    # A deadlock holds the GIL: only a separate process can be timed out
    # (by a timer, not `timeout=`, which sleeps in a way libfaketime breaks).
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    timer = threading.Timer(30, proc.kill)
    timer.start()
    out, err = proc.communicate()
    timer.cancel()
    assert out.strip() == "300", err


# Hostile situations that hold: kept so that they keep holding.


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A vault on a 1 MiB tmpfs, nearly full (root only)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)])
    if made.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        (mount / "v" / "Logs").mkdir(parents=True)
        (mount / "filler").write_bytes(b"\0" * (1024 * 1024 - 96 * 1024))
        yield mount / "v"
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_fails_the_call_cleanly_and_loses_nothing_written(small_disk: Path) -> None:
    logger = AuditLogger(small_disk, dry_run=False)
    written = 0
    with pytest.raises(AuditIOError) as caught:
        for n in range(10_000):
            logger.log_entry(seed_entry(parameters={"n": n, "pad": "x" * 500}))
            written += 1
    assert caught.value.errno == 28 and caught.value.path.name == f"{today()}.json"
    assert written > 10
    assert logger.log(seed_entry()) in (True, False)
    (small_disk.parent / "filler").unlink()
    assert logger.log(seed_entry(target="after"))
    numbers = [e["parameters"].get("n") for e in all_entries(small_disk) if e["target"] != "after"]
    assert [n for n in numbers if n is not None] == list(range(written))
    assert logger.verify().entries == len(all_entries(small_disk))
    assert not [p for p in logger.verify().problems if p["kind"] != "index"]


KILLED_WRITER = """
import sys
from vault_audit import AuditLogger
logger = AuditLogger(sys.argv[1], dry_run=False)
entry = {"log_level": "INFO", "action_type": "system_event", "actor": "killed",
         "target": "t", "parameters": {"pad": "y" * 3000}, "approval_status": "not_required",
         "approved_by": "system", "dry_run": False, "result": "success", "error_message": None}
while True:
    logger.log_batch([entry] * 20)
"""


def test_kill_9_mid_write_leaves_a_vault_that_verifies_and_takes_more(vault: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(vault)])
    day = vault / "Logs" / f"{today()}.json"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not day.exists() or day.stat().st_size < 300_000):
        pause(0.02)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    logger = AuditLogger(vault, dry_run=False)
    report = logger.verify()
    assert report.entries % 20 == 0, "a batch is all or nothing"
    assert logger.log_entry(seed_entry(target="after the kill")).written == 1
    after = logger.verify()
    assert after.ok, after.problems
    assert after.entries == report.entries + 1


def test_a_logger_made_before_fork_writes_from_both_processes(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    logger.log(seed_entry(actor="before"))
    child = os.fork()
    if child == 0:
        code = 0 if all(logger.log(seed_entry(actor="child")) for _ in range(30)) else 1
        os._exit(code)
    for _ in range(30):
        assert logger.log(seed_entry(actor="parent"))
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    actors = [e["actor"] for e in all_entries(vault)]
    assert (actors.count("child"), actors.count("parent")) == (30, 30)
    assert logger.verify().ok


def test_a_session_is_not_inherited_by_a_thread_started_inside_it(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    entry = seed_entry()
    del entry["session_id"]
    seen: List[str] = []
    with logger.session("outer") as outer:
        worker = threading.Thread(
            target=lambda: seen.append(logger.log_entry(entry).entries[0]["session_id"])
        )
        worker.start()
        worker.join()
        assert logger.log_entry(entry).entries[0]["session_id"] == outer
    assert seen == [logger.session_id]


def test_an_entry_with_a_null_session_id_gets_the_session_of_its_block(vault: Path) -> None:
    logger = AuditLogger(vault, dry_run=False)
    with logger.session("block") as block:
        stored = logger.log_entry(seed_entry(session_id=None)).entries[0]["session_id"]
    assert stored == block


def test_dry_run_of_every_call_changes_nothing_and_prints_in_order(
    vault: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    AuditLogger(vault, dry_run=False).log(seed_entry())
    old = (datetime.now(timezone.utc) - timedelta(days=100)).strftime("%Y-%m-%d")
    (vault / "Logs" / f"{old}.json").write_text(
        json.dumps({"date": old, "total_entries": 0, "entries": [],
                    "summary": {"INFO": 0, "WARNING": 0, "ERROR": 0, "CRITICAL": 0}}),
        "utf-8",
    )

    def state() -> Dict[str, Any]:
        return {
            str(p.relative_to(vault)): (p.lstat().st_mtime_ns, p.read_bytes() if p.is_file() else None)
            for p in sorted(vault.rglob("*"))
        }

    before = state()
    logger = AuditLogger(vault, dry_run=True)
    print("one")
    logger.log(seed_entry(target="first"))
    print("two")
    logger.log_batch([seed_entry(target="second"), seed_entry(target="third")])
    print("three")
    assert logger.rotate_logs() == 0
    logger.index()
    logger.refresh_dashboard()
    logger.verify()
    list(logger.query())
    logger.stats()
    assert state() == before
    lines = capsys.readouterr().out.splitlines()
    assert [line if not line.startswith("[DRY_RUN]") else json.loads(line[20:])["target"]
            for line in lines] == ["one", "first", "two", "second", "third", "three"]


PREVIEW = r"""
import sys
from vault_audit import AuditLogger
entry = {"log_level": "INFO", "action_type": "system_event", "actor": "caf\u00e9 \u2615",
         "target": "t", "parameters": {}, "approval_status": "not_required",
         "approved_by": "system", "dry_run": True, "result": "success", "error_message": None}
logger = AuditLogger(sys.argv[1], dry_run=True)
if sys.argv[2] == "closed":
    sys.stdout.close()
ok = all(logger.log(dict(entry)) for _ in range(int(sys.argv[3])))
sys.stderr.write(f"returned {ok}\n")
"""


def test_a_dry_run_preview_does_not_fail_on_an_ascii_closed_or_broken_stdout(vault: Path) -> None:
    ascii_out = subprocess.run(
        [sys.executable, "-c", PREVIEW, str(vault), "open", "1"],
        capture_output=True, env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )
    assert ascii_out.stderr.decode().endswith("returned True\n"), ascii_out.stderr.decode()
    line = ascii_out.stdout.decode("ascii")
    assert json.loads(line[len("[DRY_RUN] Log Entry: "):])["actor"] == "caf\u00e9 \u2615"
    closed = subprocess.run(
        [sys.executable, "-c", PREVIEW, str(vault), "closed", "1"], capture_output=True
    )
    assert closed.stderr.decode().endswith("returned True\n"), closed.stderr.decode()
    broken = subprocess.Popen(
        [sys.executable, "-c", PREVIEW, str(vault), "open", "5000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert broken.stdout is not None and broken.stderr is not None
    broken.stdout.read(10)
    broken.stdout.close()
    err = broken.stderr.read().decode()
    broken.wait()
    assert "returned True" in err and "Traceback" not in err.split("returned True")[0], err
    assert not (vault / "Logs" / f"{today()}.json").exists()


def test_dry_run_with_a_state_folder_but_no_lock_file_creates_nothing(vault: Path) -> None:
    (vault / "Logs" / ".audit").mkdir()
    logger = AuditLogger(vault, dry_run=True)
    assert logger.rotate_logs() == 0
    logger.index()
    logger.refresh_dashboard()
    assert list((vault / "Logs" / ".audit").iterdir()) == []


@pytest.mark.parametrize("name", ["index.json", "Dashboard.md"])
def test_a_symlinked_index_or_dashboard_is_never_written_through(
    vault: Path, tmp_path: Path, name: str
) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me", "utf-8")
    link = vault / ("Logs" if name == "index.json" else "") / name
    link.unlink(missing_ok=True)
    link.symlink_to(precious)
    logger = AuditLogger(vault, dry_run=False)
    assert logger.log(seed_entry())
    logger.index()
    logger.refresh_dashboard()
    assert precious.read_text("utf-8") == "keep me"


def test_a_symlinked_state_folder_fails_with_the_entry_kept(vault: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (vault / "Logs" / ".audit").symlink_to(elsewhere)
    logger = AuditLogger(vault, dry_run=False)
    with pytest.raises(AuditIOError) as caught:
        logger.log_entry(seed_entry(target="kept"))
    assert caught.value.path == vault / "Logs" / ".audit"
    assert caught.value.fallback_path == vault / "Logs" / "failed_writes.json"
    assert "kept" in caught.value.fallback_path.read_text("utf-8")
    assert list(elsewhere.iterdir()) == []


def test_the_specifications_class_writing_the_same_day_loses_nothing(
    vault: Path, seed_logger_source: Path
) -> None:
    pytest.importorskip("dotenv")
    sys.path.insert(0, str(seed_logger_source.parent))
    try:
        import seed_audit_logger
    finally:
        sys.path.remove(str(seed_logger_source.parent))
    theirs = seed_audit_logger.AuditLogger(vault)
    ours = AuditLogger(vault, dry_run=False)
    for n in range(3):
        assert ours.log(seed_entry(actor=f"ours-{n}"))
        assert theirs.log(seed_entry(actor=f"theirs-{n}"))
    assert ours.log(seed_entry(actor="ours-last"))
    actors = [e["actor"] for e in read_day(vault, today())["entries"]]
    expected = [f"{who}-{n}" for n in range(3) for who in ("ours", "theirs")] + ["ours-last"]
    assert [a for a in actors if a != "audit_logger"] == expected
    report = ours.verify()
    assert report.ok, report.problems


def test_the_extension_s_stubs_match_what_it_defines(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    # Run away from python/, so that the package checked is the one
    # installed (with its extension), not the source folder without it.
    run = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "vault_audit"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_vault_removed_after_the_logger_was_made_is_not_made_again(vault: Path) -> None:
    import shutil

    logger = AuditLogger(vault, dry_run=False)
    shutil.rmtree(vault)
    with pytest.raises(AuditIOError) as caught:
        logger.log_entry(seed_entry())
    assert caught.value.path == vault
    assert logger.log(seed_entry()) is False
    assert not vault.exists()


def test_the_inbox_example_never_replaces_a_note_already_in_needs_action(vault: Path) -> None:
    sys.path.insert(0, str(REPO / "python" / "examples"))
    try:
        import inbox_skill
    finally:
        sys.path.remove(str(REPO / "python" / "examples"))
    (vault / "Inbox").mkdir()
    (vault / "Needs_Action").mkdir()
    (vault / "Inbox" / "a.md").write_text("new", "utf-8")
    (vault / "Inbox" / "b.md").write_text("moved", "utf-8")
    (vault / "Needs_Action" / "a.md").write_text("already there", "utf-8")
    receipts = inbox_skill.move_inbox(AuditLogger(vault, dry_run=False))
    assert (vault / "Needs_Action" / "a.md").read_text("utf-8") == "already there"
    assert (vault / "Inbox" / "a.md").read_text("utf-8") == "new"
    assert (vault / "Needs_Action" / "b.md").read_text("utf-8") == "moved"
    assert [r.entries[0]["result"] for r in receipts] == ["skipped", "success"]
