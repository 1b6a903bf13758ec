"""A typed client passes every keyword argument to the service, even one named like the transport's
own first parameter: ``start_ab_test(..., method="fixed")`` once reached aria_tune's actor through
the gateway as ``CountedClient.call() got multiple values for argument 'method'`` (a 500), while
in-process tests, which call the service directly, passed (the typed-client side is in
tests/unit/tune/test_abtest.py)."""

from __future__ import annotations

import inspect

import pytest

from aria_actors.coordinate.degrade import CountedClient
from aria_actors.coordinate.directory import GuardedClient
from aria_actors.runtime.local import LocalClient
from aria_actors.runtime.service import ServiceClient
from aria_actors.runtime.shell import RayServiceClient
from aria_actors.runtime.testing import _CurrentUnitClient

TRANSPORTS = (ServiceClient, LocalClient, _CurrentUnitClient, CountedClient, GuardedClient, RayServiceClient)


@pytest.mark.parametrize("transport", TRANSPORTS, ids=lambda t: t.__name__)
def test_the_method_name_is_positional_only_in_every_transport(transport: type) -> None:
    first = list(inspect.signature(transport.call).parameters.values())[1]  # after self
    assert first.name == "method" and first.kind is inspect.Parameter.POSITIONAL_ONLY
