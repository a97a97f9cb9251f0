"""Stable pseudonyms for keys that embed identifiers: an HMAC-SHA256 of the key with the
server's pseudonym key, so the same patient has the same pseudonym in every answer of the API
and in the analyst graph (an analyst can count and join) while nobody without the key can tell
whose it is or test a guess. Where the key comes from is the caller's business
(``api/access/pseudonyms.py``)."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "pseudonym:"
FILE_NAME = "pseudonym-key"
MIN_LENGTH = 16


class PseudonymKeyError(Exception):
    """The pseudonym key is missing, unreadable or too short."""


class Pseudonyms:
    """Turns keys into pseudonyms with one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_LENGTH:
            raise PseudonymKeyError(f"the pseudonym key must be at least {MIN_LENGTH} bytes")
        self._secret = secret

    def __call__(self, key: str) -> str:
        digest = hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()
        return PREFIX + digest[:32]  # 128 bits: no two keys of one graph share a pseudonym
