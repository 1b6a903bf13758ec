"""Permission decisions: aria_auth's grants decision core against pycasbin, same data, same queries.

Data (seeded): 10,000 users in one tenant, 1,000 roles (1-3 permissions each: most on other
services, some on the four resource kinds, a few denies), 500 groups (each user in 0-3), 50,000
resources with an owner each, and 100,000 grants (user 75%, group 24.5%, tenant 0.5%; 5% deny).

- Aria: :class:`aria_actors.auth.grants_decide.GrantIndex` built from that data; a decision is what
  the ``may`` RPC runs after its permission check: check kind, id and action, build the subject
  (roles, tenant), decide with the explanation string (``because``).
- pycasbin (the installed version is printed; the issue names "pycasbin 2.8", which is not the
  version used if the two differ), ``casbin.FastEnforcer`` filtering policies on the action: RBAC
  with resource roles. ``g`` links users to roles, groups and their tenant, and subjects to
  ``<kind>:<id>#<relation>`` (a grant, ``#!<relation>`` a deny grant, the owner ``#owner``);
  policies give each relation its verbs and each role its permissions on a kind; the effect is
  allow-unless-denied. One request: ``(user, kind:id, verb, svc:kind)``; a bool.

Both sides answer every query alike (checked: mismatches are printed, and make the exit status 1).
Timing: ``time.perf_counter_ns`` around each decision, both sides in alternating rounds over the
same queries after a warm-up round each; the garbage collector is off while timing both sides.
Prints ``authz p50: aria X us, peer Y us, ratio Z`` and ``authz p99: ...`` (ratio = aria / peer:
lower is better for Aria; the goal is p50 <= 0.5). Asserts nothing about time.

Run: ``.venv/bin/python bench/authz.py [--queries 3000] [--rounds 2] [--users 10000] ...``
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/queue.py would shadow the standard library's queue.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse
import gc
import importlib.metadata
import random
import time
from dataclasses import dataclass, field

TENANT = "bench"
KINDS = {"character": "shape", "asset": "storage", "workflow": "workflow", "model": "shape"}
VERBS = {"viewer": ("read", "list"), "editor": ("read", "list", "write"),
         "owner": ("read", "list", "write", "delete", "share")}
ALL_VERBS = ("read", "list", "write", "delete", "share")
OTHER = ["queue:job:read", "queue:job:write", "interface:session:write", "engine:decision:read",
         "interpret:model:read", "data:table:list", "monitor:metric:read", "security:token:read"]

CASBIN_MODEL = """
[request_definition]
r = sub, obj, act, kind

[policy_definition]
p = sub, obj, act, eft

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.act == p.act && ((p.obj == "*" && g(r.sub, r.obj + p.sub)) || (p.obj == r.kind && g(r.sub, p.sub)))
"""


@dataclass
class Data:
    users: list[str]
    roles: dict[str, tuple[str, ...]]
    user_roles: dict[str, tuple[str, ...]]
    groups: list[str]
    members: dict[str, list[str]]  # user -> groups
    resources: list[tuple[str, str, str]]  # kind, id, owner
    grants: list[tuple[str, str, str, str, str]]  # kind, id, subject, relation, effect
    queries: list[tuple[str, str, str, str]] = field(default_factory=list)  # user, verb, kind, id


def uid(i: int, prefix: str = "0") -> str:
    return f"{prefix}0000000-0000-0000-0000-{i:012d}"


def make_data(n_users: int, n_roles: int, n_groups: int, n_resources: int, n_grants: int, n_queries: int,
              seed: int) -> Data:
    rng = random.Random(seed)
    users = [uid(i) for i in range(n_users)]
    groups = [uid(i, "1") for i in range(n_groups)]
    kind_perms = [f"{svc}:{kind}:{verb}" for kind, svc in KINDS.items() for verb in ALL_VERBS]
    roles: dict[str, tuple[str, ...]] = {}
    for i in range(n_roles):
        perms = set(rng.sample(OTHER, rng.randint(1, 3)))
        if rng.random() < 0.05:  # a few roles reach the resource kinds, fewer still deny one
            perms.add(rng.choice(kind_perms))
        if rng.random() < 0.01:
            perms.add("!" + rng.choice(kind_perms))
        roles[f"r{i}"] = tuple(sorted(perms))
    role_names = list(roles)
    user_roles = {u: tuple(rng.sample(role_names, rng.randint(1, 3))) for u in users}
    members = {u: rng.sample(groups, rng.choice((0, 1, 1, 2, 3))) for u in users}
    resources = [(rng.choice(list(KINDS)), str(i), rng.choice(users)) for i in range(n_resources)]
    grants: set[tuple[str, str, str, str, str]] = set()
    while len(grants) < n_grants:
        kind, rid, _owner = rng.choice(resources)
        x = rng.random()
        subject = (f"user:{rng.choice(users)}" if x < 0.75 else f"group:{rng.choice(groups)}" if x < 0.995
                   else f"tenant:{TENANT}")
        grants.add((kind, rid, subject, rng.choice(("viewer", "viewer", "editor", "owner")),
                    "deny" if rng.random() < 0.05 else "allow"))
    data = Data(users, roles, user_roles, groups, members, resources, sorted(grants))
    # Half the queries ask about a resource the user has a grant on (directly or through a group,
    # or owns); half about any resource: a mix of allowed and denied.
    by_user: dict[str, list[tuple[str, str]]] = {}
    group_users: dict[str, list[str]] = {}
    for u, gs in members.items():
        for g in gs:
            group_users.setdefault(g, []).append(u)
    for kind, rid, subject, _rel, _eff in data.grants:
        if subject.startswith("user:"):
            by_user.setdefault(subject[5:], []).append((kind, rid))
        elif subject.startswith("group:"):
            for u in group_users.get(subject[6:], ())[:3]:
                by_user.setdefault(u, []).append((kind, rid))
    for kind, rid, owner in resources[: n_resources // 10]:
        by_user.setdefault(owner, []).append((kind, rid))
    related = list(by_user.items())
    for _ in range(n_queries):
        verb = rng.choice(ALL_VERBS)
        if rng.random() < 0.5:
            u, targets = rng.choice(related)
            kind, rid = rng.choice(targets)
        else:
            u = rng.choice(users)
            kind, rid, _owner = rng.choice(resources)
        data.queries.append((u, verb, kind, rid))
    return data


def build_aria(data: Data):  # type: ignore[no-untyped-def]
    from aria_actors.auth.grants_decide import Grant, GrantIndex, Resource, RoleRules

    index = GrantIndex(RoleRules(data.roles))
    for kind, rid, owner in data.resources:
        index.put_resource(Resource(kind, rid, TENANT, owner))
    for g in data.groups:
        index.put_group(g, TENANT, g)
    for u, gs in data.members.items():
        for g in gs:
            index.add_member(g, u)
    for i, (kind, rid, subject, relation, effect) in enumerate(data.grants):
        index.put_grant(Grant(str(i), kind, rid, subject, relation, effect))
    return index


def build_casbin(data: Data):  # type: ignore[no-untyped-def]
    import casbin
    from casbin.model import FastModel

    model = FastModel([2])  # policies filtered on the action (p.act is field 2, as r.act)
    model.load_model_from_text(CASBIN_MODEL)
    enforcer = casbin.FastEnforcer(model, cache_key_order=[2])
    enforcer.enable_auto_build_role_links(False)
    policies = []
    for relation, verbs in VERBS.items():
        for verb in verbs:
            policies.append([f"#{relation}", "*", verb, "allow"])
            policies.append([f"#!{relation}", "*", verb, "deny"])
    for role, perms in data.roles.items():
        for perm in perms:
            deny = perm.startswith("!")
            svc, kind, verb = perm.lstrip("!").split(":")
            policies.append([f"role:{role}", f"{svc}:{kind}", verb, "deny" if deny else "allow"])
    enforcer.add_policies(policies)
    links = []
    for u in data.users:
        links.extend([f"user:{u}", f"role:{r}"] for r in data.user_roles[u])
        links.extend([f"user:{u}", f"group:{g}"] for g in data.members[u])
        links.append([f"user:{u}", f"tenant:{TENANT}"])
    for kind, rid, owner in data.resources:
        links.append([f"user:{owner}", f"{kind}:{rid}#owner"])
    for kind, rid, subject, relation, effect in data.grants:
        links.append([subject, f"{kind}:{rid}#{'!' if effect == 'deny' else ''}{relation}"])
    enforcer.add_grouping_policies(links)
    enforcer.build_role_links()
    return enforcer, len(policies), len(links)


LITERAL_MODEL = """
[request_definition]
r = sub, obj, act, kind

[policy_definition]
p = sub, obj, act, eft

[role_definition]
g = _, _
g2 = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = g(r.sub, p.sub) && (p.obj == r.obj || p.obj == r.kind) && g2(p.act, r.act)
"""


def build_casbin_literal(data: Data):  # type: ignore[no-untyped-def]
    """The textbook form: every grant and owner a policy (sub, kind:id, relation), relations -> verbs
    through g2 (owner > editor > viewer), roles' permissions policies on ``svc:kind``. pycasbin
    evaluates its matcher once per policy for every request."""
    import casbin

    enforcer = casbin.Enforcer(casbin.Enforcer.new_model(text=LITERAL_MODEL))
    enforcer.enable_auto_build_role_links(False)
    policies = [[f"user:{o}", f"{k}:{r}", "owner", "allow"] for k, r, o in data.resources]
    policies += [[s, f"{k}:{r}", rel, eff] for k, r, s, rel, eff in data.grants]
    for role, perms in data.roles.items():
        for perm in perms:
            svc, kind, verb = perm.lstrip("!").split(":")
            policies.append([f"role:{role}", f"{svc}:{kind}", verb, "deny" if perm.startswith("!") else "allow"])
    enforcer.add_policies(policies)
    links = []
    for u in data.users:
        links.extend([f"user:{u}", f"role:{r}"] for r in data.user_roles[u])
        links.extend([f"user:{u}", f"group:{g}"] for g in data.members[u])
        links.append([f"user:{u}", f"tenant:{TENANT}"])
    enforcer.add_grouping_policies(links)
    enforcer.add_named_grouping_policies("g2", [["owner", "editor"], ["editor", "viewer"], ["viewer", "read"],
                                                ["viewer", "list"], ["editor", "write"], ["owner", "delete"],
                                                ["owner", "share"]])
    enforcer.build_role_links()
    return enforcer, len(policies)


def pct(values: list[int], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def literal_side(data: Data, samples: int, aria) -> None:  # type: ignore[no-untyped-def]
    """pycasbin's textbook model on the first ``samples`` queries (it scans every policy per request)."""
    t0 = time.perf_counter()
    enforcer, n = build_casbin_literal(data)
    print(f"# casbin, grants as policies: loaded in {time.perf_counter() - t0:.2f} s, {n} policies")
    queries = data.queries[:samples]
    out, agree = [], 0
    gc.collect()
    gc.disable()
    try:
        for u, verb, kind, rid in queries:
            t = time.perf_counter_ns()
            got = enforcer.enforce(f"user:{u}", f"{kind}:{rid}", verb, f"{KINDS[kind]}:{kind}")
            out.append(time.perf_counter_ns() - t)
            agree += got == aria(u, verb, kind, rid)
    finally:
        gc.enable()
    print(f"# casbin, grants as policies (plain Enforcer): p50 {pct(out, 50) / 1e6:.1f} ms over {len(out)} "
          f"queries ({agree} of {len(out)} answers as Aria's); not the peer of the lines above, which is "
          "casbin's fastest form of the same model found here")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--roles", type=int, default=1_000)
    ap.add_argument("--groups", type=int, default=500)
    ap.add_argument("--resources", type=int, default=50_000)
    ap.add_argument("--grants", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=3_000)
    ap.add_argument("--rounds", type=int, default=2, help="Timed rounds per side (alternating).")
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--literal-samples", type=int, default=5,
                    help="Queries for pycasbin's textbook model (grants as policies; 0: skip it).")
    args = ap.parse_args()

    from aria_actors.auth.grants_decide import Subject, check_action, check_kind, check_resource_id

    casbin_version = importlib.metadata.version("casbin")
    print(f"# pycasbin {casbin_version} (the issue names pycasbin 2.8: "
          f"{'the same' if casbin_version.startswith('2.8') else 'a different version'}; the one installed is used)")
    t0 = time.perf_counter()
    data = make_data(args.users, args.roles, args.groups, args.resources, args.grants, args.queries, args.seed)
    print(f"# data: {len(data.users)} users, {len(data.roles)} roles, {len(data.groups)} groups, "
          f"{len(data.resources)} resources with owners, {len(data.grants)} grants, {len(data.queries)} queries "
          f"({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    index = build_aria(data)
    print(f"# aria index built in {time.perf_counter() - t0:.2f} s: {index.stats()}")
    t0 = time.perf_counter()
    enforcer, n_policies, n_links = build_casbin(data)
    print(f"# casbin loaded in {time.perf_counter() - t0:.2f} s: {n_policies} policies, {n_links} role links")

    roles, decide = data.user_roles, index.decide

    def aria(u: str, verb: str, kind: str, rid: str) -> bool:
        # what the `may` RPC does after its permission check: checks, the subject, the decision
        check_kind(kind)
        check_resource_id(rid)
        return decide(Subject(u, roles[u], TENANT), check_action(verb, kind), kind, rid).allowed

    enforce = enforcer.enforce

    def peer(u: str, verb: str, kind: str, rid: str) -> bool:
        return enforce(f"user:{u}", f"{kind}:{rid}", verb, f"{KINDS[kind]}:{kind}")

    # warm-up round on both sides, which is also the agreement check
    mismatches = []
    allowed = 0
    for q in data.queries:
        a, b = aria(*q), peer(*q)
        allowed += a
        if a != b:
            mismatches.append((q, a, b))
    print(f"# {allowed} of {len(data.queries)} queries allowed ({100 * allowed / len(data.queries):.0f}%); "
          f"{len(mismatches)} disagreements")
    for q, a, b in mismatches[:5]:
        u, verb, kind, rid = q
        print(f"#   {q}: aria {a} ({index.decide(Subject(u, roles[u], TENANT), verb, kind, rid).because}), casbin {b}")

    times: dict[str, list[int]] = {"aria": [], "peer": []}
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()  # off while timing both sides
    try:
        for _ in range(args.rounds):
            for side, fn in (("aria", aria), ("peer", peer)):
                out = times[side]
                for q in data.queries:
                    t = clock()
                    fn(*q)
                    out.append(clock() - t)
    finally:
        gc.enable()
    for p in (50, 99):
        a, b = pct(times["aria"], p) / 1000, pct(times["peer"], p) / 1000
        print(f"authz p{p}: aria {a:.2f} us, peer {b:.2f} us, ratio {a / b:.3f}")
    print(f"# samples: {len(times['aria'])} per side; gc disabled while timing both")
    if args.literal_samples:
        literal_side(data, args.literal_samples, aria)
    print("# what differs: Aria's answer carries its explanation (the deciding rule as text), casbin's a bool; "
          "Aria checks the role's scope (@tenant, @own) and the tenant of resource and subject, casbin's model "
          "has no tenants (all data is in one tenant here, so the answers agree); casbin's relation hierarchy is "
          "in its policies (each relation's verbs), Aria's in a table; casbin resolves groups, roles and grants "
          "by walking its role graph, Aria by dict lookups per resource and subject; casbin creates a role node "
          "for every name it is asked about (memory grows with distinct queries).")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
