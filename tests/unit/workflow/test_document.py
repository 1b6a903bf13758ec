"""Declarative workflow documents: parsing and validation (each problem with its place), and compiled
bodies run against a recording FakeCtx that implements the ctx contract."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from aria_actors.workflow.catalog import Catalog, Param, Signature, json_types
from aria_actors.workflow.document import Document, compile, parse, validate
from aria_actors.workflow.document_eval import Scope, parse_ref, parse_template, render
from aria_actors.workflow.errors import InvalidDefinition, InvalidInput, StepFailed
from aria_actors.workflow.policy import StepPolicy


class FakeShape:
    async def generate(self, caller: Any, prompt: str, *, count: int = 1, temperature: float | None = None) -> str:
        ...

    async def score(self, caller: Any, text: str) -> dict[str, Any]:
        ...

    async def embed(self, caller: Any, texts: list[str]) -> list[list[float]]:
        ...


class FakeStorage:
    async def put(self, caller: Any, name: str, data: bytes | None = None, tags: list[str] | None = None) -> dict:
        ...

    async def delete(self, caller: Any, name: str) -> None:
        ...


def promote(model: str, threshold: float = 0.5) -> dict[str, Any]:
    return {"promoted": model, "threshold": threshold}


CATALOG = Catalog.from_clients({"aria_shape": FakeShape, "aria_storage": FakeStorage}, workers=["train"],
                               python_steps={"promote": promote})
# the real registry's aria_shape.describe is declared job=True: "service:" workers are checked against it
CATALOG = Catalog({**CATALOG.services, "aria_shape": {
    **CATALOG.services["aria_shape"],
    "describe": Signature("describe", {"traits": Param("traits", "list[str]", frozenset({"array"}), True)}, job=True)}},
    CATALOG.workers, CATALOG.python_steps)


class FakeCtx:
    """The ctx contract, recorded: every durable operation needs an explicit unique key, yields to
    the loop a few times (so concurrency shows), and returns what ``handlers`` say."""

    def __init__(self, handlers: dict[str, Callable[..., Any]] | None = None, *, fail: Sequence[str] = (),
                 ticks: Callable[[str], int] = lambda key: 3, signals: dict[str, Any] | None = None) -> None:
        self.handlers = handlers or {}
        self.fail, self.ticks, self.signals = set(fail), ticks, signals or {}
        self.run_id, self.workflow, self.version, self.input = "r1", "doc", 1, None
        self.ops: list[tuple[str, str, Any]] = []  # (key, kind, detail) in start order
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.inflight = self.peak = 0
        self.policies: dict[str, StepPolicy | None] = {}

    async def _durable(self, key: str | None, kind: str, detail: Any, produce: Callable[[], Any]) -> Any:
        assert key is not None, "documents always pass explicit keys"
        assert key not in [k for k, _, _ in self.ops], f"key {key} used twice"
        self.ops.append((key, kind, detail))
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        try:
            for _ in range(self.ticks(key)):
                await asyncio.sleep(0)
            if key in self.fail:
                raise StepFailed(key, {"type": "boom", "message": f"{key} failed"})
            result = produce()
            if asyncio.iscoroutine(result):
                result = await result
            self.finished.append(key)
            return result
        except asyncio.CancelledError:
            self.cancelled.append(key)
            raise
        finally:
            self.inflight -= 1

    def step(self, fn: Callable[..., Any], *args: Any, key: str | None = None, name: str | None = None,
             policy: StepPolicy | None = None, compensate: Callable[..., Any] | None = None,
             **kwargs: Any) -> Awaitable[Any]:
        self.policies[str(key)] = policy
        return self._durable(key, "step", (name, kwargs), lambda: fn(*args, **kwargs))

    def call(self, service: str, method: str, args: dict[str, Any], *, key: str | None = None,
             policy: StepPolicy | None = None) -> Awaitable[Any]:
        self.policies[str(key)] = policy
        handler = self.handlers.get(f"{service}.{method}", lambda **a: {"echo": a})
        return self._durable(key, "call", (service, method, args), lambda: handler(**args))

    def job(self, worker: str, args: dict[str, Any], *, key: str | None = None, queue: str | None = None,
            timeout_s: float | None = None, policy: StepPolicy | None = None) -> Awaitable[Any]:
        return self._durable(key, "job", (worker, args, queue, timeout_s), lambda: {"job": worker, **args})

    def sleep(self, seconds: float, *, key: str | None = None) -> Awaitable[None]:
        return self._durable(key, "sleep", seconds, lambda: None)

    def wait_signal(self, name: str, *, timeout_s: float | None = None, key: str | None = None) -> Awaitable[Any]:
        return self._durable(key, "signal", (name, timeout_s), lambda: self.signals.get(name))

    async def parallel(self, branches: Sequence[Callable[[Any], Awaitable[Any]]], *, limit: int | None = None,
                       key: str | None = None) -> list[Any]:
        return list(await asyncio.gather(*(b(self.child(f"{key}.{i}/")) for i, b in enumerate(branches))))

    def child(self, prefix: str) -> FakeCtx:
        return self

    def started(self, kind: str | None = None) -> list[str]:
        return [k for k, kd, _ in self.ops if kind is None or kd == kind]


def doc(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"name": "test-doc", **top, "steps": list(steps)}


def call(sid: str, method: str = "generate", service: str = "aria_shape", **extra: Any) -> dict[str, Any]:
    args = extra.pop("args", {"prompt": "hi"})
    return {"id": sid, "call": {"service": service, "method": method, "args": args}, **extra}


def refused(source: Any, catalog: Catalog | None = CATALOG) -> InvalidDefinition:
    with pytest.raises(InvalidDefinition) as info:
        validate(parse(source), catalog)
    return info.value


async def run(source: Any, ctx: FakeCtx, input: Any = None, **kw: Any) -> Any:
    d = parse(source)
    validate(d, CATALOG)
    return await compile(d, python_steps={"promote": promote}, **kw)(ctx, input)


EXAMPLE = """
name: create-character
description: Generate, score and store a character
input: {prompt: string, count: optional integer}
on_failure: compensate
steps:
  - id: gen
    call: {service: aria_shape, method: generate, args: {prompt: "${input.prompt}", count: "${input.count}"}}
    retry: {retries: 3, backoff_s: 1, backoff_max_s: 30}
    timeout_s: 60
  - id: score
    needs: [gen]
    call: {service: aria_shape, method: score, args: {text: "${steps.gen.output}"}}
  - id: store
    needs: [gen]
    call: {service: aria_storage, method: put, args: {name: "char-${input.prompt}"}}
    compensate: {call: {service: aria_storage, method: delete, args: {name: "${steps.store.output.name}"}}}
  - id: decide
    needs: [score]
    branch:
      - when: {ref: "steps.score.output.auc", op: ">=", value: 0.8}
        goto: [promote]
      - else: [rollback]
  - {id: promote, needs: [decide, store], python: {step: promote, args: {model: "${steps.gen.output}"}}}
  - {id: rollback, needs: [decide], set: {value: {rolled_back: true}}}
  - id: finish
    needs: [promote, rollback]
    join: any
    set: {value: {promoted: "${steps.promote.status}", auc: "${steps.score.output.auc}"}}
output: "${steps.finish.output}"
"""


# ---- parse --------------------------------------------------------------------------------------

def test_yaml_and_json_give_the_same_document() -> None:
    from_yaml = parse(EXAMPLE)
    assert parse(json.dumps(from_yaml.model_dump(by_alias=True, exclude_none=True))) == from_yaml
    assert [s.id for s in from_yaml.steps] == ["gen", "score", "store", "decide", "promote", "rollback", "finish"]
    assert from_yaml.steps[3].branch[1].targets == ["rollback"]  # type: ignore[index]
    validate(from_yaml, CATALOG)


@pytest.mark.parametrize(("source", "problem", "where"), [
    ("name: x\nsteps: [\n", "syntax", "line 3"),
    ("a: &a [1]\nb: *a\n", "syntax", "line 2"),
    ("- 1\n- 2\n", "schema", ""),
    ("name: x\nsteps:\n  - {id: a, set: {value: .nan}}\n", "not-json", "steps[0].set.value"),
    ("name: x\nsteps:\n  - {id: a, set: {value: {1: x}}}\n", "not-json", "steps[0].set.value"),
    ("x: " + "a" * (256 * 1024), "too-large", ""),
    (doc({"id": "a", "cal": {}}), "unknown-field", "steps[0].cal"),
    ({"steps": [{"id": "a", "set": {}}]}, "missing-field", "name"),
    (doc({"id": "A", "set": {}}), "bad-name", "steps[0].id"),
    (doc({"id": "a", "set": {}, "fail": {"message": "x"}}), "step-kind", "steps[0]"),
    (doc({"id": "a"}), "step-kind", "steps[0]"),
    (doc({"id": "a", "set": {}, "retry": {"retries": 1}}), "unknown-field", "steps[0]"),
    (doc({"id": "a", "map": {"over": "${input}", "concurrency": 65, "do": {"set": {}}}}),
     "out-of-bounds", "steps[0].map.concurrency"),
    (doc({"id": "a", "map": {"over": "${input}", "do": {"map": {}}}}), "unknown-field", "steps[0].map.do.map"),
    (doc({"id": "a", "loop": {"max": 1001, "do": {"set": {}}}}), "out-of-bounds", "steps[0].loop.max"),
    (doc({"id": "a", "sleep": {"seconds": 31 * 86400}}), "out-of-bounds", "steps[0].sleep.seconds"),
    (doc(call("a", timeout_s=8 * 86400)), "out-of-bounds", "steps[0].timeout_s"),
    (doc(call("a", retry={"retries": 101})), "out-of-bounds", "steps[0].retry.retries"),
    (doc({"id": "a", "branch": [{"else": ["b"]}, {"when": {"ref": "input", "op": "exists"}, "goto": ["b"]}]}),
     "bad-arm", "steps[0].branch"),
    (doc({"id": "a", "branch": [{"when": {"ref": "input", "op": "exists"}}]}), "bad-arm", "steps[0].branch[0]"),
    (doc({"id": "a", "set": {}, "when": {"ref": "input"}}), "bad-condition", "steps[0].when"),
    (doc({"id": "a", "set": {}}, input={"x": "text"}), "unknown-type", "input"),
])
def test_parse_refuses_with_the_place(source: Any, problem: str, where: str) -> None:
    with pytest.raises(InvalidDefinition) as info:
        parse(source)
    assert (info.value.fields["problem"], info.value.fields["where"]) == (problem, where), info.value.message
    assert info.value.status == 422 and info.value.type == "workflow-invalid-definition"


def test_parse_caps_steps_and_keeps_dates_as_text() -> None:
    with pytest.raises(InvalidDefinition) as info:
        parse(doc(*({"id": f"s{i}", "set": {}} for i in range(501))))
    assert info.value.fields["problem"] == "too-large" and "500" in info.value.message
    d = parse("name: x\nsteps:\n  - {id: a, set: {value: 2024-01-02}}\n")
    assert d.steps[0].set.value == "2024-01-02"  # type: ignore[union-attr]


# ---- validate -----------------------------------------------------------------------------------

GATE = {"id": "g", "branch": [{"when": {"ref": "input.n", "op": ">", "value": 1}, "goto": ["p"]}, {"else": ["q"]}]}
P = {"id": "p", "needs": ["g"], "set": {"value": 1}}
Q = {"id": "q", "needs": ["g"], "set": {"value": 2}}


@pytest.mark.parametrize(("source", "problem", "where", "says"), [
    (doc(call("a"), call("b", needs=["nope"])), "unknown-step", "steps[1].needs[0]", "'nope'"),
    (doc({**GATE, "branch": [{"else": ["zz"]}]}), "unknown-step", "steps[0].branch[0].else[0]", "'zz'"),
    (doc(call("a"), call("a")), "duplicate-step", "steps[1].id", "'a'"),
    (doc(call("a", needs=["c"]), call("b", needs=["a"]), call("c", needs=["b"])), "cycle", "steps[0].needs",
     "a -> b -> c -> a"),
    (doc(call("a", needs=["a"])), "cycle", "steps[0].needs", "a -> a"),
    (doc(GATE, P, Q, {"id": "j", "needs": ["p", "q"], "set": {}}, input={"n": "integer"}), "unreachable",
     "steps[3]", "exclusive arms of branch 'g'"),
    (doc(GATE, P, Q, {"id": "j", "needs": ["p"], "set": {}}, {"id": "k", "needs": ["j", "q"], "set": {}},
         input={"n": "integer"}), "unreachable", "steps[4]", "exclusive arms"),
    (doc({"id": "f", "fail": {"message": "no"}}, call("b", needs=["f"])), "unreachable", "steps[1]", "fail step"),
    (doc(GATE, P, {"id": "q", "set": {}}, input={"n": "integer"}), "unreachable", "steps[0].branch[1].else[0]",
     "does not need 'g'"),
    (doc(call("a", service="aria_nope")), "unknown-service", "steps[0].call.service", "aria_shape"),
    (doc(call("a", method="fly")), "unknown-method", "steps[0].call.method", "generate"),
    (doc(call("a", args={"prompt": "x", "colour": 1})), "unknown-argument", "steps[0].call.args.colour", "count"),
    (doc(call("a", args={"count": 2})), "missing-argument", "steps[0].call.args", "prompt"),
    (doc(call("a", args={"prompt": 3})), "type-mismatch", "steps[0].call.args.prompt", "str"),
    (doc(call("a", args={"prompt": "x", "count": 1.5})), "type-mismatch", "steps[0].call.args.count", "number"),
    (doc(call("a", args={"prompt": "${input.n}"}), input={"n": "integer"}), "type-mismatch",
     "steps[0].call.args.prompt", "integer"),
    (doc(call("a"), call("b", method="embed", args={"texts": "${steps.a.output}"}, needs=["a"])), "type-mismatch",
     "steps[1].call.args.texts", "string"),
    (doc({"id": "j", "job": {"worker": "nope"}}), "unknown-worker", "steps[0].job.worker", "train"),
    (doc({"id": "j", "job": {"worker": "service:aria_shape.generate", "args": {"prompt": "x"}}}), "unknown-worker",
     "steps[0].job.worker", "job=True"),
    (doc({"id": "j", "job": {"worker": "service:aria_shape.describe", "args": {}}}), "missing-argument",
     "steps[0].job.args", "traits"),
    (doc({"id": "p", "python": {"step": "nope"}}), "unknown-python-step", "steps[0].python.step", "promote"),
    (doc({"id": "p", "python": {"step": "promote", "args": {"model": 1}}}), "type-mismatch",
     "steps[0].python.args.model", "str"),
    (doc(call("a"), call("b", args={"prompt": "${steps.a.output}"})), "bad-reference", "steps[1].call.args.prompt",
     "add it to needs"),
    (doc(call("a", args={"prompt": "${steps.zz.output}"})), "bad-reference", "steps[0].call.args.prompt",
     "no step has that id"),
    (doc(call("a", args={"prompt": "${input.x}"}), input={"y": "string"}), "bad-reference",
     "steps[0].call.args.prompt", "'x'"),
    (doc(call("a", args={"prompt": "${item}"})), "bad-reference", "steps[0].call.args.prompt", "map"),
    (doc(call("a", args={"prompt": "x ${last.y}"})), "bad-reference", "steps[0].call.args.prompt", "loop"),
    (doc(call("a", args={"prompt": "${steps.a}"})), "bad-reference", "steps[0].call.args.prompt", "output"),
    (doc(call("a", args={"prompt": "${input.x"})), "bad-reference", "steps[0].call.args.prompt", "unclosed"),
    (doc(call("a", args={"prompt": "${os.system}"})), "bad-reference", "steps[0].call.args.prompt", "start with"),
    (doc({"id": "m", "map": {"over": "${input.n}", "do": {"set": {}}}}, input={"n": "integer"}), "type-mismatch",
     "steps[0].map.over", "list"),
    (doc({"id": "m", "map": {"over": "x ${input}", "do": {"set": {}}}}), "bad-reference", "steps[0].map.over",
     "one reference"),
    (doc(call("a"), {"id": "b", "needs": ["a"], "set": {}, "when": {"any": [
        {"ref": "input.n", "op": "exists"}, {"ref": "steps.a.output", "op": "in", "value": 3}]}}, input={"n": "any"}),
     "type-mismatch", "steps[1].when.any[1].value", "list"),
    (doc({"id": "a", "set": {}, "when": {"not": {"ref": "steps.b.output", "op": "exists"}}}, {"id": "b", "set": {}}),
     "bad-reference", "steps[0].when.not.ref", "needs"),
    (doc({"id": "l", "loop": {"max": 3, "until": {"ref": "${item}", "op": "exists"}, "do": {"set": {}}}}),
     "bad-reference", "steps[0].loop.until.ref", "map"),
    (doc(call("a"), output="${steps.b.output}"), "bad-reference", "output", "no step"),
    (doc({"id": "w", "sleep": {"seconds": "${input.s} s"}}, input={"s": "integer"}), "type-mismatch",
     "steps[0].sleep.seconds", "number"),
    (doc({"id": "w", "sleep": {"seconds": "${input.s}"}}, input={"s": "string"}), "type-mismatch",
     "steps[0].sleep.seconds", "string"),
])
def test_validate_refuses_with_the_place(source: Any, problem: str, where: str, says: str) -> None:
    err = refused(source)
    assert (err.fields["problem"], err.fields["where"]) == (problem, where), err.message
    assert says in err.message and err.message.startswith(where)


def test_validate_accepts_what_it_should() -> None:
    validate(parse(EXAMPLE), CATALOG)
    # join any over exclusive arms, a guarded step needing its branch and more, refs through the closure,
    # item/index in a map, last/index in a loop, references in conditions and values, a number input into a float
    validate(parse(doc(
        call("a", args={"prompt": "${input.p}", "temperature": "${input.t}"}), GATE, P, Q,
        {"id": "j", "needs": ["a", "p", "q"], "join": "any", "set": {"value": "${steps.a.output}"}},
        {"id": "m", "needs": ["j"], "map": {"over": "${input.list}", "concurrency": 2, "do": {
            "call": {"service": "aria_shape", "method": "generate", "args": {"prompt": "${item} #${index}"}}}}},
        {"id": "l", "needs": ["m"], "loop": {"max": 5, "until": {"ref": "${last.done}", "op": "==", "value": True},
                                            "do": {"set": {"value": {"done": "${steps.m.output}", "i": "${index}"}}}}},
        {"id": "f", "needs": ["l"], "fail": {"message": "stop"}, "when": {"ref": "steps.l.output", "op": "exists"}},
        input={"p": "string", "t": "number", "n": "integer", "list": "array"}, output={"all": "${steps.a.output}"})),
        CATALOG)
    # without a catalog, what a document names is not checked
    validate(parse(doc(call("a", service="aria_nope"))), None)


def test_the_documented_example_is_valid_against_the_real_services() -> None:
    import aria_actors.workflow.document as module

    text = module.__doc__.split("The format::")[1].split("Step kinds")[0]  # type: ignore[union-attr]
    d = parse("\n".join(line.removeprefix("    ") for line in text.splitlines()))
    assert [s.id for s in d.steps] == ["gen", "store", "score", "decide", "promote", "rollback", "finish"]
    validate(d, Catalog.from_registry(workers=["score-text"], python_steps=["promote_model"]))


def test_catalog_from_registry_reads_the_typed_clients() -> None:
    catalog = Catalog.from_registry(workers=["train"], python_steps=["promote"])
    complete = catalog.services["aria_shape"]["complete"]
    assert "caller" not in complete.params and complete.job
    assert complete.params["prompts"].required and complete.params["prompts"].types == {"array"}
    assert not complete.params["seed"].required and complete.params["seed"].types == {"integer", "null"}
    assert catalog.python_steps == {"promote": None} and catalog.workers == {"train"}
    assert "aria_workflow" not in catalog.services  # no typed client
    err = refused(doc(call("a", service="aria_shape", method="complete", args={"prompts": "x"})), catalog)
    assert (err.fields["problem"], err.fields["where"]) == ("type-mismatch", "steps[0].call.args.prompts")
    json.dumps(catalog.describe())


@pytest.mark.parametrize(("annotation", "types"), [
    (int, {"integer"}), (float, {"number", "integer"}), (bool, {"boolean"}), (str, {"string"}),
    (dict[str, Any], {"object"}), (list[int], {"array"}), (tuple[int, ...], {"array"}),
    (int | None, {"integer", "null"}), (Any, None), (bytes, None), (int | Any, None),
])
def test_json_types_of_annotations(annotation: Any, types: set[str] | None) -> None:
    assert json_types(annotation) == (frozenset(types) if types is not None else None)


def test_references_render_with_their_types() -> None:
    scope = Scope({"n": 3, "tags": ["a", "b"]}, outputs={"gen": {"text": "hi", "list": [1, {"x": None}]}},
                  status={"gen": "completed"})
    assert render("${input.n}", scope) == 3
    assert render("${input.tags}", scope) == ["a", "b"]
    assert render("n=${input.n} t=${input.tags} g=${steps.gen.output.list[1].x}.", scope) == 'n=3 t=["a","b"] g=.'
    assert render({"k": ["${steps.gen.output.text}", "$${literal}"]}, scope) == {"k": ["hi", "${literal}"]}
    assert render("${steps.gen.output.list[9]}", scope) is None
    assert render("${steps.gen.status}", scope) == "completed"
    assert parse_template("no refs") is None
    assert parse_ref(" steps.a.output.x[2] ").path == ("x", 2)
    for bad in ("steps.a", "steps.a.status.x", "input..x", "input[x]", "__import__"):
        with pytest.raises(ValueError):
            parse_ref(bad)


# ---- compiled bodies ----------------------------------------------------------------------------

async def test_steps_run_in_dependency_order_and_pass_typed_values() -> None:
    ctx = FakeCtx({"aria_shape.generate": lambda prompt, **_: {"text": prompt.upper(), "n": 2}})
    out = await run(doc(
        call("c", method="score", args={"text": "${steps.b.output}"}, needs=["b"]),
        call("a", args={"prompt": "${input.p}"}),
        {"id": "b", "needs": ["a"], "set": {"value": "${steps.a.output.text}!"}},
        input={"p": "string"}, output={"a": "${steps.a.output.n}", "c": "${steps.c.output}"}), ctx, {"p": "hey"})
    assert ctx.started() == ["a", "c"]
    assert ctx.ops[1][2] == ("aria_shape", "score", {"text": "HEY!"})
    assert out == {"a": 2, "c": {"echo": {"text": "HEY!"}}}


async def test_independent_steps_run_concurrently_and_joins_wait() -> None:
    ctx = FakeCtx()
    await run(doc(call("a"), call("b"), call("c"), call("d", needs=["a", "b", "c"])), ctx)
    assert ctx.peak == 3
    assert ctx.started()[-1] == "d" and set(ctx.finished[:3]) == {"a", "b", "c"}


async def test_branch_runs_the_chosen_arm_and_skips_the_other() -> None:
    for score, ran, skipped in ((0.9, "promote", "rollback"), (0.5, "rollback", "promote")):
        ctx = FakeCtx({"aria_shape.score": lambda text, auc=score: {"auc": auc},
                       "aria_storage.put": lambda name: {"name": name}})
        out = await run(EXAMPLE, ctx, {"prompt": "elf"})
        assert ctx.started()[:3] == ["gen", "score", "store"] or set(ctx.started()[:3]) == {"gen", "score", "store"}
        assert ("promote" in ctx.started()) == (ran == "promote")
        assert out == {"promoted": "completed" if ran == "promote" else "skipped", "auc": score}
        assert skipped not in ctx.started()
    assert ctx.ops[0][2] == ("aria_shape", "generate", {"prompt": "elf", "count": None})
    assert ctx.policies["gen"] == StepPolicy(retries=3, backoff_s=1, backoff_max_s=30, timeout_s=60)


async def test_skipping_propagates_unless_join_any() -> None:
    ctx = FakeCtx()
    out = await run(doc(
        call("a", when={"ref": "input.go", "op": "==", "value": True}),
        call("b", needs=["a"]),
        call("c"),
        {"id": "d", "needs": ["a", "b", "c"], "join": "any",
         "set": {"value": ["${steps.a.status}", "${steps.b.status}"]}},
        {"id": "e", "needs": ["a", "b"], "join": "any", "set": {"value": 1}},
        input={"go": "boolean"}, output={"d": "${steps.d.output}", "e": "${steps.e.status}"}), ctx, {"go": False})
    assert ctx.started() == ["c"]
    assert out == {"d": ["skipped", "skipped"], "e": "skipped"}


async def test_map_fans_out_with_bounded_concurrency_and_ordered_results() -> None:
    ctx = FakeCtx({"aria_shape.generate": lambda prompt: prompt}, ticks=lambda key: random.randint(1, 6))
    out = await run(doc({"id": "m", "map": {"over": "${input.words}", "concurrency": 3, "do": {"call": {
        "service": "aria_shape", "method": "generate", "args": {"prompt": "${index}:${item}"}}}}},
        input={"words": "array"}, output="${steps.m.output}"), ctx, {"words": list("abcdefg")})
    assert ctx.peak == 3
    assert sorted(ctx.started()) == sorted(f"m[{i}]" for i in range(7))
    assert out == [f"{i}:{w}" for i, w in enumerate("abcdefg")]


async def test_loop_stops_when_until_holds_and_fails_when_exhausted() -> None:
    polls = iter([{"done": False}, {"done": False}, {"done": True, "v": 7}])
    ctx = FakeCtx({"aria_shape.score": lambda text: next(polls)})
    loop = {"id": "poll", "loop": {"max": 5, "until": {"ref": "${last.done}", "op": "==", "value": True},
                                   "do": {"call": {"service": "aria_shape", "method": "score",
                                                   "args": {"text": "try ${index} after ${last.done}"}}}}}
    out = await run(doc(loop, output="${steps.poll.output.v}"), ctx)
    assert out == 7 and ctx.started() == ["poll#0", "poll#1", "poll#2"]
    assert [op[2][2]["text"] for op in ctx.ops] == ["try 0 after ", "try 1 after false", "try 2 after false"]
    ctx = FakeCtx({"aria_shape.score": lambda text: {"done": False}})
    with pytest.raises(StepFailed) as info:
        await run(doc(loop), ctx)
    assert info.value.key == "poll" and info.value.error["type"] == "workflow-loop-exhausted"
    assert len(ctx.started()) == 5


async def test_a_failed_step_cancels_its_siblings_and_propagates() -> None:
    ctx = FakeCtx(fail=["a"], ticks=lambda key: 1 if key == "a" else 50)
    with pytest.raises(StepFailed) as info:
        await run(doc(call("a"), call("b"), call("c", needs=["a"])), ctx)
    assert info.value.key == "a"
    assert ctx.cancelled == ["b"] and "c" not in ctx.started()


async def test_compensation_undoes_completed_steps_newest_first() -> None:
    def undo(sid: str) -> dict[str, Any]:
        return {"call": {"service": "aria_storage", "method": "delete", "args": {"name": f"${{steps.{sid}.output}}"}}}

    steps = [{"id": "a", "set": {"value": "x"}, "compensate": undo("a")},
             {**call("b", needs=["a"]), "compensate": undo("b")},
             {**call("c", needs=["b"]), "compensate": undo("c")},
             call("d", needs=["c"])]
    ctx = FakeCtx({"aria_shape.generate": lambda prompt: "out-" + prompt}, fail=["d"])
    with pytest.raises(StepFailed):
        await run(doc(*steps, on_failure="compensate"), ctx)
    assert ctx.started() == ["b", "c", "d", "c:compensate", "b:compensate", "a:compensate"]
    assert [op[2][2] for op in ctx.ops[3:]] == [{"name": "out-hi"}, {"name": "out-hi"}, {"name": "x"}]
    ctx = FakeCtx(fail=["d"])
    with pytest.raises(StepFailed):
        await run(doc(*steps), ctx)  # dead_letter: nothing is undone
    assert ctx.started() == ["b", "c", "d"]


async def test_other_kinds_pass_their_keys_and_options() -> None:
    ctx = FakeCtx(signals={"approve": {"ok": True}})
    out = await run(doc(
        {"id": "j", "job": {"worker": "train", "args": {"n": "${input.n}"}, "queue": "gpu", "timeout_s": 30}},
        {"id": "w", "needs": ["j"], "sleep": {"seconds": "${input.n}"}},
        {"id": "s", "needs": ["w"], "signal": {"name": "approve", "timeout_s": 600}},
        {"id": "p", "needs": ["s"], "python": {"step": "promote", "args": {"model": "m1"}}, "retry": {"retries": 2}},
        {"id": "f", "needs": ["p"], "fail": {"message": "stop: ${steps.p.output.promoted}"},
         "when": {"ref": "steps.s.output.ok", "op": "!=", "value": True}},
        input={"n": "integer"}, output=["${steps.j.output}", "${steps.s.output}", "${steps.p.output}"]), ctx, {"n": 5})
    assert ctx.ops == [("j", "job", ("train", {"n": 5}, "gpu", 30)), ("w", "sleep", 5.0),
                       ("s", "signal", ("approve", 600)), ("p", "step", ("promote", {"model": "m1"}))]
    assert ctx.policies["p"] == StepPolicy(retries=2)
    assert out == [{"job": "train", "n": 5}, {"ok": True}, {"promoted": "m1", "threshold": 0.5}]
    with pytest.raises(StepFailed) as info:
        await run(doc({"id": "f", "fail": {"message": "stop ${input.n}"}}, input={"n": "integer"}), FakeCtx(), {"n": 2})
    assert (info.value.key, info.value.error["message"]) == ("f", "stop 2")


async def test_input_is_checked_against_its_declaration() -> None:
    source = doc(call("a", args={"prompt": "${input.p}"}), input={"p": "string", "k": "optional integer"})
    for bad in ({"k": 1}, {"p": 1}, {"p": "x", "k": True}, {"p": "x", "zz": 1}, ["p"]):
        with pytest.raises(InvalidInput):
            await run(source, FakeCtx(), bad)
    await run(source, FakeCtx(), {"p": "x", "k": None})


async def test_keys_are_step_ids_whatever_the_timing() -> None:
    seen = []
    for seed in range(4):
        rng = random.Random(seed)
        ctx = FakeCtx({"aria_shape.score": lambda text: {"auc": 0.9}}, ticks=lambda key, rng=rng: rng.randint(0, 8))
        await run(EXAMPLE, ctx, {"prompt": "elf"})
        seen.append(sorted(ctx.started()))
    assert all(s == ["gen", "promote", "score", "store"] for s in seen)


def test_compile_needs_every_python_step() -> None:
    d: Document = parse(doc({"id": "p", "python": {"step": "promote", "args": {"model": "m"}}}))
    with pytest.raises(InvalidDefinition) as info:
        compile(d)
    assert (info.value.fields["problem"], info.value.fields["where"]) == ("unknown-python-step", "steps[0].python.step")
    assert callable(compile(d, python_steps={"promote": promote}))
