"""Why an HL7 v2 message is rejected. Every text names fields, never the values they hold.

MessageError            a message that cannot be mapped (the loader turns it into a Rejected)
├── BadHeader           MSH cannot be read: separators, message type, id, version, charset
├── MissingSegment      a segment the message's identity lives in is absent
├── MissingValue        a field the message's identity lives in is empty
└── BadValue            a field holds something other than its type (a date, a code)

Each carries the reject ``code`` of the report (``syntax``, ``identity``, ``unsupported``).
A BadValue in a field that identifies nothing is not a rejection: the mapping catches it and
writes the record without the value, with an ``unusual-value`` warning.
"""

from __future__ import annotations


class MessageError(Exception):
    """A message that cannot be mapped; ``str()`` is safe to show (no patient values)."""

    code = "invalid"


class BadHeader(MessageError):
    def __init__(self, problem: str, code: str = "syntax") -> None:
        super().__init__(f"the MSH header is not usable: {problem}")
        self.code = code


class MissingSegment(MessageError):
    code = "identity"

    def __init__(self, kind: str, segment: str) -> None:
        super().__init__(f"{kind} has no {segment} segment, which this message type needs")


class MissingValue(MessageError):
    code = "identity"

    def __init__(self, field: str, what: str) -> None:
        super().__init__(f"{field} ({what}) is empty")


class BadValue(MessageError):
    def __init__(self, field: str, expected: str) -> None:
        super().__init__(f"{field} is not {expected}")
