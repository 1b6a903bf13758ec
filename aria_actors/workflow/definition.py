"""Workflows written in Python: ``@workflow`` on the body, ``@step`` on the functions it runs.

::

    @step(retries=3, timeout_s=30, compensate=release)     # a durable step: run once, recorded
    async def reserve(item: str) -> dict: ...

    @workflow(name="order", version=2, input={"item": "string"}, on_failure="compensate")
    async def order(ctx, input):
        booking = await ctx.step(reserve, input["item"])    # replayed from its record on resume
        await ctx.sleep(3600)                               # a durable timer
        approval = await ctx.wait_signal("approved", timeout_s=86400)
        return {"booking": booking, "approval": approval}

A body must be deterministic given its steps' recorded results (everything that may differ
between runs, clocks, randomness, other services, goes through ``ctx``), as in DBOS and Temporal.

Guarantees and caveats
----------------------
- Workflows are found in the modules the setting ``[workflow] modules`` names (configured names,
  never a path from a request); importing a module registers what it decorates.
- ``(name, version)`` is unique: a second registration of the same pair in one process is an
  error. The code's hash is stored with the version; the service reports (health ``degraded``)
  a version whose code changed under the same number, since its running instances would replay
  against other code. Change code under a new version and migrate instances explicitly.
- Input schemas are flat: field -> type (string, integer, number, boolean, object, array, any);
  unknown fields are refused, as are missing ones (``integer?`` or ``optional integer`` makes a
  field optional).
"""

from __future__ import annotations

import hashlib
import inspect
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aria_actors.workflow.errors import InvalidDefinition, InvalidInput
from aria_actors.workflow.policy import StepPolicy

NAME = r"^[a-z][a-z0-9_-]{0,63}$"
TYPES = ("string", "integer", "number", "boolean", "object", "array", "any")
OnFailure = Literal["dead_letter", "compensate"]
Body = Callable[[Any, Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class WorkflowDef:
    """A workflow the engine can run: its body and how it ends on failure."""

    name: str
    version: int
    body: Body
    kind: Literal["python", "document"] = "python"
    input: dict[str, str] = field(default_factory=dict)
    on_failure: OnFailure = "dead_letter"
    description: str = ""
    code_ref: str = ""
    code_hash: str = ""


_WORKFLOWS: dict[tuple[str, int], WorkflowDef] = {}
_STEPS: dict[str, Callable[..., Any]] = {}


def check_input_schema(schema: Any, where: str = "input") -> dict[str, str]:
    if schema is None:
        return {}
    if not isinstance(schema, dict) or len(schema) > 100:
        raise InvalidDefinition(f"{where} must map at most 100 field names to types", where=where,
                                problem="bad-input-schema")
    for key, kind in schema.items():
        if not isinstance(key, str) or not re.fullmatch(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", key):
            raise InvalidDefinition(f"{where}: {key!r} is not a field name", where=f"{where}.{key}",
                                    problem="bad-input-schema")
        if not isinstance(kind, str) or _split(kind)[0] not in TYPES:
            raise InvalidDefinition(f"{where}.{key}: type must be one of {', '.join(TYPES)} (? = optional)",
                                    where=f"{where}.{key}", problem="bad-input-schema")
    return dict(schema)


def _split(kind: str) -> tuple[str, bool]:
    """(type, optional) of ``"integer"``, ``"integer?"`` or ``"optional integer"`` (documents' form)."""
    kind = kind.strip()
    if kind.startswith("optional "):
        return kind.removeprefix("optional ").strip(), True
    return kind.rstrip("?"), kind.endswith("?")


def _is(kind: str, value: Any) -> bool:
    if kind == "any":
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "object":
        return isinstance(value, dict)
    return isinstance(value, list)


def check_input(schema: dict[str, str], value: Any) -> Any:
    """``value`` when it matches ``schema`` (an empty schema takes any JSON value); else InvalidInput."""
    if not schema:
        return value
    if not isinstance(value, dict):
        raise InvalidInput("the input must be an object with the fields " + ", ".join(schema), field="input")
    unknown = sorted(set(value) - set(schema))
    if unknown:
        raise InvalidInput(f"unknown input field {unknown[0]!r}; this workflow takes {', '.join(schema)}",
                           field=f"input.{unknown[0]}")
    for key, declared in schema.items():
        kind, optional = _split(declared)
        if key not in value:
            if optional:
                continue
            raise InvalidInput(f"input field {key!r} is missing", field=f"input.{key}")
        if not _is(kind, value[key]):
            raise InvalidInput(f"input field {key!r} must be {kind}", field=f"input.{key}")
    return value


def code_hash(fn: Callable[..., Any]) -> str:
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        source = f"{fn.__module__}.{fn.__qualname__}"
    return hashlib.sha256(source.encode()).hexdigest()


def workflow(name: str | None = None, *, version: int = 1, input: dict[str, str] | None = None,
             on_failure: OnFailure = "dead_letter", description: str = "") -> Callable[[Body], Body]:
    """Register ``async def body(ctx, input)`` as workflow ``name`` (default: the function's name)."""
    def register(fn: Body) -> Body:
        wf_name = name or fn.__name__.replace("_", "-")
        if not re.fullmatch(NAME, wf_name):
            raise InvalidDefinition(f"workflow name {wf_name!r} must match {NAME}", where="name")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidDefinition("version must be a positive integer", where="version")
        if on_failure not in ("dead_letter", "compensate"):
            raise InvalidDefinition("on_failure must be dead_letter or compensate", where="on_failure")
        if not inspect.iscoroutinefunction(fn):
            raise InvalidDefinition(f"workflow {wf_name!r}: the body must be `async def body(ctx, input)`",
                                    where="body")
        if (wf_name, version) in _WORKFLOWS and _WORKFLOWS[(wf_name, version)].body is not fn:
            raise InvalidDefinition(f"workflow {wf_name!r} version {version} is registered twice", where="version")
        _WORKFLOWS[(wf_name, version)] = WorkflowDef(
            name=wf_name, version=version, body=fn, input=check_input_schema(input), on_failure=on_failure,
            description=description or (inspect.getdoc(fn) or "").split("\n")[0],
            code_ref=f"{fn.__module__}:{fn.__qualname__}", code_hash=code_hash(fn))
        fn.__workflow__ = (wf_name, version)  # type: ignore[attr-defined]
        return fn

    return register


def step(fn: Callable[..., Any] | None = None, *, name: str | None = None, retries: int = 0, backoff_s: float = 1.0,
         backoff_max_s: float = 60.0, timeout_s: float | None = None,
         compensate: Callable[..., Any] | None = None) -> Any:
    """Mark ``fn`` a step (its policy and compensation travel with it) and register it by name, so
    documents can name it (``python: {step: <name>}``). Call it through ``ctx.step(fn, ...)``.

    ``compensate(result, *args, **kwargs)`` undoes a completed step when the workflow fails with
    ``on_failure="compensate"`` (run in reverse order of completion)."""
    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        step_name = name or f.__name__
        if not re.fullmatch(r"^[a-z][a-z0-9_.-]{0,127}$", step_name):
            raise InvalidDefinition(f"step name {step_name!r} must be lowercase letters, digits, _ . -",
                                    where="name")
        f.__workflow_step__ = step_name  # type: ignore[attr-defined]
        f.__step_policy__ = StepPolicy(retries=retries, backoff_s=backoff_s, backoff_max_s=backoff_max_s,  # type: ignore[attr-defined]
                                       timeout_s=timeout_s)
        f.__step_compensate__ = compensate  # type: ignore[attr-defined]
        _STEPS[step_name] = f
        return f

    return mark(fn) if fn is not None else mark


def registered() -> dict[tuple[str, int], WorkflowDef]:
    return dict(_WORKFLOWS)


def python_steps() -> dict[str, Callable[..., Any]]:
    return dict(_STEPS)


def get(name: str, version: int) -> WorkflowDef | None:
    return _WORKFLOWS.get((name, version))
