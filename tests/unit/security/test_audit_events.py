"""What another service may write into aria_security's audit log (``check_events``): never an
event that passes for one of aria_security's own records."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aria_actors.runtime.errors import BadRequest
from aria_actors.security.audit import RESERVED_OPS, check_events

SECURITY = Path(__file__).resolve().parents[3] / "aria_actors" / "security"
# the op of each record aria_security writes: _run("op", ...), _kv("op", ...), _transit("op", ...),
# and _audit.record(actor, "op", ...)
OWN_OP = re.compile(r"""(?:\b_run|\b_kv|\b_transit)\(\s*"([a-z_]+)"|\.record\([^,()]+,\s*"([a-z_]+)\"""")


@pytest.mark.parametrize("op", ["lockout", "authorize", "issue_token", "verify_token", "audit_read", "seal",
                                "unseal", "start", "stop", "repair", "kv_get", "scheduled_rotation"])
def test_aria_securitys_own_ops_are_refused(op: str) -> None:
    with pytest.raises(BadRequest) as info:
        check_events([{"op": "sso-login", "outcome": "denied"}, {"op": op, "outcome": "alert", "subject": "bob"}])
    assert info.value.fields["field"] == "events[1].op" and "records itself" in info.value.message


def test_other_services_ops_are_written() -> None:
    events = [{"op": op, "target": "t", "outcome": "denied", "subject": "s"}
              for op in ("sso-login", "passkey-cloned", "gateway_denial", "oidc-invalid-client", "lockout-drill")]
    assert [e[0] for e in check_events(events)] == [e["op"] for e in events]


def test_every_op_aria_security_records_is_reserved() -> None:
    found = set()
    for path in SECURITY.glob("*.py"):
        for match in OWN_OP.finditer(path.read_text()):
            found.add(match.group(1) or match.group(2))
    assert {"lockout", "authorize", "kv_get", "start"} <= found  # the scan sees them
    assert found <= RESERVED_OPS, sorted(found - RESERVED_OPS)
