"""Stable pseudonyms for keys that embed identifiers: an HMAC-SHA256 of the key with the
server's pseudonym key, so the same patient has the same pseudonym in every answer (an analyst
can count and join) while nobody without the key can tell whose it is or test a guess.

The key comes from ``CAREGRAPH_API_PSEUDONYM_KEY``; without it, one is generated once into the
state directory (``<CAREGRAPH_HOME>/pseudonym-key``, mode 0600) and read from there after, so
pseudonyms stay the same across restarts. Give every process of one API the same key.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from api.settings import ApiSettings
from graph.keyfile import secret_file

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


def load(settings: ApiSettings, home: Path) -> Pseudonyms:
    """The API's pseudonyms: from the setting, else from (or newly into) the state directory."""
    if settings.pseudonym_key is not None:
        return Pseudonyms(settings.pseudonym_key.get_secret_value().encode())
    path = home / FILE_NAME
    try:
        return Pseudonyms(secret_file(path).encode())
    except OSError as e:
        raise PseudonymKeyError(
            f"cannot read or create the pseudonym key at {path} ({e.strerror}); "
            "set CAREGRAPH_API_PSEUDONYM_KEY or make the state directory writable"
        ) from e
