"""Aria's HSM root: a SoftHSM2 token holding one non-extractable AES-256 key that wraps secrets.

OpenBao in this build has no ``pkcs11`` seal, so Aria keeps the Shamir unseal key (and its own
admin token) on disk only as AES-GCM ciphertext made inside the token. The plaintext exists in
memory while OpenBao is unsealed, never in a file.

Layout under ``<home>/security/hsm``::

    softhsm2.conf   points SoftHSM2 at tokens/ (SOFTHSM2_CONF is set to it in this process)
    tokens/         the token's object store (SoftHSM encrypts key objects under the user PIN)
    pin             generated user PIN, mode 0600, unless ARIA_SECURITY_HSM_PIN is given

Guarantees and caveats
----------------------
- The wrapping key is generated on the token with ``SENSITIVE=True, EXTRACTABLE=False``: PKCS#11
  refuses to export it, so wrapped blobs can only be opened through the token.
- Each blob is bound by AES-GCM associated data to its purpose (``unseal``, ``admin-token``): a
  blob copied to the other purpose's file does not open.
- The trust root is the PIN: SoftHSM is software, so root on this machine with the PIN file and
  the token directory can unwrap. Give the PIN through the environment to keep it off disk.
- ``SOFTHSM2_CONF`` is process-wide; the library is re-initialised before each use so one
  process can serve two homes one after the other (tests), not concurrently.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import secrets
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism
from pkcs11.mechanisms import GCMParams

from aria_actors.security.errors import HsmError, UnsealError

TOKEN_LABEL = "aria"
KEY_LABEL = "aria-wrap"
_LOCK = threading.Lock()


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the first byte (no window where it is 0644)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _loadable(module: str) -> bool:
    """Whether the PKCS#11 ``module`` is there: a path that exists, or a bare library name
    (``libsofthsm2.so``) the dynamic loader finds on its search path, as ``pkcs11.lib`` will."""
    if os.sep in module:
        return os.path.exists(module)
    # Loaded for real: ctypes.util.find_library answering does not mean this exact name loads
    # (it may know only libsofthsm2.so.2), and pkcs11.lib loads it into this process anyway.
    try:
        ctypes.CDLL(module)
    except OSError:
        return False
    return True


@dataclass
class SoftHsm:
    """A SoftHSM2 token under ``root`` with Aria's wrapping key; created on first use."""

    root: Path
    module: str = "/usr/lib/softhsm/libsofthsm2.so"
    pin: str = ""

    @property
    def conf_path(self) -> Path:
        return self.root / "softhsm2.conf"

    @property
    def pin_path(self) -> Path:
        return self.root / "pin"

    def ensure(self) -> None:
        """Create the token, its PIN and the wrapping key if they do not exist yet (idempotent)."""
        tokens = self.root / "tokens"
        tokens.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        missing = self.missing(initialising=not any(tokens.iterdir()))
        if missing:
            raise HsmError(missing, module=self.module)
        if not self.conf_path.exists():
            write_private(self.conf_path, (
                f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
            ).encode())
        if not self.pin:
            if not self.pin_path.exists():
                write_private(self.pin_path, secrets.token_urlsafe(24).encode())
            self.pin = self.pin_path.read_text().strip()
        if not any(tokens.iterdir()):
            so_pin = secrets.token_urlsafe(24)  # never needed again: Aria does no SO operations
            env = {**os.environ, "SOFTHSM2_CONF": str(self.conf_path)}
            proc = subprocess.run(
                ["softhsm2-util", "--init-token", "--free", "--label", TOKEN_LABEL,
                 "--so-pin", so_pin, "--pin", self.pin],
                env=env, capture_output=True, text=True, check=False,
            )
            if proc.returncode != 0:
                raise HsmError(f"softhsm2-util --init-token failed: {proc.stderr.strip()}",
                               module=self.module)
        with _LOCK, self._session(rw=True) as session:
            self._key(session, create=True)

    def missing(self, initialising: bool = True) -> str:
        """What of SoftHSM2 this machine lacks, as a sentence that says how to get it; '' if none.
        The softhsm2-util command is needed only to create the token."""
        lacking = [what for what, present in (
            ("the PKCS#11 module " + self.module, _loadable(self.module)),
            ("the softhsm2-util command", not initialising or shutil.which("softhsm2-util") is not None),
        ) if not present]
        if not lacking:
            return ""
        return (f"SoftHSM2 is missing ({' and '.join(lacking)}): install it with "
                "`apt-get install softhsm2` (scripts/install.sh does), or set "
                "ARIA_SECURITY_HSM_MODULE to another PKCS#11 module")

    def _session(self, rw: bool = False):
        if not self.pin and self.pin_path.exists():
            self.pin = self.pin_path.read_text().strip()
        os.environ["SOFTHSM2_CONF"] = str(self.conf_path)
        try:
            lib = pkcs11.lib(self.module)
            lib.reinitialize()  # pick up this home's SOFTHSM2_CONF
            token = lib.get_token(token_label=TOKEN_LABEL)
            return token.open(rw=rw, user_pin=self.pin)
        except pkcs11.PKCS11Error as exc:
            raise HsmError(f"cannot open HSM token {TOKEN_LABEL!r}: {type(exc).__name__}",
                           module=self.module) from None

    def _key(self, session, create: bool = False):
        try:
            return session.get_key(label=KEY_LABEL, key_type=KeyType.AES)
        except pkcs11.NoSuchKey:
            if not create:
                raise HsmError(f"wrapping key {KEY_LABEL!r} is missing from the token") from None
        return session.generate_key(
            KeyType.AES, 256, label=KEY_LABEL, store=True,
            template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
        )

    def key_attributes(self) -> dict[str, bool]:
        """The wrapping key's export attributes, read back from the token (for tests and health)."""
        with _LOCK, self._session() as session:
            key = self._key(session)
            return {"sensitive": bool(key[Attribute.SENSITIVE]),
                    "extractable": bool(key[Attribute.EXTRACTABLE])}

    def wrap(self, plaintext: bytes, purpose: str) -> bytes:
        """AES-GCM ``plaintext`` inside the token; returns a JSON blob safe to store on disk."""
        nonce = secrets.token_bytes(12)
        with _LOCK, self._session() as session:
            ct = self._key(session).encrypt(
                plaintext, mechanism=Mechanism.AES_GCM,
                mechanism_param=GCMParams(nonce, purpose.encode()),
            )
        return json.dumps({
            "v": 1, "alg": "AES-256-GCM", "key": KEY_LABEL, "purpose": purpose,
            "nonce": base64.b64encode(nonce).decode(), "ct": base64.b64encode(bytes(ct)).decode(),
        }).encode()

    def unwrap(self, blob: bytes, purpose: str) -> bytes:
        """Open a blob made by :meth:`wrap` for the same ``purpose``; raises UnsealError otherwise."""
        try:
            doc = json.loads(blob)
            nonce, ct = base64.b64decode(doc["nonce"]), base64.b64decode(doc["ct"])
        except (ValueError, KeyError) as exc:
            raise UnsealError(f"wrapped {purpose} blob is malformed: {exc}", purpose=purpose) from None
        with _LOCK, self._session() as session:
            try:
                return bytes(self._key(session).decrypt(
                    ct, mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(nonce, purpose.encode()),
                ))
            except pkcs11.PKCS11Error:
                raise UnsealError(
                    f"the HSM refused to unwrap the {purpose} blob (wrong token, key or purpose)",
                    purpose=purpose,
                ) from None
