"""Settings of aria_debugger: ``[debugger]`` in aria.toml, ``ARIA_DEBUGGER_*`` in the environment.

Read by aria_debugger and, for ``log_ring_size``, by every service's shell (each process keeps its
own ring of log records: runtime/logring.py)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aria_actors.runtime.section import SectionSettings


class DebuggerSettings(SectionSettings):
    """Log collection: each process's ring, how often aria_debugger reads every ring, how much it
    keeps in PostgreSQL."""

    section = "debugger"
    model_config = SettingsConfigDict(env_prefix="ARIA_DEBUGGER_", extra="forbid", frozen=True)

    log_ring_size: int = Field(
        10_000, ge=100, le=1_000_000, description="Log records each service process keeps for aria_debugger to "
        "collect; older ones are dropped (and counted) when it is not read in time.")
    logs_interval_s: float = Field(
        2.0, ge=0.2, le=3600, description="Seconds between two collections of every service's log records.")
    logs_batch: int = Field(
        2000, ge=10, le=50_000, description="Most records read from one service's ring in one door call.")
    logs_max_per_round: int = Field(
        20_000, ge=10, le=1_000_000, description="Most records taken from one service in one collection; the rest "
        "wait for the next (a flood of one service does not starve the others).")
    logs_door_timeout_s: float = Field(
        5.0, gt=0, le=60, description="How long one service may take to hand over its records.")
    logs_retention_s: float = Field(
        7 * 86400.0, ge=60, le=365 * 86400, description="Stored log records older than this are deleted.")
    logs_max_rows: int = Field(
        2_000_000, ge=1000, le=1_000_000_000, description="Most log records stored; the oldest go first.")
    logs_prune_interval_s: float = Field(
        60.0, ge=1, le=86400, description="Seconds between two rounds of deleting records past retention.")
    # The debug console (aria_debugger's console_*; runtime/console.py in every service's process).
    console_enabled: bool = Field(
        False, description="Let administrators run Python in a service's process (the debug console). "
        "Off by default: a console command can read and change anything that process holds.")
    console_max_sessions: int = Field(
        8, ge=1, le=64, description="Most console sessions open at once (in all, and in one process).")
    console_idle_s: float = Field(
        900.0, gt=0, le=86_400, description="A console session unused this long is closed.")
    console_timeout_s: float = Field(
        10.0, gt=0, le=75, description="A console command running longer is interrupted and answered as timed out "
        "(at most 75 s: with the door's slack it stays inside aria_debugger's 90 s call timeout).")
    console_max_output: int = Field(
        65_536, ge=1024, le=1_048_576, description="Most characters of a command's stdout, stderr and result "
        "returned (each).")
