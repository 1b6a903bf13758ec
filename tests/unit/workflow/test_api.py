"""The /v1/workflow router, the SDK's ``aria.workflow`` section and ``aria workflow ...``: how
bodies map to service calls, validation before the service is called, permissions, problems
(a recording client stands in for the service; the service itself is tested in
tests/integration/workflow, the whole surface through a real `aria up` in tests/e2e)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aria_actors.cli import support
from aria_actors.runtime.principal import Principal
from aria_actors.runtime.testing import api_app
from aria_actors.sdk import AriaClient
from aria_actors.workflow import api, cli
from aria_actors.workflow.api import router
from aria_actors.workflow.errors import InvalidDefinition, RunStateConflict, UnknownRun

OPERATOR = Principal.operator()
EDITOR = Principal("ann", ("editor",), tenant="acme")
VIEWER = Principal("vic", ("viewer",), tenant="acme")
USER = Principal("u1", ("user",), tenant="acme")
RUN = "0b6c5f0e-8d4a-4f2e-9a51-6f1d2a3b4c5d"
DOC = {"name": "greet", "steps": [{"id": "hello", "set": {"value": "hi"}}]}


class Seq(list):
    """Answers of successive calls of one method; the last one repeats."""


class Recorder:
    """Stands in for aria_workflow: records each call; ``answers[method]`` is returned (a
    :class:`Seq` one item per call), an exception raised."""

    name = "aria_workflow"

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []
        self.answers = answers or {}

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((method, args, kwargs))
        answer = self.answers.get(method)
        if isinstance(answer, Seq):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, Exception):
            raise answer
        if answer is not None:
            return answer
        return {"metrics": "aria_workflow_runs_total 1\n"}.get(method, [] if method in ("definitions", "runs")
                                                                else {})


def make(caller: Principal = OPERATOR, answers: dict[str, Any] | None = None) -> tuple[TestClient, Recorder]:
    rec = Recorder(answers)
    return TestClient(api_app(router, clients={"aria_workflow": rec}, caller=caller)), rec


def _problem(r: Any, status: int, suffix: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith(suffix), body
    return body


# -- bodies map to the service's calls ----------------------------------------------------------------
def test_definition_routes_map_to_the_service_as_the_caller():
    client, rec = make(EDITOR)
    assert client.post("/v1/workflow/definitions", json={"document": DOC}).status_code == 201
    assert client.post("/v1/workflow/definitions/validate", json={"document": "name: greet\n"}).status_code == 200
    assert client.get("/v1/workflow/definitions").json() == []
    assert client.get("/v1/workflow/definitions/greet", params={"version": 2}).status_code == 200
    assert client.get("/v1/workflow/definitions/greet").status_code == 200
    assert client.get("/v1/workflow/definitions/greet/versions").status_code == 200
    assert client.post("/v1/workflow/definitions/greet/rollback").status_code == 200
    assert client.post("/v1/workflow/definitions/greet/rollback", json={"version": 1}).status_code == 200
    assert client.get("/v1/workflow/catalog").status_code == 200
    assert rec.calls == [
        ("publish", (EDITOR, DOC), {}), ("validate", (EDITOR, "name: greet\n"), {}), ("definitions", (EDITOR,), {}),
        ("definition", (EDITOR, "greet", 2), {}), ("definition", (EDITOR, "greet", None), {}),
        ("versions", (EDITOR, "greet"), {}), ("rollback", (EDITOR, "greet", None), {}),
        ("rollback", (EDITOR, "greet", 1), {}), ("catalog", (EDITOR,), {})]


def test_run_routes_map_to_the_service_as_the_caller():
    client, rec = make(EDITOR)
    r = client.post("/v1/workflow/runs", json={"name": "greet", "input": {"x": [1, 2]}, "idempotency_key": "k"})
    assert r.status_code == 202
    assert client.get("/v1/workflow/runs", params={"name": "greet", "state": "dead", "limit": 5}).json() == []
    assert client.get(f"/v1/workflow/runs/{RUN}").status_code == 200
    assert client.get(f"/v1/workflow/runs/{RUN}/history").status_code == 200
    assert client.post(f"/v1/workflow/runs/{RUN}/signals/approved", json={"payload": {"by": "boss"}}).status_code == 200
    assert client.post(f"/v1/workflow/runs/{RUN}/signals/go").status_code == 200  # no body: no payload
    for control in ("pause", "resume", "retry"):
        assert client.post(f"/v1/workflow/runs/{RUN}/{control}").status_code == 200
    assert client.post(f"/v1/workflow/runs/{RUN}/cancel", params={"compensate": "true"}).status_code == 200
    assert client.post(f"/v1/workflow/runs/{RUN}/cancel").status_code == 200
    assert client.post(f"/v1/workflow/runs/{RUN}/skip", json={"output": [1]}).status_code == 200
    assert client.post(f"/v1/workflow/runs/{RUN}/migrate", json={"version": 3}).status_code == 200
    step = {"id": "x", "set": {"value": 1}}
    assert client.post(f"/v1/workflow/runs/{RUN}/edit", json={"replace": [step]}).status_code == 200
    assert rec.calls == [
        ("start_run", (EDITOR, "greet", {"x": [1, 2]}, None, "k"), {}),
        ("runs", (EDITOR, "greet", "dead", 5), {}), ("run", (EDITOR, RUN), {}), ("history", (EDITOR, RUN), {}),
        ("signal", (EDITOR, RUN, "approved", {"by": "boss"}), {}), ("signal", (EDITOR, RUN, "go", None), {}),
        ("pause", (EDITOR, RUN), {}), ("resume", (EDITOR, RUN), {}), ("retry", (EDITOR, RUN), {}),
        ("cancel", (EDITOR, RUN, True), {}), ("cancel", (EDITOR, RUN, False), {}),
        ("skip", (EDITOR, RUN, [1]), {}), ("migrate", (EDITOR, RUN, 3), {}),
        ("edit", (EDITOR, RUN), {"add": None, "replace": [step]})]


def test_stats_and_metrics():
    client, rec = make(OPERATOR)
    assert client.get("/v1/workflow/stats", params={"name": "greet", "since_s": 60}).status_code == 200
    assert client.get("/v1/workflow/stats").status_code == 200
    metrics = client.get("/v1/workflow/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert metrics.text == "aria_workflow_runs_total 1\n"
    assert rec.calls == [("stats", (OPERATOR, "greet", 60.0), {}), ("stats", (OPERATOR, None, 86400.0), {}),
                         ("metrics", (OPERATOR,), {})]


# -- validation before the service ----------------------------------------------------------------------
@pytest.mark.parametrize("method, path, body", [
    ("POST", "/v1/workflow/definitions", {}),
    ("POST", "/v1/workflow/definitions", {"document": DOC, "tenant": "globex"}),
    ("POST", "/v1/workflow/definitions", {"document": ""}),
    ("POST", "/v1/workflow/definitions", {"document": 7}),
    ("POST", "/v1/workflow/definitions", {"document": "x" * (api.MAX_BYTES + 1)}),
    ("POST", "/v1/workflow/definitions/validate", {"document": {**DOC, "blob": "x" * api.MAX_BYTES}}),
    ("GET", "/v1/workflow/definitions/Not A Name", None),
    ("GET", "/v1/workflow/definitions/greet?version=0", None),
    ("POST", "/v1/workflow/definitions/greet/rollback", {"version": -1}),
    ("POST", "/v1/workflow/definitions/greet/rollback", {"to": 1}),
    ("POST", "/v1/workflow/runs", {"input": {}}),
    ("POST", "/v1/workflow/runs", {"name": "Greet!"}),
    ("POST", "/v1/workflow/runs", {"name": "greet", "version": 0}),
    ("POST", "/v1/workflow/runs", {"name": "greet", "idempotency_key": ""}),
    ("POST", "/v1/workflow/runs", {"name": "greet", "idempotency_key": "k" * 201}),
    # who a run acts as is the caller: a body cannot name it
    ("POST", "/v1/workflow/runs", {"name": "greet", "starter": {"subject": "admin", "roles": ["admin"]}}),
    ("GET", "/v1/workflow/runs?state=bogus", None),
    ("GET", "/v1/workflow/runs?limit=0", None),
    ("GET", "/v1/workflow/runs?limit=1001", None),
    ("GET", "/v1/workflow/runs/not-a-uuid", None),
    ("GET", f"/v1/workflow/runs/{RUN}x/history", None),
    ("POST", f"/v1/workflow/runs/{RUN}/signals/9lives", {"payload": 1}),
    ("POST", f"/v1/workflow/runs/{RUN}/signals/ok", {"payload": 1, "extra": 2}),
    ("POST", f"/v1/workflow/runs/{RUN}/cancel?compensate=maybe", None),
    ("POST", f"/v1/workflow/runs/{RUN}/migrate", {}),
    ("POST", f"/v1/workflow/runs/{RUN}/migrate", {"version": 10**7}),
    ("POST", f"/v1/workflow/runs/{RUN}/edit", {"add": [{"id": "x"}] * 101}),
    ("POST", f"/v1/workflow/runs/{RUN}/edit", {"add": ["not a step"]}),
    ("POST", f"/v1/workflow/runs/{RUN}/edit", {"remove": ["x"]}),
    ("GET", "/v1/workflow/stats?since_s=0", None),
    ("GET", "/v1/workflow/stats?since_s=inf", None),
    ("GET", "/v1/workflow/stats?name=NO", None),
])
def test_malformed_requests_are_422_before_the_service_runs(method, path, body):
    client, rec = make()
    _problem(client.request(method, path, json=body), 422, "/validation")
    assert rec.calls == []


@pytest.mark.parametrize("path, body", [
    ("/v1/workflow/runs", b'{"name": "greet", "input": {"x": NaN}}'),
    (f"/v1/workflow/runs/{RUN}/signals/go", b'{"payload": Infinity}'),
    (f"/v1/workflow/runs/{RUN}/skip", b'{"output": [-Infinity]}'),
])
def test_non_json_numbers_are_refused(path, body):
    client, rec = make()
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    _problem(r, 422, "/validation")
    assert rec.calls == []


def test_the_routers_patterns_are_the_services():
    from aria_actors.workflow import service

    assert api.SIGNAL == service.SIGNAL
    assert api.STATES == service.STATES
    bounds = service.WorkflowSettings.model_fields["max_input_bytes"].metadata
    assert next(b.le for b in bounds if hasattr(b, "le")) <= api.MAX_PAYLOAD


# -- permissions and problems -----------------------------------------------------------------------------
@pytest.mark.parametrize("method, path, body", [
    ("POST", "/v1/workflow/definitions", {"document": DOC}),
    ("POST", "/v1/workflow/definitions/greet/rollback", None),
    ("POST", "/v1/workflow/runs", {"name": "greet"}),
    ("POST", f"/v1/workflow/runs/{RUN}/signals/go", None),
    ("POST", f"/v1/workflow/runs/{RUN}/pause", None),
    ("POST", f"/v1/workflow/runs/{RUN}/edit", {"add": []}),
    ("GET", "/v1/workflow/metrics", None),
])
def test_a_viewer_reads_but_is_refused_changes_before_the_service_runs(method, path, body):
    client, rec = make(VIEWER)
    assert client.get("/v1/workflow/definitions").status_code == 200
    r = client.request(method, path, json=body)
    _problem(r, 403, "/forbidden")
    assert [c[0] for c in rec.calls] == ["definitions"]


def test_a_user_holds_no_workflow_right_and_anonymous_callers_are_unauthorized():
    client, rec = make(USER)
    _problem(client.get("/v1/workflow/runs"), 403, "/forbidden")
    client, rec = make(Principal.anonymous())
    _problem(client.get("/v1/workflow/definitions"), 401, "/unauthorized")
    assert rec.calls == []


def test_the_services_errors_become_problems_with_their_fields():
    cyclic = InvalidDefinition("steps[1].needs: a cycle a -> b -> a", where="steps[1].needs", problem="cycle")
    client, _ = make(answers={"publish": cyclic, "signal": RunStateConflict("run is completed", state="completed"),
                              "run": UnknownRun("no workflow run", run_id=RUN)})
    body = _problem(client.post("/v1/workflow/definitions", json={"document": DOC}), 422,
                    "/workflow-invalid-definition")
    assert body["where"] == "steps[1].needs" and body["problem"] == "cycle"
    assert _problem(client.post(f"/v1/workflow/runs/{RUN}/signals/go"), 409, "/workflow-run-state")["state"] == \
        "completed"
    _problem(client.get(f"/v1/workflow/runs/{RUN}"), 404, "/workflow-unknown-run")


def test_every_route_declares_the_method_it_fronts():
    from aria_actors.coordinate.gateway import route_permits
    from aria_actors.runtime.rpc import surface
    from aria_actors.workflow.client import WorkflowClient

    routes = [r for r in router.routes if getattr(r, "methods", None)]
    fronted = {check.method for r in routes for check in route_permits(r)}
    assert all(len(route_permits(r)) == 1 for r in routes)
    assert fronted == set(surface(WorkflowClient)), "a declared method without a route, or the reverse"


# -- the SDK section and the CLI over the router --------------------------------------------------------
@pytest.fixture
def gateway(monkeypatch):
    """``aria workflow ...`` and ``AriaClient.workflow`` over the router and a recording service."""

    def install(answers: dict[str, Any] | None = None) -> Recorder:
        client, rec = make(OPERATOR, answers)
        # a client per command, as `aria` makes one: closing it must not close the next one's
        monkeypatch.setattr(support, "make_client", lambda token, timeout: AriaClient(
            "http://testserver", http=TestClient(client.app)))
        monkeypatch.setattr(cli, "POLL_S", 0.0)
        return rec

    return install


runner = CliRunner()


def test_the_sdk_raises_the_services_errors(gateway):
    gateway({"run": UnknownRun("no workflow run", run_id=RUN)})
    with support.make_client(None, 5) as aria:
        with pytest.raises(UnknownRun) as missing:
            aria.workflow.run(RUN)
        assert missing.value.fields["run_id"] == RUN and missing.value.http_status == 404
        assert aria.workflow.metrics() == b"aria_workflow_runs_total 1\n"


def test_publish_reads_a_file_or_stdin_and_sends_its_text(gateway, tmp_path):
    rec = gateway({"publish": {"name": "greet", "version": 1}})
    doc = tmp_path / "greet.yaml"
    doc.write_text("name: greet\nsteps:\n  - {id: hello, set: {value: hi}}\n")
    r = runner.invoke(cli.app, ["publish", str(doc)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"name": "greet", "version": 1}
    r = runner.invoke(cli.app, ["validate", "-"], input='{"name": "greet"}')
    assert r.exit_code == 0, r.output
    assert rec.calls == [("publish", (OPERATOR, doc.read_text()), {}),
                         ("validate", (OPERATOR, '{"name": "greet"}'), {})]
    r = runner.invoke(cli.app, ["publish", str(tmp_path / "missing.yaml")])
    assert r.exit_code == 2 and "cannot read" in r.output


def test_a_refused_document_is_one_red_line_naming_the_place(gateway, tmp_path):
    gateway({"validate": InvalidDefinition("steps[0].call.service: no service 'aria_nowhere'",
                                           where="steps[0].call.service", problem="unknown-service")})
    doc = tmp_path / "bad.json"
    doc.write_text(json.dumps(DOC))
    r = runner.invoke(cli.app, ["validate", str(doc)])
    assert r.exit_code == 1
    assert "Invalid workflow definition" in r.output and "steps[0].call.service" in r.output


def test_start_sends_the_input_and_wait_polls_until_the_run_ends(gateway, tmp_path):
    started = {"run_id": RUN, "name": "greet", "version": 2, "created": True}
    rec = gateway({"start_run": started, "run": Seq([{"state": "running"}, {"state": "waiting"},
                                                     {"state": "completed", "output": "hi"}])})
    r = runner.invoke(cli.app, ["start", "greet", "--input", '{"who": "Wyn"}', "--version", "2", "--key", "k1",
                                "--wait"])
    assert r.exit_code == 0, r.output
    assert '"output": "hi"' in r.output
    assert rec.calls[0] == ("start_run", (OPERATOR, "greet", {"who": "Wyn"}, 2, "k1"), {})
    assert [c[0] for c in rec.calls] == ["start_run", "run", "run", "run"]

    rec = gateway({"start_run": started, "run": {"state": "dead", "error": {"step": "x"}}})
    source = tmp_path / "input.json"
    source.write_text('{"who": "Bo"}')
    r = runner.invoke(cli.app, ["start", "greet", "--input", f"@{source}", "--wait"])
    assert r.exit_code == 1 and '"dead"' in r.output  # a run that did not complete fails the command
    assert rec.calls[0] == ("start_run", (OPERATOR, "greet", {"who": "Bo"}, None, None), {})

    rec = gateway()
    r = runner.invoke(cli.app, ["start", "greet", "--input", "{not json"])
    assert r.exit_code == 2 and "--input is not JSON" in r.output
    assert rec.calls == []


def test_controls_and_edits(gateway, tmp_path):
    rec = gateway({"history": {"run_id": RUN, "name": "greet", "state": "completed", "events": [
        {"at": "2030-01-01T00:00:00+00:00", "kind": "started", "key": None, "detail": {"version": 1}}]}})
    steps = tmp_path / "steps.yaml"
    steps.write_text("- id: read\n  needs: [first]\n  set: {value: patched}\n")
    one = tmp_path / "one.json"
    one.write_text('{"id": "extra", "set": {"value": 1}}')
    for args in (["signal", RUN, "approved", "--payload", '{"by": "me"}'], ["pause", RUN], ["resume", RUN],
                 ["cancel", RUN, "--compensate"], ["retry", RUN], ["skip", RUN, "--output", '"stand-in"'],
                 ["migrate", RUN, "2"], ["edit", RUN, "--replace", str(steps), "--add", str(one)],
                 ["rollback", "greet", "--to", "1"], ["definition", "greet", "-v", "3"], ["history", RUN],
                 ["stats", "--workflow", "greet", "--since", "60"], ["metrics"]):
        r = runner.invoke(cli.app, args)
        assert r.exit_code == 0, (args, r.output)
    assert rec.calls == [
        ("signal", (OPERATOR, RUN, "approved", {"by": "me"}), {}), ("pause", (OPERATOR, RUN), {}),
        ("resume", (OPERATOR, RUN), {}), ("cancel", (OPERATOR, RUN, True), {}), ("retry", (OPERATOR, RUN), {}),
        ("skip", (OPERATOR, RUN, "stand-in"), {}), ("migrate", (OPERATOR, RUN, 2), {}),
        ("edit", (OPERATOR, RUN), {"add": [{"id": "extra", "set": {"value": 1}}],
                                 "replace": [{"id": "read", "needs": ["first"], "set": {"value": "patched"}}]}),
        ("rollback", (OPERATOR, "greet", 1), {}), ("definition", (OPERATOR, "greet", 3), {}),
        ("history", (OPERATOR, RUN), {}), ("stats", (OPERATOR, "greet", 60.0), {}), ("metrics", (OPERATOR,), {})]
    r = runner.invoke(cli.app, ["edit", RUN])
    assert r.exit_code == 2 and "--add or --replace" in r.output


def test_typed_client_methods_name_their_service_and_plain_functions_are_refused() -> None:
    from aria_actors.shape.client import ShapeClient
    from aria_actors.storage.client import StorageClient
    from aria_actors.workflow.context import client_target

    assert client_target(ShapeClient.portrait) == ("aria_shape", "portrait")
    assert client_target(StorageClient.put) == ("aria_storage", "put")
    with pytest.raises(TypeError, match="typed client"):
        client_target(len)


@pytest.mark.parametrize(("model", "field"), [("StartRequest", "input"), ("SignalRequest", "payload"),
                                              ("SkipRequest", "output")])
def test_payloads_over_the_bound_are_refused_naming_their_field(model: str, field: str) -> None:
    from pydantic import ValidationError

    extra = {"name": "greet"} if model == "StartRequest" else {}
    with pytest.raises(ValidationError, match=f"{field} is .* bytes of JSON; at most {api.MAX_PAYLOAD}"):
        getattr(api, model)(**extra, **{field: "x" * (api.MAX_PAYLOAD + 1)})


@pytest.mark.parametrize(("roles", "allowed"), [(("admin",), True), (("operator",), True), (("editor",), True),
                                                (("viewer",), False), (("user",), False), (("service",), False)])
def test_only_holders_of_run_start_may_start_a_workflow_as_a_queue_job(roles: tuple[str, ...], allowed: bool) -> None:
    # the job door of start_run (@rpc job=True): aria_queue checks the enqueuer as the method would
    from aria_actors.queue.registry import Registry
    from aria_actors.runtime.errors import Forbidden
    from aria_actors.runtime.principal import Principal

    caller = Principal(subject="p", roles=roles, tenant="acme")
    worker = "service:aria_workflow.start_run"
    if allowed:
        Registry().authorize(worker, caller)
    else:
        with pytest.raises(Forbidden):
            Registry().authorize(worker, caller)
