"""A QR code drawn with half-block characters, dark on light whatever the terminal's colours,
two modules per character cell (cells are about twice as tall as wide, so modules are square)."""

from __future__ import annotations

import segno
from rich.text import Text

QUIET = 2
"""Light modules around the code (the standard asks for 4; phone readers take 2, and the code
then fits a 24-line terminal)."""


def qr_text(data: str) -> Text:
    """``data`` as a QR code. An invite code is upper-cased first: readers accept either case,
    and upper case fits QR's alphanumeric mode, which leaves room for more error correction."""
    code = segno.make(data.upper(), micro=False)
    rows = [[bool(m) for m in row] for row in code.matrix_iter(scale=1, border=QUIET)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    lines = [
        "".join(
            "█" if t and b else "▀" if t else "▄" if b else " "
            for t, b in zip(top, bottom, strict=True)
        )
        for top, bottom in zip(rows[0::2], rows[1::2], strict=True)
    ]
    return Text("\n".join(lines), style="black on white", no_wrap=True, overflow="crop")
