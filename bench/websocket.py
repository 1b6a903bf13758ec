"""The real-time channel's fan-out: a status change reaching 200 subscribed WebSocket clients.

    python bench/websocket.py [--clients 200] [--changes 40] [--warmup 3]

Two servers, each uvicorn in its own subprocess with the same settings (``ws="auto"``, one worker):

- aria: the real ``/v1/interface/ws`` handler and :class:`~aria_actors.interface.hub.Hub` (the
  router of ``aria_actors.interface.api``), authenticating each handshake with the real
  :class:`~aria_actors.security.middleware.BearerAuth` against an in-process aria_security with a
  test key (``InProcessSecurity``: real Ed25519 JWTs, the JWKS fetched through the app's service
  client); clients subscribe to ``services``, whose source reads a stand-in service directory.
- peer: a bare Starlette app, one ``WebSocketRoute`` that accepts and keeps the socket, and a
  broadcast that sends the message to every socket in turn (Starlette/FastAPI's documented pattern).

A change is a POST to the server's ``/bench/change``: 20 ms later (on an idle loop, so the request's
own response counts on neither side) the server flips one service's status and stamps the moment
(``time.monotonic()``, one clock for every process on Linux). The peer then broadcasts from a task;
Aria wakes the topic's producer (``Hub.wake``: what a directory that announces changes would do; the
polling every 0.25 s that finds a change unannounced is left out of both sides), which reads the
directory, diffs and fans out. Latency is stamp -> the frame parsed by each client; 200 clients on
each server stay connected from one asyncio process; sides alternate change by change. Prints
``ws_status_p50``/``_p99`` as ``name: aria X ms, peer Y ms, ratio Z`` with **ratio = peer / aria**
(1.0: as fast as the bare broadcast; the goal is >= 0.8). Asserts nothing about time.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/queue.py would shadow the standard
# library's queue.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.modules.pop("queue", None)

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import time
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.ports import free_port

TARGET = "aria_workflow"
DELAY_S = 0.02  # a change happens this long after its request, on an idle loop: the request's own
                # response is not part of either side's latency


# -- the servers -----------------------------------------------------------------------------------------
class BenchDirectory:
    """The service directory the ``services`` topic reads: one service's status flips per change."""

    def __init__(self) -> None:
        self.current, self.stamp = "ready", 0.0

    async def status(self) -> dict[str, Any]:
        services = [{"name": TARGET, "status": self.current, "restarts": 0, "message": f"{self.stamp:.9f}"},
                    {"name": "aria_storage", "status": "ready", "restarts": 0, "message": ""}]
        return {"phase": "ready", "services": services, "counts": {}}

    async def service(self, name: str) -> dict[str, Any]:
        return {}

    def client(self, name: str) -> None:
        return None


def aria_app() -> Any:
    from fastapi import FastAPI

    from aria_actors.interface.api import router, runtime_of
    from aria_actors.runtime.http import install_problem_handlers
    from aria_actors.runtime.local import LocalClient
    from aria_actors.runtime.principal import Principal
    from aria_actors.security.testing import InProcessSecurity

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router)
    security = InProcessSecurity.started()
    directory = BenchDirectory()
    app.state.clients = {"aria_security": LocalClient(security)}
    app.state.directory = directory

    @app.get("/bench/token")
    async def token(sub: str) -> dict[str, str]:
        return {"token": await security.issue_token(Principal.operator(), sub, {"roles": ["viewer"]}, 3600)}

    def flip() -> None:
        directory.current = "degraded" if directory.current == "ready" else "ready"
        directory.stamp = time.monotonic()
        runtime_of(app).hub.wake("services")

    @app.post("/bench/change")
    async def change() -> dict[str, float]:
        asyncio.get_running_loop().call_later(DELAY_S, flip)
        return {"delay_s": DELAY_S}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def peer_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    sockets: set[WebSocket] = set()
    tasks: set[asyncio.Future[None]] = set()
    state = {"status": "ready"}

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        sockets.add(websocket)
        await websocket.send_text('{"type":"hello"}')
        try:
            while True:
                await websocket.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            sockets.discard(websocket)

    async def broadcast(message: str) -> None:
        for websocket in list(sockets):
            try:
                await websocket.send_text(message)
            except Exception:  # a client that went away: the others go on
                sockets.discard(websocket)

    def flip() -> None:
        state["status"] = "degraded" if state["status"] == "ready" else "ready"
        stamp = time.monotonic()
        message = json.dumps({"service": TARGET, "status": state["status"], "message": f"{stamp:.9f}"})
        tasks.add(task := asyncio.ensure_future(broadcast(message)))
        task.add_done_callback(tasks.discard)

    async def change(request: Request) -> JSONResponse:
        asyncio.get_running_loop().call_later(DELAY_S, flip)
        return JSONResponse({"delay_s": DELAY_S})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[WebSocketRoute("/ws", ws), Route("/bench/change", change, methods=["POST"]),
                             Route("/health", health)])


def serve(side: str, port: int) -> None:
    import uvicorn

    app = aria_app() if side == "aria" else peer_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, ws="auto")


def start(side: str) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", side, "--port", str(port)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    url = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"uvicorn ({side}) did not start on {url}")


# -- the clients -------------------------------------------------------------------------------------------
class Side:
    def __init__(self, name: str, url: str, clients: int) -> None:
        self.name, self.url, self.clients = name, url, clients
        self.samples: list[float] = []
        self.received = 0
        self.arrived = asyncio.Event()
        self.expected = 0
        self.sockets: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []

    def note(self, raw: str | bytes) -> None:
        now = time.monotonic()
        doc = json.loads(raw)
        data = doc.get("data", doc) if doc.get("type") == "event" else doc
        if doc.get("type") not in ("event", None) or data.get("service") != TARGET:
            return
        self.samples.append(now - float(data["message"]))
        self.received += 1
        if self.received >= self.expected:
            self.arrived.set()

    async def connect(self, http: Any) -> None:
        from websockets.asyncio.client import connect

        for i in range(self.clients):
            if self.name == "aria":
                token = (await http.get(f"http://{self.url}/bench/token", params={"sub": f"c{i}"})).json()["token"]
                ws = await connect(f"ws://{self.url}/v1/interface/ws", max_size=2**22,
                                   additional_headers={"Authorization": f"Bearer {token}"})
                await ws.send(json.dumps({"op": "subscribe", "topic": "services", "id": i}))
                ack = json.loads(await ws.recv())
                assert ack["type"] == "subscribed", ack
            else:
                ws = await connect(f"ws://{self.url}/ws", max_size=2**22)
                assert json.loads(await ws.recv())["type"] == "hello"
            self.sockets.append(ws)
            self.readers.append(asyncio.create_task(self._read(ws)))

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            self.note(raw)

    async def change(self, http: Any, keep: bool) -> None:
        kept = len(self.samples)
        self.received, self.expected = 0, self.clients
        self.arrived.clear()
        (await http.post(f"http://{self.url}/bench/change")).raise_for_status()
        await asyncio.wait_for(self.arrived.wait(), 30)
        if not keep:
            del self.samples[kept:]

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000


async def run(clients: int, changes: int, warmup: int, urls: dict[str, str]) -> dict[str, list[float]]:
    import httpx

    sides = {name: Side(name, url, clients) for name, url in urls.items()}
    async with httpx.AsyncClient(timeout=30) as http:
        for side in sides.values():
            await side.connect(http)
        await asyncio.sleep(0.5)  # let the producers' first polls settle
        for i in range(warmup + changes):
            order = ("aria", "peer") if i % 2 == 0 else ("peer", "aria")
            for name in order:
                await sides[name].change(http, keep=i >= warmup)
                await asyncio.sleep(0.05)
        for side in sides.values():
            await side.close()
    return {name: side.samples for name, side in sides.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--serve", choices=("aria", "peer"))
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    t0 = time.monotonic()
    procs = {side: start(side) for side in ("aria", "peer")}
    try:
        samples = asyncio.run(run(args.clients, args.changes, args.warmup,
                                  {side: url for side, (_, url) in procs.items()}))
    finally:
        for proc, _ in procs.values():
            proc.terminate()
            proc.wait(10)
    print(f"# {args.clients} WebSocket clients a side (one asyncio process), {args.changes} status changes a side "
          f"after {args.warmup} warm-up, sides alternating; uvicorn ws=auto, one process each; "
          f"{len(samples['aria'])} deliveries a side; {time.monotonic() - t0:.0f} s in all")
    print("# aria: real /v1/interface/ws handler + Hub, BearerAuth with an in-process test key, topic 'services' "
          "(woken on change); peer: bare Starlette WebSocketRoute, sequential send_text to every socket")
    for q in (50, 99):
        a, p = pct(samples["aria"], q), pct(samples["peer"], q)
        print(f"ws_status_p{q}: aria {a:.2f} ms, peer {p:.2f} ms, ratio {p / a:.2f} (peer/aria; >= 0.8 is the goal)")
    print(f"ws_status_max: aria {max(samples['aria']) * 1000:.2f} ms, peer {max(samples['peer']) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
