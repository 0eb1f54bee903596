"""Small files of a home's own (mutes, names, watches) written whole or not at all: a temporary
file beside the destination (mode 0600, mkstemp's), renamed into place, so that a reader — or
a crash — never sees half of one."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import suppress
from pathlib import Path


def write_json(path: Path, data: object) -> None:
    """``data`` as indented JSON (UTF-8, one trailing newline), atomically."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, ensure_ascii=False)
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
