"""Certificates for services from OpenBao's PKI engine: one internal root CA, issue, revoke, CRL.

Guarantees and caveats
----------------------
- The CA key is generated inside OpenBao (``internal``) and never leaves it; Aria only sees
  certificates. Private keys of issued certificates are returned once, to the caller, and are
  neither stored by Aria nor written to its audit log.
- Names are limited by the ``aria-services`` role: ``*.aria.internal``, ``localhost`` and IP SANs.
- The CRL is rebuilt by OpenBao on every revocation; :func:`crl_pem` returns the current one.
"""

from __future__ import annotations

from typing import Any

MOUNT = "pki"
ROLE = "aria-services"
DOMAIN = "aria.internal"


def bootstrap_ca(client: Any) -> None:
    """Create the root CA and the issuing role once (idempotent; needs a root-capable token)."""
    existing = client.adapter.get(f"/v1/{MOUNT}/ca/pem")
    text = existing.text if hasattr(existing, "text") else str(existing)
    if "BEGIN CERTIFICATE" not in text:
        client.secrets.pki.generate_root(
            "internal", "Aria Internal CA",
            extra_params={"ttl": "87600h", "key_type": "ec", "key_bits": 256},
            mount_point=MOUNT,
        )
        client.secrets.pki.set_urls({
            "issuing_certificates": [f"{client.url}/v1/{MOUNT}/ca"],
            "crl_distribution_points": [f"{client.url}/v1/{MOUNT}/crl"],
        }, mount_point=MOUNT)
    client.secrets.pki.create_or_update_role(ROLE, {
        "allowed_domains": [DOMAIN, "localhost"], "allow_subdomains": True,
        "allow_localhost": True, "allow_ip_sans": True, "allow_bare_domains": True,
        "key_type": "ec", "key_bits": 256, "max_ttl": "720h", "ttl": "72h",
    }, mount_point=MOUNT)


def issue(client: Any, common_name: str, alt_names: list[str] | None = None,
          ip_sans: list[str] | None = None, ttl: str = "72h") -> dict[str, Any]:
    extra: dict[str, Any] = {"ttl": ttl}
    if alt_names:
        extra["alt_names"] = ",".join(alt_names)
    if ip_sans:
        extra["ip_sans"] = ",".join(ip_sans)
    data = client.secrets.pki.generate_certificate(ROLE, common_name, extra_params=extra,
                                                   mount_point=MOUNT)["data"]
    return {"certificate": data["certificate"], "private_key": data["private_key"],
            "issuing_ca": data["issuing_ca"], "serial_number": data["serial_number"],
            "expiration": data["expiration"]}


def revoke(client: Any, serial_number: str) -> dict[str, Any]:
    return client.secrets.pki.revoke_certificate(serial_number, mount_point=MOUNT)["data"]


def ca_pem(client: Any) -> str:
    r = client.adapter.get(f"/v1/{MOUNT}/ca/pem")
    return r.text if hasattr(r, "text") else str(r)


def crl_pem(client: Any) -> str:
    r = client.adapter.get(f"/v1/{MOUNT}/crl/pem")
    return r.text if hasattr(r, "text") else str(r)
