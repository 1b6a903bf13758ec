"""Query-optimisation advice from real statistics, and EXPLAIN without side effects."""

from __future__ import annotations

import asyncpg

from aria_actors.data.optimize import advice, explain, plan_nodes


async def test_advice_and_explain(fresh_database: str) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute("""
            CREATE SCHEMA aria_notes;
            CREATE TABLE aria_notes.owners (id int PRIMARY KEY);
            CREATE TABLE aria_notes.items (id int PRIMARY KEY, owner int REFERENCES aria_notes.owners,
                                           label text, grp int);
            CREATE INDEX items_grp ON aria_notes.items (grp);
            INSERT INTO aria_notes.owners SELECT generate_series(1, 10);
            INSERT INTO aria_notes.items SELECT i, 1 + i % 10, 'l' || i, i % 7
              FROM generate_series(1, 20000) i;
            ANALYZE aria_notes.items;
        """)
        plan = await explain(conn, "SELECT * FROM aria_notes.items WHERE label = $1", "l5")
        assert "Seq Scan" in plan_nodes(plan["Plan"])
        for i in range(5):
            await conn.fetch("SELECT * FROM aria_notes.items WHERE label = $1", f"l{i}")
        await conn.execute("SELECT pg_stat_force_next_flush()")
        # A new session reads the flushed statistics.
        other = await asyncpg.connect(fresh_database)
        try:
            found = {(a.kind, a.target) for a in await advice(other, min_rows=10_000)}
        finally:
            await other.close()
        assert ("seq-scan", "aria_notes.items") in found
        assert ("unused-index", "aria_notes.items_grp") in found
        assert ("unindexed-fk", "aria_notes.items.items_owner_fkey") in found
        assert not any(t.startswith("aria_notes.owners") and k == "seq-scan" for k, t in found)

        # ANALYZE runs the statement, then rolls it back.
        done = await explain(conn, "DELETE FROM aria_notes.items WHERE id <= 100", analyze=True)
        assert done["Plan"]["Node Type"] == "ModifyTable" and "Execution Time" in done
        assert await conn.fetchval("SELECT count(*) FROM aria_notes.items") == 20000
    finally:
        await conn.close()
