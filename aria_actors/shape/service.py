"""aria_shape: characters from templates with constraints, described by a Qwen3-architecture model.

The service holds character templates, draws characters that satisfy them (constraint-aware
sampling), validates user-supplied characters, and describes characters with a causal LM: the tiny
Qwen3 built locally, or the checkpoint at ``ARIA_SHAPE_MODEL_PATH`` / ``ARIA_MODEL_PATH``. A
generated character is multi-modal: structured traits and attributes, a text description, an
embedding of that description, and an SVG portrait.

Lifecycle::

    (new) --start--> store opened + migrated, templates loaded, the stored served version and
                     A/B split restored (:mod:`.inference.versions`) --> ready
                       (no model: generation starts its backend on first use, see below)
    ready --store unreachable / served version failed to load / stored version gone--> degraded
    ready / degraded --stop--> stopped (Serve applications deleted, pool closed)

Generation (describe, complete, streams, embed; :mod:`.inference.generation`) goes through a backend
(:mod:`.inference`), created on first use::

    inside a Ray actor (booted by the runtime): ServeBackend (:mod:`.inference.backends.serve`), one Serve
        application ``aria_shape_inference_<version>`` per model version, batched, scaled from
        zero (``ARIA_SHAPE_INFERENCE_MIN_REPLICAS``, default 0), reached by DeploymentHandle
    elsewhere (unit tests, LocalLauncher, tools): LocalBackend, the model in this process

    request --(A/B running? TrafficSplit.pick(key))--> version --> backend --> text
                                                          '-- per-version metrics (memory,
                                                              flushed to Postgres every ab_flush_s)

Guarantees and caveats
----------------------
- Only the ``@rpc`` methods are callable from outside (gateway, other services, queue jobs), each
  checked as its caller: reads ``shape:<resource>:read``/``list``, writes ``...:write``,
  generation ``shape:character:generate`` / ``shape:completion:generate``, training
  ``shape:model:train``; promotion, the A/B split, loading a version and registering one need
  the permission across tenants (``@any``: operators, admins). The table is in ``docs/shape.md``.
  aria_shape calls aria_data and its background sync reads training jobs back as itself
  (``ME``); ``training_status`` reads a job as its caller. A training job is enqueued as the
  caller, so it runs with the caller's rights, and only the jobs ``start_training`` recorded
  become model versions (:mod:`.training.runs`).
- Import-light: torch and transformers never load at import, start or prepare; with Serve they
  load for the generation model only in replicas' engine processes, locally on first generation
  (or ``wait_ready``); the personality model's embedder loads them in this process on the
  first ``generate`` or ``personality`` call.
- Health is ``ready`` when the store and templates work; ``details["inference"]`` shows each
  version's state (not deployed / scaled to zero / n replicas / loaded / error). A served version
  whose model failed to load or deploy makes it ``degraded``, templates keep working.
- Every generated character satisfies its template (see :mod:`.characters.sampler`); a template
  whose constraints cannot be met together is refused when it is put, with
  :class:`ImpossibleTemplate` naming the conflicting constraints.
- With aria_data (always, when booted by the runtime) templates, characters with their history of
  versions, and model versions live in Postgres schema ``aria_shape`` (:mod:`.store`); templates
  are reloaded at start. Without it (unit tests, tools) templates live in memory and the record
  methods raise ``ServiceUnavailable``.
- A character's new version is validated against its template before it is stored.
- With aria_data, the served version, the A/B split and its metrics are in Postgres too and a
  restarted actor goes on serving them; counters flushed every ``ab_flush_s`` (a crash loses at
  most that interval's counts), feedback stored per call (:mod:`.inference.versions`).
- While an A/B test runs, every generation (describe, complete, complete_ab, streams) goes to the
  version the split picks (sticky per ``key``) and is counted in that version's metrics;
  embeddings always come from the served version, so they stay comparable.
- The first generation after boot (or after a version scaled to zero) waits for a replica start
  and the model load: seconds (more the first time the tiny model is built on a machine).
- GRPO: ``start_training`` (:mod:`.training.runs`) enqueues the aria_queue job ``aria_shape.train``
  (:mod:`.training.job`), run by a queue worker actor, never in this actor; the version it makes is
  registered here from the job's result. It checkpoints to aria_storage when that is a
  dependency, and a retried attempt resumes. The Ray data-parallel loop is :mod:`.training.loop`.
  Checkpoint format and dedupe report: :mod:`.training.checkpoints`.
- Token streaming (``start_stream``/``read_stream``, served as server-sent events by the router)
  reads pieces as the sampling loop produces them (in a replica: a Serve streaming response).
- Personality (:mod:`.characters.personality`): a generated character's ``personality`` and
  ``personality`` (free text) come from a trained model (MiniLM sentence embeddings and a logistic
  head fitted on the shipped Big-Five items), loaded in this actor's process on first use: torch
  and the 90 MB embedding model, then the head cached under ``<cache_dir>/personality`` (trained
  there once, seconds, when the items or the model change).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from pathlib import Path
from typing import Any

from aria_actors.data.client import DataClient
from aria_actors.data.pool import Database
from aria_actors.runtime.errors import BadRequest, NotFound, ServiceUnavailable, brief
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.rpc import default_gate, rpc
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.spec import Health, Status
from aria_actors.shape.archtrial import ArchTrialsMixin
from aria_actors.shape.characters.personality import (
    MAX_TEXT,
    MAX_TRAIT_CHARS,
    MAX_TRAITS,
    PersonalityModel,
    shared_model,
)
from aria_actors.shape.characters.portrait import portrait_svg
from aria_actors.shape.characters.sampler import CharacterSampler
from aria_actors.shape.characters.templates import (
    CONTROL,
    LINE,
    Template,
    parse_character,
    validate_character,
)
from aria_actors.shape.errors import InvalidText, ModelLoadError, ShapeError, UnknownTemplate
from aria_actors.shape.inference.generation import GenerationMixin
from aria_actors.shape.inference.streams import StreamHub
from aria_actors.shape.inference.versions import ModelVersionsMixin
from aria_actors.shape.prepare import prepare_in_worker
from aria_actors.shape.spec import SPEC
from aria_actors.shape.store import ShapeStore
from aria_actors.shape.training.job import NODE_PATHS, checkpoint_ref, checkpoint_root
from aria_actors.shape.training.runs import ME, TrainingRunsMixin

MAX_PAGE = 200  # characters in one page of list_characters


def _as_resource(holder: dict[str, Any], caller: Principal) -> dict[str, Any]:
    """A character's owner and tenant as the gate decides on them.

    The default tenant is '' in the table and no tenant in a token: a character of the default
    tenant is in the caller's tenant only for a caller of the default tenant (no tenant), and is
    never "tenant-less" to a caller of a named tenant. NULL (characters older than owners and
    tenants, migration 0004) stays tenant-less, as it was.
    """
    tenant = holder["tenant"]
    if tenant == "":
        tenant = None if not caller.tenant else ""
    return {"type": "character", "owner": holder["owner"] or None, "tenant": tenant}
BUILTIN_TEMPLATES: tuple[dict[str, Any], ...] = (
    {
        "name": "fantasy",
        "description": "Adventurers of a fantasy world.",
        "traits": ["brave", "kind", "wise", "cruel", "curious", "greedy", "loyal", "cowardly",
                   "pacifist", "bloodthirsty", "cheerful", "grumpy"],
        "min_traits": 2,
        "max_traits": 4,
        "attributes": [
            {"kind": "range", "name": "age", "low": 16, "high": 300, "integer": True},
            {"kind": "choice", "name": "role", "values": ["knight", "monk", "rogue", "mage", "bard"]},
        ],
        "constraints": [
            {"name": "no-bloodthirsty-pacifist", "kind": "excludes",
             "if": {"trait": "pacifist"}, "then": {"trait": "bloodthirsty"}},
            {"name": "brave-not-cowardly", "kind": "excludes",
             "if": {"trait": "brave"}, "then": {"trait": "cowardly"}},
            {"name": "monks-are-pacifists", "kind": "requires",
             "if": {"attribute": "role", "in": ["monk"]}, "then": {"trait": "pacifist"}},
            {"name": "elders-are-wise", "kind": "requires",
             "if": {"attribute": "age", "min": 120}, "then": {"trait": "wise"}},
        ],
    },
)

log = logging.getLogger(__name__)


class ShapeService(GenerationMixin, ModelVersionsMixin, TrainingRunsMixin, ArchTrialsMixin, Service):
    SPEC = SPEC

    def __init__(self, settings: Any, config: Any = None) -> None:
        super().__init__(settings)
        self.config = config or settings.shape  # the tree's [shape] section
        self._samplers: dict[str, CharacterSampler] = {}
        self._backend: Any = None  # inference.Backend, created on first use
        self._warming: asyncio.Task[Any] | None = None
        self._started = False
        self._stopped = False
        self._db: Database | None = None
        self._store: Any = None
        self._skipped_templates: dict[str, str] = {}
        self._served_version = "base"
        self._traffic: Any = None  # TrafficSplit while an A/B test runs
        self._serving_lock = asyncio.Lock()  # store writes of the served version, split, metrics
        self._serving_problems: dict[str, str] = {}  # stored serving state that could not load
        self._ab_scores: dict[tuple[str, str], float] = {}
        self._train_jobs: set[int] = set()  # unfinished training jobs this actor follows
        self._training_problems: dict[str, str] = {}  # finished runs whose version did not register
        self._flusher: asyncio.Task[None] | None = None  # A/B counters to the store, every ab_flush_s
        self._watcher: asyncio.Task[None] | None = None  # training jobs, to register finished ones
        self._streams = StreamHub()
        self._personality: PersonalityModel | None = None  # loaded (or trained) on first use
        self._personality_lock = asyncio.Lock()

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self, deps: Deps) -> None:
        await super().start(deps)
        for data in BUILTIN_TEMPLATES:
            self._register(Template.parse(data))
        if deps.get("aria_data") is not None:
            data = deps.of(DataClient)
            dsn = await data.dsn(ME)
            await data.migrate(ME, SPEC.name)
            self._db = await Database.connect(dsn, name=SPEC.name, min_size=1, max_size=4)
            self._store = ShapeStore(self._db)
            for body in await self._store.templates():
                try:
                    self._register(Template.parse(body))
                except ShapeError as exc:  # a stored template no longer loads: keep going, report it
                    self._skipped_templates[str(body.get("name"))] = exc.message
            await self._restore_serving()
            self._flusher = self._start_flushing()
            if deps.get("aria_queue") is not None:
                self._watcher = asyncio.create_task(self._watch_training(), name="aria-shape-train-watch")
        self._started = True
        if self.config.inference_min_replicas > 0 or self.config.prepare_at_start:
            backend = self._inference()
            if backend.kind == "serve":  # inside Ray: prepared now, without holding the boot
                self._warming = asyncio.create_task(self._warm(backend), name="aria-shape-warm")

    async def _warm(self, backend: Any) -> None:
        """The tiny model's files and the personality head built (on a new home) in a worker of
        their own, so that the first generation waits for a replica only; with warm replicas asked
        for, the served version deployed too. Failures are the first use's to report, not the boot's."""
        if self.config.prepare_at_start:
            try:
                took = await prepare_in_worker(backend.source(self._served_version), str(self._personality_dir()))
                log.info("aria_shape: models prepared ahead of use: %s", took)
            except Exception as exc:  # the first use builds them (and reports why it cannot)
                log.warning("aria_shape: preparing the models ahead of use failed: %s", brief(exc))
        if self.config.inference_min_replicas > 0:
            with contextlib.suppress(ShapeError):  # kept by the backend, shown by health()
                await backend.ensure(self._served_version)

    async def wait_ready(self) -> Health:
        """Load (locally) or deploy (Serve) the served version's model now, then probe; for tests
        and tools (the service itself loads on first use)."""
        with contextlib.suppress(ShapeError):  # recorded by the backend; health() reports it
            await self._inference().ensure(self._served_version)
        return await self.health()

    async def health(self) -> Health:
        if not self._started:
            return Health(Status.STOPPED if self._stopped else Status.STARTING, "not started")
        details: dict[str, Any] = {"templates": len(self._samplers)}
        if self._skipped_templates:
            details["skipped_templates"] = self._skipped_templates
        if self._serving_problems:
            details["serving_problems"] = self._serving_problems
        if self._training_problems:
            details["training_problems"] = self._training_problems
        if self._db is not None:
            try:
                await self._db.ping(self.settings.health_timeout_s)
                details["store"] = {"pool_size": self._db.pool.get_size(),
                                    "idle": self._db.pool.get_idle_size()}
            except Exception as exc:  # the probe's job is to report it
                details["store_error"] = f"{type(exc).__name__}: {exc}"
                return Health(Status.DEGRADED, f"database unreachable: {exc}", details)
        else:
            details["store"] = "memory (no aria_data dependency)"
        details["personality"] = (self._personality.summary() if self._personality is not None
                                  else "not loaded (loads, or trains once, on first use)")
        backend = self._inference()
        versions = await backend.states(self.settings.health_timeout_s)
        served = versions.get(self._served_version, {"state": "not registered"})
        details["inference"] = {"backend": backend.kind, "served_version": self._served_version,
                                "traffic": self._traffic.weights if self._traffic else None,
                                "versions": versions}
        error = backend.error(self._served_version)
        if error is not None:
            return Health(Status.DEGRADED, f"model version {self._served_version!r} unavailable: {error}",
                          details)
        if self._serving_problems:
            return Health(Status.DEGRADED, "; ".join(self._serving_problems.values()), details)
        return Health(Status.READY, f"{len(self._samplers)} templates; model version "
                                    f"{self._served_version!r}: {served['state']}", details)

    async def stop(self) -> None:
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()
        self._warming = None
        if self._watcher is not None:  # ended before the pool it queries closes
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await self._stop_flushing(self._flusher)  # the last counts go out before the pool closes
        self._flusher = None
        if self._backend is not None:
            await self._backend.close()
            self._backend = None
        if self._db is not None:
            await self._db.close()
            self._db = self._store = None
        self._started = False
        self._stopped = True

    # -- templates -------------------------------------------------------------------------
    def _register(self, template: Template) -> None:
        self._samplers[template.name] = CharacterSampler(template)  # refuses impossible templates

    def _sampler(self, template: str | dict[str, Any]) -> CharacterSampler:
        if isinstance(template, dict):
            return CharacterSampler(Template.parse(template))
        try:
            return self._samplers[template]
        except KeyError:
            raise UnknownTemplate(f"no template named {template!r}; known: {sorted(self._samplers)}",
                                  template=template) from None

    @rpc("shape:arch:evaluate", feature="grpo-training")
    async def evaluate_architecture(self, caller: Principal, params: dict[str, Any], steps: int = 60) -> dict[str, Any]:
        """Build the tiny Qwen3 with ``params`` (num_layers, hidden_size, num_heads), train it
        ``steps`` causal-LM steps on the generated corpus and measure it: held-out loss, parameter
        count, latency of one forward pass. Nothing is stored (archtrial.py)."""
        return await self._arch_trial(params, steps)

    @rpc("shape:template:list", feature="templates")
    async def list_templates(self, caller: Principal) -> list[dict[str, Any]]:
        return [s.template.model_dump(mode="json", by_alias=True) for s in self._samplers.values()]

    @rpc("shape:template:read", feature="templates")
    async def get_template(self, caller: Principal, name: str) -> dict[str, Any]:
        return self._sampler(name).template.model_dump(mode="json", by_alias=True)

    @rpc("shape:template:write", feature="templates")
    async def put_template(self, caller: Principal, data: dict[str, Any]) -> dict[str, Any]:
        template = Template.parse(data)
        sampler = CharacterSampler(template)  # refuses impossible templates before storing
        body = template.model_dump(mode="json", by_alias=True)
        if self._store is not None:
            await self._store.put_template(template.name, body)
        self._samplers[template.name] = sampler
        return body

    # -- characters ------------------------------------------------------------------------
    @rpc("shape:character:generate", job=True,
         features=("trait-generation", "model-inference", "multi-modal"))
    async def generate(self, caller: Principal, template: str | dict[str, Any], *, name: str = "",
                       seed: int | None = None, describe: bool = True,
                       max_new_tokens: int | None = None) -> dict[str, Any]:
        """A character of ``template`` (a name or an inline template), multi-modal."""
        sampler = self._sampler(template)
        rng = random.Random(seed)
        character = sampler.sample(rng, name=name)
        out: dict[str, Any] = {"character": character.model_dump(mode="json")}
        if describe:
            text = await self.describe(caller, list(character.traits), max_new_tokens=max_new_tokens, seed=seed)
            character = character.model_copy(update={"description": text})
            out["character"] = character.model_dump(mode="json")
            out["embedding"] = (await self.embed(caller, [text]))[0]
        out["portrait_svg"] = portrait_svg(character)
        # Best-effort: a personality model that cannot load (a broken wheel, no torch) costs the
        # character its profile, not the character; the problem says why it is missing.
        try:
            model = await self._personality_model()
        except ModelLoadError as exc:
            out["personality"] = {"error": exc.problem()}
        else:
            out["personality"] = await asyncio.to_thread(model.profile, character.traits, character.description)
        return out

    # -- personality ---------------------------------------------------------------------------
    def _personality_dir(self) -> Path:
        return Path(self.config.cache_dir or Path(self.settings.home) / "shape") / "personality"

    async def _personality_model(self) -> PersonalityModel:
        """The trained personality model: its cached head, or trained now (seconds, once per
        cache directory); loaded in a thread, once."""
        if self._personality is None:
            async with self._personality_lock:
                if self._personality is None:
                    try:
                        self._personality = await asyncio.to_thread(shared_model, self._personality_dir())
                    except Exception as exc:  # a broken wheel or cache dir: typed, not a 500
                        raise ModelLoadError(f"cannot load the personality model: {brief(exc)}",
                                             path=str(self._personality_dir())) from None
        return self._personality

    # Reading a personality from text reads nothing stored and stores nothing: a read.
    @rpc("shape:character:read", feature="personality-model")
    async def personality(self, caller: Principal, text: str, traits: list[str] | None = None) -> dict[str, Any]:
        """The Big Five profile the trained model reads in ``text`` (and, with ``traits``, theirs and
        the consistency between the two); :class:`InvalidText` if the text is not a string, blank, too
        long or holds control characters, :class:`BadRequest` if ``traits`` is not a list of at most
        MAX_TRAITS words (the HTTP model's bounds, for callers other than the route)."""
        if not isinstance(text, str):
            raise InvalidText(f"text must be a string; got {type(text).__name__}", max_chars=MAX_TEXT)
        if not text.strip() or len(text) > MAX_TEXT:
            raise InvalidText(f"text must hold 1 to {MAX_TEXT} characters and not be blank; got {len(text)}",
                              max_chars=MAX_TEXT)
        if CONTROL.search(text):
            raise InvalidText("text must not hold control characters (tabs and line breaks are fine)",
                              max_chars=MAX_TEXT)
        if traits is not None:
            if not isinstance(traits, list | tuple) or len(traits) > MAX_TRAITS:
                raise BadRequest(f"traits must be a list of at most {MAX_TRAITS} words", field="traits")
            for trait in traits:
                if not isinstance(trait, str) or len(trait) > MAX_TRAIT_CHARS or not re.fullmatch(LINE, trait):
                    got = repr(trait[:80]) if isinstance(trait, str) else type(trait).__name__
                    raise BadRequest(f"each trait must be a word of at most {MAX_TRAIT_CHARS} characters "
                                     f"without control characters; got {got}", field="traits")
        model = await self._personality_model()
        return await asyncio.to_thread(model.profile, traits or (), text)

    # Checking a character against a template reads the template and stores nothing.
    @rpc("shape:template:read", feature="character-validation")
    async def validate(self, caller: Principal, template: str | dict[str, Any],
                       character: dict[str, Any]) -> dict[str, Any]:
        """The character, parsed, or :class:`InvalidCharacter` naming every bad field."""
        valid = validate_character(self._sampler(template).template, character)
        return {"valid": True, "character": valid.model_dump(mode="json")}

    # -- records: characters with versions, model versions ------------------------------------
    def _records(self) -> Any:
        if self._store is None:
            raise ServiceUnavailable("aria_shape has no database here (aria_data is not a dependency)",
                                     service="aria_data")
        return self._store

    @rpc("shape:character:write", feature="character-evolution")
    async def create_character(self, caller: Principal, template: str, character: dict[str, Any] | None = None,
                               *, name: str = "", seed: int | None = None, describe: bool = True,
                               change: str = "created") -> dict[str, Any]:
        """Store a character as version 1: the one given (validated) or a newly generated one."""
        store = self._records()
        if character is None:
            generated = await self.generate(caller, template, name=name, seed=seed, describe=describe)
            character = generated["character"]
        body = validate_character(self._sampler(template).template, character).model_dump(mode="json")
        # The caller owns what it makes, in its tenant; the default tenant is stored as '' (never
        # NULL, which only characters older than migration 0004 have: see _as_resource).
        return await store.create_character(body, change, owner=caller.subject or "", tenant=caller.tenant or "")

    async def _allowed_character(self, caller: Principal, action: str, character_id: str) -> None:
        """Refuse unless ``caller`` may ``action`` this character (its owner and tenant decide).

        Whether a character exists is told only to callers allowed ``action`` on characters at all.
        """
        try:
            holder = await self._records().holder(character_id)
        except NotFound:
            default_gate().require(caller, action, {"type": "character"})
            raise
        default_gate().require(caller, action, _as_resource(holder, caller))

    @rpc("shape:character:write", feature="character-evolution")
    async def evolve_character(self, caller: Principal, character_id: str, *,
                               add_traits: list[str] | None = None, remove_traits: list[str] | None = None,
                               attributes: dict[str, Any] | None = None, name: str | None = None,
                               description: str | None = None, change: str = "",
                               expected_version: int | None = None) -> dict[str, Any]:
        """A new version of a character with the given changes; refused if the result is invalid, or
        (``expected_version``) if the character is no longer at the version the edit was made on."""
        store = self._records()
        await self._allowed_character(caller, "shape:character:write", character_id)

        def update(body: dict[str, Any]) -> dict[str, Any]:
            traits = [t for t in body["traits"] if t not in set(remove_traits or ())]
            traits += [t for t in add_traits or () if t not in traits]
            new = {**body, "traits": traits, "attributes": {**body["attributes"], **(attributes or {})}}
            if name is not None:
                new["name"] = name
            if description is not None:
                new["description"] = description
            template = self._sampler(body["template"]).template
            return validate_character(template, new).model_dump(mode="json")

        return await store.evolve(character_id, update, change, expected_version)

    @rpc("shape:character:list", feature="character-evolution")
    async def list_characters(self, caller: Principal, *, after: str = "", limit: int = 50) -> dict[str, Any]:
        """The characters ``caller`` may read, by id: ``{"items": [...], "next": cursor or None}``.

        An ``@any`` lister sees every tenant's; anyone else its own tenant's (and those older than
        owners and tenants), only its own when it may list only what it owns (``@own``)."""
        if not 1 <= limit <= MAX_PAGE:
            raise BadRequest(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        gate = default_gate()
        action = "shape:character:list"
        every = gate.allowed(caller, action, {"type": "character", "tenant": "*"})
        tenant = caller.tenant or ""
        whole_tenant = every or gate.allowed(caller, action, _as_resource({"owner": "", "tenant": tenant}, caller))
        if not whole_tenant and not caller.subject:  # owns nothing, may list only what it owns
            return {"items": [], "next": None}
        rows = await self._records().characters(every_tenant=every, tenant=tenant,
                                                owner="" if whole_tenant else caller.subject,
                                                after=after, limit=limit)
        # the query already confines the page; each row is still decided as get_character would
        items = [r for r in rows if every or gate.allowed(caller, action, _as_resource(r, caller))]
        return {"items": items, "next": rows[-1]["id"] if len(rows) == limit else None}

    @rpc("shape:character:delete", feature="character-evolution")
    async def delete_character(self, caller: Principal, character_id: str) -> None:
        """Forget a character and every version of it."""
        await self._allowed_character(caller, "shape:character:delete", character_id)
        await self._records().delete_character(character_id)

    @rpc("shape:character:read", feature="character-evolution")
    async def get_character(self, caller: Principal, character_id: str,
                            version: int | None = None) -> dict[str, Any]:
        await self._allowed_character(caller, "shape:character:read", character_id)
        return await self._records().character(character_id, version)

    @rpc("shape:character:read", feature="character-evolution")
    async def character_history(self, caller: Principal, character_id: str) -> list[dict[str, Any]]:
        await self._allowed_character(caller, "shape:character:read", character_id)
        return await self._records().history(character_id)

    # Model versions serve every tenant, and a version names a directory on the serving nodes:
    # registering one is an operator's (or a service's) act, not a tenant's.
    @rpc("shape:model:write", scope="any", feature="model-versions")
    async def register_model(self, caller: Principal, model_id: str, path: str, *, parent: str | None = None,
                             metrics: dict[str, Any] | None = None,
                             training_config: dict[str, Any] | None = None) -> dict[str, Any]:
        """Record a model version (a checkpoint directory) with its lineage and metrics.

        A directory other than a checkpoint training made here is any path on the serving nodes:
        it needs what a training job naming one needs (``NODE_PATHS``), not only ``write``."""
        if checkpoint_ref(checkpoint_root(self.settings.home), path) is None:
            default_gate().check(NODE_PATHS, caller)
        return await self._records().register_model(model_id, path, parent, metrics or {},
                                                    training_config or {})

    @rpc("shape:model:read", feature="model-versions")
    async def get_model(self, caller: Principal, model_id: str) -> dict[str, Any]:
        return await self._records().model(model_id)

    @rpc("shape:model:list", feature="model-versions")
    async def list_models(self, caller: Principal) -> list[dict[str, Any]]:
        return await self._records().models()

    # Drawing a given character reads nothing stored and costs little: a read, like validate.
    @rpc("shape:character:read", feature="multi-modal")
    async def portrait(self, caller: Principal, character: dict[str, Any]) -> str:
        """The character's SVG portrait; :class:`InvalidCharacter` if it is not a character."""
        return portrait_svg(parse_character(character))
