"""The contour: a sense of what is alive here without knowing who (the Contour screen).

Activity by tag x day and by place, from what reached this node, as a pure function of
(set, now) like every view of ``views.py``; ``SqliteStore.contour`` computes the same with SQL
aggregates over its stored derived columns (tests/store/test_store_contour.py holds them equal).

The rules:

* **counted** — a trace visible at ``now`` (``TraceSet.is_visible``: not hidden by a retract or
  a burn, effective expiry after ``now``) whose kind is not in ``UNCOUNTED_KINDS``. Echoes,
  confirms, disputes, answers and kinds unknown to this version count: they are activity, even
  though the feed does not list the first three (kinds.META_KINDS). Retracts and burns do not:
  they are housekeeping — taking back, not taking part — and live LIFE_CAP (90 days), so they
  would outweigh everything else. Nor do sealed envelopes (stig.crdt.sealed): their one tag is
  an affinity group's tag of the day, which the contour must not show, and what they carry is
  the group's, not this node's to count.
* **day** — a trace's UTC day is ``created // DAY``; one created after today (a clock that
  runs fast, within MAX_FUTURE_SKEW) goes in today's column. There are ``days`` columns, the
  last one today (the UTC day of ``now``): a trace created before ``first_day`` is in no column
  (nor in ``by_tag``), but still counts in ``by_place``, which is not per day.
* **by_tag** — each counted trace in the window adds one to each of its own tags' column of
  its day (a trace with three tags is in three rows, once in ``total``; an echo counts under
  its own tags, not its target's). Only the ``top_tags`` tags with the most traces in the
  window are kept, ties broken by tag name (code point order, which is also SQLite's order of
  the UTF-8 bytes); tags with none are not. Hence every row is at most ``total``, column by
  column.
* **by_place** — each counted trace with a place adds one to the first PLACE_PREFIX characters
  of its geohash (a cell of about 156 km x 156 km: coarse on purpose). The ``top_places`` with
  the most, ties broken by name.
* Both dicts are in that rank order (most first). Nothing in the result says who.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stig.crdt import kinds
from stig.crdt.bounds import DAY
from stig.crdt.views import NO_MUTES, Mutes, TraceSet

PLACE_PREFIX = 3
"""Characters of a geohash the contour keeps: about 156 km x 156 km, a region, not a town."""

UNCOUNTED_KINDS = frozenset({kinds.RETRACT, kinds.BURN, kinds.SEALED})
"""Kinds that are not activity (module docstring)."""

DAYS = 14
TOP_TAGS = 12
TOP_PLACES = 12
"""What the Contour screen shows unless asked otherwise: two weeks, a dozen tags and places."""


@dataclass(frozen=True)
class Contour:
    """Activity by tag x day and by place at some ``now`` (module docstring)."""

    days: int  # number of day columns, oldest first; the last is today (the UTC day of now)
    first_day: int  # UTC day number (unix seconds // DAY) of column 0
    by_tag: dict[str, tuple[int, ...]]  # tag -> traces created on each day (len == days)
    by_place: dict[str, int]  # place prefix (PLACE_PREFIX characters) -> visible traces
    total: tuple[int, ...]  # every counted trace per day (len == days)


def window(now: int, days: int, top_tags: int, top_places: int) -> tuple[int, int]:
    """(first_day, today): the UTC day numbers of the first and the last column. Raises
    ValueError unless there is a day or more, and no negative number of rows is asked for."""
    if days < 1:
        raise ValueError(f"a contour needs at least one day, not {days}")
    if top_tags < 0 or top_places < 0:
        raise ValueError(f"cannot keep {min(top_tags, top_places)} rows of a contour")
    today = now // DAY
    return today - days + 1, today


def column(created: int, first_day: int, today: int) -> int | None:
    """The column of a trace created at ``created``, or None if before the window."""
    day = min(created // DAY, today)
    return day - first_day if day >= first_day else None


def top(counts: Mapping[str, int], limit: int) -> list[str]:
    """The ``limit`` keys with the highest counts (none with 0), ties broken by key."""
    ranked = sorted((key for key, n in counts.items() if n > 0), key=lambda k: (-counts[k], k))
    return ranked[:limit]


def assemble(
    days: int,
    first_day: int,
    tag_days: Iterable[tuple[str, int, int]],
    places: Mapping[str, int],
    total: Iterable[tuple[int, int]],
    top_tags: int,
    top_places: int,
) -> Contour:
    """The Contour from counts: (tag, column, traces) and (column, traces) of the window, and
    traces per place prefix. Keeps the top tags and places (module docstring)."""
    rows: dict[str, list[int]] = {}
    for tag, col, n in tag_days:
        rows.setdefault(tag, [0] * days)[col] += n
    sums = {tag: sum(row) for tag, row in rows.items()}
    columns = [0] * days
    for col, n in total:
        columns[col] += n
    return Contour(
        days=days,
        first_day=first_day,
        by_tag={tag: tuple(rows[tag]) for tag in top(sums, top_tags)},
        by_place={place: places[place] for place in top(places, top_places)},
        total=tuple(columns),
    )


def contour(
    traces: TraceSet,
    now: int,
    days: int = DAYS,
    top_tags: int = TOP_TAGS,
    top_places: int = TOP_PLACES,
    mutes: Mutes = NO_MUTES,
) -> Contour:
    """Activity at ``now`` by tag x day over ``days`` UTC days ending today, and by place
    (module docstring); traces this device muted (views.Mutes) are not counted."""
    first_day, today = window(now, days, top_tags, top_places)
    tag_days: Counter[tuple[str, int]] = Counter()
    total: Counter[int] = Counter()
    places: Counter[str] = Counter()
    for trace in traces:
        if trace.kind in UNCOUNTED_KINDS or mutes.hides(trace) or not traces.is_visible(trace, now):
            continue
        if trace.place:
            places[trace.place[:PLACE_PREFIX]] += 1
        col = column(trace.created, first_day, today)
        if col is None:
            continue
        total[col] += 1
        for tag in trace.tags:
            tag_days[tag, col] += 1
    return assemble(
        days,
        first_day,
        ((tag, col, n) for (tag, col), n in tag_days.items()),
        places,
        total.items(),
        top_tags,
        top_places,
    )
