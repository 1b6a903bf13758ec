"""Python client SDK for a running Aria: ``from aria_actors.sdk import AriaClient``."""

from __future__ import annotations

from aria_actors.sdk.client import AriaClient, AsyncAriaClient, Unreachable
from aria_actors.sdk.models import Health, ServiceInfo, ServicesStatus

__all__ = ["AriaClient", "AsyncAriaClient", "Health", "ServiceInfo", "ServicesStatus", "Unreachable"]
