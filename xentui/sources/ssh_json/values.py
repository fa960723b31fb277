"""A remote frame's values as read: outside data, of the type expected or nothing, and bounded."""

from __future__ import annotations

from typing import Any

from xentui.limits import MAX_NAME


def text(v: Any, most: int = MAX_NAME) -> str:
    return v[:most] if type(v) is str else ""


def items(v: Any, most: int) -> list[Any]:
    return v[:most] if type(v) is list else []


def dicts(v: Any, most: int) -> list[dict[str, Any]]:
    return [x for x in items(v, most) if type(x) is dict]
