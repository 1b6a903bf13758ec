"""aria_engine's errors: each names its culprit in keyword fields and says how to fix it."""

from __future__ import annotations

from aria_actors.runtime.errors import AriaError, Conflict, NotFound, ServiceUnavailable


class EngineError(AriaError):
    """The planner could not do what was asked."""

    type = "engine"
    status = 400
    title = "Planning error"


class UnknownDomainError(EngineError):
    """No domain is registered under this name; list the registered domains and use one of them."""

    type = "engine-unknown-domain"
    status = 404
    title = "Unknown planning domain"


class UnknownItemError(EngineError):
    """A todo item names no declared action, task or goal variable.

    Declare it with ``declare_actions``, ``declare_task_methods`` or ``declare_unigoal_methods``,
    or fix the spelling of the item's first element.
    """

    type = "engine-unknown-item"
    title = "Unknown task, action or goal"


class MethodReturnError(EngineError):
    """A method returned something other than a list (or False/None for "not applicable").

    Make the named method return a list of tasks, actions and goals.
    """

    type = "engine-method-return"
    title = "Method returned a non-list"


class ActionReturnError(EngineError):
    """An action returned something other than a State (or False/None for "not applicable").

    Make the named action return the state it was given (modified) or False.
    """

    type = "engine-action-return"
    title = "Action returned a non-state"


class GoalNotAchievedError(EngineError):
    """A goal method's refinement did not achieve the goal it was chosen for (goal verification).

    Fix the named method, or turn goal verification off for this domain if that is intended.
    """

    type = "engine-goal-not-achieved"
    title = "Goal method did not achieve its goal"


class DomainCodeError(EngineError):
    """A domain's own action or method raised on this input (wrong arguments for a task, a state
    variable of the wrong shape): the request does not fit the domain. Fix the state or todo list."""

    type = "engine-domain-code"
    status = 422
    title = "The domain's code refused this input"


class StateNotSerialisableError(EngineError):
    """A state variable cannot be pickled, so the state cannot travel between planner actors.

    Keep state variables to plain data (dicts, sets, lists, strings, numbers, tuples).
    """

    type = "engine-state-not-serialisable"
    title = "State is not serialisable"


class BudgetExhaustedError(EngineError):
    """The search used its whole node or time budget without an answer; raise the budget or simplify."""

    type = "engine-budget-exhausted"
    status = 422
    title = "Planning budget exhausted"


class BadBudgetError(EngineError):
    """A plan budget (max_nodes, max_seconds) that is zero, negative or not a number."""

    type = "engine-bad-budget"
    status = 422
    title = "Invalid planning budget"


class NoPlanError(EngineError):
    """The search space was exhausted: no plan achieves the todo list from this state."""

    type = "engine-no-plan"
    status = 422
    title = "No plan found"


class ExecutionError(EngineError):
    """Acting failed and could not be repaired within the allowed number of tries."""

    type = "engine-execution"
    status = 422
    title = "Plan execution failed"


class InvalidRequestError(EngineError):
    """A GOAP problem, behavior tree, coordination, repair or learning request is malformed or too
    large; ``field`` names the bad part and the message says what is allowed."""

    type = "engine-invalid-request"
    status = 422
    title = "Invalid planning request"


class PlanMismatchError(EngineError):
    """The plan to repair is not the plan the planner finds for the given state and todo list, so
    its decomposition tree (what repair re-refines) cannot be rebuilt: send the start state and
    todo list the plan was made from (and the same strategy)."""

    type = "engine-plan-mismatch"
    status = 409
    title = "Plan does not match its state and todo list"


# -- decision state (decisions.py) ---------------------------------------------------------------
class UnknownCharacterError(NotFound):
    """No decision state is stored for this character; give it a plan first
    (``PUT /v1/engine/characters/{character}/decision``) or list them (``GET /v1/engine/decisions``)."""

    type = "engine-unknown-character"
    title = "No decision state for this character"


class StaleDecisionError(Conflict):
    """The character's decision state changed since the version this write names (another writer
    got there first): read it again, then retry with its current ``version``."""

    type = "engine-stale-decision"
    title = "Decision state changed meanwhile"


class DecisionTransitionError(Conflict):
    """The character's decision state does not allow this now (advancing a plan that is done or
    failed, a step that does not apply to the character's beliefs): replan, or set a new plan."""

    type = "engine-decision-transition"
    title = "Not possible in the character's current decision state"


class DecisionInputError(EngineError):
    """A character name, plan, beliefs document or paging argument is malformed; the message
    names the bad part."""

    type = "engine-bad-decision"
    status = 422
    title = "Malformed decision state"


class DecisionStoreUnavailable(ServiceUnavailable):
    """aria_engine keeps decision states in PostgreSQL through aria_data, and this engine runs
    without it (no aria_data dependency, or ``--local``): start Aria with aria_data."""

    type = "engine-no-decision-store"
    title = "Decision state store not configured"
