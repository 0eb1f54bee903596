"""How traces look on a terminal and in ``--json`` (the JSON field names are an interface:
scripts depend on them, so they only ever grow)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import click

from stig.crdt import kinds
from stig.crdt.trace import Trace
from stig.crdt.views import Ranked
from stig.node.ingest import IngestReport
from stig.readable import SHORT_ID, bar, responses, span
from stig.store.port import Hidden, Thread


def trace_json(trace: Trace) -> dict[str, Any]:
    return {
        "id": trace.hex_id,
        "kind": trace.kind,
        "author": trace.author.hex(),
        "created": trace.created,
        "expires": trace.expires,
        "tags": list(trace.tags),
        "place": trace.place,
        "refs": [ref.hex() for ref in trace.refs],
        "body": trace.body,
    }


Extra = Callable[[Trace], dict[str, Any]] | None
"""Fields some outputs add to each trace (``author_name``; inside a group also ``group`` and
``anonymous``)."""
By = Callable[[Trace], str] | None
"""How an author reads on a terminal (a persona's name, a petname, or the key's first digits;
'a member of NAME' for a group's anonymous traces)."""


def ranked_json(item: Ranked, extra: Extra = None) -> dict[str, Any]:
    return {
        **trace_json(item.trace),
        "effective_expires": item.effective_expiry,
        "intensity": item.intensity,
        "answers": item.counts.answers,
        "echoes": item.counts.echoes,
        "confirms": item.counts.confirms,
        "disputes": item.counts.disputes,
        **(extra(item.trace) if extra else {}),
    }


def thread_json(
    found: Thread | Hidden,
    extra: Extra = None,
    name_of: Callable[[bytes], str | None] | None = None,
) -> dict[str, Any]:
    if isinstance(found, Hidden):
        hidden = {
            "id": found.id.hex(),
            "hidden": True,
            "kind": found.kind,
            "author": found.author.hex(),
            "created": found.created,
        }
        return {**hidden, "author_name": name_of(found.author)} if name_of else hidden
    return {
        **ranked_json(found.ranked, extra),
        "hidden": False,
        "answers_to": [
            {"id": ref.hex(), "trace": ranked_json(item, extra) if item else None}
            for ref, item in found.answers_to
        ],
        "answered_by": [ranked_json(item, extra) for item in found.answers],
    }


def report_json(report: IngestReport) -> dict[str, Any]:
    """Counts of every reason (``rejected``), the details kept of the first rejects of each
    (``rejections``, at most ingest.DETAILS_PER_REASON per reason) and, per reason, how many
    more were counted but not listed (``omitted``)."""
    return {
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected": dict(sorted(report.rejected.items())),
        "rejections": [
            {"at": r.at, "reason": r.reason, "detail": r.detail} for r in report.rejections
        ],
        "omitted": _omitted(report),
    }


def _omitted(report: IngestReport) -> dict[str, int]:
    """Rejects counted but not listed, by reason (0 when all are listed). Computed from the
    counts and the kept details, which is what ``IngestReport.omitted`` says."""
    listed: Counter[str] = Counter()
    for r in report.rejections:
        listed[r.reason] += r.count
    return {reason: n - listed[reason] for reason, n in sorted(report.rejected.items())}


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def ranked_lines(item: Ranked, now: int, top: float, by: By = None) -> list[str]:
    t = item.trace
    known = "" if t.kind in kinds.KNOWN_KINDS else " (unknown kind)"
    where = f"  @{t.place}" if t.place else ""
    tags = "  " + " ".join(f"#{tag}" for tag in t.tags) if t.tags else ""
    marks = responses(item.counts)
    head = (
        f"{t.hex_id[:SHORT_ID]}  {t.kind}{known}{tags}{where}  "
        f"{span(now - t.created)} ago, fades in {span(item.effective_expiry - now)}  "
        f"{bar(item.intensity, top)} {item.intensity:.2f}"
    )
    head += "  " + ", ".join(marks) if marks else ""
    lines = [head + (f"  by {by(t)}" if by else "")]
    lines.extend("    " + line for line in (t.body or "").splitlines() or [""] if line or t.body)
    return lines


def echo_ranked(items: list[Ranked], now: int, by: By = None) -> None:
    top = max((item.intensity for item in items), default=0.0)
    for item in items:
        for line in ranked_lines(item, now, top, by):
            click.echo(line)


def echo_thread(
    found: Thread | Hidden, now: int, by: By = None, who: Callable[[bytes], str] | None = None
) -> None:
    if isinstance(found, Hidden):
        author = who(found.author) if who else found.author.hex()[:SHORT_ID]
        click.echo(
            f"{found.id.hex()[:SHORT_ID]}  {found.kind}  retracted by its author "
            f"{author}; its text is gone from this node"
        )
        return
    t = found.ranked.trace
    top = max([found.ranked.intensity, *(a.intensity for a in found.answers)])
    if found.answers_to:
        click.echo("answers:")
        for ref, target in found.answers_to:
            if target is None:
                click.echo(f"  {ref.hex()[:SHORT_ID]}  (not here, expired or retracted)")
            else:
                for line in ranked_lines(target, now, top, by):
                    click.echo("  " + line)
        click.echo("")
    for line in ranked_lines(found.ranked, now, top):
        click.echo(line)
    click.echo(f"    id {t.hex_id}  by {by(t) if by else t.author.hex()[:SHORT_ID]}")
    if found.answers:
        click.echo("")
        click.echo("answered by:")
        for answer in found.answers:
            for line in ranked_lines(answer, now, top, by):
                click.echo("  " + line)


def echo_report(report: IngestReport) -> None:
    """The counts on stdout; on stderr, the kept details grouped by reason, each group followed
    by how many more of that reason were counted but not listed."""
    reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(report.rejected.items()))
    rejected = sum(report.rejected.values())
    click.echo(
        f"accepted {report.accepted}, duplicate {report.duplicates}, rejected {rejected}"
        + (f" ({reasons})" if reasons else "")
    )
    for reason, more in _omitted(report).items():
        for r in report.rejections:
            if r.reason == reason:
                click.echo(f"  rejected {r.at}: {r.reason}: {r.detail}", err=True)
        if more:
            click.echo(f"  ... and {more} more {reason} not listed", err=True)
