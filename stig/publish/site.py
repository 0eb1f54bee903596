"""The published site, as a pure function: (threads of the published traces, now) -> files.

Layout (every path relative to the site's root)::

    index.html            every published trace, most intense first
    feed.atom             the Atom feed of the whole site
    style.css             one small stylesheet; no JavaScript anywhere
    404.html              what a reader sees for a page that has gone
    t/<hex id>.html       one page per trace, with its thread
    tags/<tag>.html       one page per tag, and its feed tags/<tag>.atom

Only the published traces' own text appears: a thread names an answer that is not published
here (filtered out by kind or tag) but does not show it. Meta kinds (echo, confirm, dispute,
retract, burn) never get a page; they show as counts. Every string from a trace is escaped;
tag names become file names only through ``tag_slug``.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from stig.crdt import kinds
from stig.crdt.views import Ranked, feed_order
from stig.publish.atom import ATOM_TYPE, FeedPlace, atom_feed
from stig.publish.excerpts import author_label, clean, excerpt, kind_label, title_of
from stig.readable import SHORT_ID, plural, responses, span
from stig.store.port import Thread

INDEX = "index.html"
FEED = "feed.atom"
STYLE = "style.css"
NOT_FOUND = "404.html"

_SAFE_SLUG = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_URL = re.compile(r"https?://[^\s<>\"'`\u00a0\u2000-\u200f\u2028-\u202f]+")
_URL_TRAILER = ".,;:!?)]}'\"»›’”"


@dataclass(frozen=True)
class SiteOptions:
    title: str = "stig traces"
    base_url: str = ""
    """Absolute URL of the site's root, ending with "/", for links in feeds; "" for relative
    links only."""


def trace_path(hex_id: str) -> str:
    return f"t/{hex_id}.html"


def tag_slug(tag: str) -> str:
    """A file name for a tag: the tag itself if it is plain ASCII (the usual case), else "_"
    and the hex of its UTF-8 — a valid tag never starts with "_", so the two cannot collide."""
    if tag and tag[0] != "_" and set(tag) <= _SAFE_SLUG:
        return tag
    return "_" + tag.encode("utf-8", "surrogatepass").hex()


def tag_page(tag: str) -> str:
    return f"tags/{tag_slug(tag)}.html"


def tag_feed(tag: str) -> str:
    return f"tags/{tag_slug(tag)}.atom"


def build_site(threads: Sequence[Thread], now: int, options: SiteOptions) -> dict[str, bytes]:
    """Every file of the site. The same threads and ``now`` give the same bytes."""
    threads = sorted(threads, key=lambda t: feed_order(t.ranked))
    items = [t.ranked for t in threads]
    published = frozenset(item.trace.id for item in items)
    tags = Counter(tag for item in items for tag in item.trace.tags)
    render = _Render(now, options, published)
    site: dict[str, bytes] = {
        STYLE: STYLESHEET.encode(),
        INDEX: render.index(items, tags),
        FEED: atom_feed(items, render.feed_place(None), now),
        NOT_FOUND: render.not_found(),
    }
    for thread in threads:
        site[trace_path(thread.ranked.trace.hex_id)] = render.trace_page(thread)
    for tag in tags:
        tagged = [item for item in items if tag in item.trace.tags]
        site[tag_page(tag)] = render.tag_page(tag, tagged)
        site[tag_feed(tag)] = atom_feed(tagged, render.feed_place(tag), now)
    return site


class _Render:
    def __init__(self, now: int, options: SiteOptions, published: frozenset[bytes]) -> None:
        self.now = now
        self.options = options
        self.published = published
        self.title = clean(options.title).strip() or "stig traces"

    # -- pages -----------------------------------------------------------------------------

    def index(self, items: list[Ranked], tags: Counter[str]) -> bytes:
        count = plural(len(items), "trace", "traces")
        parts = [
            f"<h1>{_e(self.title)}</h1>",
            '<p class="lede">Signed, expiring traces from the stig mesh — call-outs, reports '
            "of actions, counter-information. Each one fades when its time runs out unless "
            "others reinforce it; this page follows what is alive.</p>",
            f'<p class="life">{count} alive as of {_when(self.now)}, most intense first. '
            f'<a href="{FEED}" type="{ATOM_TYPE}">Atom feed</a></p>',
        ]
        if tags:
            links = "".join(
                f'<li><a href="{tag_page(tag)}">#{_e(tag)}</a> <span class="n">({n})</span></li>'
                for tag, n in sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))
            )
            parts.append(f'<nav class="tags" aria-label="Tags"><h2>Tags</h2><ul>{links}</ul></nav>')
        parts.append("<h2>Traces</h2>")
        parts.append(self.cards(items, root=""))
        return self.page(self.title, "".join(parts), root="", feed=(FEED, self.title))

    def tag_page(self, tag: str, items: list[Ranked]) -> bytes:
        name = f"#{tag}"
        feed = tag_feed(tag).removeprefix("tags/")
        parts = [
            f"<h1>{_e(name)}</h1>",
            f'<p class="life">{plural(len(items), "trace", "traces")} alive as of '
            f'{_when(self.now)}, most intense first. <a href="{_a(feed)}" type="{ATOM_TYPE}">'
            f"Atom feed for {_e(name)}</a></p>",
            "<h2>Traces</h2>",
            self.cards(items, root="../"),
        ]
        title = f"{name} — {self.title}"
        return self.page(title, "".join(parts), root="../", feed=(feed, title))

    def trace_page(self, thread: Thread) -> bytes:
        item = thread.ranked
        t = item.trace
        counts = item.counts
        facts = [
            ("Kind", _e(kind_label(t)) + ("" if t.kind in kinds.KNOWN_KINDS else " (unknown)")),
            ("By", f"<code>{_e(author_label(t))}</code>"),
            ("Posted", _when(t.created)),
            (
                "Fades",
                f"in {span(item.effective_expiry - self.now)}, at "
                f"{_when(item.effective_expiry)}, unless others reinforce it",
            ),
            ("Intensity", f"{item.intensity:.2f}"),
        ]
        if t.tags:
            facts.append(("Tags", self.tag_links(t.tags, root="../")))
        if t.place:
            facts.append(("Place", f"<code>{_e(t.place)}</code> (geohash)"))
        facts.append(
            (
                "Responses",
                ", ".join(responses(counts, zeros=True)),
            )
        )
        facts.append(("Id", f"<code>{t.hex_id}</code>"))
        listed = "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
        parts = [
            '<article class="trace" aria-labelledby="title">',
            f'<h1 id="title">{_e(kind_label(t))} <code>{t.hex_id[:SHORT_ID]}</code></h1>',
            f'<div class="body">{_body(t.body)}</div>',
            f'<dl class="facts">{listed}</dl>',
            "</article>",
        ]
        if thread.answers_to:
            parts.append(
                '<section aria-labelledby="answers-to"><h2 id="answers-to">It answers</h2>'
            )
            parts.append('<ol class="traces">')
            for ref, target in thread.answers_to:
                parts.append(self.related(ref, target))
            parts.append("</ol></section>")
        parts.append('<section aria-labelledby="answered-by"><h2 id="answered-by">Answered by</h2>')
        if thread.answers:
            parts.append('<ol class="traces">')
            parts.extend(self.related(a.trace.id, a) for a in thread.answers)
            parts.append("</ol>")
        else:
            parts.append("<p>No answers yet.</p>")
        parts.append("</section>")
        return self.page(title_of(t), "".join(parts), root="../", feed=None)

    def not_found(self) -> bytes:
        body = (
            "<h1>Not here</h1><p>This page is not on this site. If it was a trace, it has "
            "faded or its author withdrew it: traces do not stay forever.</p>"
            f'<p><a href="{_a(self.options.base_url or "/")}">What is alive now</a></p>'
        )
        # Served for any missing path, so its links cannot be relative.
        root = self.options.base_url or "/"
        return self.page(f"Not here — {self.title}", body, root=root, feed=None)

    # -- pieces ----------------------------------------------------------------------------

    def page(self, title: str, main: str, *, root: str, feed: tuple[str, str] | None) -> bytes:
        alternate = (
            f'<link rel="alternate" type="{ATOM_TYPE}" href="{_a(feed[0])}" title="{_e(feed[1])}">'
            if feed
            else ""
        )
        document = (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="referrer" content="no-referrer">\n'
            f"<title>{_e(title)}</title>\n"
            f'<link rel="stylesheet" href="{root}{STYLE}">\n{alternate}\n'
            "</head>\n<body>\n"
            '<a class="skip" href="#main">Skip to the traces</a>\n'
            f'<header class="site"><a href="{root}{INDEX}" class="home">{_e(self.title)}</a>'
            f' · <a href="{root}{FEED}" type="{ATOM_TYPE}">Atom feed</a></header>\n'
            f'<main id="main">\n{main}\n</main>\n'
            '<footer class="site"><p>Republished from the stig mesh. Each trace is signed by '
            "its author and fades: its page disappears when it expires or is withdrawn.</p>"
            "</footer>\n</body>\n</html>\n"
        )
        return document.encode("utf-8")

    def cards(self, items: Iterable[Ranked], *, root: str) -> str:
        rows = [self.card(item, root=root) for item in items]
        if not rows:
            return "<p>Nothing is alive here right now.</p>"
        return '<ol class="traces">' + "".join(rows) + "</ol>"

    def card(self, item: Ranked, *, root: str, heading: str = "h3") -> str:
        t = item.trace
        where = f' · <span class="place">@{_e(t.place)}</span>' if t.place else ""
        tags = f" · {self.tag_links(t.tags, root=root)}" if t.tags else ""
        responses = _responses(item)
        return (
            '<li><article class="trace">'
            f'<{heading}><a href="{root}{trace_path(t.hex_id)}">{_e(kind_label(t))} '
            f"<code>{t.hex_id[:SHORT_ID]}</code></a></{heading}>"
            f'<p class="meta">by <code>{_e(author_label(t))}</code>{tags}{where}</p>'
            f'<p class="body">{_body(excerpt(t))}</p>'
            f'<p class="life">posted {_when(t.created)} · fades in '
            f"{span(item.effective_expiry - self.now)} · intensity {item.intensity:.2f}"
            f"{' · ' + responses if responses else ''}</p>"
            "</article></li>"
        )

    def related(self, ref: bytes, target: Ranked | None) -> str:
        """A trace in another's thread: shown if published here, else only named."""
        if target is None:
            return (
                f"<li><p><code>{ref.hex()[:SHORT_ID]}</code>: not here any more "
                "(faded, withdrawn, or never reached this relay).</p></li>"
            )
        if target.trace.id not in self.published:
            return (
                f"<li><p>{_e(kind_label(target.trace))} <code>{ref.hex()[:SHORT_ID]}</code>: "
                "not published on this site.</p></li>"
            )
        return self.card(target, root="../")

    def tag_links(self, tags: Iterable[str], *, root: str) -> str:
        links = " ".join(f'<a href="{root}{tag_page(tag)}">#{_e(tag)}</a>' for tag in tags)
        return f'<span class="tags">{links}</span>'

    def feed_place(self, tag: str | None) -> FeedPlace:
        base = self.options.base_url
        if tag is None:
            return FeedPlace(
                feed_id=f"{base}{FEED}" if base else "urn:stig:feed",
                title=self.title,
                self_href=f"{base}{FEED}",
                page_href=f"{base}{INDEX}",
                trace_href=f"{base}t/{{hex}}.html",
            )
        return FeedPlace(
            feed_id=f"{base}{tag_feed(tag)}" if base else f"urn:stig:feed:tag:{tag_slug(tag)}",
            title=f"#{tag} — {self.title}",
            self_href=base + tag_feed(tag) if base else tag_feed(tag).removeprefix("tags/"),
            page_href=base + tag_page(tag) if base else tag_page(tag).removeprefix("tags/"),
            trace_href=f"{base}t/{{hex}}.html" if base else "../t/{hex}.html",
        )


def _responses(item: Ranked) -> str:
    return ", ".join(responses(item.counts))


def _e(text: str) -> str:
    """Text for HTML: control characters out, then escaped (quotes included)."""
    return html.escape(clean(text), quote=True)


def _a(href: str) -> str:
    return html.escape(href, quote=True)


def _when(unix: int) -> str:
    moment = datetime.fromtimestamp(unix, UTC)
    return (
        f'<time datetime="{moment.strftime("%Y-%m-%dT%H:%M:%SZ")}">'
        f"{moment.strftime('%Y-%m-%d %H:%M')} UTC</time>"
    )


def _body(text: str) -> str:
    """A body as HTML: escaped, with http(s) addresses made into links (which never pass the
    reader's address on: rel=noreferrer)."""
    text = clean(text)
    out: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_URL_TRAILER)
        if len(url) <= len("https://"):
            continue
        start = match.start()
        out.append(html.escape(text[position:start]))
        out.append(
            f'<a href="{html.escape(url, quote=True)}" rel="nofollow noopener noreferrer ugc">'
            f"{html.escape(url)}</a>"
        )
        position = start + len(url)
    out.append(html.escape(text[position:]))
    return "".join(out)


STYLESHEET = """\
:root {
  color-scheme: light dark;
  --fg: #1b1b1b; --bg: #fdfdfa; --muted: #4a4a4a; --link: #0b4fa8;
  --line: #d5d5d0; --focus: #8a1c1c;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #ececec; --bg: #151515; --muted: #c4c4c4; --link: #9cc2ff;
    --line: #3a3a3a; --focus: #ffb0a6;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body {
  margin: 0; background: var(--bg); color: var(--fg);
  font: 1.05rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
header.site, main, footer.site { max-width: 42rem; margin: 0 auto; padding: 0.75rem 1rem; }
header.site { border-bottom: 1px solid var(--line); }
header.site .home { font-weight: 700; }
footer.site { color: var(--muted); font-size: 0.9rem; border-top: 1px solid var(--line); }
a { color: var(--link); }
a:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -10000px; }
.skip:focus { position: static; display: inline-block; margin: 0.5rem 1rem; }
h1 { font-size: 1.5rem; line-height: 1.25; }
h2 { font-size: 1.2rem; margin-top: 1.5rem; }
ol.traces { list-style: none; margin: 0; padding: 0; }
article.trace { border-top: 1px solid var(--line); padding: 0.75rem 0; }
article.trace h2, article.trace h3 { font-size: 1.05rem; margin: 0 0 0.25rem; }
.body { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0.4rem 0; }
.meta, .life, .n { color: var(--muted); font-size: 0.92rem; margin: 0.25rem 0; }
.tags a { margin-right: 0.4em; }
nav.tags ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.95em; }
"""
