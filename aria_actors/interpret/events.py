"""What characters and players did, as recorded through ``record``: one validated event model.

::

    {"kind": "action", "subject": "bob", "object": "pick_up", "ts": 1733220000.5}
    {"kind": "interaction", "subject": "bob", "object": "ann", "category": "trade"}
    {"kind": "state", "subject": "bob", "attrs": {"traits": ["brave"], "attributes": {"age": 30}}}
    {"kind": "pick", "subject": "player-1", "object": "fantasy", "attrs": {"traits": ["brave", "kind"]}}
    {"kind": "feedback", "subject": "player-1", "object": "char:bob", "category": "character", "value": 1}

Guarantees and caveats
----------------------
- Ids and categories are 1-128 characters of ``[A-Za-z0-9_.:@-]`` (no spaces, no control
  characters); values are finite numbers (NaN and infinities are refused, not stored); ``ts`` is a
  Unix time or an ISO 8601 string (default: now), from 1970 to a day from now (a far-future event
  would stay the newest in every analysis window); ``attrs`` is a JSON object of at most
  ``MAX_ATTRS_BYTES`` serialised, ``MAX_BATCH_BYTES`` over one call; traits are words and state
  attributes map names to numbers or words, as the analytics read them.
- ``state`` needs ``attrs.traits`` (a list of words), ``pick`` needs ``object`` (the template) and
  ``attrs.traits``; ``interaction`` needs ``object`` (the other character), which may not be the
  subject; ``action`` and ``feedback`` need ``object``.
- A bad event in a batch refuses the whole batch (:class:`InvalidInteraction` naming its index
  and field): nothing of it is stored.
"""

from __future__ import annotations

import json
import math
import re
import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aria_actors.interpret.errors import InvalidInteraction

ID = r"^[A-Za-z0-9_.:@-]{1,128}$"
WORD = r"^[A-Za-z][A-Za-z0-9 _'-]{0,63}$"
MAX_ATTRS_BYTES = 16_384
MAX_TRAITS = 64
Kind = Literal["action", "interaction", "state", "pick", "feedback"]
KINDS: tuple[str, ...] = ("action", "interaction", "state", "pick", "feedback")
_LOW = 0.0  # 1970-01-01
FUTURE_SLACK_S = 86_400.0
MAX_BATCH_BYTES = 8 * 1024 * 1024  # attrs of one record call, serialised
_TRAIT = re.compile(r"^[A-Za-z][A-Za-z0-9_'-]{0,63}$")
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    subject: str = Field(pattern=ID)
    object: str = Field("", pattern=r"^([A-Za-z0-9_.:@-]{1,128})?$")
    category: str = Field("", pattern=r"^([A-Za-z0-9_.:@-]{1,128})?$")
    value: float = 1.0
    attrs: dict[str, Any] = Field(default_factory=dict)
    ts: float | str | None = Field(None, validate_default=True)

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number (not NaN or infinite)")
        return v

    @field_validator("ts")
    @classmethod
    def _time(cls, v: float | str | None) -> float:
        if v is None:
            return time.time()
        if isinstance(v, str):
            try:
                parsed = datetime.fromisoformat(v)
            except ValueError:
                raise ValueError("must be a Unix time or an ISO 8601 time") from None
            v = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
        # a future time would stay "newest" in every analysis window: at most a day ahead (clock skew)
        if not math.isfinite(v) or not _LOW <= v <= time.time() + FUTURE_SLACK_S:
            raise ValueError("must be a time between 1970 and a day from now")
        return float(v)

    @field_validator("attrs")
    @classmethod
    def _bounded(cls, v: dict[str, Any]) -> dict[str, Any]:
        try:
            text = json.dumps(v, allow_nan=False)
        except ValueError:
            raise ValueError("must hold only finite numbers") from None
        if len(text) > MAX_ATTRS_BYTES:
            raise ValueError(f"must be at most {MAX_ATTRS_BYTES} bytes as JSON")
        return v

    @model_validator(mode="after")
    def _shape(self) -> Event:
        if self.kind != "state" and not self.object:
            raise ValueError(f"a {self.kind} event needs `object`")
        if self.kind == "interaction" and self.object == self.subject:
            raise ValueError("an interaction needs two different characters")
        if self.kind in ("state", "pick"):
            traits = self.attrs.get("traits")
            if not isinstance(traits, list) or len(traits) > MAX_TRAITS or not all(
                    isinstance(t, str) and _TRAIT.fullmatch(t) for t in traits):
                raise ValueError(f"a {self.kind} event needs attrs.traits: a list of at most {MAX_TRAITS} words "
                                 "(a letter, then letters, digits, _ ' -)")
        if self.kind == "state":
            attributes = self.attrs.get("attributes", {})
            if not isinstance(attributes, dict) or len(attributes) > 64 or not all(
                    isinstance(k, str) and _KEY.fullmatch(k)
                    and ((isinstance(v, int | float) and not isinstance(v, bool))
                         or (isinstance(v, str) and _TRAIT.fullmatch(v)))
                    for k, v in attributes.items()):
                raise ValueError("attrs.attributes must map at most 64 names to numbers or words")
        return self

    def row(self) -> dict[str, Any]:
        """The event as the store writes it."""
        return {"kind": self.kind, "subject": self.subject, "object": self.object, "category": self.category,
                "value": self.value, "attrs": self.attrs,
                "ts": datetime.fromtimestamp(float(self.ts or 0), tz=UTC)}


def parse_events(events: Any, max_events: int) -> list[Event]:
    """Validated events, or :class:`InvalidInteraction` naming the first bad one's index and field."""
    if not isinstance(events, list) or not events:
        raise InvalidInteraction("events must be a non-empty list", field="events")
    if len(events) > max_events:
        raise InvalidInteraction(f"at most {max_events} events per call; got {len(events)}", field="events",
                                 max_events=max_events)
    out = []
    size = 0
    for i, raw in enumerate(events):
        try:
            out.append(Event.model_validate(raw))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err.get("loc", ())) or "event"
            raise InvalidInteraction(f"events[{i}].{where}: {err.get('msg', 'invalid')}",
                                     field=f"events[{i}].{where}", index=i) from None
        size += len(json.dumps(out[-1].attrs))
        if size > MAX_BATCH_BYTES:
            raise InvalidInteraction(f"the events' attrs exceed {MAX_BATCH_BYTES} bytes in one call; send fewer",
                                     field="events", index=i)
    return out
