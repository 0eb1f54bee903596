"""Where traces are shown and posted: the public space or one of this device's affinity groups.

A space is ``None`` (public) or a group's local name; selectors hold ``PUBLIC`` ("") for the
public space, since no group name is empty.
"""

from __future__ import annotations

PUBLIC = ""


def space_label(group: str | None) -> str:
    return f"group {group}" if group else "public"


def space_options(names: list[str]) -> list[tuple[str, str]]:
    """Options of a selector: the public space first, then each group."""
    return [("public", PUBLIC)] + [(space_label(name), name) for name in names]


def as_group(value: object) -> str | None:
    """A selector's value as a space: None for public."""
    return value if isinstance(value, str) and value else None
