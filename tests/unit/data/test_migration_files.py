"""Discovery of migration files: naming, ordering, checksums, dependency order of services."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from aria_actors.data.errors import MigrationFileError, MigrationIrreversible
from aria_actors.data.migrations import discover, ordered_services, schema_of


def _write(root: Path, svc: str, files: dict[str, str]) -> Path:
    folder = root / svc / "migrations"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_discover_orders_by_version_and_pairs_down_files(tmp_path: Path) -> None:
    _write(tmp_path, "queue", {
        "0002_jobs_index.sql": "CREATE INDEX i ON jobs (id);",
        "0001_jobs.sql": "CREATE TABLE jobs (id int);",
        "0001_jobs.down.sql": "DROP TABLE jobs;",
        "README.md": "not a migration",
    })
    ms = discover("queue", tmp_path)
    assert [(m.service, m.version, m.name) for m in ms] == [
        ("aria_queue", 1, "jobs"), ("aria_queue", 2, "jobs_index"),
    ]
    assert ms[0].checksum == hashlib.sha256(b"CREATE TABLE jobs (id int);").hexdigest()
    assert ms[0].down_sql() == "DROP TABLE jobs;"
    with pytest.raises(MigrationIrreversible):
        ms[1].down_sql()
    assert discover("aria_queue", tmp_path) == ms


def test_no_folder_means_no_migrations(tmp_path: Path) -> None:
    assert discover("storage", tmp_path) == []


@pytest.mark.parametrize("files", [
    {"1_bad.sql": "x"},
    {"0001_Bad.sql": "x"},
    {"0001_a.sql": "x", "0001_b.sql": "y"},
    {"0001_a.sql": "x", "0002_b.down.sql": "y"},
    {"0001_a.sql": "x", "0001_b.down.sql": "y"},
])
def test_bad_files_are_refused(tmp_path: Path, files: dict[str, str]) -> None:
    _write(tmp_path, "queue", files)
    with pytest.raises(MigrationFileError):
        discover("queue", tmp_path)


def test_services_come_in_boot_order(tmp_path: Path) -> None:
    for svc in ("workflow", "queue", "data", "storage"):
        _write(tmp_path, svc, {"0001_x.sql": "SELECT 1;"})
    _write(tmp_path, "zz_plugin", {"0001_x.sql": "SELECT 1;"})
    order = ordered_services(None, tmp_path)
    assert order[0] == "aria_data"
    assert order.index("aria_queue") < order.index("aria_workflow")
    assert order.index("aria_storage") < order.index("aria_workflow")
    assert order[-1] == "aria_zz_plugin"
    assert ordered_services(["workflow", "aria_data"], tmp_path) == ["aria_data", "aria_workflow"]


def test_schema_per_service() -> None:
    assert schema_of("queue") == "aria_queue" == schema_of("aria_queue")
