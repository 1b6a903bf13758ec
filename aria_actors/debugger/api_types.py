"""Path parameters and response headers that aria_debugger's routers share (api.py and its parts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

ServiceName = Annotated[str, Path(pattern=r"^aria_[a-z]{1,30}$", description="A service, as `aria services` names it.")]
# An SVG we render is served as a document that may run nothing and load nothing.
SVG_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
               "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
