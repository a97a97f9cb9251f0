"""Why an HL7 v2 message is rejected. Every text names fields, never the values they hold.

MessageError            a message that cannot be mapped (the loader turns it into a Rejected)
├── BadHeader           MSH cannot be read: separators, message type, version, charset
├── MissingSegment      a segment the message type needs is absent
├── MissingValue        a field the mapping needs is empty
└── BadValue            a field holds something other than its type (a date, a code)
"""

from __future__ import annotations


class MessageError(Exception):
    """A message that cannot be mapped; ``str()`` is safe to show (no patient values)."""


class BadHeader(MessageError):
    def __init__(self, problem: str) -> None:
        super().__init__(f"the MSH header is not usable: {problem}")


class MissingSegment(MessageError):
    def __init__(self, kind: str, segment: str) -> None:
        super().__init__(f"{kind} has no {segment} segment, which this message type needs")


class MissingValue(MessageError):
    def __init__(self, field: str, what: str) -> None:
        super().__init__(f"{field} ({what}) is empty")


class BadValue(MessageError):
    def __init__(self, field: str, expected: str) -> None:
        super().__init__(f"{field} is not {expected}")
