"""aria_engine: HTN planning (GTPyhop model), GOAP, behavior trees, parallel planners.

Core (Ray-free): :class:`State`, :class:`Multigoal`, :class:`Domain`, :func:`find_plan`;
GTPyhop's API for unchanged domain files: ``from aria_actors.engine import pyhop as gtpyhop``.
"""

from __future__ import annotations

from aria_actors.engine.domain import Domain, m_split_multigoal
from aria_actors.engine.planner import Budget, PlanResult, find_plan
from aria_actors.engine.repair import act, repair_plan
from aria_actors.engine.state import Multigoal, State

__all__ = ["Budget", "Domain", "Multigoal", "PlanResult", "State", "act", "find_plan",
           "m_split_multigoal", "repair_plan"]
