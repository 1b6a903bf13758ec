"""The thin Ray shell around a Ray-free :class:`Service`: actor, deployment and client.

This is the one place that turns the service contract into Ray calls. Services themselves never
import ray; they get :class:`RayServiceClient`s for their dependencies through ``Deps``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib
import logging
import os
import time
from typing import Any

import ray
from ray.experimental import internal_kv

from aria_actors.runtime import caches, console, introspect, logring, metrics_push, reload, tracing
from aria_actors.runtime.errors import ServiceUnavailable
from aria_actors.runtime.placement import actor_options
from aria_actors.runtime.registry import load_service_class
from aria_actors.runtime.rpc import Gate, install_gate, invoke, surface
from aria_actors.runtime.service import Deps, Service
from aria_actors.runtime.settings import AriaSettings
from aria_actors.runtime.spec import Health, ServiceSpec, Status
from aria_actors.runtime.telemetry import ServiceMetrics
from aria_actors.runtime.usage import UsageCounter

log = logging.getLogger("aria.shell")
MONITOR = "aria_monitor"  # the one service that does not push its metrics (it reads them)
OWN_SERIES_TIMEOUT_S = 1.0  # inside aria_monitor's default 2 s read of a door


class ServiceHost:
    """Holds one service instance and exposes the lifecycle; shared by actor and deployment shells."""

    def __init__(self, spec: ServiceSpec, settings: AriaSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.service: Service = load_service_class(spec)(settings)
        # its package's sources as imported (a hot reload tells old from new code by it)
        self.code = reload.code_digest(reload.package_of(spec.entrypoint))
        self.console_sessions = console.for_service(self.service)  # the console door's sessions
        self._started = False
        self._start_lock = asyncio.Lock()
        # The role table of the settings the boot handed this actor (not of its environment, which
        # on another node may differ): the same for every service and every check in it.
        from aria_actors.security.rbac import DEFAULT_ROLES  # light: the pure RBAC module

        self.gate = Gate({**DEFAULT_ROLES, **settings.security.roles})
        install_gate(self.gate)
        self.telemetry = ServiceMetrics(surface(type(self.service)))
        tracing.setup(settings, spec.name)  # this process's tracer and span ring (off: nothing)
        # this process's log records, for aria_debugger's collection through the logs door
        self.log_ring = logring.install(spec.name, _node_id(), settings.debugger.log_ring_size)
        self.usage_counts = UsageCounter(frozenset(surface(type(self.service))))  # the usage door's
        self._scraped: dict[str, RayServiceClient] = {}  # clients of the services this one scrapes
        self._pusher: asyncio.Task[None] | None = None  # this process's metrics pushes to aria_monitor
        self._own_text: str | None = None  # the service's own series as last rendered, and when
        self._own_at = 0.0
        self._push_cpu_s = 0.0  # CPU the last push cost this process (sent with the next)
        self._push_seq = 0

    async def prepare(self) -> None:
        try:
            await self.service.prepare()
        except Exception:  # warm-up is best effort: start() does the work and reports failures
            log.exception("%s: prepare failed", self.spec.name)

    async def start(self, dep_names: tuple[str, ...]) -> None:
        async with self._start_lock:
            if self._started:
                return
            clients = {n: RayServiceClient(n, self.settings.namespace) for n in dep_names}
            # only aria_monitor reads (and deletes) the pushed metrics
            pushed = self._pushed_metrics if self.spec.name == MONITOR else None
            await self.service.start(Deps(clients, door_of=self._door_of, supervisor_of=self._supervisor_of,
                                          pushed_metrics=pushed))
            self._started = True
            if self.spec.name != MONITOR and self.settings.monitor.push and self._pusher is None:
                self._pusher = asyncio.ensure_future(self._push_forever())

    async def health(self) -> Health:
        if not self._started:
            return Health(Status.STARTING, "not started")
        return await self.service.health()

    async def stop(self) -> None:
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._pusher
            self._pusher = None
        await self.service.stop()
        self._started = False

    async def call(self, method: str, args: tuple = (), kwargs: dict | None = None,
                   trace: str | None = None) -> Any:
        """``trace``: the caller's W3C ``traceparent`` (runtime/tracing.py); absent, a new trace."""
        if not self._started:  # launched early, or stopped: its pools and stores are not open
            raise ServiceUnavailable(f"{self.spec.name} is not started", service=self.spec.name)
        began = time.perf_counter()
        try:
            with tracing.serving(self.spec.name, method, trace):
                result = await invoke(self.service, method, args, kwargs or {}, self.gate)
        except BaseException as exc:
            self.telemetry.observe(method, exc, time.perf_counter() - began)
            self.usage_counts.record(method, args[0] if args else None, exc)
            raise
        self.telemetry.observe(method, None, time.perf_counter() - began)
        self.usage_counts.record(method, args[0] if args else None, None)
        return result

    async def exposition(self) -> str:
        """This process's Prometheus text: the shell's RPC and process series, then the service's
        own. A door of the shell like ``health``, read by aria_monitor (no caller: counters only)."""
        return self.telemetry.render() + await self._own_series(0.0)

    async def _own_series(self, max_age_s: float) -> str:
        """The service's own series, rendered again when older than ``max_age_s``."""
        if not self._started:
            return ""
        now = time.monotonic()
        if self._own_text is not None and now - self._own_at <= max_age_s:
            return self._own_text
        # The service's own series may need its database (aria_queue's job counts): when that
        # fails or hangs, the shell's series still answer, so they do not go stale in an incident.
        try:
            async with asyncio.timeout(OWN_SERIES_TIMEOUT_S):
                own = await self.service.exposition()
        except Exception as exc:
            self.telemetry.own_series_failed(exc)
            return ""
        self._own_text, self._own_at = own, now
        return own

    async def _push_forever(self) -> None:
        """Push this process's metrics to aria_monitor every collection interval (runtime/metrics_push.py)."""
        config = self.settings.monitor
        await asyncio.sleep(metrics_push.first_delay(config.interval_s))
        while True:
            pause = config.interval_s
            try:
                await self.push_metrics()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the GCS failing over, or a text too large: the door serves
                log.warning("%s: metrics push failed: %s", self.spec.name, exc)
                pause = 10 * config.interval_s
            await asyncio.sleep(pause)

    async def push_metrics(self) -> None:
        """One push: the shell's series now, the service's own now (at most ``own_series_max_age_s``
        old where they need I/O: ``Service.EXPOSITION_IO``),
        put into the GCS key-value store under this process's key (runtime/metrics_push.py)."""
        config = self.settings.monitor
        began, cpu = time.perf_counter(), time.process_time()
        max_age = config.own_series_max_age_s if getattr(self.service, "EXPOSITION_IO", False) else 0.0
        text = self.telemetry.render() + await self._own_series(max_age)
        self._push_seq += 1
        process = metrics_push.instance(_node_id(), os.getpid())
        value = metrics_push.encode(self.spec.name, process, self._push_seq, time.perf_counter() - began,
                                    self._push_cpu_s, text)
        if len(value) > metrics_push.MAX_TEXT_BYTES:
            raise ValueError(f"{len(value)} bytes of metrics: not pushed (read through the door instead)")
        # synchronous on purpose: one small gRPC to the GCS, bounded by its timeout (the async call
        # costs more CPU; a thread hop more still)
        internal_kv.global_gcs_client.internal_kv_put(
            metrics_push.key(self.spec.name, process), value, True,
            metrics_push.namespace(self.settings.namespace), timeout=metrics_push.PUT_TIMEOUT_S)
        # the whole process's CPU over the push, Ray's threads included (what the bench reports)
        self._push_cpu_s = time.process_time() - cpu

    async def _pushed_metrics(self, forget: list[bytes]) -> dict[bytes, bytes]:
        """Every process's pushed metrics (for aria_monitor: Deps.pushed_metrics), after deleting ``forget``."""
        ns, gcs, timeout = (metrics_push.namespace(self.settings.namespace), internal_kv.global_gcs_client,
                            metrics_push.READ_TIMEOUT_S)
        for k in forget:
            await gcs.async_internal_kv_del(k, False, ns, timeout=timeout)
        keys = await gcs.async_internal_kv_keys(metrics_push.PREFIX, ns, timeout=timeout)
        return dict(await gcs.async_internal_kv_multi_get(keys, ns, timeout=timeout)) if keys else {}

    async def caches(self, action: str = "read", cache: str | None = None, size: int | None = None) -> dict[str, Any]:
        """This service's caches in this process (runtime/caches.py): counters and sampled traces, or
        ``resize`` one; a door read by aria_tune only (introspect.check_door), for cache proposals."""
        return caches.door(self.spec.name, action, cache, size)

    async def usage(self) -> dict[str, Any]:
        """This process's cumulative calls by day, tenant and method, and its callers (runtime/usage.py):
        a door read by aria_monitor only (introspect.check_door), for usage analytics."""
        return self.usage_counts.snapshot()

    # The debugger's doors (runtime/introspect.py): caller-less like exposition, opened through
    # Deps.door by aria_debugger only (introspect.check_door), which checks the caller's permission.
    async def profile(self, seconds: float, rate_hz: int) -> dict[str, Any]:
        """A CPU profile of this process: folded stacks (py-spy, else an in-process sampler)."""
        return await introspect.profile(seconds, rate_hz)

    async def memory(self, seconds: float) -> dict[str, Any]:
        """This process's top allocation sites after tracing for ``seconds``."""
        return await introspect.memory(seconds)

    async def inspect(self) -> dict[str, Any]:
        """This process's runtime state, the service's health, settings (masked) and attributes."""
        got = await introspect.inspect(self.service, lambda: ServiceHost.health(self), self.placement())
        return {**got, "code": self.code}

    async def log_level(self, level: str) -> dict[str, Any]:
        """Set the level of this process's ``aria`` loggers."""
        return introspect.set_log_level(level)

    async def logs(self, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        """This process's log records with a sequence number above ``after`` (runtime/logring.py)."""
        return logring.read(after, limit)

    async def spans(self, after: int = 0, limit: int = 1000) -> dict[str, Any]:
        """This process's finished spans after cursor ``after`` (runtime/tracing.py)."""
        return tracing.collect(after, limit)

    async def console(self, action: str, session: str, source: str | None = None) -> dict[str, Any]:
        """The debug console: open, run source in, or close a session of this process (runtime/console.py)."""
        enabled = self.settings.debugger.console_enabled
        return await console.door(self.console_sessions, enabled, action, session, source)

    async def _supervisor_of(self, op: str, timeout_s: float, **kwargs: Any) -> Any:
        """The boot actor's ``status`` or ``restart(name)``, for aria_debugger only (runtime/reload.py)."""
        reload.check_supervisor(self.spec.name, op)
        from aria_actors.runtime.boot import BOOT_ACTOR  # boot imports this module

        try:
            boot = ray.get_actor(BOOT_ACTOR, namespace=self.settings.namespace)
        except ValueError:
            raise ServiceUnavailable("the boot actor aria_boot is not running") from None
        try:
            return await asyncio.wait_for(_remote(getattr(boot, op), **kwargs), timeout_s)
        except TimeoutError:
            raise ServiceUnavailable(f"the supervisor did not {op} within {timeout_s:.0f}s") from None

    async def _door_of(self, name: str, door: str, timeout_s: float, **kwargs: Any) -> Any:
        """Door ``door`` of service ``name``'s shell (of this one, called directly), if this service may open it."""
        introspect.check_door(self.spec.name, door)
        if name == self.spec.name:
            return await asyncio.wait_for(getattr(self, door)(**kwargs), timeout_s)
        client = self._scraped.get(name)
        if client is None:
            client = self._scraped[name] = RayServiceClient(name, self.settings.namespace, timeout_s)
        return await client.door(door, kwargs, timeout_s)

    async def notify(self, dependency: str, up: bool) -> None:
        await self.service.on_dependency_change(dependency, up)

    def placement(self) -> dict[str, Any]:
        return {"node_id": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}


class ActorShell(ServiceHost):
    """Body of every service actor (`ray.remote` is applied by the launcher with the spec's resources)."""


class RayServiceClient:
    """Calls a service by name through the registry: a named actor, or a Serve app's handle.

    Handles are looked up lazily and again after the target died, so a client outlives restarts.
    """

    def __init__(self, name: str, namespace: str, timeout_s: float = 30.0) -> None:
        self.name = name
        self.namespace = namespace
        self.timeout_s = timeout_s
        self._handle: Any = None

    def _resolve(self) -> Any:
        if self._handle is None:
            try:
                self._handle = ray.get_actor(self.name, namespace=self.namespace)
            except ValueError:
                # heavy: ray.serve costs ~1 CPU-s to import; actor services and the boot actor load it for Serve only
                from ray import serve

                try:
                    self._handle = serve.get_app_handle(self.name)
                except Exception as exc:
                    raise ServiceUnavailable(f"{self.name} is not running", service=self.name) from exc
        return self._handle

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        with tracing.calling(self.name, method) as trace:  # trace: (traceparent,) or ()
            return await self._call(method, args, kwargs, trace)

    async def _call(self, method: str, args: tuple, kwargs: dict, trace: tuple[str, ...]) -> Any:
        for attempt in (1, 2):
            handle = self._resolve()
            try:
                return await asyncio.wait_for(_remote(handle.call, method, args, kwargs, *trace), self.timeout_s)
            except ray.exceptions.RayActorError as exc:
                self._handle = None
                if attempt == 2:
                    raise ServiceUnavailable(f"{self.name} is down: {exc}", service=self.name) from None
            except TimeoutError:
                raise ServiceUnavailable(
                    f"{self.name}.{method} did not answer within {self.timeout_s:.0f}s", service=self.name
                ) from None
        raise AssertionError("unreachable")

    async def exposition(self) -> str:
        """The service's Prometheus text (one replica's, for a deployment)."""
        return await self.door("exposition")

    async def door(self, door: str, kwargs: dict[str, Any] | None = None, timeout_s: float | None = None) -> Any:
        """Open a caller-less door of the service's shell (one replica's, for a deployment)."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        handle = self._resolve()
        try:
            return await asyncio.wait_for(_remote(getattr(handle, door), **(kwargs or {})), timeout)
        except ray.exceptions.RayActorError as exc:
            self._handle = None
            raise ServiceUnavailable(f"{self.name} is down: {exc}", service=self.name) from None
        except TimeoutError:
            what = "render its metrics" if door == "exposition" else f"answer its {door} door"
            raise ServiceUnavailable(f"{self.name} did not {what} within {timeout:.1f}s",
                                     service=self.name) from None


def _node_id() -> str | None:
    try:
        return ray.get_runtime_context().get_node_id()
    except Exception:  # outside a Ray worker (a test building a shell by hand)
        return None


async def _remote(method: Any, *args: Any, **kwargs: Any) -> Any:
    return await method.remote(*args, **kwargs)


def is_dead(exc: BaseException) -> bool:
    """A unit that died for good (as opposed to a slow or failing probe)."""
    return isinstance(exc, ray.exceptions.RayActorError)


class ActorUnit:
    """A service running as a named Ray actor."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    async def start(self, dep_names: tuple[str, ...]) -> None:
        await self.handle.start.remote(dep_names)

    async def health(self) -> Health:
        return await self.handle.health.remote()

    async def stop(self) -> None:
        await self.handle.stop.remote()

    async def kill(self) -> None:
        ray.kill(self.handle, no_restart=True)

    async def placement(self) -> dict[str, Any]:
        return await self.handle.placement.remote()

    async def notify(self, dependency: str, up: bool) -> None:
        await self.handle.notify.remote(dependency, up)


class DeploymentUnit(ActorUnit):
    """A service running as a Ray Serve application; Serve replaces failed replicas itself."""

    def __init__(self, app_name: str, handle: Any, http_ready: asyncio.Future[None] | None = None) -> None:
        super().__init__(handle)
        self.app_name = app_name
        self.http_ready = http_ready  # set for an app with an HTTP route: Serve's proxy start

    async def start(self, dep_names: tuple[str, ...]) -> None:
        await super().start(dep_names)
        if self.http_ready is not None:  # its routes answer only once Serve's HTTP proxy is up
            await asyncio.shield(self.http_ready)

    async def kill(self) -> None:
        from ray import serve  # heavy: ray.serve, as in _resolve

        await asyncio.to_thread(serve.delete, self.app_name)


class RayLauncher:
    """Makes units on Ray: actors for stateful services, Serve applications for stateless ones."""

    def __init__(self, settings: AriaSettings, adopt_existing: bool = False) -> None:
        self.settings = settings
        # Set by a boot actor that Ray restarted: live service actors are taken over, not replaced.
        self.adopt_existing = adopt_existing
        self.adopted: set[str] = set()  # services whose running actor was taken over
        self._serve_lock = asyncio.Lock()
        self._http_ready: asyncio.Future[None] | None = None  # serve.start: done once proxies are up
        self._deploy_lock = asyncio.Lock()
        # One thread creates the actors, in the order they are launched (the boot launches in
        # start order): Ray hands out worker processes in request order, and on a CPU-bound boot
        # the first service's process must not queue behind the last layer's.
        self._creator = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="aria-create")

    async def ensure_serve(self) -> None:
        """Start Serve once and return as soon as its controller exists.

        ``serve.start`` returns only when the HTTP proxy is up too; it goes on in the background
        (``_http_ready``, awaited by units with routes). Deployments need only the controller, and
        waiting for the proxy put its start (1-2 s on a busy boot, measured) before every replica's.
        One caller at a time: concurrent serve.start calls race for the controller's name.
        """
        async with self._serve_lock:
            if self._http_ready is None:
                # Serve's control calls block: keep them off the boot actor's event loop.
                self._http_ready = asyncio.ensure_future(asyncio.to_thread(ensure_serve, self.settings))
                self._http_ready.add_done_callback(_log_serve_failure)
            while not self._http_ready.done():
                if await asyncio.to_thread(serve_controller_exists):
                    return
                await asyncio.sleep(0.05)
            self._http_ready.result()  # serve.start failed: its error, for the unit that needed it

    async def launch(self, spec: ServiceSpec) -> ActorUnit:
        if self.adopt_existing:
            unit = await self._adopt(spec)
            if unit is not None:
                return unit
        if spec.kind == "deployment":
            return await self._deploy(spec)
        return await self._create_actor(spec)

    async def _adopt(self, spec: ServiceSpec) -> ActorUnit | None:
        try:
            handle = ray.get_actor(spec.name, namespace=self.settings.namespace)
        except ValueError:
            return None
        try:
            await asyncio.wait_for(_remote(handle.placement), self.settings.health_timeout_s)
        except Exception:  # dead or hung: replace it
            return None
        log.info("adopted running actor %s", spec.name)
        self.adopted.add(spec.name)
        return ActorUnit(handle)

    async def _create_actor(self, spec: ServiceSpec) -> ActorUnit:
        # Creating a named actor waits on a GCS round trip: off the event loop, so the boot goes on
        # starting earlier services while the later ones are still being created.
        for _ in range(50):  # a killed actor's name is released asynchronously
            try:
                loop = asyncio.get_running_loop()
                return ActorUnit(await loop.run_in_executor(self._creator, self._new_actor, spec))
            except ValueError as exc:
                if "already exists" not in str(exc):
                    raise
                with contextlib.suppress(ValueError):
                    ray.kill(ray.get_actor(spec.name, namespace=self.settings.namespace), no_restart=True)
                await asyncio.sleep(0.1)
        raise ServiceUnavailable(f"could not create actor {spec.name}: name still taken")

    def _new_actor(self, spec: ServiceSpec) -> Any:
        handle = ray.remote(ActorShell).options(
            name=spec.name, namespace=self.settings.namespace, lifetime="detached",
            max_restarts=0, max_concurrency=1000, **actor_options(spec, self.settings),
        ).remote(spec, self.settings)
        handle.prepare.remote()  # fire and forget: warm-up runs while the layers below boot
        return handle

    async def _deploy(self, spec: ServiceSpec) -> DeploymentUnit:
        await self.ensure_serve()
        # Importing the app module and Serve's control calls block: keep them off the event loop,
        # one deploy at a time (two threads inside serve.run race on Serve's pickling registry).
        async with self._deploy_lock:
            handle, has_routes = await asyncio.to_thread(self._deploy_blocking, spec)
        return DeploymentUnit(spec.name, handle, self._http_ready if has_routes else None)

    def _deploy_blocking(self, spec: ServiceSpec) -> tuple[Any, bool]:
        """The app's handle, and whether it has HTTP routes."""
        from ray import serve  # heavy: ray.serve, as in _resolve

        existing = serve.status().applications.get(spec.name)
        if existing is not None and existing.status in ("RUNNING", "DEPLOYING"):
            # Deployed by a Serve config (serve run/deploy, KubeRay), or by the boot actor Ray
            # just restarted: adopt it, don't redeploy. Recorded as adopted, so a rebuilt boot
            # actor keeps its uptime and does not count it as restarted (tests/chaos).
            self.adopted.add(spec.name)
            return serve.get_app_handle(spec.name), False
        module = importlib.import_module(spec.entrypoint.partition(":")[0])
        build = getattr(module, "serve_application", None)
        app, route_prefix = build(spec, self.settings) if build else default_application(spec, self.settings)
        # Hand the app to Serve's controller and return: waiting here for its replicas would hold
        # the deploy lock (and the next deployment) for seconds; start() waits for them instead.
        [handle] = serve.run_many(
            [serve.RunTarget(target=app, name=spec.name, route_prefix=route_prefix)],
            wait_for_ingress_deployment_creation=False, wait_for_applications_running=False,
        )
        return handle, route_prefix is not None


def default_application(spec: ServiceSpec, settings: AriaSettings) -> tuple[Any, str | None]:
    """A plain Serve deployment around the service, reachable by handle only (no HTTP route)."""
    from ray import serve  # heavy: ray.serve, as in _resolve

    deployment = serve.deployment(
        name=spec.name, ray_actor_options=actor_options(spec, settings),
    )(DeploymentShell)
    return deployment.bind(spec, settings), None


class DeploymentShell(ServiceHost):
    """Body of a Serve replica: every replica starts its own copy of the service on first use."""

    async def health(self) -> Health:
        await self.start(self.spec.depends_on)
        return await super().health()

    async def call(self, method: str, args: tuple = (), kwargs: dict | None = None,
                   trace: str | None = None) -> Any:
        await self.start(self.spec.depends_on)
        return await super().call(method, args, kwargs, trace)

    async def check_health(self) -> None:  # called by Serve; a raise makes Serve replace the replica
        if not self._started:  # Serve probes from the start; starting is the boot actor's call
            return
        health = await ServiceHost.health(self)
        if health.status == Status.FAILED:
            raise RuntimeError(health.message)


def serve_controller_exists() -> bool:
    """Whether Serve's controller runs on the connected cluster (a named-actor lookup, no client)."""
    from ray.serve._private.constants import SERVE_CONTROLLER_NAME, SERVE_NAMESPACE  # heavy: ray.serve, as in _resolve

    try:
        ray.get_actor(SERVE_CONTROLLER_NAME, namespace=SERVE_NAMESPACE)
    except ValueError:
        return False
    return True


def _log_serve_failure(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.error("Serve did not start: %s", fut.exception())


def ensure_serve(settings: AriaSettings) -> None:
    """Start Serve's controller and HTTP proxy on the configured interface, once per cluster."""
    from ray import serve  # heavy: ray.serve, as in _resolve
    from ray.serve.config import HTTPOptions
    from ray.serve.schema import LoggingConfig

    serve.start(
        http_options=HTTPOptions(host=settings.host, port=settings.port),
        logging_config=LoggingConfig(enable_access_log=False, log_level=settings.log_level),
    )
