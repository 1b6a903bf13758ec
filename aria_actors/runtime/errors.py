"""One exception root for all of Aria.

Every error carries a stable ``type`` slug (the last part of the RFC 9457 ``type`` URI), an HTTP
status and a message for people that says how to fix the problem. The gateway turns them into
``application/problem+json``, the CLI into one red line, the SDK back into the same classes.
"""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "https://aria.dev/problems/"
TRACEBACK = "Traceback (most recent call last)"


def brief(exc: BaseException | str, limit: int = 300) -> str:
    """An error's text for people, without a traceback: an error raised inside a Ray actor (or
    one whose message was built from such an error) carries that actor's whole traceback in
    its text, which belongs in a log, never in a response."""
    text = str(exc).split(TRACEBACK)[0].strip().rstrip(":").strip()
    return text[:limit] + ("..." if len(text) > limit else "")


class AriaError(Exception):
    """Something went wrong inside Aria."""

    type: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, message: str | None = None, **fields: Any) -> None:
        self.message = message or (self.__doc__ or self.title).strip()
        self.fields = fields
        super().__init__(self.message)

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 problem document for this error."""
        doc: dict[str, Any] = {
            "type": PROBLEM_BASE + self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.message,
        }
        if instance:
            doc["instance"] = instance
        doc.update({k: v for k, v in self.fields.items() if k not in doc})
        return doc

    def __reduce__(self):  # keeps keyword fields across Ray's pickling
        return (_rebuild, (type(self), self.message, self.fields))


def _rebuild(cls: type[AriaError], message: str, fields: dict[str, Any]) -> AriaError:
    return cls(message, **fields)


class BadRequest(AriaError):
    """The request is malformed; fix the named field and send it again."""

    type = "bad-request"
    status = 400
    title = "Bad request"


class UnstorableValue(BadRequest):
    """A value in the request cannot be stored as given (a NUL character, a number out of range,
    text where the database wants a UUID); the message names what the database refused."""

    type = "unstorable-value"
    title = "Value cannot be stored"


class Unauthorized(AriaError):
    """Authentication is missing or invalid; send a valid bearer token."""

    type = "unauthorized"
    status = 401
    title = "Unauthorized"


class Forbidden(AriaError):
    """The caller is authenticated but not allowed to do this."""

    type = "forbidden"
    status = 403
    title = "Forbidden"


class NotFound(AriaError):
    """The named resource does not exist; list the collection to see what does."""

    type = "not-found"
    status = 404
    title = "Not found"


class Conflict(AriaError):
    """The request conflicts with the current state of the resource."""

    type = "conflict"
    status = 409
    title = "Conflict"


class ServiceUnavailable(AriaError):
    """A service Aria needs is down or not ready; check `aria status`."""

    type = "service-unavailable"
    status = 503
    title = "Service unavailable"


class NotImplementedYet(AriaError):
    """This feature of Aria is not built yet; `aria services` lists what each service can do."""

    type = "not-implemented"
    status = 501
    title = "Not implemented"


class ConfigError(AriaError):
    """A setting is invalid; the message names it. Fix ARIA_* variables or aria.toml."""

    type = "config"
    status = 400
    title = "Invalid settings"


class DependencyGraphError(AriaError):
    """The service specs do not form a valid dependency graph."""

    type = "dependency-graph"
    status = 500
    title = "Invalid service dependency graph"


class DependencyCycleError(DependencyGraphError):
    """Service specs depend on each other in a cycle; remove one edge of the cycle."""

    type = "dependency-cycle"


class UnknownDependencyError(DependencyGraphError):
    """A service depends on a service that is not registered; fix the name or register it."""

    type = "unknown-dependency"


class AlreadyRunning(AriaError):
    """Aria is already running here; use `aria status`, or `aria down` first."""

    type = "already-running"
    status = 409
    title = "Already running"


class NotRunning(AriaError):
    """Aria is not running here; start it with `aria up`."""

    type = "not-running"
    status = 503
    title = "Not running"


def error_class_for(type_slug: str) -> type[AriaError]:
    """The most specific registered error class for a problem ``type`` slug (used by the SDK)."""
    return _REGISTRY.get(type_slug, AriaError)


def _all_subclasses(cls: type[AriaError]) -> list[type[AriaError]]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


class _Registry(dict):
    def get(self, key, default=None):  # refreshed lazily so service errors defined later are found
        if key not in self:
            self.update({c.type: c for c in [AriaError, *_all_subclasses(AriaError)]})
        return super().get(key, default)


_REGISTRY: dict[str, type[AriaError]] = _Registry()
