from __future__ import annotations

import json

from typer.testing import CliRunner

from aria_actors.storage.cli import app

runner = CliRunner()


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_make_extract_stats_gc_verify_sync(tmp_path, structured_blob):
    src = tmp_path / "a.bin"
    src.write_bytes(structured_blob)
    store = str(tmp_path / "store")
    made = _json(runner.invoke(app, ["make", str(src), str(tmp_path / "a.caibx"), "--store", store]))
    assert made["bytes"] == len(structured_blob) and made["new_chunks"] == made["chunks"]
    seed_out = _json(runner.invoke(app, ["extract", str(tmp_path / "a.caibx"), str(tmp_path / "o.bin"),
                                         "--store", store, "--seed", str(src)]))
    assert (tmp_path / "o.bin").read_bytes() == structured_blob
    assert seed_out["from_seed"] == seed_out["chunks"]
    s = _json(runner.invoke(app, ["stats", "--store", store, "--index", str(tmp_path / "a.caibx")]))
    assert s["logical_bytes"] == len(structured_blob)
    assert _json(runner.invoke(app, ["verify", "--store", store]))["corrupt"] == {}
    synced = _json(runner.invoke(app, ["sync", store, str(tmp_path / "mirror")]))
    assert synced["copied"] == made["chunks"]
    g = _json(runner.invoke(app, ["gc", "--store", store, "--index", str(tmp_path / "a.caibx"),
                                  "--grace", "0"]))
    assert g["removed"] == 0 and g["kept"] == made["chunks"]


def test_errors_exit_1_and_usage_2(tmp_path):
    r = runner.invoke(app, ["extract", "/nonexistent.caibx", str(tmp_path / "o"), "--store", "x"])
    assert r.exit_code == 2
    bad = tmp_path / "bad.caibx"
    bad.write_bytes(b"\0" * 50)
    r = runner.invoke(app, ["extract", str(bad), str(tmp_path / "o"), "--store", str(tmp_path)])
    assert r.exit_code == 1 and "truncated" in r.output
    src = tmp_path / "f"
    src.write_bytes(b"x")
    r = runner.invoke(app, ["make", str(src), str(tmp_path / "i"), "--store", str(tmp_path / "s"),
                            "--chunk-size", "1:2"])
    assert r.exit_code == 2
