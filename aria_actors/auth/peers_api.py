"""REST routes of aria_auth's peers part, included into :mod:`aria_actors.auth.api` (``/v1/auth``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/auth")  # full paths: aria_actors.auth.api adds these routes to its own
