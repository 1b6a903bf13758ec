"""Where alerts go when they fire or resolve: the log, and the configured webhooks.

A webhook gets Alertmanager's webhook payload (version 4), so whatever takes Alertmanager's
notifications takes Aria's. Receivers are named in the settings (``[monitor] webhooks``); no
request can add one. A delivery that fails is logged and counted, and not retried: the next
change of the same alert is sent again, and the UI reads alerts from aria_monitor directly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from aria_actors.monitor.rules import Alert

log = logging.getLogger("aria.monitor.alerts")
ZERO_TIME = "0001-01-01T00:00:00Z"


def _iso(t: float | None) -> str:
    if t is None:
        return ZERO_TIME
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def fingerprint(labels: Iterable[tuple[str, str]]) -> str:
    """The alert's identity, the same in every process and after a restart (as Alertmanager's)."""
    text = "\0".join(f"{k}\0{v}" for k, v in sorted(labels))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def payload(receiver: str, alerts: Iterable[Alert], external_url: str) -> dict[str, Any]:
    rows = []
    for a in alerts:
        labels = dict(a.labels)
        resolved = a.state == "inactive"
        rows.append({"status": "resolved" if resolved else "firing", "labels": labels,
                     "annotations": dict(a.annotations), "startsAt": _iso(a.fired_at or a.active_at),
                     "endsAt": _iso(a.resolved_at) if resolved else ZERO_TIME,
                     "generatorURL": f"{external_url}/v1/monitor/alerts",
                     "fingerprint": fingerprint(a.labels)})
    status = "firing" if any(r["status"] == "firing" for r in rows) else "resolved"
    common = dict(set.intersection(*(set(r["labels"].items()) for r in rows))) if rows else {}
    return {"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": status,
            "receiver": receiver, "groupLabels": {}, "commonLabels": common, "commonAnnotations": {},
            "externalURL": external_url, "alerts": rows}


class Notifier:
    def __init__(self, webhooks: Mapping[str, str], timeout_s: float, external_url: str) -> None:
        self.webhooks = dict(webhooks)
        self.timeout_s, self.external_url = timeout_s, external_url
        self.sent: dict[str, int] = dict.fromkeys(self.webhooks, 0)
        self.failed: dict[str, int] = dict.fromkeys(self.webhooks, 0)
        self.last_error: dict[str, str] = {}
        self._http: httpx.AsyncClient | None = None

    async def notify(self, changed: list[Alert]) -> None:
        if not changed:
            return
        for a in changed:
            labels = dict(a.labels)
            level = logging.WARNING if a.state == "firing" else logging.INFO
            state = "firing" if a.state == "firing" else "resolved"
            log.log(level, "alert %s %s %s: %s", labels.pop("alertname", ""), state, labels,
                    a.annotations.get("summary", ""))
        if not self.webhooks:
            return
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False)
        for name, url in self.webhooks.items():
            try:
                r = await self._http.post(url, json=payload(name, changed, self.external_url))
                r.raise_for_status()
                self.sent[name] += 1
            except httpx.HTTPError as exc:
                # The URL is the receiver's secret (tokens in its path or userinfo): never in the
                # error kept for health() or in the log; the type and the status say enough.
                self.failed[name] += 1
                status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
                self.last_error[name] = type(exc).__name__ + (f" (HTTP {status})" if status else "")
                log.warning("alert webhook %s failed: %s", name, self.last_error[name])

    def status(self) -> dict[str, Any]:
        return {n: {"sent": self.sent[n], "failed": self.failed[n], "last_error": self.last_error.get(n)}
                for n in self.webhooks}

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
