"""``aria shape ...``: templates, characters, training and model versions through the running gateway.

Commands reach Aria over HTTP (``AriaSettings().gateway_url`` + ``/v1/shape``) with the bearer
token in ``ARIA_TOKEN`` (or ``--token``). Errors print one red line and exit 1; bad usage exits 2.

    aria shape templates [fantasy]
    aria shape validate fantasy character.json      (or - for stdin)
    aria shape generate fantasy [--name Ada] [--seed 3] [--save]
    aria shape characters [--after ID] [--limit N]
    aria shape rm CHARACTER_ID
    aria shape personality "I love parties." [--trait cheerful] [--json]
    aria shape train v2 [--steps 20] [--set learning_rate=0.01] [--no-wait]
    aria shape train-status 42
    aria shape models
    aria shape promote v2
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from aria_actors.cli.support import TokenOpt, fail, gateway_call
from aria_actors.queue.jobs import FINISHED

app = typer.Typer(
    help="Characters, GRPO training and model versions of aria_shape (via the gateway).", no_args_is_help=True
)


def _parse_settings(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


@app.command("arch-trial")
def arch_trial(settings: list[str] | None = typer.Option(None, "--set", help="num_layers|hidden_size|num_heads=N."),
               steps: int = typer.Option(60, "--steps", help="Training steps."), token: str | None = TokenOpt) -> None:
    """Evaluate a tiny Qwen3 architecture (nothing stored): held-out loss, parameters, latency."""
    params: dict[str, Any] = {}
    for pair in settings or []:
        key, sep, value = pair.partition("=")
        if not sep or not value.isdigit():
            fail(f"--set takes NAME=INTEGER, got {pair!r}", 2)
        params[key] = int(value)
    got = gateway_call(token, "POST", "/v1/shape/arch-trials", json={"params": params, "steps": steps}, timeout=300)
    typer.echo(json.dumps(got, indent=2, sort_keys=True))


@app.command()
def templates(
    name: str | None = typer.Argument(None, help="Print this template in full (JSON)."),
    token: str | None = TokenOpt,
) -> None:
    """List the character templates, or print template NAME as JSON."""
    if name:
        typer.echo(json.dumps(gateway_call(token, "GET", f"/v1/shape/templates/{name}"), indent=2, sort_keys=True))
        return
    table = Table("name", "traits", "attributes", "constraints", "description")
    for t in gateway_call(token, "GET", "/v1/shape/templates"):
        table.add_row(t["name"], str(len(t["traits"])), ", ".join(a["name"] for a in t["attributes"]) or "-",
                      str(len(t["constraints"])), t["description"])
    Console().print(table)


@app.command()
def validate(
    template: str,
    character: str = typer.Argument(..., help="A JSON file holding the character, or - for stdin."),
    token: str | None = TokenOpt,
) -> None:
    """Check a character against TEMPLATE: print it, parsed, or every bad field (exit 1)."""
    try:
        text = sys.stdin.read() if character == "-" else Path(character).read_text()
        body = json.loads(text)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"cannot read a JSON character from {character!r}: {exc}") from None
    out = gateway_call(token, "POST", "/v1/shape/characters/validate",
                       json={"template": template, "character": body})
    typer.echo(json.dumps(out["character"], indent=2, sort_keys=True))


@app.command()
def generate(
    template: str,
    name: str = typer.Option("", help="Name of the character."),
    seed: int | None = typer.Option(None, min=0, help="Seed for a reproducible character."),
    save: bool = typer.Option(False, help="Store it as a versioned character."),
    token: str | None = TokenOpt,
) -> None:
    """Generate a character of TEMPLATE (constraints always satisfied) and print it as JSON."""
    if save:
        out = gateway_call(  # the first generation may wait for the model to load
            token, "POST", "/v1/shape/characters", timeout=150,
            json={"template": template, "name": name, "seed": seed},
        )
    else:
        out = gateway_call(
            token, "POST", "/v1/shape/characters/generate", timeout=150,
            json={"template": template, "name": name, "seed": seed},
        )
        out.pop("embedding", None)
        out.pop("portrait_svg", None)
    typer.echo(json.dumps(out, indent=2, sort_keys=True))


@app.command()
def characters(
    after: str = typer.Option("", help="List after this character id (the previous page's next)."),
    limit: int = typer.Option(50, min=1, max=200, help="How many."),
    token: str | None = TokenOpt,
) -> None:
    """The characters you may read, by id."""
    page = gateway_call(token, "GET", "/v1/shape/characters",
                        params={"limit": limit, **({"after": after} if after else {})})
    table = Table("id", "name", "template", "version", "owner", "tenant", "updated")
    for c in page["items"]:
        table.add_row(c["id"], c["name"], c["template"], str(c["version"]), c["owner"] or "-",
                      c["tenant"] or "-", c["updated_at"])
    Console().print(table)
    if page["next"]:
        typer.echo(f"more: --after {page['next']}")


@app.command("rm")
def remove(character_id: str, token: str | None = TokenOpt) -> None:
    """Delete a character and all its versions."""
    gateway_call(token, "DELETE", f"/v1/shape/characters/{character_id}")
    typer.echo(f"{character_id}: deleted")


@app.command()
def personality(
    text: str = typer.Argument(..., help="Text to read a Big Five profile from (- for stdin)."),
    trait: list[str] = typer.Option([], "--trait", help="A character trait to compare with (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole answer as JSON."),
    token: str | None = TokenOpt,
) -> None:
    """Print the Big Five profile the trained personality model reads in TEXT (0 low, 1 high)."""
    body = sys.stdin.read() if text == "-" else text
    out = gateway_call(token, "POST", "/v1/shape/personality", timeout=150,  # the first call loads the model
                       json={"text": body, "traits": trait})
    if as_json:
        typer.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    columns = ["dimension", "text"] + (["traits"] if out["traits"] else [])
    table = Table(*columns)
    for dim, value in out["description"]["scores"].items():
        row = [dim, f"{value:.2f}"] + ([f"{out['traits']['scores'][dim]:.2f}"] if out["traits"] else [])
        table.add_row(*row)
    Console().print(table)
    if out["consistency"] is not None:
        typer.echo(f"consistency {out['consistency']:+.2f} (1: the text pushes every dimension the traits' way)")
    cv = out["model"].get("cv_accuracy", {})
    typer.echo("model: " + out["model"].get("embedding_model", "?") + ", held-out accuracy "
               + " ".join(f"{k} {v:.2f}" for k, v in cv.items()))


@app.command()
def train(
    version: str,
    steps: int = typer.Option(20, min=1),
    prompts_per_step: int = typer.Option(4, min=1),
    set_: list[str] = typer.Option([], "--set", help="GRPO setting KEY=VALUE (repeatable)."),
    seed: int = typer.Option(0, min=0),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for the run (Ctrl-C stops waiting, not the run)."),
    token: str | None = TokenOpt,
) -> None:
    """Enqueue a GRPO run on the served model whose result becomes model VERSION; wait for it."""
    job = gateway_call(
        token,
        "POST",
        "/v1/shape/train",
        json={
            "version": version,
            "steps": steps,
            "prompts_per_step": prompts_per_step,
            "settings": _parse_settings(set_),
            "seed": seed,
        },
    )
    if not wait:
        typer.echo(f"{version}: training job {job['job_id']} {job['state']} "
                   f"(follow it with: aria shape train-status {job['job_id']})")
        return
    _print_model(_wait(token, job))


POLL_S = 2.0


def _wait(token: str | None, job: dict[str, Any]) -> dict[str, Any]:
    """Poll the job until it finished; its state changes go to stderr. Ends the command unless
    it completed."""
    seen = None
    while True:
        now = (job["state"], job["attempt"])
        if now != seen:
            typer.echo(f"job {job['job_id']}: {job['state']} (attempt {job['attempt']}/{job['max_attempts']})",
                       err=True)
            seen = now
        if job["state"] in FINISHED:
            break
        time.sleep(POLL_S)
        job = gateway_call(token, "GET", f"/v1/shape/train/{job['job_id']}")
    if job["state"] != "completed":
        last = job["errors"][-1]["error"] if job["errors"] else "no error recorded"
        fail(f"training job {job['job_id']} ({job['version']}) {job['state']}: {last}")
    return job["model"]


def _print_model(out: dict[str, Any]) -> None:
    m = out["metrics"]
    before, after = (f"{v:.3f}" if v is not None else "-" for v in
                     (m.get("held_out_reward_before"), m.get("held_out_reward_after")))
    typer.echo(f"{out['id']}: held-out reward {before} -> {after} after {m['steps']} steps ({out['path']})")


@app.command("train-status")
def train_status(job_id: int, token: str | None = TokenOpt) -> None:
    """Print a training job (state, attempts, errors; the model version once it completed)."""
    typer.echo(json.dumps(gateway_call(token, "GET", f"/v1/shape/train/{job_id}"), indent=2, sort_keys=True))


@app.command()
def models(token: str | None = TokenOpt) -> None:
    """List model versions with their parent and metrics."""
    table = Table("id", "parent", "reward after", "path")
    for m in gateway_call(token, "GET", "/v1/shape/models"):
        after = m["metrics"].get("held_out_reward_after")
        table.add_row(m["id"], m["parent"] or "-", "-" if after is None else f"{after:.3f}", m["path"])
    Console().print(table)


@app.command()
def promote(
    version: str | None = typer.Argument(None, help="Version to serve; default the A/B leader."),
    token: str | None = TokenOpt,
) -> None:
    """Serve VERSION for all traffic (ends a running A/B test)."""
    out = gateway_call(token, "POST", "/v1/shape/promote", json={"version": version})
    typer.echo(f"serving {out['promoted']}")
