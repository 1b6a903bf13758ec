"""Faults injected into a real PostgreSQL for tests of the services' transactions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any


@contextlib.asynccontextmanager
async def failing_once(db: Any, table: str, event: str, sqlstate: str, when: str = "true") -> AsyncIterator[None]:
    """The first ``event`` on ``table`` (where ``when``) fails with ``sqlstate``; later ones pass.

    A sequence counts the tries: nextval is not undone by the rollback of the failed attempt.
    SECURITY DEFINER: a tenant transaction's role may not use the sequence itself.
    """
    await db.execute(f"""
        CREATE SEQUENCE public.fail_once_seq;
        CREATE FUNCTION public.fail_once() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
            SET search_path = public AS $$
        BEGIN
            IF nextval('public.fail_once_seq') = 1 THEN
                RAISE EXCEPTION 'injected %', TG_ARGV[0] USING ERRCODE = TG_ARGV[0];
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER fail_once BEFORE {event} ON {table} FOR EACH ROW WHEN ({when})
            EXECUTE FUNCTION public.fail_once('{sqlstate}');
    """)
    try:
        yield
        assert await db.fetchval("SELECT last_value FROM public.fail_once_seq") >= 2  # it did fail once
    finally:
        await db.execute(f"DROP TRIGGER fail_once ON {table}; DROP FUNCTION public.fail_once(); "
                         "DROP SEQUENCE public.fail_once_seq;")
