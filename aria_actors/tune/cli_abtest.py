"""``aria tune ab ...``: A/B tests of model versions with a significance test deciding promotion
(``/v1/tune/ab-tests``; abtest.py says how).

    aria tune ab start NAME --target aria_shape --control base --candidate v2 [--share 0.5]
                       [--alpha 0.05] [--min-samples 100] [--max-samples N] [--minimize] [--study S]
                       [--method sequential|fixed] [--effect D]
    aria tune ab ls [--status running] [--json]
    aria tune ab show NAME [--json]
    aria tune ab decide NAME          (promotes the winner; 409 while collecting or undecided)
    aria tune ab stop NAME            (the control is served again)
"""

from __future__ import annotations

import json
from typing import Any

import typer

from aria_actors.cli.support import TokenOpt, sdk_call

app = typer.Typer(help="A/B tests of model versions: a significance test decides promotion.", no_args_is_help=True)


def _json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def _g(value: Any, fmt: str = ".4g") -> str:
    return "-" if value is None else f"{value:{fmt}}"


def _summary(test: dict[str, Any]) -> None:
    typer.echo(f"{test['name']}  {test['target']}  {test['control']} vs {test['candidate']}  {test['status']}"
               + (f"  winner {test['winner']}" if test.get("winner") else "")
               + (f"  split {test['split']}" if test.get("split") else ""))
    r = test.get("result") or {}
    if "verdict" not in r:
        if r.get("error"):
            typer.echo(f"  error: {r['error']}")
        return
    for arm in ("control", "candidate"):
        a = r[arm]
        typer.echo(f"  {arm:9} {a['version']}: n {a['n']}, mean {_g(a['mean'])}, variance {_g(a['variance'])}")
    typer.echo(f"  difference {_g(r['difference'])} [{_g(r['ci_low'])}, {_g(r['ci_high'])}], "
               f"p {_g(r['p_value'])}" + (f", always-valid p {_g(r.get('always_valid_p_value'))}"
                                          if r.get("method") == "sequential" else "")
               + f", verdict {r['verdict']}"
               + (f" ({r['samples_needed']} more per arm)" if r.get("samples_needed") else ""))


@app.command("start")
def start(name: str, target: str = typer.Option(..., "--target", help="aria_shape or aria_interpret."),
          control: str = typer.Option(..., "--control", help="The version served now."),
          candidate: str = typer.Option(..., "--candidate", help="The version tested against it."),
          share: float = typer.Option(0.5, "--share", help="The candidate's share of traffic."),
          alpha: float = typer.Option(0.05, "--alpha"), min_samples: int = typer.Option(100, "--min-samples"),
          max_samples: int | None = typer.Option(None, "--max-samples"),
          minimize: bool = typer.Option(False, "--minimize", help="A lower mean feedback is better."),
          study: str | None = typer.Option(None, "--study", help="The study the candidate won."),
          method: str = typer.Option("sequential", "--method",
                                     help="sequential (mSPRT: decide may be polled) or fixed (Welch, one look)."),
          effect: float | None = typer.Option(None, "--effect", help="sequential: the standardised effect "
                                              "size to tune to (default: a mixture from 0.05 to 2)."),
          token: str | None = TokenOpt) -> None:
    """Split the target's traffic between two versions until a verdict."""
    _summary(sdk_call(token, lambda aria: aria.tune.start_ab_test(
        name, target, control, candidate, share=share, alpha=alpha, min_samples=min_samples,
        max_samples=max_samples, direction="minimize" if minimize else "maximize", study=study, method=method,
        effect=effect)))


@app.command("ls")
def ls(status: str | None = typer.Option(None, "--status", help="running, promoted, kept or stopped."),
       as_json: bool = typer.Option(False, "--json"), token: str | None = TokenOpt) -> None:
    """A/B tests, newest first."""
    got = sdk_call(token, lambda aria: aria.tune.ab_tests(status))
    if as_json:
        _json(got)
        return
    for t in got:
        typer.echo(f"{t['name']}  {t['target']}  {t['control']} vs {t['candidate']}  {t['status']}"
                   + (f"  winner {t['winner']}" if t.get("winner") else ""))


@app.command("show")
def show(name: str, as_json: bool = typer.Option(False, "--json"), token: str | None = TokenOpt) -> None:
    """One test with its statistics and verdict."""
    got = sdk_call(token, lambda aria: aria.tune.ab_test(name))
    if as_json:
        _json(got)
        return
    _summary(got)


@app.command("decide")
def decide(name: str, token: str | None = TokenOpt) -> None:
    """Promote the winner (audited); refused while collecting or undecided."""
    _summary(sdk_call(token, lambda aria: aria.tune.decide_ab_test(name)))


@app.command("stop")
def stop(name: str, token: str | None = TokenOpt) -> None:
    """End the test without a verdict; the control is served again (audited)."""
    _summary(sdk_call(token, lambda aria: aria.tune.stop_ab_test(name)))
