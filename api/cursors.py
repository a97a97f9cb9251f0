"""Opaque cursors: the position of a row in its ordering (sort value, key), not an offset, so a
page stays right when rows are added before it.

A position holds a node's key, which can be a patient's identifier, so the cursor is
encrypted (AES-GCM): a caller sees an opaque token that neither shows nor accepts anything it
could not query, and a tampered or foreign cursor is refused. The key comes from
``CAREGRAPH_API_CURSOR_KEY`` (needed when several processes serve one API); without it each
process makes its own, and cursors last as long as the process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from caregraph.api.errors import BadArgumentError

PREFIX = "cg1."
_PROCESS_KEY = os.urandom(32)
_WHY = "not a cursor this API gave out; pass an endCursor or nextCursor unchanged"


class Cursors:
    """Encodes and decodes cursors with one key."""

    def __init__(self, secret: str | None = None) -> None:
        key = hashlib.sha256(secret.encode()).digest() if secret else _PROCESS_KEY
        self._aead = AESGCM(key)

    def encode(self, sort: int, key: str) -> str:
        """A cursor for the row at (sort, key)."""
        nonce = os.urandom(12)
        raw = json.dumps([sort, key], separators=(",", ":")).encode()
        token = nonce + self._aead.encrypt(nonce, raw, PREFIX.encode())
        return PREFIX + base64.urlsafe_b64encode(token).decode().rstrip("=")

    def decode(self, cursor: str | None, argument: str = "after") -> tuple[int, str] | None:
        """The (sort, key) of a cursor given out by encode(); None for no cursor."""
        if cursor is None:
            return None
        if not cursor.startswith(PREFIX):
            raise BadArgumentError(argument, _WHY)
        body = cursor[len(PREFIX) :]
        try:
            token = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            raw = self._aead.decrypt(token[:12], token[12:], PREFIX.encode())
            value = json.loads(raw)
        except (binascii.Error, ValueError, InvalidTag):
            raise BadArgumentError(argument, _WHY) from None
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and isinstance(value[0], int)
            and isinstance(value[1], str)
        )
        if not ok:
            raise BadArgumentError(argument, _WHY)
        return value[0], value[1]
