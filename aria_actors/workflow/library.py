"""The workflows Aria ships (registered at start through ``[workflow] modules``).

- ``create-character``: aria_shape creates the character (generated from a template) -> its
  portrait is rendered and stored in aria_storage -> aria_interpret stores its description's
  embedding and traits (similarity search, recommendations) -> aria_engine plans its first goals
  (GOAP over needs its traits make urgent). On failure, the stored portrait and the interpret
  record are removed again (compensation, in reverse).
- ``retrain-and-promote``: aria_interpret trains a new recommender version (an aria_queue job),
  its test GAUC is compared with the served version's, a good one is A/B tested against it for a
  while and promoted if it leads on feedback, else the split ends and the served one stays.

Each call acts as the run's starter: the starter needs the rights of every call (an editor for
create-character; retrain-and-promote deploys models: an operator).
"""

from __future__ import annotations

from typing import Any

from aria_actors.engine.client import EngineClient
from aria_actors.interpret.client import InterpretClient
from aria_actors.shape.client import ShapeClient
from aria_actors.storage.client import StorageClient
from aria_actors.workflow.context import call_client
from aria_actors.workflow.definition import step, workflow

# What a character may want first, and how much its traits make it matter (lower cost = sooner).
NEEDS = {
    "explored": ("explore", {"curious", "adventurous", "brave", "restless"}),
    "befriended": ("make_friend", {"kind", "loyal", "cheerful", "friendly", "gentle"}),
    "trained": ("train", {"ambitious", "disciplined", "brave", "stubborn"}),
    "learned": ("study", {"wise", "curious", "clever", "scholarly"}),
    "rested": ("rest", {"lazy", "calm", "gentle", "patient"}),
}


async def _remove_portrait(stored: dict[str, Any], *_: Any) -> None:
    await call_client(StorageClient.delete_version, name=stored["name"], version=stored["version"])


@step(name="store-portrait", retries=2, backoff_s=0.5, compensate=_remove_portrait)
async def store_portrait(name: str, svg: str, character_id: str) -> dict[str, Any]:
    stored = await call_client(StorageClient.put, name=name, data=svg.encode(), content_type="image/svg+xml",
                                metadata={"character": character_id})
    return {"name": name, "version": int(stored["version"])}


async def _forget(saved: dict[str, Any], character_id: str, *_: Any) -> None:
    await call_client(InterpretClient.delete_character, character_id=character_id)


@step(name="index-character", retries=2, backoff_s=0.5, compensate=_forget)
async def index_character(character_id: str, description: str, traits: list[str]) -> dict[str, Any]:
    saved = await call_client(InterpretClient.put_character, character_id=character_id,
                               description=description or " ".join(traits) or character_id, traits=traits)
    return {"character_id": character_id, "traits": saved.get("traits", traits)}


@step(name="goal-problem")
def goal_problem(character_id: str, traits: list[str]) -> dict[str, Any]:
    """A GOAP problem: every need false, each need's action cheaper the more of the character's
    traits speak for it; the goal is the two needs its traits press most."""
    have = {t.lower() for t in traits}
    weight = {need: len(have & words) for need, (_, words) in NEEDS.items()}
    goal_needs = sorted(NEEDS, key=lambda n: (-weight[n], n))[:2]
    actions = [{"name": action, "preconditions": {}, "effects": {"needs": {need: True}},
                "cost": max(1, 5 - 2 * weight[need])} for need, (action, _) in NEEDS.items()]
    return {"state": {"name": character_id, "vars": {"needs": dict.fromkeys(NEEDS, False)}},
            "goal": {"needs": dict.fromkeys(goal_needs, True)}, "actions": actions}


@workflow(name="create-character", version=1, on_failure="compensate",
          input={"template": "string", "name": "string?", "seed": "integer?"})
async def create_character(ctx: Any, inp: dict[str, Any]) -> dict[str, Any]:
    """Create a character end to end: shape -> portrait in storage -> interpret -> first goals."""
    made = await ctx.invoke(ShapeClient.create_character, template=inp["template"], name=inp.get("name", ""),
                            seed=inp.get("seed"), describe=True, change="created by workflow")
    character_id = made["id"]
    character = made.get("character") or await ctx.invoke(ShapeClient.get_character, character_id=character_id)
    character = character.get("character", character)
    svg = await ctx.invoke(ShapeClient.portrait, character=character)
    owner = ctx.starter.get("subject") or "workflow"
    portrait = await ctx.step(store_portrait, f"users/{owner}/characters/{character_id}/portrait.svg", svg,
                              character_id)
    traits = list(character.get("traits") or [])
    indexed = await ctx.step(index_character, character_id, character.get("description") or "", traits)
    problem = await ctx.step(goal_problem, character_id, traits)
    plan = await ctx.invoke(EngineClient.goap, body=problem)
    return {"character_id": character_id, "name": character.get("name"), "traits": indexed["traits"],
            "portrait": portrait, "goals": sorted(problem["goal"]["needs"]), "plan": plan.get("plan"),
            "plan_cost": plan.get("cost")}


@workflow(name="retrain-and-promote", version=1,
          input={"version": "string", "dataset": "string?", "config": "object?", "min_gain": "number?",
                 "ab_seconds": "number?", "ab_share": "number?", "poll_s": "number?", "max_polls": "integer?"})
async def retrain_and_promote(ctx: Any, inp: dict[str, Any]) -> dict[str, Any]:
    """Train a recommender version, compare it with the served one, A/B it, promote or roll back."""
    version = inp["version"]
    job = await ctx.invoke(InterpretClient.start_training, version=version,
                           dataset=inp.get("dataset", "interactions"), config=inp.get("config") or {}, promote=False)
    status: dict[str, Any] = {}
    for _ in range(int(inp.get("max_polls", 240))):  # a bounded wait, each poll a durable step
        status = await ctx.invoke(InterpretClient.training_status, job_id=job["job_id"])
        if status.get("state") in ("completed", "discarded", "cancelled"):
            break
        await ctx.sleep(float(inp.get("poll_s", 5.0)))
    if status.get("state") != "completed":
        return {"version": version, "outcome": "training-failed", "status": status.get("state")}
    served = await ctx.invoke(InterpretClient.serving_status)
    current = served.get("served")
    new = await ctx.invoke(InterpretClient.get_version, version=version)
    new_gauc = float(new.get("metrics", {}).get("test_gauc", 0.0))
    if current is None:
        await ctx.invoke(InterpretClient.promote, version=version, reason="first version (workflow)")
        return {"version": version, "outcome": "promoted", "gauc": new_gauc, "previous": None}
    old = await ctx.invoke(InterpretClient.get_version, version=current)
    old_gauc = float(old.get("metrics", {}).get("test_gauc", 0.0))
    if new_gauc < old_gauc + float(inp.get("min_gain", 0.0)):
        return {"version": version, "outcome": "kept-served", "gauc": new_gauc, "served_gauc": old_gauc,
                "served": current}
    share = float(inp.get("ab_share", 0.5))
    await ctx.invoke(InterpretClient.set_traffic, weights={version: share, current: 1.0 - share})
    await ctx.sleep(float(inp.get("ab_seconds", 3600.0)))
    report = await ctx.invoke(InterpretClient.traffic_report)
    if report.get("leader") == version:
        await ctx.invoke(InterpretClient.promote, version=version, reason="won the A/B test (workflow)")
        outcome = "promoted"
    else:
        await ctx.invoke(InterpretClient.set_traffic, weights=None)
        outcome = "rolled-back"
    return {"version": version, "outcome": outcome, "gauc": new_gauc, "served_gauc": old_gauc, "served": current,
            "report": report}
