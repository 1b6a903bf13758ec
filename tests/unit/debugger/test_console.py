"""The debug console's evaluator (runtime/console.py), Ray-free: interactive semantics (incomplete
input buffered, a last expression's repr), errors as text, output caps, a timeout that interrupts
the command, bounded sessions with idle expiry, and the door refusing while the console is off."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from typing import Any

import pytest

from aria_actors.runtime import console
from aria_actors.runtime.errors import BadRequest, Conflict, NotFound


def sid() -> str:
    return uuid.uuid4().hex


def sessions(**kw: Any) -> console.Sessions:
    return console.Sessions(lambda: {"service": "the service", "answer": 42}, **kw)


def run(s: console.Sessions, session: str, source: str) -> dict[str, Any]:
    return asyncio.run(s.run(session, source))


def test_a_session_holds_its_names_and_shows_the_last_expression() -> None:
    s, one = sessions(), sid()
    assert {"service", "answer"} <= set(s.open(one)["names"])
    got = run(s, one, "x = answer + 1\nx * 2")
    assert got["result"] == "86" and got["error"] is None and not got["incomplete"]
    assert run(s, one, "x")["result"] == "43"           # the namespace lives on
    assert run(s, one, "_")["result"] == "43"           # the last value, as in the REPL
    assert run(s, one, "import sys\nprint('hi')\nprint('oops', file=sys.stderr)") == {
        "incomplete": False, "stdout": "hi\n", "stderr": "oops\n", "result": None, "error": None,
        "truncated": False, "timed_out": False, "seconds": pytest.approx(0, abs=5)}
    other = sid()
    s.open(other)
    assert "NameError" in run(s, other, "x")["error"]   # sessions do not share names


def test_incomplete_input_is_buffered_until_complete() -> None:
    s, one = sessions(), sid()
    s.open(one)
    assert run(s, one, "for i in range(3):")["incomplete"] is True
    assert run(s, one, "    print(i)")["incomplete"] is True  # a block ends with an empty line
    got = run(s, one, "")
    assert got["stdout"] == "0\n1\n2\n" and not got["incomplete"]
    assert run(s, one, "(1,")["incomplete"] is True
    assert run(s, one, "2)")["result"] == "(1, 2)"
    # several statements at once (a pasted script) run without the empty line
    assert run(s, one, "t = 0\nfor i in range(4):\n    t += i\nt")["result"] == "6"


def test_errors_come_back_as_text_and_the_session_goes_on() -> None:
    s, one = sessions(), sid()
    s.open(one)
    bad = run(s, one, "def f(:")
    assert "SyntaxError" in bad["error"] and not bad["incomplete"]
    boom = run(s, one, "1 / 0")
    assert "ZeroDivisionError" in boom["error"] and 'File "<console>"' in boom["error"]
    assert "runtime/console.py" not in boom["error"]  # the evaluator's own frames are not shown
    assert "SystemExit" in run(s, one, "raise SystemExit(3)")["error"]
    assert run(s, one, "1 + 1")["result"] == "2"


def test_output_is_capped() -> None:
    s, one = sessions(max_output=1000), sid()
    s.open(one)
    got = run(s, one, "print('x' * 5000)\n'y' * 5000")
    assert len(got["stdout"]) == 1000 and len(got["result"]) == 1000 and got["truncated"] is True
    with pytest.raises(BadRequest):
        run(s, one, "x" * (console.MAX_SOURCE + 1))


def test_a_runaway_command_times_out_and_is_interrupted() -> None:
    s, one = sessions(timeout_s=0.3), sid()
    s.open(one)
    began = time.monotonic()
    got = run(s, one, "n = 0\nwhile True:\n    n += 1")
    assert got["timed_out"] is True and got["interrupted"] is True, got
    assert "timed out after 0.3 s" in got["error"] and time.monotonic() - began < 30
    assert run(s, one, "n > 0")["result"] == "True"  # the session is free again, its names kept
    # a timeout does not break the stream routing of other threads
    assert isinstance(sys.stdout, console._ThreadRouter)


def test_sessions_are_bounded_expire_and_close() -> None:
    s = sessions(max_sessions=2, idle_s=0.05)
    a, b = sid(), sid()
    s.open(a)
    s.open(b)
    with pytest.raises(Conflict):
        s.open(sid())
    with pytest.raises(Conflict):
        s.open(a)
    time.sleep(0.1)
    s.open(sid())  # the idle ones expired
    with pytest.raises(NotFound):
        run(s, a, "1")
    c = sid()
    s.open(c)
    assert s.close(c)["closed"] is True
    with pytest.raises(NotFound):
        s.close(c)
    with pytest.raises(BadRequest):
        s.open("../etc")


def test_the_door_refuses_while_the_console_is_off() -> None:
    s, one = sessions(), sid()
    with pytest.raises(console.ConsoleDisabled) as refused:
        asyncio.run(console.door(s, False, "open", one))
    assert refused.value.status == 409 and refused.value.type == "console-disabled"
    opened = asyncio.run(console.door(s, True, "open", one))
    assert opened["session"] == one and opened["pid"] > 0
    assert asyncio.run(console.door(s, True, "run", one, "answer"))["result"] == "42"
    with pytest.raises(BadRequest):
        asyncio.run(console.door(s, True, "eval", one))
