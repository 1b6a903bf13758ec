"""Typed results of the gateway's system routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ServiceInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    layer: int
    kind: str
    depends_on: list[str]
    status: str
    message: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    restarts: int = 0
    last_error: str | None = None
    started_at: float | None = None
    uptime_s: float | None = None
    node: str | None = None
    pid: int | None = None
    capabilities: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    dependency_down: list[str] = Field(default_factory=list)


class ServicesStatus(BaseModel):
    phase: str
    counts: dict[str, int]
    services: list[ServiceInfo]

    def by_name(self) -> dict[str, ServiceInfo]:
        return {s.name: s for s in self.services}


class Health(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: str
    gateway: str
    phase: str | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    version: str | None = None
