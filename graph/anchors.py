"""The read audit's anchor outside Neo4j: an append-only file under the state directory
(``<CAREGRAPH_HOME>/audit-anchors``) with one line per anchoring of a day's chain head
(day, record count, last hash), each line authenticated by an HMAC-SHA256.

Someone with the Neo4j login can delete the newest audit records and rewind the day's head to
match, or rewrite a whole day and recompute its hashes (the chain has no secret); neither can
make the anchor lines agree without the key. The key is ``CAREGRAPH_AUDIT_KEY``, else the file
``<CAREGRAPH_HOME>/audit-key`` (made once, mode 0600, beside the pseudonym key). It is a key
of its own rather than the pseudonym or cursor key: the cursor key is per process by default,
and a leaked pseudonym key must not also let someone forge the audit's anchors.

A process anchors after its first append of each day and then after every
``CAREGRAPH_AUDIT_ANCHOR_EVERY`` appended records (default 1: after every append, which for a
service worker is a batch of records, graph/keys_and_audit.py), and when it closes.
Processes that share one state directory share one file; lines are appended whole under an
exclusive lock, and may arrive out of order (verify compares counts, not positions).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from caregraph.graph.keyfile import secret_file
from caregraph.graph.settings import Settings

VERSION = "cg-anchor-1"


class AnchorError(Exception):
    """The anchor key cannot be read or made, or the anchor file cannot be written."""


@dataclass(frozen=True)
class Head:
    """A day's chain head: how many records the day has and the last one's hash."""

    day: str
    count: int
    hash: str


@dataclass(frozen=True)
class AnchorLine:
    """One line of the anchor file: ``head`` is what it says, ``authentic`` whether its HMAC
    matches (``head`` is None when the line cannot even be read)."""

    number: int
    head: Head | None
    authentic: bool


class Anchors:
    """Writes and reads the anchor file with one key."""

    def __init__(self, path: Path, key: bytes | None, every: int = 1) -> None:
        self.path = path
        self._key = key
        self.every = every
        self._lock = threading.Lock()
        self._pending: dict[str, Head] = {}
        self._since = 0  # appends since this process last anchored
        self._days: set[str] = set()  # days this process anchored already

    @classmethod
    def open(cls, settings: Settings, *, make_key: bool = True) -> Anchors:
        """The state directory's anchors; without ``make_key`` a missing key is not made (a
        verifier must not mint a key: every line would then fail, which it reports)."""
        configured = settings.audit.key
        path = settings.paths.audit_key
        try:
            if configured is not None:
                key: bytes | None = configured.get_secret_value().encode()
            elif make_key or path.exists():
                key = secret_file(path).encode()
            else:
                key = None
        except OSError as e:
            raise AnchorError(
                f"cannot read or create the audit key at {path} ({e.strerror}); "
                "set CAREGRAPH_AUDIT_KEY or make the state directory writable"
            ) from e
        return cls(settings.paths.audit_anchors, key, settings.audit.anchor_every)

    def note(self, head: Head, appended: int = 1) -> None:
        """After ``appended`` records were appended (a batch) up to ``head``: anchor the day's
        head now if it is due."""
        with self._lock:
            kept = self._pending.get(head.day)
            if kept is None or head.count > kept.count:
                self._pending[head.day] = head
            self._since += appended
            if self._since >= self.every or head.day not in self._days:
                self._write()

    def flush(self) -> None:
        """Anchor whatever is pending (on shutdown)."""
        with self._lock:
            if self._pending:
                self._write()

    def _write(self) -> None:
        if self._key is None:
            raise AnchorError("no audit key: set CAREGRAPH_AUDIT_KEY or let caregraph make one")
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        text = "".join(
            f"{body} {self._mac(body)}\n"
            for body in (
                f"{VERSION} {h.day} {h.count} {h.hash} {at}" for h in self._pending.values()
            )
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # whole lines, also across processes
                os.write(fd, text.encode())
            finally:
                os.close(fd)  # closing releases the lock
        except OSError as e:
            raise AnchorError(
                f"cannot append to the audit anchor file {self.path} ({e.strerror})"
            ) from e
        self._days.update(self._pending)
        self._pending.clear()
        self._since = 0

    def _mac(self, body: str) -> str:
        assert self._key is not None  # callers check first
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    def lines(self) -> list[AnchorLine]:
        """Every line of the anchor file (none when there is no file), each checked."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        except OSError as e:
            raise AnchorError(
                f"cannot read the audit anchor file {self.path} ({e.strerror})"
            ) from e
        return [self._read(n, line) for n, line in enumerate(text.splitlines(), 1)]

    def _read(self, number: int, line: str) -> AnchorLine:
        body, _, mac = line.rpartition(" ")
        parts = body.split(" ")
        head = None
        if len(parts) == 5 and parts[0] == VERSION and parts[2].isdigit():
            head = Head(parts[1], int(parts[2]), parts[3])
        authentic = (
            head is not None and self._key is not None and hmac.compare_digest(self._mac(body), mac)
        )
        return AnchorLine(number, head, authentic)
