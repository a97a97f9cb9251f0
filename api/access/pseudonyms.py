"""The API's pseudonym key: the HMAC itself is ``graph/pseudonyms.py``, shared with the
analyst graph's copy, so a key shown to an analyst by the API is the key in the analyst graph.

The key comes from ``CAREGRAPH_API_PSEUDONYM_KEY``; without it, one is generated once into the
state directory (``<CAREGRAPH_HOME>/pseudonym-key``, mode 0600) and read from there after, so
pseudonyms stay the same across restarts. Give every process of one API the same key.
"""

from __future__ import annotations

from pathlib import Path

from caregraph.api.settings import ApiSettings
from caregraph.graph.keyfile import secret_file
from caregraph.graph.pseudonyms import FILE_NAME, MIN_LENGTH, PREFIX, PseudonymKeyError, Pseudonyms

__all__ = ["FILE_NAME", "MIN_LENGTH", "PREFIX", "PseudonymKeyError", "Pseudonyms", "load"]


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
