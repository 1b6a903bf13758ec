"""References, conditions and the runner of a declarative workflow document (see document.py).

::

    "${steps.gen.output.text}"  --parse_template-->  Template(parts=(Ref(...),), whole=True)
    Template + Scope            --render---------->  the value (JSON type kept when whole)
    Condition + Scope           --holds----------->  bool
    Document                    --build_body------>  async body(ctx, input) over the ctx protocol

The reference and condition language is evaluated here by a few lines written for it, never by
``eval`` or a template engine: the syntax accepted at run time must be exactly the syntax that
validation checked (a general expression language would accept what validation cannot reason
about, and would run code that a document's author wrote).

Guarantees and caveats:
- Durable keys are the step ids (``gen``), map items ``gen[3]``, loop iterations ``poll#2`` and
  compensations ``gen:compensate``: a resumed or migrated run finds its completed steps by id,
  whatever the timing of the concurrent steps around them.
- On failure with ``on_failure: compensate``, completed steps are undone in reverse dependency
  order (deterministic), each compensation a durable step of its own.
- Independent steps run concurrently as asyncio tasks over ctx calls with those explicit keys
  (not ``ctx.parallel``, whose children prefix their keys); the first failure cancels the others
  and is raised unchanged (``StepFailed`` from the ctx), after compensation when the document
  asks for it.
- ``set``, ``branch`` and conditions are pure functions of recorded results, so they are
  recomputed on replay instead of being recorded.
- A path that does not exist (a missing key, an index past the end, the output of a skipped step)
  resolves to null, as in CI expression languages; test it with ``op: exists``.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from aria_actors.workflow.errors import InvalidDefinition, InvalidInput, StepFailed
from aria_actors.workflow.policy import StepPolicy

if TYPE_CHECKING:
    from aria_actors.workflow.document import Condition, Document, InnerStep, Step

ROOTS = ("input", "steps", "item", "index", "last")
MAX_SLEEP_S = 30 * 24 * 3600.0
MAX_MAP_ITEMS = 10_000  # items one map step fans out over (each becomes a recorded step)
_TOKEN = re.compile(r"\$\$\{|\$\{([^{}]*)\}|\$\{")
_SEGMENT = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d{1,9})\]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
JSON_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
              "object": (dict,), "array": (list,)}
INPUT_TYPES = {"string": {"string"}, "integer": {"integer"}, "number": {"number", "integer"},
               "boolean": {"boolean"}, "object": {"object"}, "array": {"array"}}


@dataclass(frozen=True, slots=True)
class Ref:
    """One ``${...}`` reference: ``root`` is input|steps|item|index|last; for steps, ``step`` and
    ``field`` (output|status) name the step's result; ``path`` the keys and indexes after it."""

    root: str
    path: tuple[str | int, ...] = ()
    step: str | None = None
    field: str | None = None
    text: str = ""


@dataclass(frozen=True, slots=True)
class Template:
    """A string holding references: ``whole`` when it is exactly one ``${...}`` (keeps its type)."""

    parts: tuple[str | Ref, ...]
    whole: bool

    def refs(self) -> Iterator[Ref]:
        return (p for p in self.parts if isinstance(p, Ref))


def parse_ref(expr: str) -> Ref:
    """``input.x``, ``steps.<id>.output[.path]``, ``steps.<id>.status``, ``item``, ``index``,
    ``last`` with ``.key`` / ``[n]`` segments after it; ValueError says what is wrong."""
    text = expr.strip()
    head = _NAME.match(text)
    if head is None or head.group() not in ROOTS:
        raise ValueError(f"{text!r} must start with one of {', '.join(ROOTS)}")
    path: list[str | int] = []
    pos = head.end()
    while pos < len(text):
        m = _SEGMENT.match(text, pos)
        if m is None:
            raise ValueError(f"{text!r}: expected '.name' or '[n]' at {text[pos:]!r}")
        path.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    root = head.group()
    if root != "steps":
        return Ref(root, tuple(path), text=text)
    if len(path) < 2 or not isinstance(path[0], str) or path[1] not in ("output", "status"):
        raise ValueError(f"{text!r}: write steps.<id>.output[.path] or steps.<id>.status")
    if path[1] == "status" and len(path) > 2:
        raise ValueError(f"{text!r}: a step's status is a string, it has no fields")
    return Ref(root, tuple(path[2:]), step=str(path[0]), field=str(path[1]), text=text)


def parse_template(text: str) -> Template | None:
    """The references of ``text``, None when it has none (``$${`` writes a literal ``${``)."""
    parts: list[str | Ref] = []
    pos, found = 0, False
    for m in _TOKEN.finditer(text):
        parts.append(text[pos:m.start()])
        pos = m.end()
        if m.group() == "$${":
            parts.append("${")
        elif m.group(1) is None:
            raise ValueError(f"unclosed '${{' in {text!r}")
        else:
            parts.append(parse_ref(m.group(1)))
            found = True
    parts.append(text[pos:])
    if not found:
        return None
    kept = tuple(p for p in parts if p != "")
    return Template(kept, whole=len(kept) == 1 and isinstance(kept[0], Ref))


def walk_strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string inside a JSON value, with its place (``args.tags[1]``)."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from walk_strings(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk_strings(v, f"{where}[{i}]")


@dataclass(slots=True)
class Scope:
    """What references see: the input, the results so far, and the map item / loop state."""

    input: Any
    outputs: dict[str, Any] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    item: Any = None
    index: int | None = None
    last: Any = None


def resolve(ref: Ref, scope: Scope) -> Any:
    if ref.root == "steps":
        assert ref.step is not None
        if ref.field == "status":
            return scope.status.get(ref.step, "pending")
        value = scope.outputs.get(ref.step)
    else:
        value = {"input": scope.input, "item": scope.item, "index": scope.index, "last": scope.last}[ref.root]
    for key in ref.path:
        if isinstance(key, int) and isinstance(value, list) and key < len(value):
            value = value[key]
        elif isinstance(key, str) and isinstance(value, dict):
            value = value.get(key)
        else:
            return None
    return value


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value, separators=(",", ":"))


def render(value: Any, scope: Scope) -> Any:
    """``value`` with its references replaced: a whole reference by the value itself, references
    inside longer strings by their text (objects and arrays as compact JSON, null as '')."""
    if isinstance(value, dict):
        return {k: render(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, scope) for v in value]
    if not isinstance(value, str):
        return value
    template = parse_template(value)
    if template is None:
        return value.replace("$${", "${")
    if template.whole:
        return resolve(template.parts[0], scope)  # type: ignore[arg-type]
    return "".join(p if isinstance(p, str) else _text(resolve(p, scope)) for p in template.parts)


def value_types(value: Any, ref_types: Callable[[Ref], frozenset[str] | None]) -> frozenset[str] | None:
    """The JSON types ``value`` may have once rendered (None: unknown), without running anything:
    a literal's own, a whole reference's from ``ref_types``, text for interpolated strings."""
    if isinstance(value, str):
        template = parse_template(value)
        if template is not None and template.whole:
            return ref_types(next(template.refs()))
        return frozenset({"string"})
    for kind, types in (("boolean", bool), ("integer", int), ("number", float), ("object", dict), ("array", list)):
        if isinstance(value, types):
            return frozenset({kind})
    return frozenset({"null"}) if value is None else None


def ref_types(ref: Ref, inputs: Mapping[str, str],
              outputs: Callable[[str], frozenset[str] | None]) -> frozenset[str] | None:
    """The JSON types of a (checked) reference where known: a declared input field, ``${index}``,
    a status, a whole step output (``outputs(step id)``)."""
    if ref.root == "index":
        return frozenset({"integer"})
    if ref.root == "input" and len(ref.path) == 1:
        kind, optional = input_type(inputs[str(ref.path[0])])
        base = INPUT_TYPES.get(kind)
        return None if base is None else frozenset(base | ({"null"} if optional else set()))
    if ref.root == "steps" and ref.field == "status":
        return frozenset({"string"})
    if ref.root == "steps" and not ref.path:
        return outputs(str(ref.step))
    return None


def json_only(value: Any, where: str, max_depth: int, depth: int = 0) -> None:
    """Refuse what is not a JSON value (YAML dates, non-string keys, NaN) or is nested too deep."""
    if depth > max_depth:
        raise InvalidDefinition(f"{where}: nested deeper than {max_depth} levels", where=where, problem="too-large")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidDefinition(f"{where}: key {k!r} is not a string (quote it)", where=where,
                                        problem="not-json")
            json_only(v, f"{where}.{k}" if where else k, max_depth, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            json_only(v, f"{where}[{i}]", max_depth, depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
        raise InvalidDefinition(f"{where}: integers are 64-bit here", where=where, problem="out-of-bounds")
    elif (isinstance(value, float) and not math.isfinite(value)) or \
            (value is not None and not isinstance(value, str | int | float | bool)):
        raise InvalidDefinition(f"{where}: {value!r} is not a JSON value (quote it)", where=where, problem="not-json")


def _same(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1, although Python says so.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _ordered(a: Any, b: Any) -> bool:
    numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))
    return numbers or (isinstance(a, str) and isinstance(b, str))


def _member(a: Any, b: Any) -> bool | None:
    if isinstance(b, list):
        return any(_same(a, x) for x in b)
    if isinstance(b, str) and isinstance(a, str):
        return a in b
    if isinstance(b, dict) and isinstance(a, str):
        return a in b
    return None


def holds(cond: Condition, scope: Scope) -> bool:
    """Whether ``cond`` is true; a comparison between values of different kinds is false."""
    if cond.all_ is not None:
        return all(holds(c, scope) for c in cond.all_)
    if cond.any_ is not None:
        return any(holds(c, scope) for c in cond.any_)
    if cond.not_ is not None:
        return not holds(cond.not_, scope)
    assert cond.ref is not None
    left = resolve(ref_of(cond.ref), scope)
    if cond.op == "exists":
        return left is not None
    right = render(cond.value, scope)
    if cond.op in ("==", "!="):
        return _same(left, right) == (cond.op == "==")
    if cond.op in ("in", "not_in"):
        member = _member(left, right)
        return member is not None and member == (cond.op == "in")
    if not _ordered(left, right):
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[cond.op]


def ref_of(text: str) -> Ref:
    """A condition's ``ref``: ``steps.x.output.auc`` or the same inside ``${...}``."""
    inner = text.strip()
    if inner.startswith("${") and inner.endswith("}"):
        inner = inner[2:-1]
    return parse_ref(inner)


def input_type(declared: str) -> tuple[str, bool]:
    """``"optional integer"`` -> ``("integer", True)``."""
    kind = declared.removeprefix("optional ")
    return kind, kind != declared


def check_input(doc: Document, value: Any) -> None:
    """Raise InvalidInput unless ``value`` fits the document's declared ``input`` fields."""
    if not doc.input:
        return
    if not isinstance(value, dict):
        raise InvalidInput(f"workflow {doc.name!r} takes an object with fields {sorted(doc.input)}")
    for name in value:
        if name not in doc.input:
            raise InvalidInput(f"unknown input field {name!r}; declared: {sorted(doc.input)}", field=name)
    for name, declared in doc.input.items():
        kind, optional = input_type(declared)
        if value.get(name) is None:
            if not optional:
                raise InvalidInput(f"input field {name!r} ({kind}) is required", field=name)
            continue
        got = value[name]
        if kind != "any" and (not isinstance(got, JSON_TYPES[kind])
                              or (isinstance(got, bool) and kind != "boolean")):
            raise InvalidInput(f"input field {name!r} must be {kind}, got {type(got).__name__}", field=name)


def policy_of(step: InnerStep) -> StepPolicy | None:
    if step.retry is None and step.timeout_s is None:
        return None
    retry = step.retry.model_dump() if step.retry is not None else {}
    return StepPolicy(**retry, timeout_s=step.timeout_s)


def _failed(key: str, kind: str, message: str) -> StepFailed:
    return StepFailed(key, {"type": kind, "message": message})


async def _first_failure(factories: list[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    """Run ``factories`` at most ``limit`` at once; results in order; the first failure cancels
    the rest and is raised as it is (asyncio.TaskGroup would wrap it in an ExceptionGroup)."""
    results: list[Any] = [None] * len(factories)
    running: dict[asyncio.Task[Any], int] = {}
    queue = list(enumerate(factories))
    try:
        while queue or running:
            while queue and len(running) < limit:
                i, make = queue.pop(0)
                running[asyncio.ensure_future(make())] = i
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done, key=running.__getitem__):
                results[running.pop(task)] = task.result()
    finally:
        await _cancel(running)
    return results


async def _cancel(tasks: Mapping[asyncio.Task[Any], Any]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class _Run:
    """One execution of a document over one ctx."""

    def __init__(self, doc: Document, ctx: Any, input: Any, python_steps: Mapping[str, Callable[..., Any]],
                 undo_order: list[str]) -> None:
        self.doc, self.ctx, self.python_steps, self.undo_order = doc, ctx, python_steps, undo_order
        self.scope = Scope(input)
        self.chosen: dict[str, set[str]] = {}  # branch id -> the step ids of its chosen arm
        self.guards: dict[str, list[str]] = {}  # step id -> the branches that name it in an arm
        for step in doc.steps:
            for arm in step.branch or ():
                for target in arm.targets:
                    self.guards.setdefault(target, []).append(step.id)
        self.order = {s.id: i for i, s in enumerate(doc.steps)}

    async def run(self) -> Any:
        pending = list(self.doc.steps)
        running: dict[asyncio.Task[Any], Step] = {}
        try:
            while pending or running:
                progressed = True
                while progressed:  # a skip can make further steps ready at once
                    progressed = False
                    for step in [s for s in pending if self._ready(s)]:
                        pending.remove(step)
                        progressed = True
                        if self._skipped(step):
                            self.scope.status[step.id] = "skipped"
                        else:
                            self.scope.status[step.id] = "running"
                            running[asyncio.ensure_future(self._step(step))] = step
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in sorted(done, key=lambda t: self.order[running[t].id]):
                    step = running.pop(task)
                    self.scope.outputs[step.id] = task.result()
                    self.scope.status[step.id] = "completed"
        except Exception:
            await _cancel(running)
            if self.doc.on_failure == "compensate":
                await self._compensate()
            raise
        finally:
            await _cancel(running)
        return render(self.doc.output, self.scope)

    def _ready(self, step: Step) -> bool:
        return all(self.scope.status.get(n) in ("completed", "skipped") for n in step.needs)

    def _skipped(self, step: Step) -> bool:
        if any(step.id not in self.chosen.get(b, set()) for b in self.guards.get(step.id, ())):
            return True
        settled = [self.scope.status[n] == "completed" for n in step.needs]
        if settled and not (any(settled) if step.join == "any" else all(settled)):
            return True
        return step.when is not None and not holds(step.when, self.scope)

    async def _step(self, step: Step) -> Any:
        if step.branch is not None:
            for i, arm in enumerate(step.branch):
                if arm.when is None or holds(arm.when, self.scope):
                    self.chosen[step.id] = set(arm.targets)
                    return {"arm": i, "goto": list(arm.targets)}
            self.chosen[step.id] = set()
            return {"arm": None, "goto": []}
        if step.map is not None:
            return await self._map(step)
        if step.loop is not None:
            return await self._loop(step)
        return await self._do(step, step.id, self.scope)

    async def _map(self, step: Step) -> list[Any]:
        assert step.map is not None
        spec = step.map
        items = render(spec.over, self.scope)
        if not isinstance(items, list):
            raise _failed(step.id, "workflow-map-not-a-list",
                          f"map.over of {step.id!r} gave {type(items).__name__}, not a list")
        if len(items) > MAX_MAP_ITEMS:  # each item is a recorded step: bound what one map may write
            raise _failed(step.id, "workflow-map-too-large",
                          f"map.over of {step.id!r} gave {len(items)} items; at most {MAX_MAP_ITEMS}")

        def item(i: int, value: Any) -> Callable[[], Awaitable[Any]]:
            return lambda: self._do(spec.do, f"{step.id}[{i}]", replace(self.scope, item=value, index=i))

        return await _first_failure([item(i, v) for i, v in enumerate(items)], spec.concurrency)

    async def _loop(self, step: Step) -> Any:
        assert step.loop is not None
        spec, last = step.loop, None
        for n in range(spec.max):
            scope = replace(self.scope, index=n, last=last)
            last = await self._do(spec.do, f"{step.id}#{n}", scope)
            if spec.until is not None and holds(spec.until, replace(scope, last=last)):
                return last
        if spec.until is None:
            return last
        raise _failed(step.id, "workflow-loop-exhausted",
                      f"loop {step.id!r} ran {spec.max} times and its 'until' never held")

    async def _do(self, step: InnerStep, key: str, scope: Scope) -> Any:
        """Run one simple step kind as the durable step ``key``."""
        ctx, policy = self.ctx, policy_of(step)
        if step.call is not None:
            return await ctx.call(step.call.service, step.call.method, render(step.call.args, scope),
                                  key=key, policy=policy)
        if step.job is not None:
            job = step.job
            return await ctx.job(job.worker, render(job.args, scope), key=key, queue=job.queue,
                                 timeout_s=job.timeout_s, policy=policy)
        if step.python is not None:
            fn = self.python_steps[step.python.step]
            return await ctx.step(fn, key=key, name=step.python.step, policy=policy,
                                  **render(step.python.args, scope))
        if step.sleep is not None:
            seconds = render(step.sleep.seconds, scope)
            if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds <= MAX_SLEEP_S:
                raise _failed(key, "workflow-bad-sleep", f"sleep of {key!r} needs 0..{MAX_SLEEP_S:.0f} seconds, "
                              f"got {seconds!r}")
            await ctx.sleep(float(seconds), key=key)
            return None
        if step.signal is not None:
            return await ctx.wait_signal(step.signal.name, timeout_s=step.signal.timeout_s, key=key)
        if step.set is not None:
            return render(step.set.value, scope)
        assert step.fail is not None
        raise _failed(key, "workflow-fail", _text(render(step.fail.message, scope)))

    async def _compensate(self) -> None:
        """Undo the completed steps that say how, dependents before what they need (reverse
        dependency order, not completion order: the same on a replay whatever the timing); one
        that fails does not stop the others (the original failure is what the run reports)."""
        by_id = {s.id: s for s in self.doc.steps}
        for sid in self.undo_order:
            undo = by_id[sid].compensate
            if undo is None or self.scope.status.get(sid) != "completed":
                continue
            try:
                await self._do(undo, f"{sid}:compensate", self.scope)
            except Exception:  # recorded by the ctx as a failed step; carry on undoing
                continue


def dependency_order(doc: Document) -> list[str]:
    """Step ids with every step after what it needs, document order among equals."""
    order: list[str] = []
    done: set[str] = set()
    remaining = list(doc.steps)
    while remaining:
        step = next(s for s in remaining if done.issuperset(s.needs))  # validated: no cycle
        remaining.remove(step)
        order.append(step.id)
        done.add(step.id)
    return order


def build_body(doc: Document, python_steps: Mapping[str, Callable[..., Any]]) -> Callable[[Any, Any], Awaitable[Any]]:
    """The ``body(ctx, input)`` that runs ``doc`` (already validated)."""
    steps = dict(python_steps)
    undo_order = list(reversed(dependency_order(doc)))

    async def body(ctx: Any, input: Any) -> Any:
        check_input(doc, input)
        return await _Run(doc, ctx, input, steps, undo_order).run()

    body.__name__ = body.__qualname__ = f"document:{doc.name}"
    return body
