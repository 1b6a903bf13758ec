"""Small helpers shared by the sections."""

from __future__ import annotations

from typing import Any


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body without the fields left out (None): the server's defaults apply to them."""
    return {k: v for k, v in fields.items() if v is not None}
