"""``aria interpret ...``: character text, analytics and recommendations through the running gateway.

Commands reach Aria over HTTP (the SDK's ``aria.interpret`` section) with the bearer token in
``ARIA_TOKEN`` (or ``--token``). Errors print one red line and exit 1; bad usage exits 2. Answers
print as JSON.

    aria interpret embed "A brave knight." "A greedy merchant."
    aria interpret analyze "Ada is a brave knight from Paris." [--trait brave]
    aria interpret consistency "Ada is a coward." --trait brave
    aria interpret character-put ada "Ada is a brave knight." [--trait brave]
    aria interpret character-get ada | character-delete ada
    aria interpret similar --character ada [-k 5]   |   similar --text "a kind healer"
    aria interpret record events.json               (a JSON list of events, or - for stdin)
    aria interpret counts | patterns [--min-support 0.2] | interactions | development [--character bob]
    aria interpret suggest-traits ada               (content-based, from similar characters)
    aria interpret traits --picked brave --picked kind   (collaborative filtering)
    aria interpret train v1 [--dataset movielens-100k] [--set epochs=2] [--promote] [--no-wait]
    aria interpret din-trial --set lr=0.003 --set item_dim=16 [--epochs 3]   (evaluate only, nothing stored)
    aria interpret train-status 42 | retrain | models | model v1 | promote v1 | rollback
    aria interpret traffic v1=50 v2=50 | traffic --off | traffic-report | serving
    aria interpret recommend player-1 item-1 item-2 item-3 [-k 2]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from aria_actors.cli.support import TokenOpt, fail, key_values, sdk_call
from aria_actors.queue.jobs import FINISHED

app = typer.Typer(help="aria_interpret: character text, analytics and a DIN recommender (via the gateway).",
                  no_args_is_help=True)
out = Console()
Traits = typer.Option(None, "--trait", help="A trait (repeat for more).")


def _print(value: Any) -> None:
    out.print_json(json.dumps(value, default=str))


# -- text -----------------------------------------------------------------------------------------
@app.command()
def embed(texts: list[str] = typer.Argument(..., help="Texts to embed."), token: str | None = TokenOpt) -> None:
    """Sentence embeddings (all-MiniLM-L6-v2): prints each text's first values and norm."""
    got = sdk_call(token, lambda aria: aria.interpret.embed(texts), timeout=300)
    for text, vector in zip(texts, got["vectors"], strict=True):
        out.print(f"{text[:40]!r}: dim {len(vector)}, [{', '.join(f'{x:.3f}' for x in vector[:4])}, ...]")


@app.command()
def analyze(text: str, traits: list[str] | None = Traits, token: str | None = TokenOpt) -> None:
    """Entities, traits and sentiment of a description (and consistency with --trait)."""
    _print(sdk_call(token, lambda aria: aria.interpret.analyze(text, traits or None), timeout=300))


@app.command()
def consistency(text: str, traits: list[str] = Traits, token: str | None = TokenOpt) -> None:
    """How well a description supports each trait."""
    if not traits:
        fail("give at least one --trait", 2)
    _print(sdk_call(token, lambda aria: aria.interpret.consistency(traits, text), timeout=300))


@app.command("character-put")
def character_put(character_id: str, description: str, traits: list[str] | None = Traits,
                  token: str | None = TokenOpt) -> None:
    """Store a character's description (embedded and analysed) for search and recommendations."""
    _print(sdk_call(token, lambda aria: aria.interpret.put_character(character_id, description, traits or None),
                    timeout=300))


@app.command("character-get")
def character_get(character_id: str, token: str | None = TokenOpt) -> None:
    _print(sdk_call(token, lambda aria: aria.interpret.get_character(character_id)))


@app.command("character-delete")
def character_delete(character_id: str, token: str | None = TokenOpt) -> None:
    _print(sdk_call(token, lambda aria: aria.interpret.delete_character(character_id)))


@app.command()
def similar(character: str | None = typer.Option(None, "--character", help="A stored character's id."),
            text: str | None = typer.Option(None, "--text", help="Or a text."),
            k: int = typer.Option(10, "-k", min=1, max=1000), token: str | None = TokenOpt) -> None:
    """The stored characters most similar to a character or a text."""
    if (character is None) == (text is None):
        fail("give --character or --text", 2)
    got = sdk_call(token, lambda aria: aria.interpret.similar(character_id=character, text=text, k=k), timeout=300)
    for hit in got["results"]:
        out.print(f"{hit['score']:.3f}  {hit['character_id']}")


# -- events and analytics ----------------------------------------------------------------------------
@app.command()
def record(file: str = typer.Argument(..., help="JSON file with a list of events, or - for stdin."),
           token: str | None = TokenOpt) -> None:
    """Record events: actions, interactions, states, picks, feedback."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
        events = json.loads(text)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", 2)
    except json.JSONDecodeError as exc:
        fail(f"{file} is not JSON: {exc}", 2)
    _print(sdk_call(token, lambda aria: aria.interpret.record(events)))


@app.command()
def counts(token: str | None = TokenOpt) -> None:
    """Events recorded per kind."""
    _print(sdk_call(token, lambda aria: aria.interpret.event_counts()))


@app.command()
def patterns(min_support: float = typer.Option(0.2, "--min-support"), max_length: int = typer.Option(4, "--max-length"),
             k: int | None = typer.Option(None, "-k", help="Clusters (default: chosen by silhouette)."),
             token: str | None = TokenOpt) -> None:
    """Frequent action sequences and behaviour clusters."""
    _print(sdk_call(token, lambda aria: aria.interpret.patterns(min_support, max_length, k), timeout=300))


@app.command()
def interactions(alpha: float = typer.Option(0.05, "--alpha"), token: str | None = TokenOpt) -> None:
    """Who interacts with whom: rates and significantly over-interacting pairs."""
    _print(sdk_call(token, lambda aria: aria.interpret.interaction_stats(alpha), timeout=300))


@app.command()
def development(character: str | None = typer.Option(None, "--character"), k: int = typer.Option(3, "-k"),
                token: str | None = TokenOpt) -> None:
    """The character-development model's held-out metrics (and a character's likeliest next changes)."""
    _print(sdk_call(token, lambda aria: aria.interpret.development(character, k), timeout=300))


@app.command("suggest-traits")
def suggest_traits(character_id: str, k: int = typer.Option(5, "-k"), token: str | None = TokenOpt) -> None:
    """Traits a stored character lacks, from the most similar characters (content-based)."""
    _print(sdk_call(token, lambda aria: aria.interpret.recommend_attributes(character_id, k), timeout=300))


@app.command()
def traits(picked: list[str] | None = typer.Option(None, "--picked", help="A trait picked so far (repeat)."),
           player: str | None = typer.Option(None, "--player"), k: int = typer.Option(5, "-k"),
           token: str | None = TokenOpt) -> None:
    """Traits players pick together with the ones picked (collaborative filtering)."""
    _print(sdk_call(token, lambda aria: aria.interpret.recommend_traits(picked or [], player, k), timeout=300))


# -- recommender ------------------------------------------------------------------------------------------
@app.command()
def train(version: str, dataset: str = typer.Option("interactions", "--dataset",
                                                     help="interactions (your feedback events) or movielens-100k"),
          settings: list[str] | None = typer.Option(None, "--set", help="DIN setting KEY=VALUE (repeat)."),
          promote: bool = typer.Option(False, "--promote", help="Serve it when trained."),
          wait: bool = typer.Option(True, "--wait/--no-wait"), token: str | None = TokenOpt) -> None:
    """Train a DIN version as an aria_queue job (run as you)."""
    config = key_values(settings or [], "--set")
    job = sdk_call(token, lambda aria: aria.interpret.start_training(version, dataset, config, promote))
    out.print(f"job {job['job_id']}: training {version!r} on {dataset}")
    if not wait:
        return
    while True:
        status = sdk_call(token, lambda aria: aria.interpret.training_status(int(job["job_id"])))
        if status["state"] in {s.value for s in FINISHED} and (status["registered"] or status["state"] != "completed"):
            break
        time.sleep(2)
    _print(status)
    if status["state"] != "completed":
        raise typer.Exit(1)


@app.command("din-trial")
def din_trial(settings: list[str] | None = typer.Option(None, "--set", help="Hyperparameter KEY=VALUE (repeat)."),
              epochs: int = typer.Option(3, "--epochs", help="Epochs to run (the trial's budget)."),
              token: str | None = TokenOpt) -> None:
    """Evaluate DIN hyperparameters without storing a model: validation metrics per epoch, then
    the best epoch's, the parameter count and the scoring latency."""
    params = key_values(settings or [], "--set")
    started = sdk_call(token, lambda aria: aria.interpret.start_din_trial(params, epochs))
    out.print(f"trial {started['trial']}: {started['parameters']} parameters, {started['train_rows']} training rows")
    try:
        for _ in range(epochs):
            got = sdk_call(token, lambda aria: aria.interpret.din_trial_epoch(started["trial"]), timeout=300)
            out.print(f"epoch {got['epoch']}: valid gauc {got['valid']['gauc']:.4f} auc {got['valid']['auc']:.4f} "
                      f"({got['elapsed_s']:.1f} s)")
            if got["done"]:
                break
    finally:
        _print(sdk_call(token, lambda aria: aria.interpret.end_din_trial(started["trial"]), timeout=300))


@app.command("train-status")
def train_status(job_id: int, token: str | None = TokenOpt) -> None:
    _print(sdk_call(token, lambda aria: aria.interpret.training_status(job_id)))


@app.command()
def retrain(dataset: str = typer.Option("interactions", "--dataset"), token: str | None = TokenOpt) -> None:
    """Train a new version now and promote it if its test GAUC is at least the served one's."""
    _print(sdk_call(token, lambda aria: aria.interpret.retrain(dataset)))


@app.command()
def models(token: str | None = TokenOpt) -> None:
    """Model versions with their test metrics, the served one marked."""
    got = sdk_call(token, lambda aria: aria.interpret.list_versions())
    for v in got["versions"]:
        mark = "*" if v["version"] == got["served"] else " "
        test = v["metrics"].get("test", {})
        out.print(f"{mark} {v['version']}  {v['dataset']}  auc {test.get('auc')}  gauc {test.get('gauc')}")


@app.command()
def model(version: str, token: str | None = TokenOpt) -> None:
    _print(sdk_call(token, lambda aria: aria.interpret.get_version(version)))


@app.command()
def promote(version: str, reason: str = typer.Option("", "--reason"), token: str | None = TokenOpt) -> None:
    """Serve a version to everyone (ends an A/B test)."""
    _print(sdk_call(token, lambda aria: aria.interpret.promote(version, reason), timeout=300))


@app.command()
def rollback(token: str | None = TokenOpt) -> None:
    """Serve the version promoted before the current one."""
    _print(sdk_call(token, lambda aria: aria.interpret.rollback(), timeout=300))


@app.command()
def traffic(weights: list[str] | None = typer.Argument(None, help="VERSION=WEIGHT pairs."),
            off: bool = typer.Option(False, "--off", help="End the A/B test."), token: str | None = TokenOpt) -> None:
    """Start an A/B test between versions (or end it with --off)."""
    if off == bool(weights):
        fail("give VERSION=WEIGHT pairs or --off", 2)
    split = None if off else {k: float(v) for k, v in key_values(weights or [], "weights").items()}
    _print(sdk_call(token, lambda aria: aria.interpret.set_traffic(split), timeout=300))


@app.command("traffic-report")
def traffic_report(token: str | None = TokenOpt) -> None:
    _print(sdk_call(token, lambda aria: aria.interpret.traffic_report()))


@app.command()
def recommend(user: str, candidates: list[str] = typer.Argument(..., help="Item ids to rank."),
              k: int | None = typer.Option(None, "-k"), token: str | None = TokenOpt) -> None:
    """Rank items for a user with the served model."""
    got = sdk_call(token, lambda aria: aria.interpret.recommend(user, candidates, k), timeout=300)
    out.print(f"version {got['version']}, history {got['history']}, fallback {got['fallback']}")
    for row in got["items"]:
        out.print(f"{row['score']:.4f}  {row['item']}")


@app.command()
def serving(token: str | None = TokenOpt) -> None:
    """The served version, the A/B split and the scoring replicas."""
    _print(sdk_call(token, lambda aria: aria.interpret.serving_status()))
