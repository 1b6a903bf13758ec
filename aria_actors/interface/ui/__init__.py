"""aria_interface's web UI: a single-page app over Aria's public REST API and WebSocket channel.

The page (``GET /``) and its assets (``GET /ui/<file>``) are served by :mod:`.routes` from the
files in ``static/``; everything the page shows it reads as the logged-in user through the same
routes any client uses (``/v1/auth``, ``/v1/shape``, ``/v1/services``, ``/v1/interface``).

Guarantees and caveats
----------------------
- No build step and no network at run time: the JavaScript is plain ES modules shipped in the
  package; the page loads nothing from another origin.
- The page and its assets hold no data: they are public (no bearer token), every data request
  they make carries the user's token.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"

__all__ = ["STATIC"]
