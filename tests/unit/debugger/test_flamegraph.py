"""The flame graph SVG drawn from folded stacks: widths by samples, escaping, nothing active in it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aria_actors.debugger import flamegraph

NS = "{http://www.w3.org/2000/svg}"


def _frames(svg: str) -> dict[str, ET.Element]:
    """Each drawn frame's rectangle by the frame's name (the title up to its sample count)."""
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter(f"{NS}g"):
        title = g.find(f"{NS}title")
        assert title is not None and title.text
        out[title.text.rsplit(" (", 1)[0]] = g.find(f"{NS}rect")
    return out


def test_each_frame_is_as_wide_as_its_share_of_the_samples() -> None:
    svg = flamegraph.render(["main;work;parse 3", "main;work;write 1", "main;idle 4", "garbage line", "x;y 0"])
    frames = _frames(svg)
    assert set(frames) == {"all", "main", "work", "parse", "write", "idle"}
    span = flamegraph.WIDTH - 2 * flamegraph.PAD
    width = {name: float(rect.get("width", "0")) for name, rect in frames.items()}
    assert abs(width["all"] - span) < 0.01 and abs(width["main"] - span) < 0.01
    assert abs(width["work"] - span / 2) < 0.01 and abs(width["idle"] - span / 2) < 0.01
    assert abs(width["parse"] - span * 3 / 8) < 0.01 and abs(width["write"] - span / 8) < 0.01
    # children sit side by side inside their parent, one row above it (the root at the bottom)
    x = {name: float(rect.get("x", "0")) for name, rect in frames.items()}
    y = {name: float(rect.get("y", "0")) for name, rect in frames.items()}
    assert x["idle"] == x["main"] and abs(x["work"] - (x["idle"] + width["idle"])) < 0.01
    assert abs(x["write"] - (x["parse"] + width["parse"])) < 0.01
    assert y["all"] > y["main"] > y["work"] > y["parse"] == y["write"]
    titles = [t.text for t in ET.fromstring(svg).iter(f"{NS}title")]
    assert "parse (3 samples, 37.50%)" in titles


def test_names_are_escaped_and_the_svg_runs_nothing() -> None:
    evil = "<script>alert('x')</script> (evil&\"co\".py:1)"
    svg = flamegraph.render([f"ok;{evil};\x00bell 5"], title="<b>profile</b> & co")
    root = ET.fromstring(svg)  # well-formed XML, whatever the names
    assert "<script" not in svg and "<b>" not in svg
    assert evil in _frames(svg)  # the title keeps the whole name, escaped
    assert "?bell" in _frames(svg)  # a character XML cannot carry is replaced
    for el in root.iter():
        assert el.tag.removeprefix(NS) in {"svg", "rect", "text", "g", "title"}, el.tag
        assert not any(a.startswith("on") or "href" in a for a in el.attrib), el.attrib


def test_labels_are_cut_to_their_rectangle() -> None:
    assert flamegraph.label("abcdefghij", 6 + 7 * 10) == "abcdefghij"
    assert flamegraph.label("abcdefghijk", 6 + 7 * 10) == "abcdefgh.."
    assert flamegraph.label("abcdef", 20) == ""


def test_an_empty_profile_says_so_and_the_size_is_bounded() -> None:
    assert "no samples" in flamegraph.render([])
    many = [f"root;f{i} 1" for i in range(5000)]
    svg = flamegraph.render(many, max_frames=100)
    assert svg.count("<g>") == 100
    narrow = flamegraph.render([*many, "root;big 1000000"])
    assert len(_frames(narrow)) < 100  # frames under 0.1 px are left out


def test_own_code_stands_out_and_colours_are_stable() -> None:
    own = flamegraph.colour("plan (aria_actors/engine/planner.py:12)")
    assert own == flamegraph.colour("plan (aria_actors/engine/planner.py:12)")
    r, _g, b = (int(v) for v in own.removeprefix("rgb(").removesuffix(")").split(","))
    assert b > r  # blue-ish for Aria's frames, warm for the rest
    r, _g, b = (int(v) for v in flamegraph.colour("select (selectors.py:468)").removeprefix("rgb(")
               .removesuffix(")").split(","))
    assert r >= 205 and b <= 55


def test_a_stack_thousands_of_frames_deep_is_cut_and_drawn() -> None:
    deep = ";".join(f"f{i} (m.py:{i})" for i in range(5000)) + " 3"
    [(frames, n)] = flamegraph.parse([deep])
    assert n == 3 and len(frames) == flamegraph.MAX_STACK_FRAMES + 1 and frames[-1] == "[deeper frames cut]"
    svg = flamegraph.render([deep])
    ET.fromstring(svg)  # well-formed, no RecursionError
