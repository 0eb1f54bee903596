"""Terminal UI with N traces in the store: first paint, keypress to render, memory.

    python benchmarks/tui.py --n 100000 [--home PATH] [--json]

1. A real home (``initialise``: persona "me", no passphrase) whose SQLite store is filled with N
   valid traces from benchmarks/tracegen.py through ``SqliteStore.add`` (feed.py's ``fill``).
   ``--home PATH`` keeps the home and reuses it when its store already holds traces.
2. FLOORS, measured in the same run: ``python -c pass``, ``python -c "import textual.app"``;
   a bare Textual app that paints one line, started in tmux like stig (the floor of any Textual
   app in a terminal) and in-process; the raw first page, ``LocalNode.feed(limit=200)`` on a
   freshly opened store (what the feed screen asks for), and larger pages.
3. REAL TERMINAL (tmux, 160x48, a private tmux server): ``stig --home H tui --offline`` is
   launched --launches times; wall time from launch until ``capture-pane`` shows table rows, and
   until the text of one of the top traces is readable. Then --tmux-keys ``Down`` keys, each
   sent with ``send-keys`` and timed until the highlighted row has moved in ``capture-pane -e``
   (the floor app gets the same treatment: a key that changes its line). VmRSS / VmHWM of the
   stig process after first paint, after the Downs and after --tmux-pagedowns PageDowns.
   ``q`` ends it; the process is killed by its pid if it has not ended 5 s later.
4. IN-PROCESS (``app.run_test(size=(160, 48))``, headless): ``App._display`` is wrapped so that
   every frame is turned into the bytes a terminal would receive (``render_segments``) and
   time-stamped with the feed table's state. First paint = the first frame with rows in the
   feed table (and the first after the column widths settled). Keys are sent as the driver
   sends them (``driver.send_message(Key)``); a key's latency runs to the first frame in which
   the cursor has moved and is inside the visible region. Sequential: --presses ``down`` then
   --pagedowns ``pagedown``, each after the previous one settled (workers done); a press that
   reaches the last loaded row also reports the time until the next page is on screen. Held key:
   --held ``down`` at 30 per second, not waiting (a key held down). Memory: RSS growth of this
   process, then a second run under tracemalloc (peak and live Python allocations).

With --json the last line is ``{"n", "first_paint_s", "floor_paint_s", "key_p99_ms", ...}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual import events
from textual._compositor import CompositorUpdate
from textual.app import App
from textual.screen import Screen

from stig.crdt.views import FeedFilter, Ranked
from stig.node.home import Home
from stig.node.local import LocalNode, initialise
from stig.store.sqlite import SqliteStore
from stig.tui.app import StigApp
from stig.tui.screens.feed import PAGE, FeedScreen
from stig.tui.widgets.trace_table import TraceTable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from feed import Fill, fill, percentile, rss_mib
from report import print_json, print_machine, print_table
from tracegen import TraceGenerator

SIZE = (160, 48)
GOAL_PAINT_S = 1.5
GOAL_KEY_MS = 50.0
HELD_RATE = 30.0  # keys per second while a key is held down (a usual auto-repeat rate)
PHASE_BUDGET_S = 180.0  # stop a key phase early past this (said so in its table)
BIN = Path(sys.executable).parent

# The floor: a bare Textual app, one line, one key binding that changes the line.
FLOOR_SOURCE = """
from textual.app import App
from textual.widgets import Static


class Floor(App):
    BINDINGS = [("down", "more", "more"), ("q", "quit", "quit")]
    n = 0

    def compose(self):
        yield Static("FLOOR-READY 0", id="line")

    def action_more(self):
        self.n += 1
        self.query_one("#line", Static).update(f"FLOOR-READY {self.n}")
"""


# -- the home ----------------------------------------------------------------------------------


async def prepare_home(args: argparse.Namespace, root: Path) -> tuple[Home, int, Fill | None]:
    home = Home.choose(root)
    initialise(home)  # persona "me", no passphrase (what a first `stig tui` makes)
    store = await SqliteStore.open(home.store)
    try:
        have = await store.count()
        filled = None
        if have == 0:
            gen = TraceGenerator(
                total=args.n,
                now=int(time.time()),
                authors=args.authors,
                seed=args.seed,
                echo_share=0.10,
            )
            print(f"filling {home.store} with {args.n:,} traces ...", flush=True)
            filled = await fill(store, gen, 10_000, 1800.0)
            have = await store.count()
        else:
            print(f"reusing {home.store}: {have:,} rows already stored (no fill)")
    finally:
        await store.close()
    return home, have, filled


# -- floors ------------------------------------------------------------------------------------


def time_command(argv: Sequence[str], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return samples


async def raw_feed(home: Home, limits: Sequence[int]) -> list[list[Any]]:
    """LocalNode.feed on a freshly opened store: open, first page cold, again warm, bigger."""
    rows: list[list[Any]] = []
    start = time.perf_counter()
    async with LocalNode.open(home) as local:
        opened = time.perf_counter() - start
        rows.append(["LocalNode.open (SqliteStore.open)", opened * 1e3])
        for limit in limits:
            for state in ("first call", "again"):
                if limit != limits[0] and state == "again":
                    continue
                start = time.perf_counter()
                items = await local.feed(FeedFilter(), limit)
                took = time.perf_counter() - start
                rows.append([f"feed(limit={limit:,}) {state}: {len(items):,} rows", took * 1e3])
    return rows


# -- tmux --------------------------------------------------------------------------------------

SGR = re.compile(r"\x1b\[([0-9;]*)m")


def background_of(line: str) -> str | None:
    """The first background colour set on a captured line (``48;5;N`` or ``48;2;R;G;B``)."""
    for match in SGR.finditer(line):
        params = match.group(1).split(";")
        for i, p in enumerate(params):
            if p == "48" and i + 1 < len(params):
                width = 3 if params[i + 1] == "5" else 5
                return ";".join(params[i : i + width])
            if p.isdigit() and 40 <= int(p) <= 47:
                return p
    return None


def strip_sgr(line: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line)


TABLE_ROW = re.compile(r"^ [█▇▆▅▄▃▂▁ ]{4,5} +\S")  # a feed row: the heat bar, then its kind


def cursor_line(screen: str) -> int | None:
    """Index of the highlighted feed row in ``capture-pane -p -e`` output: the rows alternate
    two zebra backgrounds; the cursor row has a background no other row has."""
    lines = screen.split("\n")
    rows = [(i, background_of(ln)) for i, ln in enumerate(lines) if TABLE_ROW.match(strip_sgr(ln))]
    counts = Counter(bg for _, bg in rows)
    single = [i for i, bg in rows if bg is not None and counts[bg] == 1]
    return single[0] if len(single) == 1 else None


class Tmux:
    """A private tmux server (its own socket), killed at the end."""

    def __init__(self, width: int, height: int) -> None:
        self.socket = f"stig-bench-{os.getpid()}"
        self.width, self.height = width, height
        self._n = 0
        self.run("new-session", "-d", "-s", "idle", "-x", "80", "-y", "24", "sleep 86400")

    def run(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], check=True, capture_output=True, text=True
        )
        return out.stdout

    def launch(self, command: str) -> tuple[str, float]:
        self._n += 1
        name = f"s{self._n}"
        start = time.perf_counter()
        self.run(
            "new-session", "-d", "-s", name, "-x", str(self.width), "-y", str(self.height),
            f"exec {command}",
        )  # fmt: skip
        return name, start

    def capture(self, name: str, escapes: bool = False) -> str:
        return self.run("capture-pane", "-p", *(("-e",) if escapes else ()), "-t", name)

    def pid(self, name: str) -> int:
        return int(self.run("list-panes", "-t", name, "-F", "#{pane_pid}").split()[0])

    def keys(self, name: str, *keys: str) -> None:
        self.run("send-keys", "-t", name, *keys)

    def stop(self, name: str, pid: int) -> str:
        """Press q; if the process has not ended 5 s later, kill it by its pid."""
        with_q = "ended on q"
        with contextlib.suppress(subprocess.CalledProcessError):
            self.keys(name, "q")
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            with_q = "killed (did not end on q)"
            os.kill(pid, signal.SIGTERM)
            time.sleep(1)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.CalledProcessError):
            self.run("kill-session", "-t", name)
        return with_q

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.run("kill-server")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def memory_of(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":")[0]
            if key in values:
                values[key] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return values["VmRSS"], values["VmHWM"]


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def wait_quiet(pid: int, quiet: float = 0.6, timeout: float = 120.0) -> float:
    """Wait until the process has used at most one clock tick of CPU over ``quiet`` seconds."""
    start = time.monotonic()
    last = cpu_ticks(pid)
    since = time.monotonic()
    while time.monotonic() - start < timeout:
        time.sleep(0.1)
        now = cpu_ticks(pid)
        if now - last > 1:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return time.monotonic() - start


def poll_until(
    tmux: Tmux,
    name: str,
    start: float,
    checks: dict[str, Callable[[str], bool]],
    timeout: float,
    grace: float = 5.0,
) -> dict[str, float]:
    """Seconds from ``start`` until each check first holds on a capture (polled every ~5 ms);
    gives up ``grace`` seconds after the first check held, or at ``timeout``."""
    seen: dict[str, float] = {}
    while len(seen) < len(checks) and time.perf_counter() - start < timeout:
        if seen and time.perf_counter() - start > min(seen.values()) + grace:
            break
        screen = tmux.capture(name)
        now = time.perf_counter()
        for key, check in checks.items():
            if key not in seen and check(screen):
                seen[key] = now - start
        time.sleep(0.005)
    return seen


@dataclass
class TmuxRun:
    rows_s: float | None
    text_s: float | None
    rss_paint: float
    text_after_keys: bool = False
    keys_ms: list[float] = field(default_factory=list)
    rss_keys: float = 0.0
    rss_pages: float = 0.0
    hwm: float = 0.0
    quiet_after_pages_s: float = 0.0
    ended: str = ""


def tmux_stig(tmux: Tmux, home: Home, markers: list[str], args: argparse.Namespace) -> TmuxRun:
    command = f"{BIN / 'stig'} --home {home.root} tui --offline"
    name, start = tmux.launch(command)
    pid = tmux.pid(name)
    top_row = re.compile(r"^ [█▇▆▅▄▃▂▁]", re.M)  # the top row's bar starts with a block
    seen = poll_until(
        tmux,
        name,
        start,
        {
            "rows": lambda s: top_row.search(s) is not None,
            "text": lambda s: any(m in s for m in markers),
        },
        timeout=60,
    )
    rss_paint, _ = memory_of(pid)
    result = TmuxRun(seen.get("rows"), seen.get("text"), rss_paint)
    if args.tmux_keys and "rows" in seen:
        wait_quiet(pid)
        result.keys_ms = tmux_keys(tmux, name, args.tmux_keys, cursor_line, "Down")
        wait_quiet(pid)
        result.rss_keys, _ = memory_of(pid)
        screen = tmux.capture(name)
        result.text_after_keys = any(m in screen for m in markers)
        for _ in range(args.tmux_pagedowns):
            tmux.keys(name, "PageDown")
            time.sleep(0.03)
        result.quiet_after_pages_s = wait_quiet(pid)
        result.rss_pages, result.hwm = memory_of(pid)
    else:
        _, result.hwm = memory_of(pid)
    result.ended = tmux.stop(name, pid)
    return result


def tmux_keys(
    tmux: Tmux, name: str, count: int, where: Callable[[str], int | None], key: str
) -> list[float]:
    """Send ``key`` ``count`` times; each is timed until ``where`` (the highlighted line, or the
    floor's counter) on ``capture-pane -e`` has moved on from its value before the key."""
    samples = []
    for _ in range(count):
        before = where(tmux.capture(name, True))
        start = time.perf_counter()
        tmux.keys(name, key)
        while time.perf_counter() - start < 10:
            now = where(tmux.capture(name, True))
            if now is not None and now != before:
                samples.append((time.perf_counter() - start) * 1e3)
                break
            time.sleep(0.002)
        time.sleep(0.05)  # let the terminal settle before the next key
    return samples


def floor_counter(screen: str) -> int | None:
    match = re.search(r"FLOOR-READY (\d+)", screen)
    return int(match.group(1)) if match else None


def tmux_floor(tmux: Tmux, script: Path, keys: int) -> tuple[float | None, list[float], float]:
    name, start = tmux.launch(f"{sys.executable} {script}")
    pid = tmux.pid(name)
    seen = poll_until(tmux, name, start, {"paint": lambda s: "FLOOR-READY 0" in s}, timeout=30)
    samples: list[float] = []
    if keys and "paint" in seen:
        wait_quiet(pid, quiet=0.3)
        samples = tmux_keys(tmux, name, keys, floor_counter, "Down")
    rss, _ = memory_of(pid)
    tmux.stop(name, pid)
    return seen.get("paint"), samples, rss


# -- in-process ----------------------------------------------------------------------------------


@dataclass
class Frame:
    t: float
    rows: int
    cursor: int
    visible: bool
    settled: bool  # the table's column widths were up to date


class FrameLog:
    """Wraps ``app._display``: each frame is rendered to the bytes a terminal would get (the
    headless driver skips that) and recorded with the feed table's state at that moment."""

    def __init__(self, app: App[Any]) -> None:
        self.frames: list[Frame] = []
        self.bytes = 0
        self.changed = asyncio.Event()
        original = app._display

        def display(screen: Screen[Any], renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None or app._batch_count:
                return
            if isinstance(renderable, CompositorUpdate):
                self.bytes += len(renderable.render_segments(app.console))
            rows = cursor = -1
            visible = settled = False
            if isinstance(screen, FeedScreen):
                tables = screen.query(TraceTable)
                if tables:
                    table = tables.first()
                    rows, cursor = table.row_count, table.cursor_row
                    settled = not table._require_update_dimensions
                    if 0 <= cursor < rows:
                        _, y, _, h = table._get_row_region(cursor)
                        top = table.scroll_y + table.header_height
                        bottom = table.scroll_y + table.scrollable_content_region.height
                        visible = top <= y and y + h <= bottom
            self.frames.append(Frame(time.perf_counter(), rows, cursor, visible, settled))
            self.changed.set()

        app._display = display  # type: ignore[method-assign]

    async def first(
        self, since: float, check: Callable[[Frame], bool], within: float = 120.0
    ) -> Frame | None:
        deadline = time.perf_counter() + within
        index = 0
        while True:
            for frame in self.frames[index:]:
                if frame.t >= since and check(frame):
                    return frame
            index = len(self.frames)
            self.changed.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                return None


class Calls:
    """Wall time of LocalNode.feed and TraceTable.show, wrapped on the classes while in use."""

    def __init__(self) -> None:
        self.feed: list[tuple[float, float, int]] = []  # (start, seconds, limit)
        self.show: list[tuple[float, float, int]] = []  # (start, seconds, rows)
        self._saved: list[tuple[type, str, Any]] = []

    def __enter__(self) -> Calls:
        feed, show = LocalNode.feed, TraceTable.show
        calls = self

        async def timed_feed(node: LocalNode, *args: Any, **kwargs: Any) -> list[Ranked]:
            start = time.perf_counter()
            try:
                return await feed(node, *args, **kwargs)
            finally:
                limit = kwargs.get("limit", args[1] if len(args) > 1 else 50)
                calls.feed.append((start, time.perf_counter() - start, limit))

        def timed_show(table: TraceTable, items: list[Ranked], now: int) -> None:
            start = time.perf_counter()
            try:
                show(table, items, now)
            finally:
                calls.show.append((start, time.perf_counter() - start, len(items)))

        self._saved = [(LocalNode, "feed", feed), (TraceTable, "show", show)]
        LocalNode.feed = timed_feed  # type: ignore[method-assign]
        TraceTable.show = timed_show  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in self._saved:
            setattr(owner, name, original)


async def settle(app: App[Any]) -> None:
    """Until no worker runs and the screen has processed what was queued."""
    for worker in list(app.workers):
        if not worker.is_finished:
            with contextlib.suppress(Exception):
                await worker.wait()
    await asyncio.sleep(0.03)


def send_key(app: App[Any], key: str) -> None:
    event = events.Key(key, None)
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)  # as the terminal driver does for a key read from stdin


@dataclass
class Press:
    key: str
    ms: float
    row: int
    page_ms: float | None = None  # a page load: until the grown table is on screen
    feed_ms: float = 0.0
    show_ms: float = 0.0


@dataclass
class InProcess:
    paint_rows_s: float = 0.0
    paint_settled_s: float = 0.0
    mount_feed_s: float = 0.0  # from start to the feed call of the first page
    first_feed_ms: float = 0.0
    first_show_ms: float = 0.0
    presses: list[Press] = field(default_factory=list)
    held_ms: list[float] = field(default_factory=list)
    held_note: str = ""
    notes: list[str] = field(default_factory=list)
    rss: list[tuple[str, float]] = field(default_factory=list)
    frames: int = 0
    frame_bytes: int = 0
    loaded_rows: int = 0
    gc_ms: list[tuple[int, float]] = field(default_factory=list)  # (generation, ms) while keyed


async def wait_paint(app: StigApp, log: FrameLog, start: float) -> tuple[Frame, Frame]:
    rows = await log.first(start, lambda f: f.rows > 0)
    settled = await log.first(start, lambda f: f.rows > 0 and f.settled)
    if rows is None or settled is None:
        raise RuntimeError("the feed never showed rows")
    return rows, settled


async def sequential(
    app: StigApp, log: FrameLog, calls: Calls, key: str, count: int, result: InProcess
) -> None:
    table = app.screen.query_one(TraceTable)
    started = time.perf_counter()
    for i in range(count):
        if time.perf_counter() - started > PHASE_BUDGET_S:
            result.notes.append(f"{key}: stopped after {i} presses ({PHASE_BUDGET_S:.0f} s budget)")
            break
        before_row, before_rows = table.cursor_row, table.row_count
        feeds = len(calls.feed)
        shows = len(calls.show)
        start = time.perf_counter()
        send_key(app, key)
        frame = await log.first(start, lambda f, r=before_row: f.cursor != r and f.visible)
        if frame is None:
            result.notes.append(f"{key}: no frame after press {i}")
            break
        press = Press(key, (frame.t - start) * 1e3, frame.cursor)
        await settle(app)
        if len(calls.feed) > feeds:  # this press reached the last row: the next page loads
            grown = await log.first(start, lambda f, n=before_rows: f.rows > n)
            if grown is not None:
                press.page_ms = (grown.t - start) * 1e3
            press.feed_ms = sum(s for _, s, _ in calls.feed[feeds:]) * 1e3
            press.show_ms = sum(s for _, s, _ in calls.show[shows:]) * 1e3
            await settle(app)
        result.presses.append(press)


async def held(app: StigApp, log: FrameLog, count: int, result: InProcess) -> None:
    """``count`` downs at HELD_RATE per second, not waiting; each timed until a frame shows the
    cursor at (or past) the row it leads to."""
    table = app.screen.query_one(TraceTable)
    first_row = table.cursor_row
    sent: list[float] = []
    period = 1 / HELD_RATE
    begin = time.perf_counter()
    for i in range(count):
        delay = begin + i * period - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(time.perf_counter())
        send_key(app, "down")
    for i, at in enumerate(sent):
        target = first_row + i + 1
        frame = await log.first(at, lambda f, r=target: f.cursor >= r and f.visible, within=60)
        if frame is None:
            result.held_note = f"no frame for held key {i}"
            break
        result.held_ms.append((frame.t - at) * 1e3)
    await settle(app)


def gc_timer(into: list[tuple[int, float]]) -> Callable[[str, dict[str, int]], None]:
    """A gc callback that records how long each collection held the interpreter."""
    began = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            into.append((info["generation"], (time.perf_counter() - began[0]) * 1e3))

    return callback


def rss_now() -> float:
    return rss_mib()[0]


async def inprocess(home: Home, args: argparse.Namespace) -> InProcess:
    result = InProcess()
    base = rss_now()
    result.rss.append(("before the app", base))
    with Calls() as calls:
        start = time.perf_counter()
        app = StigApp(home, offline=True)
        log = FrameLog(app)
        async with app.run_test(size=SIZE) as pilot:
            rows, settled = await wait_paint(app, log, start)
            result.paint_rows_s = rows.t - start
            result.paint_settled_s = settled.t - start
            if calls.feed:
                result.mount_feed_s = calls.feed[0][0] - start
                result.first_feed_ms = calls.feed[0][1] * 1e3
            if calls.show:
                result.first_show_ms = calls.show[0][1] * 1e3
            await settle(app)
            result.rss.append(("after first paint", rss_now()))
            gc.callbacks.append(timer := gc_timer(result.gc_ms))
            await sequential(app, log, calls, "down", args.presses, result)
            result.rss.append((f"after {args.presses} downs", rss_now()))
            await sequential(app, log, calls, "pagedown", args.pagedowns, result)
            table = app.screen.query_one(TraceTable)
            result.loaded_rows = table.row_count
            result.rss.append(
                (f"after {args.pagedowns} pagedowns ({table.row_count:,} rows loaded)", rss_now())
            )
            if args.held:
                await held(app, log, args.held, result)
            gc.callbacks.remove(timer)
            result.frames, result.frame_bytes = len(log.frames), log.bytes
            await pilot.pause()
    result.rss.append(("after the app ended", rss_now()))
    return result


async def inprocess_tracemalloc(home: Home, presses: int) -> list[list[Any]]:
    """Python allocations (tracemalloc) of a first paint and ``presses`` downs, in MiB."""
    rows: list[list[Any]] = []
    tracemalloc.start()
    try:
        app = StigApp(home, offline=True)
        log = FrameLog(app)
        calls = Calls()
        start = time.perf_counter()
        async with app.run_test(size=SIZE):
            await wait_paint(app, log, start)
            await settle(app)
            current, peak = tracemalloc.get_traced_memory()
            rows.append(["after first paint", current / 2**20, peak / 2**20])
            with calls:
                await sequential(app, log, calls, "down", presses, InProcess())
            current, peak = tracemalloc.get_traced_memory()
            rows.append([f"after {presses} downs", current / 2**20, peak / 2**20])
    finally:
        tracemalloc.stop()
    return rows


async def inprocess_floor(keys: int) -> tuple[float, list[float]]:
    namespace: dict[str, Any] = {}
    exec(compile(FLOOR_SOURCE, "floor", "exec"), namespace)
    start = time.perf_counter()
    app: App[Any] = namespace["Floor"]()
    log = FrameLog(app)
    samples = []
    async with app.run_test(size=SIZE):
        first = await log.first(start, lambda f: True)
        paint = (first.t if first else time.perf_counter()) - start
        await settle(app)
        for _ in range(keys):
            at = time.perf_counter()
            count = len(log.frames)
            send_key(app, "down")
            frame = await log.first(at, lambda f: True)
            if frame is None or len(log.frames) == count:
                break
            samples.append((frame.t - at) * 1e3)
            await settle(app)
    return paint, samples


# -- report ------------------------------------------------------------------------------------


def stats(ms: Sequence[float]) -> list[Any]:
    if not ms:
        return [0, "-", "-", "-", "-"]
    return [
        len(ms),
        statistics.median(ms),
        percentile(ms, 0.95),
        percentile(ms, 0.99),
        max(ms),
    ]


def first_page_markers(home: Home, count: int = 10) -> list[str]:
    """Text of the top traces as the feed shows them (the start of their first line)."""

    async def top() -> list[Ranked]:
        async with LocalNode.open(home) as local:
            return await local.feed(FeedFilter(), count)

    items = asyncio.run(top())
    return [item.trace.body.strip().split("\n")[0][:24] for item in items]


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="traces (default 100,000)")
    parser.add_argument("--authors", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--home", type=Path, default=None, help="keep/reuse this home")
    parser.add_argument("--launches", type=int, default=3, help="tmux launches of stig")
    parser.add_argument("--presses", type=int, default=300, help="in-process sequential downs")
    parser.add_argument("--pagedowns", type=int, default=100, help="in-process pagedowns")
    parser.add_argument("--held", type=int, default=300, help="in-process held-key downs")
    parser.add_argument("--tmux-keys", type=int, default=30, help="Downs timed in tmux")
    parser.add_argument("--tmux-pagedowns", type=int, default=100, help="then PageDowns")
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument("--json", action="store_true", help="last line: JSON summary")
    args = parser.parse_args(argv)

    print_machine()
    with tempfile.TemporaryDirectory(prefix="stig-tui-") as scratch_dir:
        scratch = Path(scratch_dir)
        root = args.home if args.home is not None else scratch / "home"
        home, have, filled = asyncio.run(prepare_home(args, root))
        if filled is not None:
            print_table(
                "fill",
                ["traces", "generate+sign s", "store.add s", "store.add traces/s"],
                [[filled.n, filled.generate_s, filled.store_s, filled.n / filled.store_s]],
            )
        summary = run(args, home, have, scratch)
    if args.json:
        print_json(summary)
    return 0


def run(args: argparse.Namespace, home: Home, have: int, scratch: Path) -> dict[str, Any]:
    py = sys.executable
    floor_script = scratch / "floor.py"
    floor_script.write_text(FLOOR_SOURCE + "\nFloor().run()\n")

    # Floors: interpreter, imports, and the raw first page.
    imports = [
        ("python -c pass", time_command([py, "-c", "pass"], 5)),
        ("python -c 'import textual.app'", time_command([py, "-c", "import textual.app"], 5)),
        ("python -c 'import stig.tui.app'", time_command([py, "-c", "import stig.tui.app"], 5)),
        ("stig --help (the CLI's own start)", time_command([str(BIN / "stig"), "--help"], 5)),
    ]
    print_table(
        "process start and imports (wall, 5 runs each)",
        ["what", "best s", "median s"],
        [[what, min(s), statistics.median(s)] for what, s in imports],
    )
    limits = [PAGE, 2 * PAGE, 1_000, 4_000]
    print_table(
        f"raw feed on {have:,} stored traces (LocalNode on a freshly opened store)",
        ["call", "ms"],
        asyncio.run(raw_feed(home, limits)),
    )
    raw_first = asyncio.run(raw_feed(home, [PAGE]))

    markers = first_page_markers(home)
    tmux = Tmux(*SIZE)
    try:
        floor_runs = [
            tmux_floor(tmux, floor_script, args.tmux_keys if i == 0 else 0) for i in range(3)
        ]
        stig_runs = [
            tmux_stig(tmux, home, markers, args if i == args.launches - 1 else _no_keys(args))
            for i in range(args.launches)
        ]
    finally:
        tmux.close()

    floor_paints = [p for p, _, _ in floor_runs if p is not None]
    floor_paint = min(floor_paints) if floor_paints else float("nan")
    floor_keys = floor_runs[0][1]
    print_table(
        f"real terminal: tmux {SIZE[0]}x{SIZE[1]}, wall time from launch (polling capture-pane)",
        ["run", "table rows shown s", "top text readable s", "RSS at paint MiB", "end"],
        [
            *(
                [f"floor: bare Textual app #{i + 1}", fmt_s(p), fmt_s(p), rss, "ended on q"]
                for i, (p, _, rss) in enumerate(floor_runs)
            ),
            *(
                [f"stig tui --offline #{i + 1}", fmt_s(r.rows_s),
                 fmt_s(r.text_s) if r.text_s else "not within 5 s", r.rss_paint, r.ended]
                for i, r in enumerate(stig_runs)
            ),
        ],
    )  # fmt: skip
    last = stig_runs[-1]
    if last.keys_ms:
        print(
            f"\nafter the Downs the top traces' text {'is' if last.text_after_keys else 'is NOT'} "
            f"readable; the PageDowns took {last.quiet_after_pages_s:.1f} s to settle"
        )
    paints = [r.rows_s for r in stig_runs if r.rows_s is not None]
    readable = [r.text_s for r in stig_runs if r.text_s is not None]
    if len(readable) < len(paints):
        print(
            f"{len(paints) - len(readable)} of {len(paints)} launches showed the rows with "
            "every column as wide as its title (text unreadable) and stayed so until a key"
        )
    best_paint = min(paints) if paints else float("nan")
    median_paint = statistics.median(paints) if paints else float("nan")
    print_table(
        "real terminal: key to screen (tmux send-keys until capture-pane -e shows the change)",
        ["app, key", "keys", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [
            ["floor: bare Textual app, Down (line changes)", *stats(floor_keys)],
            ["stig feed, Down (highlight moves)", *stats(last.keys_ms)],
        ],
    )
    print_table(
        "real terminal: memory of the stig process (/proc/PID/status)",
        ["moment", "VmRSS MiB"],
        [
            ["floor: bare Textual app after paint", floor_runs[0][2]],
            ["stig after first paint", last.rss_paint],
            [f"stig after {args.tmux_keys} Downs", last.rss_keys],
            [f"stig after {args.tmux_pagedowns} PageDowns", last.rss_pages],
            ["stig peak (VmHWM)", last.hwm],
        ],
    )

    # In-process.
    floor_in_paint, floor_in_keys = asyncio.run(inprocess_floor(args.presses))
    ip = asyncio.run(inprocess(home, args))
    print_table(
        f"in-process first paint (run_test, headless, {SIZE[0]}x{SIZE[1]}; frames rendered "
        "to bytes)",
        ["app", "first frame with rows s", "column widths settled s", "start -> feed call s",
         "feed(200) ms", "TraceTable.show ms"],
        [
            ["floor: bare Textual app", floor_in_paint, floor_in_paint, "-", "-", "-"],
            ["stig", ip.paint_rows_s, ip.paint_settled_s, ip.mount_feed_s, ip.first_feed_ms,
             ip.first_show_ms],
        ],
    )  # fmt: skip
    downs = [p for p in ip.presses if p.key == "down"]
    pages = [p for p in ip.presses if p.key == "pagedown"]
    loads = [p for p in ip.presses if p.page_ms is not None]
    print_table(
        "in-process key to frame (each key sent after the previous one settled)",
        ["key", "keys", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [
            ["floor: bare Textual app, down", *stats(floor_in_keys)],
            ["stig feed, down", *stats([p.ms for p in downs])],
            ["stig feed, pagedown", *stats([p.ms for p in pages])],
            ["stig feed, all keys", *stats([p.ms for p in ip.presses])],
            [f"stig held down ({HELD_RATE:.0f}/s, not waiting)", *stats(ip.held_ms)],
        ],
    )
    if loads:
        print_table(
            f"presses that reached the last loaded row (next page of {PAGE}: feed(limit) again "
            "and the table rebuilt)",
            ["key", "row", "key to frame ms", "to grown table on screen ms", "feed ms", "show ms"],
            [[p.key, p.row, p.ms, p.page_ms, p.feed_ms, p.show_ms] for p in loads],
        )
    for note in (*ip.notes, ip.held_note):
        if note:
            print(f"note: {note}")
    print_table(
        "garbage collections during the key phases (each holds the event loop)",
        ["generation", "collections", "total ms", "max ms"],
        [
            [g, len(d), sum(d), max(d, default=0.0)]
            for g in (0, 1, 2)
            for d in [[ms for gen, ms in ip.gc_ms if gen == g]]
        ],
    )
    print(
        f"\n{ip.frames:,} frames, {ip.frame_bytes / 2**20:.1f} MiB of terminal output; "
        f"{ip.loaded_rows:,} rows loaded at the end"
    )
    print_table(
        "in-process memory (RSS of this process)",
        ["moment", "RSS MiB", "growth MiB"],
        [[m, v, v - ip.rss[0][1]] for m, v in ip.rss],
    )
    if not args.no_tracemalloc:
        print_table(
            "in-process Python allocations (tracemalloc, a separate run)",
            ["moment", "live MiB", "peak MiB"],
            asyncio.run(inprocess_tracemalloc(home, args.presses)),
        )

    stig_keys = [p.ms for p in ip.presses]
    key_p99 = percentile(stig_keys, 0.99) if stig_keys else float("nan")
    tmux_p99 = percentile(last.keys_ms, 0.99) if last.keys_ms else float("nan")
    raw_ms = raw_first[1][1] + raw_first[0][1]
    print_table(
        "goals",
        ["goal", "measured", "floor (same run)", "ratio", "met"],
        [
            [f"first paint <= {GOAL_PAINT_S} s (tmux, best / median)",
             f"{best_paint:.2f} / {median_paint:.2f} s", f"{floor_paint:.2f} s",
             f"{best_paint / floor_paint:.1f}x", "yes" if median_paint <= GOAL_PAINT_S else "NO"],
            ["  of which text readable (launches that got there)",
             " / ".join(f"{v:.2f}" for v in readable) or "none", "", "", ""],
            ["  raw first page (open + feed(200))", f"{raw_ms:.0f} ms", "", "", ""],
            [f"key to render p99 <= {GOAL_KEY_MS:.0f} ms (in-process, all keys)",
             f"{key_p99:.1f} ms", f"{percentile(floor_in_keys, 0.99):.1f} ms", "",
             "yes" if key_p99 <= GOAL_KEY_MS else "NO"],
            [f"key to render p99 <= {GOAL_KEY_MS:.0f} ms (tmux, Down)", f"{tmux_p99:.1f} ms",
             f"{percentile(floor_keys, 0.99):.1f} ms" if floor_keys else "-", "",
             "yes" if tmux_p99 <= GOAL_KEY_MS else "NO"],
        ],
    )  # fmt: skip
    return {
        "n": have,
        "first_paint_s": round(best_paint, 3),
        "first_paint_median_s": round(median_paint, 3),
        "floor_paint_s": round(floor_paint, 3),
        "key_p99_ms": round(key_p99, 1),
        "tmux_key_p99_ms": round(tmux_p99, 1),
        "rss_paint_mib": round(last.rss_paint, 1),
        "rss_scrolled_mib": round(last.rss_pages, 1),
    }


def _no_keys(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "tmux_keys": 0, "tmux_pagedowns": 0})


if __name__ == "__main__":
    raise SystemExit(main())
