"""Checks of a bundle's records in a worker process (stig.node.checking): a real worker process,
real SQLite stores, a real ``stig import`` interrupted.

The verdicts must be those of the in-process checks: the same reasons and details, the same
counts, the same rows stored byte for byte.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stig.crdt import kinds
from stig.crdt.bounds import DAY, HOUR, MAX_TRACE_BYTES, MINUTE
from stig.crdt.bundle import write_header, write_record
from stig.crdt.compose import compose
from stig.crdt.trace import Trace
from stig.crdt.validate import signing_message
from stig.crypto.persona import Persona
from stig.node.checking import RecordChecker, verdicts
from stig.node.ingest import CHECK_APART_AT_LEAST, Ingest, IngestReport
from stig.store import SqliteStore
from tests.cli.running import STIG

NOW = 1_700_000_000
ANA = Persona("ana", bytes([1]) * 32)
BEN = Persona("ben", bytes([2]) * 32)


def make(persona: Persona, body: str, *, created: int = NOW, ttl: int = 7 * DAY) -> Trace:
    return compose(persona, kinds.NOTE, body, now=created, ttl=ttl)


def bad_records() -> list[bytes]:
    """One record of each way a record can be refused by decode, bounds, signature and clock."""
    unsigned = make(ANA, "signed by the wrong key")
    badly_signed = dataclasses.replace(unsigned, signature=BEN.sign(signing_message(unsigned)))
    flipped = bytearray(make(ANA, "flip me too").encoded)
    flipped[flipped.index(b"flip me too")] ^= 0x01
    raw = make(ANA, "non canonical").encoded
    huge = Trace(
        kind=kinds.NOTE, author=ANA.public_key, created=NOW, expires=NOW + DAY, body="x" * 5000
    )
    huge = dataclasses.replace(huge, signature=ANA.sign(signing_message(huge)))
    return [
        b"\xc1" + bytes(200),  # never valid msgpack
        bytes(flipped),  # bad signature
        badly_signed.encoded,
        b"\x00" * (MAX_TRACE_BYTES + 8),  # too large
        raw[:-67] + b"\xcc\x00" + raw[-66:],  # non canonical: the nonce as a uint8
        huge.encoded,  # body too large
        make(ANA, "old news", created=NOW - 10 * DAY, ttl=DAY).encoded,  # expired
        make(ANA, "from tomorrow", created=NOW + 11 * MINUTE).encoded,  # from the future
        b"\x9b" + b"\xc0" * 10 + bytes(100),  # eleven nils: bad shape
    ]


def mixed_batches() -> list[list[tuple[str, bytes]]]:
    """Three batches large enough for the worker, valid traces with every bad record among them,
    duplicates, and an answer that keeps an expired trace alive."""
    stale = make(BEN, "kept alive by its echo", created=NOW - 10 * DAY, ttl=8 * DAY)
    echo = compose(ANA, kinds.ECHO, "", now=NOW - HOUR, ttl=7 * DAY, refs=(stale.id,))
    valid = [make(ANA if i % 2 else BEN, f"note {i}", created=NOW - i) for i in range(700)]
    records = [v.encoded for v in valid[:350]] + bad_records() + [stale.encoded]
    records += [v.encoded for v in valid[300:]] + bad_records() + [echo.encoded]
    size = CHECK_APART_AT_LEAST + 10
    return [
        [(f"record {at + i}", raw) for i, raw in enumerate(records[at : at + size])]
        for at in range(0, len(records), size)
    ]


async def ingest_into(path: Path, checker: RecordChecker | None) -> IngestReport:
    store = await SqliteStore.open(path)
    try:
        ingest = Ingest(store, NOW, checker=checker)
        await ingest.add_all(mixed_batches())
        return await ingest.finish()
    finally:
        await store.close()


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    db = sqlite3.connect(path)
    try:
        tables = [
            name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {t: sorted(db.execute(f"SELECT * FROM {t}"), key=repr) for t in tables}
    finally:
        db.close()


async def test_the_worker_gives_the_verdicts_of_the_checks_here(tmp_path: Path) -> None:
    with RecordChecker() as checker:
        # Started and waited for, so that every large batch goes to the worker.
        assert await checker.check([]) == []
        assert checker.ready
        apart = await ingest_into(tmp_path / "apart.db", checker)
    here = await ingest_into(tmp_path / "here.db", None)

    assert apart == here
    assert here.accepted == 702 and here.duplicates == 50
    assert sum(here.rejected.values()) == 2 * (len(bad_records()))
    assert rows(tmp_path / "apart.db") == rows(tmp_path / "here.db")


@pytest.mark.parametrize("executable", ["/nonexistent/python3", "/bin/false"])
async def test_a_worker_that_cannot_start_leaves_the_checks_here(
    tmp_path: Path, executable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", executable)
    with RecordChecker() as checker:
        apart = await ingest_into(tmp_path / "apart.db", checker)
        assert checker.failed is not None and not checker.ready
    monkeypatch.undo()
    here = await ingest_into(tmp_path / "here.db", None)

    assert apart == here
    assert rows(tmp_path / "apart.db") == rows(tmp_path / "here.db")


def workers_of(pid: int) -> set[int]:
    """The record checkers among a process's children."""
    found: set[int] = set()
    for child in children(pid):
        with contextlib.suppress(OSError):
            if b"stig.node.checking" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(child)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_a_worker_that_dies_leaves_the_rest_of_the_import_to_the_checks_here(
    tmp_path: Path,
) -> None:
    with RecordChecker() as checker:
        assert await checker.check([]) == []  # started and waited for
        (worker,) = workers_of(os.getpid())
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: not alive(worker), "end of the worker")
        apart = await ingest_into(tmp_path / "apart.db", checker)
    here = await ingest_into(tmp_path / "here.db", None)

    assert apart == here
    assert rows(tmp_path / "apart.db") == rows(tmp_path / "here.db")


def test_verdicts_name_the_reasons_and_details_of_the_checks_here() -> None:
    found = verdicts(bad_records())
    assert [v for v in found if isinstance(v, bytes)] == [
        make(ANA, "old news", created=NOW - 10 * DAY, ttl=DAY).id,  # the clock is not its job
        make(ANA, "from tomorrow", created=NOW + 11 * MINUTE).id,
    ]
    assert all(isinstance(v, bytes) or v[1] for v in found)


# -- a real ``stig import``, interrupted -------------------------------------------------------


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found.update(int(c) for c in (task / "children").read_text().split())
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition: object, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.05)


@pytest.fixture
def big_bundle(tmp_path: Path) -> Iterator[Path]:
    """40,000 records, each fully checked (2,000 traces, twenty times over): an import of
    several seconds, long enough to be interrupted once its worker is up."""
    traces = [make(ANA, f"note {i}", created=NOW - i) for i in range(2000)]
    path = tmp_path / "big.stig"
    with path.open("wb") as out:
        write_header(out)
        for _ in range(20):
            for trace in traces:
                write_record(out, trace.encoded)
    yield path


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_during_an_import_leaves_no_process_behind(tmp_path: Path, big_bundle: Path) -> None:
    assert STIG is not None
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("STIG_HOME", "STIG_PASSPHRASE")}
    subprocess.run([STIG, "--home", str(home), "init"], env=env, check=True, capture_output=True)
    # Its own process group, as a terminal's foreground job is: Ctrl-C signals the whole group.
    importing = subprocess.Popen(
        [STIG, "--home", str(home), "import", str(big_bundle)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        worker: set[int] = set()

        def worker_started() -> bool:
            for pid in children(importing.pid):
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"stig.node.checking" in command:
                    worker.add(pid)
            return bool(worker)

        wait_until(worker_started, "worker process")
        seen = children(importing.pid)
        os.killpg(importing.pid, signal.SIGINT)
        _, err = importing.communicate(timeout=60)
    finally:
        if importing.poll() is None:
            importing.kill()
            importing.wait()
    assert importing.returncode != 0
    assert b"Traceback" not in err, err.decode()
    wait_until(lambda: not any(alive(pid) for pid in seen), "end of every child")
