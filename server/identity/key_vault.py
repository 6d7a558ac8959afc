"""Secrets at rest: AES-256-GCM under the installation's master key.

A gateway must know each access key's secret to check signatures (SigV4 works the same
way), so secrets cannot be one-way hashes; they are encrypted instead. The master key
lives in its own file (`<data-dir>/master.key`, mode 0600, made on first start), apart from
the database: a copy of the database alone reveals no secret. The access key id is the
associated data, so a ciphertext moved to another key's row does not decrypt.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


class VaultError(Exception):
    """The master key is unusable, or a secret does not decrypt under it."""


def load_or_create_master_key(path: Path) -> bytes:
    if path.exists():
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise VaultError(f"the master key file must hold {KEY_BYTES} bytes")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = AESGCM.generate_key(bit_length=256)
    # O_EXCL: two gateways starting at once never end up with different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_master_key(path)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


class KeyVault:
    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(master_key)

    def seal(self, secret: str, context: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret.encode(), context.encode())

    def open(self, sealed: bytes, context: str) -> str:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:],
                                      context.encode()).decode()
        except (InvalidTag, ValueError):
            raise VaultError("a stored secret does not decrypt under the master key") from None


__all__ = ["KeyVault", "VaultError", "load_or_create_master_key"]
