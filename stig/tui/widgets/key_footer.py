"""The footer of every screen: the keys that fit, whole, left of the palette's key.

Textual's footer lays every key in one scrolling line, so on a screen with many keys (the
thread) the last one shown was cut mid-word against ``^p palette``. This one keeps the keys
that fit entirely, in order, and always the help key (``?`` lists every key, ``ctrl+p`` every
command); it lays them out again when its width changes.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.events import Resize
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

ALWAYS = frozenset({"help", "app.help"})
"""Actions whose key is shown whatever else is left out."""


def key_width(key: FooterKey) -> int:
    """Cells a key takes in the footer's normal (not compact) style: `` k `` then ``what ``."""
    width = cell_len(key.key_display) + 2
    return width + cell_len(key.description) + 1 if key.description else width


class KeyFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._laid_out_for = -1

    def compose(self) -> ComposeResult:
        children: list[Widget] = list(super().compose())
        palette = [c for c in children if c.has_class("-command-palette")]
        keys = [c for c in children if c not in palette]
        # the palette's key: its text, its right padding and its border
        room = self.size.width - sum(key_width(k) + 2 for k in palette if isinstance(k, FooterKey))
        always = [k for k in keys if isinstance(k, FooterKey) and k.action in ALWAYS]
        room -= sum(key_width(k) for k in always if isinstance(k, FooterKey))
        shown: list[Widget] = []
        for key in keys:
            if key in always:
                continue
            width = key_width(key) if isinstance(key, FooterKey) else room + 1
            if width > room:
                break
            room -= width
            shown.append(key)
        self._laid_out_for = self.size.width
        yield from [*shown, *always, *palette]

    def on_resize(self, event: Resize) -> None:
        if self._bindings_ready and event.size.width != self._laid_out_for:
            self.call_after_refresh(self.recompose)
