"""Errors raised by graph/.

GraphError
├── Neo4jServerError          the managed server could not be fetched, started or stopped
│   ├── JavaMissingError
│   ├── PortInUseError
│   ├── StoreLockedError
│   └── NotEnoughMemoryError
├── Neo4jUnavailableError     no Neo4j answered where the settings point
├── WriteError                a batch could not be written (the load stops; rerun completes it)
├── ReadTimeoutError          a read did not finish within the request's time (readers.py)
├── ForbiddenReadError        a read the caller's projection does not allow (readers.py)
├── NoPseudonymKeyError       keys must be pseudonyms and no key is set (readers.py)
└── DecisionError             an identity decision that cannot be taken; ``code`` says why
                              (stewardship.py)

Not GraphErrors: ``PseudonymKeyError`` (pseudonyms.py, the key file) and ``AnchorError``
(anchors.py, the audit's anchor file) are about files of the state directory, not the graph.
"""

from __future__ import annotations


class GraphError(Exception):
    """Base of every error raised by graph/."""


class Neo4jServerError(GraphError):
    """The managed Neo4j server could not be fetched, started or stopped."""

    def __init__(self, reason: str, *, log: str | None = None) -> None:
        self.reason = reason
        self.log = log
        where = f" (see {log})" if log else ""
        super().__init__(f"{reason}{where}")


class JavaMissingError(Neo4jServerError):
    """No suitable Java runtime was found."""


class PortInUseError(Neo4jServerError):
    """Another process holds a port that Neo4j must listen on."""


class StoreLockedError(Neo4jServerError):
    """Another Neo4j process holds the store under the state directory."""


class NotEnoughMemoryError(Neo4jServerError):
    """The JVM could not get the heap or page cache it was configured with."""


class Neo4jUnavailableError(GraphError):
    """No Neo4j answered at the configured address."""


class WriteError(GraphError):
    """A batch could not be written because Neo4j failed, not because of the data."""
