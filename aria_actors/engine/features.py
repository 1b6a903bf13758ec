"""The JSON surface of GOAP, behavior trees, multi-character coordination, plan repair and plan
learning: decode a request (data only, bounded), run it, encode the answer.

The algorithms live in :mod:`goap`, :mod:`bt`, :mod:`coordination`, :mod:`repair` and
:mod:`learning`; this module only turns JSON into their inputs and their results into JSON, so the
service's methods stay thin. Everything here is synchronous and Ray-free: the service runs each
call in a worker thread under a budget it caps (``budget_of``).

Request shapes (states and todo lists in the format of :mod:`aria_actors.engine.wire`)::

    goap        {"state", "goal": {var: {key: value}}, "actions": [{"name", "preconditions",
                 "effects", "cost"}]}
    tree        {"domain", "state", "tree": NODE, "fail": [[action, args...]], "max_ticks"}
    NODE        {"sequence" | "selector" | "parallel": [NODE...], "policy": "all" | "one"}
                {"inverter" | "repeat" | "retry" | "timeout": NODE, "times" | "attempts" | "ticks": n}
                {"action": [name, args...]}   one action of the domain, run against the state
                {"task": [name, args...]} | {"plan": [todo items]}   planned, executed step by
                                              step, repaired or replanned when a step fails
                {"condition": {var: {key: value}}} | {"holds": [predicate, args...]}
                every node may carry "name"
    coordinate  {"characters": [{"character", "domain", "state", "todo", "priority"}],
                 "resources": {action: [arg index | resource name, ...]},
                 "joint_goal": {"multigoal", "vars"}, "assign": {var: {arg: character}}, "max_delay"}
    repair      {"domain", "state", "todo", "plan", "failed", "observed", "strategy"}
    learn       {"domain", "state" + "todo" | "problem", "strategy"}

Guarantees and caveats:
    - Nothing executable is accepted: actions, trees, resources and goals are data; behavior-tree
      leaves and plans run the *registered* domain's own actions (its ``c_<name>`` command first,
      as GTPyhop's acting does). ``fail`` names action instances the simulated world refuses, so
      callers can see a plan repaired or replanned.
    - Every list, map and tree is bounded (the ``MAX_*`` constants); malformed or oversized input
      raises :class:`InvalidRequestError` (422) naming the field, never a 500.
    - A domain's code raising on the input is :class:`DomainCodeError` (422), as for ``plan``.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from aria_actors.engine import bt, goap, wire
from aria_actors.engine.coordination import CharacterRequest, coordinate, split_goal
from aria_actors.engine.domain import Domain
from aria_actors.engine.errors import DomainCodeError, InvalidRequestError, PlanMismatchError
from aria_actors.engine.learning import MethodCache
from aria_actors.engine.planner import Budget, find_plan
from aria_actors.engine.registry import DomainRegistry
from aria_actors.engine.repair import Execute, repair_plan, simulate
from aria_actors.engine.runner import result_dict
from aria_actors.engine.state import Multigoal, State
from aria_actors.runtime.errors import AriaError

MAX_ACTIONS = 500          # GOAP actions of one problem
MAX_FACTS = 500            # facts of one precondition, effect or goal map
MAX_TOTAL_FACTS = 5_000    # preconditions + effects of all GOAP actions (each search node scans them)
MAX_NAME = 128             # characters of a name (action, character, resource)
MAX_TREE_NODES = 500       # nodes of one behavior tree
MAX_TREE_DEPTH = 32        # nesting of one behavior tree
MAX_PLAN_LEAVES = 32       # task/plan leaves of one tree (each may search)
MAX_TICKS = 10_000         # ticks of one behavior-tree run
MAX_REPEAT = 1_000         # times/attempts/ticks of one decorator
MAX_FAILING = 256          # action instances the simulated world refuses
MAX_CHARACTERS = 256       # characters of one coordination
MAX_RESOURCE_RULES = 256   # actions named in a resource map
MAX_DELAY = 10_000         # steps a loser may wait
MAX_CLAIMS = 100_000       # (step, resource) pairs one coordination reserves (sum of plan length x
                           # resources per step): bounds its table and the search for free delays
MAX_STEPS = 10_000         # steps of a plan to repair
MAX_TODO = 1_000           # items of one todo list


def _bad(message: str, field: str) -> InvalidRequestError:
    return InvalidRequestError(message, field=field)


def _obj(doc: Any, field: str, allowed: Iterable[str] | None = None) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise _bad(f"{field} must be an object, got {type(doc).__name__}", field)
    if allowed is not None:
        extra = sorted(set(doc) - set(allowed))
        if extra:
            raise _bad(f"{field} has unknown keys {extra}; allowed: {sorted(allowed)}", field)
    return doc


def _list(doc: Any, field: str, most: int, *, least: int = 0) -> list[Any]:
    if not isinstance(doc, list):
        raise _bad(f"{field} must be a list, got {type(doc).__name__}", field)
    if not least <= len(doc) <= most:
        raise _bad(f"{field} takes {least} to {most} items, got {len(doc)}", field)
    return doc


def _name(doc: Any, field: str) -> str:
    if not isinstance(doc, str) or not 1 <= len(doc) <= MAX_NAME:
        raise _bad(f"{field} must be a string of 1 to {MAX_NAME} characters", field)
    return doc


def _int(doc: Any, field: str, least: int, most: int) -> int:
    if isinstance(doc, bool) or not isinstance(doc, int) or not least <= doc <= most:
        raise _bad(f"{field} must be an integer from {least} to {most}, got {doc!r:.40}", field)
    return doc


def budget_of(body: dict[str, Any], max_nodes: int, max_seconds: float) -> Budget:
    """The call's budget: the body's ``max_nodes``/``max_seconds``, capped by the server's."""
    nodes, seconds = body.get("max_nodes"), body.get("max_seconds")
    if nodes is not None:
        nodes = _int(nodes, "max_nodes", 1, 2**62)
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not 0 < seconds < math.inf):
        raise _bad(f"max_seconds must be a positive number, got {seconds!r:.40}", "max_seconds")
    return Budget(min(nodes or max_nodes, max_nodes), min(float(seconds or max_seconds), max_seconds))


def _state(body: dict[str, Any], key: str = "state") -> State:
    if body.get(key) is None:
        raise _bad(f"{key} is required: {{\"name\": ..., \"vars\": {{...}}}}", key)
    return wire.decode_state(body[key])


def _todo(doc: Any, field: str) -> list[Any]:
    return wire.decode_todo(_list(doc, field, MAX_TODO))


def _step(doc: Any, field: str) -> tuple[Any, ...]:
    if not isinstance(doc, list) or not doc or not isinstance(doc[0], str) or len(doc) > 64:
        raise _bad(f"{field} must be [name, args...] (at most 64 elements)", field)
    return tuple(wire.decode_value(x) for x in doc)


def _hashable(step: tuple[Any, ...], field: str) -> tuple[Any, ...]:
    """A step compared by value (a set member): its arguments must hash, as a plan's do."""
    try:
        hash(step)
    except TypeError:
        raise _bad(f"{field}: arguments must be strings, numbers, booleans, null or $tuple, "
                   "not lists, objects or $set", field) from None
    return step


def encode_item(item: Any) -> Any:
    """A plan step or todo item as JSON: a list, or a multigoal object."""
    if isinstance(item, Multigoal):
        return {"multigoal": item.__name__, "vars": wire.encode_value(item.goals())}
    if isinstance(item, (tuple, list)):
        return [wire.encode_value(x) for x in item]
    return wire.encode_value(item)


def _steps(plan: list[Any] | None) -> list[Any] | None:
    return None if plan is None else [encode_item(s) for s in plan]


def _domain_code(domain: Domain, run: Callable[[], Any]) -> Any:
    """``run()``, with what the domain's own code raises on this input as a 422 (see planner)."""
    try:
        return run()
    except AriaError:
        raise
    except Exception as exc:
        raise DomainCodeError(f"{type(exc).__name__} in the domain's code: {exc}"[:500],
                              domain=domain.name, error=type(exc).__name__) from exc


# -- GOAP ----------------------------------------------------------------------------------------
def _facts(doc: Any, field: str, *, least: int = 0) -> dict[goap.Fact, Any]:
    out: dict[goap.Fact, Any] = {}
    for var, keys in _obj(doc, field).items():
        for key, value in _obj(keys, f"{field}.{var}").items():
            decoded = wire.decode_value(value)
            if isinstance(decoded, set):
                decoded = frozenset(decoded)  # equal to the state's set, and a fact must hash
            try:
                hash(decoded)
            except TypeError:
                raise _bad(f"{field}.{var}.{key}: a fact's value must be a string, number, boolean, "
                           f"null, $tuple or $set, got {value!r:.60}", f"{field}.{var}.{key}") from None
            out[(var, key)] = decoded
            if len(out) > MAX_FACTS:
                raise _bad(f"{field} has more than {MAX_FACTS} facts", field)
    if len(out) < least:
        raise _bad(f"{field} needs at least {least} fact", field)
    return out


def goap_actions(docs: Any) -> list[goap.GoapAction]:
    out, seen, total = [], set(), 0
    for i, doc in enumerate(_list(docs, "actions", MAX_ACTIONS, least=1)):
        field = f"actions[{i}]"
        a = _obj(doc, field, ("name", "preconditions", "effects", "cost"))
        name = _name(a.get("name"), f"{field}.name")
        if name in seen:
            raise _bad(f"{field}: action name {name!r} repeats; names must be unique", f"{field}.name")
        seen.add(name)
        cost = a["cost"] if a.get("cost") is not None else 1.0
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not 0 < cost < math.inf:
            raise _bad(f"{field}.cost must be a positive number, got {cost!r:.40}", f"{field}.cost")
        action = goap.GoapAction(name, _facts(a.get("preconditions") or {}, f"{field}.preconditions"),
                                 _facts(a.get("effects"), f"{field}.effects", least=1), float(cost))
        total += len(action.preconditions) + len(action.effects)
        if total > MAX_TOTAL_FACTS:
            raise _bad(f"the actions have more than {MAX_TOTAL_FACTS} preconditions and effects in all", field)
        out.append(action)
    return out


def run_goap(body: dict[str, Any], budget: Budget) -> dict[str, Any]:
    """A cheapest GOAP plan (action names) from ``state`` to ``goal``, and the state it leads to."""
    _obj(body, "body", ("state", "goal", "actions", "max_nodes", "max_seconds"))
    state = _state(body)
    goal = _facts(body.get("goal"), "goal")
    actions = goap_actions(body.get("actions"))
    for var in {f[0] for a in actions for f in (*a.preconditions, *a.effects)} | {f[0] for f in goal}:
        if state.peek(var) is not None and not isinstance(state.peek(var), dict):
            raise _bad(f"state variable {var!r} must be an object (key -> value) to hold facts", f"state.{var}")
    r = goap.plan(state, goal, actions, max_nodes=budget.max_nodes or 100_000, max_seconds=budget.max_seconds)
    out: dict[str, Any] = {"status": r.status, "plan": r.plan, "cost": r.cost, "nodes": r.nodes,
                           "elapsed_s": r.elapsed_s, "state": None}
    if r and r.plan is not None:
        out["state"] = wire.encode_state(goap.apply_plan(state, r.plan, actions))
    return out


# -- behavior trees ------------------------------------------------------------------------------
COMPOSITES = {"sequence": bt.Sequence, "selector": bt.Selector, "parallel": bt.Parallel}
DECORATORS = {"inverter": None, "repeat": "times", "retry": "attempts", "timeout": "ticks"}
LEAVES = ("action", "task", "plan", "condition", "holds")


def simulated_world(domain: Domain, failing: set[tuple[Any, ...]]) -> Execute:
    """Runs a step with the domain's command (``c_<name>``) or action model; ``failing`` refuse."""
    def execute(step: tuple[Any, ...], state: State) -> State | None:
        try:
            refused = step in failing
        except TypeError:  # a step holding a list or an object: no refused step is equal to it
            refused = False
        if refused:
            return None
        fn = domain._command_dict.get("c_" + step[0]) or domain._action_dict.get(step[0])
        new = fn(state, *step[1:]) if fn else None
        return new if isinstance(new, State) else None
    return execute


class _TreeBuilder:
    def __init__(self, domain: Domain, execute: Execute, budget: Budget, clock: Callable[[], float],
                 deadline: float | None = None) -> None:
        self.domain, self.execute, self.budget, self.clock = domain, execute, budget, clock
        self.deadline = deadline  # time.perf_counter() instant every plan leaf's searches share
        self.count = 0
        self.plans: list[bt.RunPlan] = []

    def build(self, doc: Any, field: str, depth: int) -> bt.Node:
        if depth > MAX_TREE_DEPTH:
            raise _bad(f"the tree is nested deeper than {MAX_TREE_DEPTH} levels", field)
        self.count += 1
        if self.count > MAX_TREE_NODES:
            raise _bad(f"the tree has more than {MAX_TREE_NODES} nodes", field)
        node = _obj(doc, field)
        kinds = [k for k in (*COMPOSITES, *DECORATORS, *LEAVES) if k in node]
        if len(kinds) != 1:
            raise _bad(f"{field} must have exactly one of {[*COMPOSITES, *DECORATORS, *LEAVES]}", field)
        kind = kinds[0]
        options = {"name"} | ({"policy"} if kind == "parallel" else set()) | (
            {DECORATORS[kind]} if DECORATORS.get(kind) else set())
        _obj(node, field, {kind, *options})
        name = _name(node["name"], f"{field}.name") if "name" in node else None
        sub = f"{field}.{kind}"
        if kind in COMPOSITES:
            children = [self.build(c, f"{sub}[{i}]", depth + 1)
                        for i, c in enumerate(_list(node[kind], sub, MAX_TREE_NODES, least=1))]
            if kind == "parallel":
                policy = node.get("policy", "all")
                if policy not in ("all", "one"):
                    raise _bad(f"{field}.policy must be 'all' or 'one'", f"{field}.policy")
                return bt.Parallel(children, policy, name)
            return COMPOSITES[kind](children, name)  # type: ignore[no-any-return]
        if kind in DECORATORS:
            child = self.build(node[kind], sub, depth + 1)
            if kind == "inverter":
                return bt.Inverter(child, name)
            key = DECORATORS[kind]
            assert key is not None
            n = _int(node.get(key), f"{field}.{key}", 1, MAX_REPEAT)
            if kind == "repeat":
                return bt.Repeat(child, n, name)
            if kind == "retry":
                return bt.Retry(child, n, name)
            return bt.Timeout(child, n, clock=self.clock, name=name)  # seconds counted in ticks
        return self._leaf(kind, node[kind], sub, name)

    def _leaf(self, kind: str, doc: Any, field: str, name: str | None) -> bt.Node:
        if kind == "condition":
            facts = _facts(doc, field, least=1)

            def check(bb: bt.Blackboard) -> bool:
                state: State = bb["state"]
                return all(isinstance(state.peek(v), dict) and state.peek(v).get(k) == val
                           for (v, k), val in facts.items())
            return bt.Condition(check, name or "condition")
        if kind == "holds":
            pred = _step(doc, field)
            if pred[0] not in self.domain.predicates:
                raise _bad(f"domain {self.domain.name!r} declares no predicate {pred[0]!r}; it declares "
                           f"{sorted(self.domain.predicates)}", field)
            return bt.Condition(lambda bb: self.domain.holds(bb["state"], *pred), name or f"holds {pred[0]}")
        if kind == "action":
            step = _step(doc, field)
            if self.domain.kind_of(step) != "action":
                raise _bad(f"{step[0]!r} is not an action of domain {self.domain.name!r}; its actions: "
                           f"{sorted(self.domain._action_dict)}", field)

            def act(bb: bt.Blackboard) -> bool:
                observed = self.execute(step, bb["state"].copy())
                if not isinstance(observed, State):
                    return False
                bb["state"] = observed
                bb.setdefault("executed", []).append(step)
                return True
            return bt.Action(act, name or step[0])
        todo = [_step(doc, field)] if kind == "task" else _todo(doc, field)
        if len(self.plans) >= MAX_PLAN_LEAVES:
            raise _bad(f"a tree takes at most {MAX_PLAN_LEAVES} task/plan leaves", field)
        node = bt.RunPlan(self.domain, todo, self.execute, name=name, budget=self.budget,
                          deadline=self.deadline)
        self.plans.append(node)
        return node


def run_tree(registry: DomainRegistry, body: dict[str, Any], budget: Budget, max_ticks: int) -> dict[str, Any]:
    """Tick a behavior tree over ``state`` until it succeeds, fails or runs out of ticks or time."""
    _obj(body, "body", ("domain", "state", "tree", "fail", "max_ticks", "max_nodes", "max_seconds"))
    domain = registry.get(_name(body.get("domain"), "domain"))
    state = _state(body)
    asked = body.get("max_ticks")
    ticks_allowed = min(max_ticks if asked is None else _int(asked, "max_ticks", 1, MAX_TICKS), max_ticks)
    failing = {_hashable(_step(s, f"fail[{i}]"), f"fail[{i}]")
               for i, s in enumerate(_list(body.get("fail") or [], "fail", MAX_FAILING))}
    ticks = [0]
    t0 = time.perf_counter()
    deadline = t0 + (budget.max_seconds or math.inf)
    # One deadline for every plan leaf: a parallel of many leaves shares the call's time.
    builder = _TreeBuilder(domain, simulated_world(domain, failing), budget, clock=lambda: float(ticks[0]),
                           deadline=deadline)
    root = builder.build(body.get("tree"), "tree", 1)
    bb: bt.Blackboard = {"state": state, "executed": [], "executed_repairs": []}
    status, message = bt.Status.RUNNING, ""

    def tick() -> bt.Status:
        return root.tick(bb)

    while True:
        remaining = deadline - time.perf_counter()
        if ticks[0] >= ticks_allowed or remaining <= 0:
            message = (f"still running after {ticks[0]} ticks (max_ticks)" if remaining > 0
                       else f"still running when the time budget ({budget.max_seconds:g} s) ran out")
            break
        status = _domain_code(domain, tick)
        ticks[0] += 1
        if status is not bt.Status.RUNNING:
            message = f"the tree ended with {status.value} after {ticks[0]} ticks"
            break
    return {"status": status.value, "ticks": ticks[0], "executed": _steps(bb["executed"]),
            "repairs": len(bb["executed_repairs"]), "state": wire.encode_state(bb["state"]),
            "elapsed_s": time.perf_counter() - t0, "message": message}


# -- multi-character coordination ----------------------------------------------------------------
def resource_rule(doc: Any) -> Callable[[tuple[Any, ...]], list[str]]:
    """``{action: [arg index | resource name]}`` as ``resources(step) -> names`` (index 1: first arg)."""
    rules: dict[str, list[int | str]] = {}
    for action, picks in _obj(doc, "resources").items():
        if len(rules) >= MAX_RESOURCE_RULES:
            raise _bad(f"resources names at most {MAX_RESOURCE_RULES} actions", "resources")
        field = f"resources.{action}"
        rules[action] = []
        for j, pick in enumerate(_list(picks, field, 64)):
            if isinstance(pick, bool) or not isinstance(pick, (int, str)):
                raise _bad(f"{field}[{j}] must be an argument index (1 = first) or a resource name",
                           f"{field}[{j}]")
            rules[action].append(_int(pick, f"{field}[{j}]", 1, 63) if isinstance(pick, int)
                                 else _name(pick, f"{field}[{j}]"))

    def resources(step: tuple[Any, ...]) -> list[str]:
        return [str(step[p]) if isinstance(p, int) else p
                for p in rules.get(step[0], ()) if not isinstance(p, int) or p < len(step)]
    return resources


def _joint(body: dict[str, Any], names: list[str]) -> dict[str, Multigoal]:
    shape = "joint_goal must be {\"multigoal\": name, \"vars\": {var: {arg: value}}}"
    doc = _obj(body["joint_goal"], "joint_goal")
    for var, args in _obj(doc.get("vars"), "joint_goal.vars").items():
        _obj(args, f"joint_goal.vars.{var}")  # split_goal deals out each variable's {arg: value}
    goal = wire.decode_todo([doc])[0]
    if not isinstance(goal, Multigoal):
        raise _bad(shape, "joint_goal")
    assign: dict[str, dict[str, str]] = {}
    for var, args in _obj(body.get("assign") or {}, "assign").items():
        assign[var] = {}
        for arg, who in _obj(args, f"assign.{var}").items():
            if who not in names:  # names are strings: a list or an object is refused here too
                raise _bad(f"assign.{var}.{arg} must name one of the characters, got {who!r:.60}",
                           f"assign.{var}.{arg}")
            assign[var][arg] = who
    turn = itertools.count()

    def who(var: str, arg: Any, _value: Any) -> str:
        chosen = assign.get(var, {}).get(arg)
        return chosen if chosen is not None else names[next(turn) % len(names)]
    try:
        return split_goal(goal, names, assign=who)
    except ValueError as exc:
        raise _bad(str(exc), "assign") from None


def run_coordination(registry: DomainRegistry, body: dict[str, Any], budget: Budget) -> dict[str, Any]:
    """Plan every character, reserve shared resources by priority, replan or delay the losers."""
    _obj(body, "body", ("characters", "resources", "joint_goal", "assign", "max_delay", "max_nodes",
                        "max_seconds"))
    docs = _list(body.get("characters"), "characters", MAX_CHARACTERS, least=1)
    requests: list[CharacterRequest] = []
    for i, doc in enumerate(docs):
        field = f"characters[{i}]"
        c = _obj(doc, field, ("character", "domain", "state", "todo", "priority"))
        name = _name(c.get("character"), f"{field}.character")
        if any(r.character == name for r in requests):
            raise _bad(f"{field}: character {name!r} repeats", f"{field}.character")
        requests.append(CharacterRequest(
            name, _state(c), _todo(c.get("todo") or [], f"{field}.todo"),
            priority=_int(c.get("priority") or 0, f"{field}.priority", -10**6, 10**6),
            domain=registry.get(_name(c.get("domain"), f"{field}.domain"))))
    resources = resource_rule(body.get("resources") or {})
    goals: dict[str, Multigoal] = {}
    if body.get("joint_goal") is not None:
        goals = _joint(body, [r.character for r in requests])
        for r in requests:
            if goals[r.character].goals():
                r.todo = [*r.todo, goals[r.character]]
    max_delay = _int(body["max_delay"] if body.get("max_delay") is not None else 1000, "max_delay", 0, MAX_DELAY)
    # Each character may search twice (its plan, then a replan as a loser): the call's time is
    # shared among those searches, so the whole coordination ends within its budget.
    per_search = Budget(budget.max_nodes, (budget.max_seconds or 30.0) / (2 * len(requests)))
    t0 = time.perf_counter()
    assert requests[0].domain is not None
    schedules, table = coordinate(requests[0].domain, requests, resources, budget=per_search,
                                  max_delay=max_delay, deadline=t0 + (budget.max_seconds or 30.0),
                                  max_claims=MAX_CLAIMS)
    return {
        "schedules": [{"character": s.character, "priority": s.priority, "status": s.status,
                       "plan": _steps(s.plan), "delay": s.delay, "replanned": s.replanned,
                       "lost_to": s.lost_to, "claims": [[step, res] for step, res in s.claims],
                       "goal": encode_item(goals[s.character]) if s.character in goals else None}
                      for s in schedules],
        "reserved": len(table), "elapsed_s": time.perf_counter() - t0}


# -- plan repair ---------------------------------------------------------------------------------
def run_repair(registry: DomainRegistry, body: dict[str, Any], budget: Budget) -> dict[str, Any]:
    """Repair ``plan`` (made from ``state`` for ``todo``) whose step ``failed`` could not run.

    The plan's decomposition tree is rebuilt by planning again (the same state, todo and
    strategy must give the same plan, else PlanMismatchError); the state at the failure is
    ``observed`` when given (the world changed), else the plan's prefix simulated from ``state``.
    Only the steps below the lowest node that can be re-refined change.
    """
    _obj(body, "body", ("domain", "state", "todo", "plan", "failed", "observed", "strategy",
                        "max_nodes", "max_seconds"))
    domain = registry.get(_name(body.get("domain"), "domain"))
    state, todo = _state(body), _todo(body.get("todo"), "todo")
    plan = [_step(s, f"plan[{i}]") for i, s in enumerate(_list(body.get("plan"), "plan", MAX_STEPS, least=1))]
    failed = _int(body.get("failed"), "failed", 0, len(plan) - 1)
    strategy = body.get("strategy") or "dfs"
    if strategy not in ("dfs", "greedy"):
        raise _bad(f"strategy must be 'dfs' or 'greedy', not {strategy!r:.40}", "strategy")
    t0 = time.perf_counter()
    original = find_plan(domain, state, todo, strategy=strategy, budget=budget, record_tree=True)
    if original.plan != plan or original.action_nodes is None:
        raise PlanMismatchError(
            f"planning this state and todo list gives {original.status}"
            + (f" with a different plan ({len(original.plan)} steps)" if original.plan is not None else "")
            + "; send the state and todo list the plan was made from", status_found=original.status)
    prefix, bad = _domain_code(domain, lambda: simulate(domain, state, plan[:failed]))
    if bad is not None:
        raise _bad(f"step {bad} of the plan does not apply before the failed step {failed}", f"plan[{bad}]")
    at = _state(body, "observed") if body.get("observed") is not None else prefix
    fixed = _domain_code(domain, lambda: repair_plan(domain, plan, original.action_nodes or [], failed, at,
                                                     todo, budget=budget))
    out: dict[str, Any] = {"status": "no_repair", "failed": failed, "failed_step": encode_item(plan[failed]),
                           "plan": None, "remaining": None, "node": None, "changed": None}
    if fixed is not None:
        changed = [i for i in range(failed, max(len(plan), len(fixed.new_plan)))
                   if i >= len(plan) or i >= len(fixed.new_plan) or plan[i] != fixed.new_plan[i]]
        out.update(status="repaired", plan=_steps(fixed.new_plan), remaining=_steps(fixed.new_plan[failed:]),
                   node=None if fixed.node is None else {"item": encode_item(fixed.node.item),
                                                         "kind": fixed.node.kind},
                   changed=changed)
    out["elapsed_s"] = time.perf_counter() - t0
    return out


# -- plan learning -------------------------------------------------------------------------------
def run_learned(registry: DomainRegistry, cache: MethodCache, body: dict[str, Any],
                budget: Budget) -> dict[str, Any]:
    """Plan with ``cache`` ordering the methods, then record the found plan's method choices."""
    _obj(body, "body", ("domain", "state", "todo", "problem", "strategy", "max_nodes", "max_seconds"))
    name = _name(body.get("domain"), "domain")
    domain = registry.get(name)
    if body.get("problem") is not None:
        if body.get("state") is not None or body.get("todo") is not None:
            raise _bad("give either problem, or state and todo, not both", "problem")
        state, todo = registry.problem(name, _name(body["problem"], "problem"))
    else:
        state, todo = _state(body), _todo(body.get("todo"), "todo")
    strategy = body.get("strategy") or "dfs"
    if strategy not in ("dfs", "greedy"):
        raise _bad(f"strategy must be 'dfs' or 'greedy', not {strategy!r:.40}", "strategy")
    counts = {"hits": 0, "lookups": 0}

    def order(item: Any, at: State, methods: list[Any]) -> list[Any]:
        counts["lookups"] += 1
        counts["hits"] += cache.known(item, at)
        return cache.order(item, at, methods)

    result = find_plan(domain, state, todo, strategy=strategy, budget=budget, record_tree=True,
                       method_order=order)
    learned = cache.learn(result, initial=state)
    out = result_dict(result)
    out.pop("character", None)
    out["learning"] = {**counts, "learned": learned, "entries": len(cache)}
    return out
