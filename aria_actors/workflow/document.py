"""Declarative workflow documents (YAML or JSON): SOPs written by non-programmers, validated before
they are stored, compiled into a ``body(ctx, input)`` that the engine runs like a Python workflow.

::

    text --parse--> Document --validate(catalog)--> ok | InvalidDefinition(where, problem)
                    Document --compile-----------> body(ctx, input)   (document_eval.py runs it)

The format::

    name: create-character              # ^[a-z][a-z0-9-]{0,63}$
    description: Describe a character, store it, keep it if it scores well
    input: {prompt: string, count: optional integer}   # string|integer|number|boolean|object|array|any
    on_failure: compensate              # undo completed steps (newest first), then fail; default dead_letter
    steps:
      - id: gen                         # ^[a-z][a-z0-9_]{0,63}$, unique; also the step's durable key
        call: {service: aria_shape, method: describe, args: {traits: ["${input.prompt}"]}}
        retry: {retries: 3, backoff_s: 1, backoff_max_s: 30}   # call, job and python steps only
        timeout_s: 60
      - id: store
        needs: [gen]                    # runs when every step it needs is settled
        call: {service: aria_storage, method: put,
               args: {name: "characters/${input.prompt}", metadata: {text: "${steps.gen.output}"}}}
        compensate: {call: {service: aria_storage, method: delete_version,
                            args: {name: "${steps.store.output.name}", version: "${steps.store.output.version}"}}}
      - id: score
        needs: [gen]
        job: {worker: score-text, args: {text: "${steps.gen.output}"}, queue: default, timeout_s: 300}
      - id: decide
        needs: [score]
        branch:                         # the first arm whose `when` holds chooses its steps
          - when: {ref: steps.score.output.auc, op: ">=", value: 0.8}
            goto: [promote]
          - else: [rollback]
      - {id: promote, needs: [decide, store], python: {step: promote_model, args: {}}}
      - {id: rollback, needs: [decide], fail: {message: "score ${steps.score.output.auc} too low"}}
      - id: finish
        needs: [promote, rollback]
        join: any                       # settled needs, at least one completed (default: all)
        when: {ref: input.count, op: exists}
        set: {value: {auc: "${steps.score.output.auc}"}}
    output: "${steps.finish.output}"

Step kinds, exactly one per step: ``call`` (a declared service method), ``job`` (an aria_queue
job, ``service:aria_x.method`` included), ``python`` (a registered Python step), ``sleep``
({seconds}), ``signal`` ({name, timeout_s?}), ``set`` ({value}: pure data), ``fail``
({message}), ``map`` ({over: "${...list}", concurrency: 1..64, do: <kind>}: ``${item}`` and
``${index}`` inside ``do``), ``loop`` ({max: 1..1000, until: <condition>, do: <kind>}: ``${last}``
is the previous iteration's result, ``${index}`` its number), ``branch`` (above).
Conditions: ``{ref, op, value}`` (ops ``== != < <= > >= in not_in exists``), ``{all: [...]}``,
``{any: [...]}``, ``{not: ...}``. References: ``${input.x}``, ``${steps.<id>.output[.path]}``,
``${steps.<id>.status}``, ``${item}``, ``${index}``, ``${last}``; a string that is one reference
keeps the value's JSON type, references inside longer text are interpolated (``$${`` is a
literal ``${``).

Guarantees and caveats:
- Validation names the place (``steps[3].call.args.prompt``) and a stable ``problem`` slug:
  syntax, too-large, not-json, schema, unknown-field, missing-field, bad-name, out-of-bounds,
  step-kind, bad-arm, bad-condition, unknown-type, duplicate-step, unknown-step, cycle,
  unreachable, bad-reference, type-mismatch, unknown-service, unknown-method, unknown-argument,
  missing-argument, unknown-worker, unknown-python-step. Only the first problem is reported.
- Types are compared only where both sides are known (a literal or a declared input against a
  method's annotation); anything else is checked by the method itself at run time.
- A skipped step (its ``when`` false, its branch arm not chosen, a need skipped under ``join:
  all``, or every need skipped under ``join: any``) skips its dependents the same way.
- YAML anchors and aliases are refused (a small document must not expand into a huge one), and
  dates stay strings: a document holds JSON values only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from aria_actors.workflow.catalog import Catalog, Signature, check_args, few, refuse, show
from aria_actors.workflow.document_eval import (
    MAX_SLEEP_S,
    Ref,
    build_body,
    json_only,
    parse_template,
    ref_of,
    ref_types,
    value_types,
    walk_strings,
)
from aria_actors.workflow.policy import MAX_TIMEOUT_S

MAX_BYTES = 256 * 1024
MAX_STEPS = 500
MAX_DEPTH = 64
KINDS = ("call", "job", "python", "sleep", "signal", "set", "fail")
STEP_KINDS = (*KINDS, "map", "loop", "branch")
POLICY_KINDS = ("call", "job", "python")
_INPUT_TYPE = re.compile(r"(optional )?(string|integer|number|boolean|object|array|any)")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
_PROBLEMS = {"extra_forbidden": "unknown-field", "missing": "missing-field",
             "string_pattern_mismatch": "bad-name", "greater_than": "out-of-bounds",
             "greater_than_equal": "out-of-bounds", "less_than": "out-of-bounds",
             "less_than_equal": "out-of-bounds", "too_long": "out-of-bounds", "too_short": "out-of-bounds"}
Body = Callable[[Any, Any], Awaitable[Any]]
Timeout = float | None


def _problem(slug: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(slug, message)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Model):
    ref: str | None = None
    op: Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "exists"] | None = None
    value: Any = None
    all_: list[Condition] | None = Field(None, alias="all", min_length=1)
    any_: list[Condition] | None = Field(None, alias="any", min_length=1)
    not_: Condition | None = Field(None, alias="not")

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [self.ref is not None or self.op is not None, self.all_ is not None, self.any_ is not None,
                 self.not_ is not None]
        if sum(forms) != 1 or (forms[0] and (self.ref is None or self.op is None)):
            raise _problem("bad-condition", "a condition is {ref, op, value}, {all: [...]}, {any: [...]} or {not: ...}")
        return self


class Retry(_Model):
    retries: int = Field(0, ge=0, le=100)
    backoff_s: float = Field(1.0, ge=0.0, le=3600.0)
    backoff_max_s: float = Field(60.0, ge=0.0, le=86400.0)


class CallSpec(_Model):
    service: str = Field(pattern=r"^aria_[a-z][a-z0-9_]*$")
    method: str = Field(pattern=r"^[a-z][A-Za-z0-9_]*$")
    args: dict[str, Any] = {}


class JobSpec(_Model):
    worker: str = Field(min_length=1, max_length=200)
    args: dict[str, Any] = {}
    queue: str | None = Field(None, min_length=1, max_length=100)
    timeout_s: Timeout = Field(None, gt=0, le=MAX_TIMEOUT_S)


class PythonSpec(_Model):
    step: str = Field(min_length=1, max_length=200)
    args: dict[str, Any] = {}


class SleepSpec(_Model):
    seconds: Any

    @field_validator("seconds")
    @classmethod
    def _bounded(cls, v: Any) -> Any:
        if isinstance(v, str) and v.startswith("${"):
            return v  # checked when it resolves
        if not isinstance(v, int | float) or isinstance(v, bool) or not 0 <= v <= MAX_SLEEP_S:
            raise _problem("out-of-bounds", f"seconds must be 0..{MAX_SLEEP_S:.0f} (30 days) or a reference")
        return v


class SignalSpec(_Model):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.:-]{0,63}$")  # what POST .../signals/{name} takes
    timeout_s: Timeout = Field(None, gt=0, le=MAX_TIMEOUT_S)


class SetSpec(_Model):
    value: Any = None


class FailSpec(_Model):
    message: str = Field(min_length=1, max_length=2000)


class InnerStep(_Model):
    """One simple step kind (the ``do`` of a map or loop, a ``compensate``)."""

    call: CallSpec | None = None
    job: JobSpec | None = None
    python: PythonSpec | None = None
    sleep: SleepSpec | None = None
    signal: SignalSpec | None = None
    set: SetSpec | None = None
    fail: FailSpec | None = None
    retry: Retry | None = None
    timeout_s: Timeout = Field(None, gt=0, le=MAX_TIMEOUT_S)

    @property
    def kind(self) -> str:
        return next(k for k in STEP_KINDS if getattr(self, k, None) is not None)

    @model_validator(mode="after")
    def _one_kind(self) -> InnerStep:
        kinds = [k for k in STEP_KINDS if getattr(self, k, None) is not None]
        if len(kinds) != 1:
            allowed = STEP_KINDS if isinstance(self, Step) else KINDS
            raise _problem("step-kind", f"a step has exactly one of {', '.join(allowed)}; got {kinds or 'none'}")
        if (self.retry is not None or self.timeout_s is not None) and kinds[0] not in POLICY_KINDS:
            raise _problem("unknown-field", "retry and timeout_s apply to call, job and python steps only")
        return self


class MapSpec(_Model):
    over: str
    concurrency: int = Field(8, ge=1, le=64)
    do: InnerStep


class LoopSpec(_Model):
    max: int = Field(ge=1, le=1000)
    until: Condition | None = None
    do: InnerStep


class Arm(_Model):
    when: Condition | None = None
    goto: list[str] | None = None
    else_: list[str] | None = Field(None, alias="else")

    @model_validator(mode="after")
    def _one_form(self) -> Arm:
        if (self.else_ is None) == (self.goto is None) or (self.when is None) != (self.goto is None):
            raise _problem("bad-arm", "an arm is {when: <condition>, goto: [ids]} or {else: [ids]}")
        return self

    @property
    def targets(self) -> list[str]:
        return self.goto if self.goto is not None else self.else_ or []


class Step(InnerStep):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    description: str = Field("", max_length=2000)
    needs: list[str] = []
    join: Literal["all", "any"] = "all"
    when: Condition | None = None
    compensate: InnerStep | None = None
    map: MapSpec | None = None
    loop: LoopSpec | None = None
    branch: list[Arm] | None = Field(None, min_length=1, max_length=50)

    @field_validator("branch")
    @classmethod
    def _else_last(cls, arms: list[Arm] | None) -> list[Arm] | None:
        if arms and any(a.else_ is not None for a in arms[:-1]):
            raise _problem("bad-arm", "only the last arm of a branch may be 'else'")
        return arms


class Document(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,63}$")
    description: str = Field("", max_length=10000)
    input: dict[str, str] = {}
    on_failure: Literal["dead_letter", "compensate"] = "dead_letter"
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    output: Any = None

    @field_validator("input")
    @classmethod
    def _types(cls, fields: dict[str, str]) -> dict[str, str]:
        for name, kind in fields.items():
            if not _FIELD.fullmatch(name):
                raise _problem("bad-name", f"input field {name!r} must match {_FIELD.pattern}")
            if not _INPUT_TYPE.fullmatch(kind):
                raise _problem("unknown-type", f"input field {name!r}: {kind!r} is not one of string, integer, "
                               "number, boolean, object, array, any (or 'optional <type>')")
        return fields


def _place(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


class _Loader(yaml.SafeLoader):
    """safe_load without aliases (a billion-laughs document is 1 KiB) and without dates."""

    yaml_implicit_resolvers = {k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
                               for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise refuse(f"line {mark.line + 1}", "syntax", "YAML aliases (*name) are not allowed")
        return super().compose_node(parent, index)


def _load(text: str) -> Any:
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            pass  # a YAML flow mapping also starts with '{'
        except ValueError as exc:  # an integer of more digits than Python converts
            raise refuse("", "syntax", f"not valid JSON: {exc}") from None
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise refuse(where, "syntax", f"not valid YAML or JSON: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise refuse("", "syntax", f"not valid YAML or JSON: {exc}") from None
    except RecursionError:
        raise refuse("", "too-large", f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise refuse("", "syntax", f"not valid YAML or JSON: {exc}") from None


def parse(source: str | bytes | Mapping[str, Any]) -> Document:
    """A :class:`Document` from YAML or JSON text (at most 256 KiB) or an already parsed mapping;
    InvalidDefinition names the first problem."""
    if isinstance(source, bytes | str):
        raw = source.encode() if isinstance(source, str) else source
        if len(raw) > MAX_BYTES:
            raise refuse("", "too-large", f"a document is at most {MAX_BYTES // 1024} KiB, this one {len(raw)} bytes")
        try:
            data = _load(raw.decode())
        except UnicodeDecodeError:
            raise refuse("", "syntax", "a document is UTF-8 text") from None
    elif isinstance(source, Mapping):
        data = dict(source)
    else:
        raise refuse("", "schema", f"a document is YAML/JSON text or a mapping, not {type(source).__name__}")
    json_only(data, "", MAX_DEPTH)
    if not isinstance(data, dict):
        raise refuse("", "schema", "a document is a mapping with at least 'name' and 'steps'")
    if isinstance(source, Mapping) and len(json.dumps(data)) > MAX_BYTES:
        raise refuse("", "too-large", f"a document is at most {MAX_BYTES // 1024} KiB")
    if isinstance(data.get("steps"), list) and len(data["steps"]) > MAX_STEPS:
        raise refuse("steps", "too-large", f"a document has at most {MAX_STEPS} steps, this one {len(data['steps'])}")
    try:
        return Document.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = _place(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            err["msg"] = f"unknown field {err['loc'][-1]!r}: check its spelling and indentation"
        problem = _PROBLEMS.get(kind) or (kind if "-" in kind else "schema")  # "-": a slug of ours
        raise refuse(where, problem, err["msg"]) from None


@dataclass(frozen=True, slots=True)
class _Allowed:
    """What references at one place may name."""

    steps: frozenset[str]
    item: bool = False
    index: bool = False
    last: bool = False


class _Checker:
    def __init__(self, doc: Document, catalog: Catalog | None) -> None:
        self.doc, self.catalog = doc, catalog
        self.at = {s.id: i for i, s in enumerate(doc.steps)}
        self.by_id = {s.id: s for s in doc.steps}

    def run(self) -> None:
        self._ids()
        order = self._topo()
        self._gotos()
        self._reachable(order)
        ancestors: dict[str, frozenset[str]] = {}
        for sid in order:
            ancestors[sid] = frozenset().union(*({n} | ancestors[n] for n in self.by_id[sid].needs))
        for i, step in enumerate(self.doc.steps):
            self._step(i, step, _Allowed(ancestors[step.id]))
        self._value(self.doc.output, "output", _Allowed(frozenset(self.at)))

    def _ids(self) -> None:
        seen: set[str] = set()
        for i, step in enumerate(self.doc.steps):
            if step.id in seen:
                raise refuse(f"steps[{i}].id", "duplicate-step", f"{step.id!r} is the id of an earlier step")
            seen.add(step.id)
        for i, step in enumerate(self.doc.steps):
            for j, need in enumerate(step.needs):
                if need not in self.at:
                    raise refuse(f"steps[{i}].needs[{j}]", "unknown-step", f"no step has id {need!r}")
            for j, arm in enumerate(step.branch or ()):
                for k, target in enumerate(arm.targets):
                    if target not in self.at:
                        where = f"steps[{i}].branch[{j}].{'goto' if arm.goto is not None else 'else'}[{k}]"
                        raise refuse(where, "unknown-step", f"no step has id {target!r}")

    def _topo(self) -> list[str]:
        """The steps in dependency order (document order among equals); a cycle is named."""
        state: dict[str, int] = {}
        order: list[str] = []

        def visit(sid: str, path: list[str]) -> None:
            if state.get(sid) == 2:
                return
            if state.get(sid) == 1:
                cycle = [*path[path.index(sid):], sid]
                raise refuse(f"steps[{self.at[sid]}].needs", "cycle",
                               "the steps need each other in a cycle: " + " -> ".join(reversed(cycle)))
            state[sid] = 1
            for need in self.by_id[sid].needs:
                visit(need, [*path, sid])
            state[sid] = 2
            order.append(sid)

        for step in self.doc.steps:
            visit(step.id, [])
        return order

    def _gotos(self) -> None:
        for i, step in enumerate(self.doc.steps):
            for j, arm in enumerate(step.branch or ()):
                for k, target in enumerate(arm.targets):
                    if step.id not in self.by_id[target].needs:
                        where = f"steps[{i}].branch[{j}].{'goto' if arm.goto is not None else 'else'}[{k}]"
                        raise refuse(where, "unreachable", f"{target!r} does not need {step.id!r}, so the "
                                       f"branch cannot guard it; add {step.id!r} to its needs")

    def _reachable(self, order: list[str]) -> None:
        """Refuse a step that can never run: one needing (under join all) steps of exclusive arms of
        one branch, or a step after a fail step. req[s][b]: the arms of branch b under which s
        may run (an arm index; -1: no arm matched)."""
        guard: dict[str, dict[str, frozenset[int]]] = {}
        for step in self.doc.steps:
            for j, arm in enumerate(step.branch or ()):
                for target in arm.targets:
                    mine = guard.setdefault(target, {})
                    mine[step.id] = mine.get(step.id, frozenset()) | {j}
        req: dict[str, dict[str, frozenset[int]]] = {}
        completes: dict[str, bool] = {}
        for sid in order:
            step = self.by_id[sid]
            where = f"steps[{self.at[sid]}]"
            needs = [n for n in step.needs if completes[n]] if step.join == "any" else step.needs
            blocked = [n for n in step.needs if not completes[n]]
            if step.needs and (not needs or (step.join == "all" and blocked)):
                after = blocked[0]
                why = "a fail step" if self.by_id[after].fail is not None else "a step that can never complete"
                raise refuse(where, "unreachable", f"{sid!r} needs {after!r}, {why}; it can never run")
            merged: dict[str, frozenset[int]] = dict(guard.get(sid, {}))
            if step.join == "all":
                for n in needs:
                    for b, arms in req[n].items():
                        merged[b] = merged[b] & arms if b in merged else arms
            else:
                common = set.intersection(*(set(req[n]) for n in needs))
                for b in common:
                    arms = frozenset().union(*(req[n][b] for n in needs))
                    merged[b] = merged[b] & arms if b in merged else arms
            empty = [b for b, arms in merged.items() if not arms]
            if empty:
                raise refuse(where, "unreachable", f"{sid!r} needs steps from exclusive arms of branch "
                               f"{empty[0]!r} (only one arm runs); use join: any or need one arm")
            req[sid] = merged
            completes[sid] = step.fail is None

    def _step(self, i: int, step: Step, allowed: _Allowed) -> None:
        where = f"steps[{i}]"
        if step.when is not None:
            self._cond(step.when, f"{where}.when", allowed)
        for j, arm in enumerate(step.branch or ()):
            if arm.when is not None:
                self._cond(arm.when, f"{where}.branch[{j}].when", allowed)
        if step.map is not None:
            self._map(step.map, f"{where}.map", allowed)
            self._inner(step.map.do, f"{where}.map.do", _Allowed(allowed.steps, item=True, index=True))
        elif step.loop is not None:
            inside = _Allowed(allowed.steps, index=True, last=True)
            if step.loop.until is not None:
                self._cond(step.loop.until, f"{where}.loop.until", inside)
            self._inner(step.loop.do, f"{where}.loop.do", inside)
        elif step.branch is None:
            self._inner(step, where, allowed)
        if step.compensate is not None:
            self._inner(step.compensate, f"{where}.compensate", _Allowed(allowed.steps | {step.id}))

    def _map(self, spec: MapSpec, where: str, allowed: _Allowed) -> None:
        template = self._template(spec.over, f"{where}.over")
        if template is None or not template.whole:
            raise refuse(f"{where}.over", "bad-reference", "over is one reference to a list, like ${steps.x.output}")
        self._value(spec.over, f"{where}.over", allowed)
        got = self._ref_types(next(template.refs()))
        if got is not None and "array" not in got:
            raise refuse(f"{where}.over", "type-mismatch", f"over must be a list, {spec.over} is {show(got)}")

    def _inner(self, step: InnerStep, where: str, allowed: _Allowed) -> None:
        kind = step.kind
        spec = getattr(step, kind)
        for name in ("args", "seconds", "value", "message"):
            if name in type(spec).model_fields:
                self._value(getattr(spec, name), f"{where}.{kind}.{name}", allowed)
        seconds = self._types(step.sleep.seconds) if step.sleep is not None else None
        if seconds is not None and not seconds & {"number", "integer"}:
            raise refuse(f"{where}.sleep.seconds", "type-mismatch", f"seconds must be a number, not {show(seconds)}")
        if self.catalog is None or kind not in POLICY_KINDS:
            return
        if step.call is not None:
            sig: Signature | None = self.catalog.method(step.call.service, step.call.method, f"{where}.call")
        elif step.job is not None:
            sig = self.catalog.worker(step.job.worker, f"{where}.job.worker")
        else:
            sig = self.catalog.python_step(spec.step, f"{where}.python.step")
        if sig is not None:
            check_args(sig, spec.args, f"{where}.{kind}.args", self._types)

    def _cond(self, cond: Condition, where: str, allowed: _Allowed) -> None:
        for key, parts in (("all", cond.all_), ("any", cond.any_)):
            for j, part in enumerate(parts or ()):
                self._cond(part, f"{where}.{key}[{j}]", allowed)
        if cond.not_ is not None:
            self._cond(cond.not_, f"{where}.not", allowed)
        if cond.ref is None:
            return
        try:
            ref = ref_of(cond.ref)
        except ValueError as exc:
            raise refuse(f"{where}.ref", "bad-reference", str(exc)) from None
        self._ref(ref, f"{where}.ref", allowed)
        self._value(cond.value, f"{where}.value", allowed)
        if cond.op == "exists" and cond.value is not None:
            raise refuse(f"{where}.value", "bad-condition", "op exists takes no value")
        literal = self._types(cond.value) if not isinstance(cond.value, str) else None
        if literal is None:
            return
        place, shown = f"{where}.value", show(literal)
        if cond.op in ("in", "not_in") and not literal & {"array", "object"}:
            raise refuse(place, "type-mismatch", f"{cond.op} needs a list or a text, not {shown}")
        if cond.op in ("<", "<=", ">", ">=") and not literal & {"number", "integer"}:
            raise refuse(place, "type-mismatch", f"{cond.op} compares numbers or texts, not {shown}")

    def _template(self, text: str, where: str) -> Any:
        try:
            return parse_template(text)
        except ValueError as exc:
            raise refuse(where, "bad-reference", str(exc)) from None

    def _value(self, value: Any, where: str, allowed: _Allowed) -> None:
        for place, text in walk_strings(value, where):
            template = self._template(text, place)
            for ref in template.refs() if template is not None else ():
                self._ref(ref, place, allowed)

    def _ref(self, ref: Ref, where: str, allowed: _Allowed) -> None:
        if ref.root == "input":
            if ref.path and ref.path[0] not in self.doc.input:
                raise refuse(where, "bad-reference", f"${{{ref.text}}}: the input declares no field "
                               f"{ref.path[0]!r}; declared: {few(self.doc.input)}")
        elif ref.root == "steps":
            if ref.step not in allowed.steps:
                known = "no step has that id" if ref.step not in self.at else \
                    "it is not among the steps this one needs (directly or through others); add it to needs"
                raise refuse(where, "bad-reference", f"${{{ref.text}}}: {known}")
        elif not getattr(allowed, ref.root):
            home = {"item": "a map's do", "index": "a map's do or a loop", "last": "a loop"}[ref.root]
            raise refuse(where, "bad-reference", f"${{{ref.text}}} exists only inside {home}")

    def _types(self, value: Any) -> frozenset[str] | None:
        return value_types(value, self._ref_types)

    def _ref_types(self, ref: Ref) -> frozenset[str] | None:
        return ref_types(ref, self.doc.input, lambda sid: self._output_types(self.by_id[sid]))

    def _output_types(self, step: Step) -> frozenset[str] | None:
        if step.call is not None and self.catalog is not None:
            sig = self.catalog.services.get(step.call.service, {}).get(step.call.method)
            return sig.returns if sig is not None else None
        if step.set is not None:
            return self._types(step.set.value)
        fixed = {"map": "array", "branch": "object", "sleep": "null"}
        return next((frozenset({t}) for k, t in fixed.items() if getattr(step, k) is not None), None)


def validate(doc: Document, catalog: Catalog | None = None) -> None:
    """Raise InvalidDefinition(where=..., problem=...) at the first problem of ``doc``; without a
    catalog, what it names (services, workers, Python steps) is not checked."""
    _Checker(doc, catalog).run()


def inner_steps(doc: Document) -> Iterator[tuple[str, InnerStep]]:
    """Every simple step of ``doc`` with its place (steps, map/loop ``do``, compensations)."""
    for i, step in enumerate(doc.steps):
        if step.map is not None:
            yield f"steps[{i}].map.do", step.map.do
        elif step.loop is not None:
            yield f"steps[{i}].loop.do", step.loop.do
        elif step.branch is None:
            yield f"steps[{i}]", step
        if step.compensate is not None:
            yield f"steps[{i}].compensate", step.compensate


def compile(doc: Document, *, python_steps: Mapping[str, Callable[..., Any]] | None = None) -> Body:
    """The ``body(ctx, input)`` that runs ``doc``; its structure and references are validated
    again here (cheap), and every Python step it names must be in ``python_steps``."""
    validate(doc)
    steps = dict(python_steps or {})
    for where, step in inner_steps(doc):
        if step.python is not None and step.python.step not in steps:
            raise refuse(f"{where}.python.step", "unknown-python-step",
                           f"no Python step {step.python.step!r}; registered: {few(steps)}")
    return build_body(doc, steps)
