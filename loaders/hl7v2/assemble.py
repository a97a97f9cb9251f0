"""An HL7 v2 message's record: the shared builder, and its fields read by their type."""

from __future__ import annotations

from collections.abc import Callable

from caregraph.loaders.hl7v2.errors import BadValue
from caregraph.loaders.records import RecordBuilder

# A field reader: (text, field name) -> value, raising BadValue when the text is not its type.
Reader = Callable[[str, str], str | None]


class MessageBuilder(RecordBuilder):
    """The record builder every loader shares, reading a message's typed fields."""

    __slots__ = ()

    def read(self, reader: Reader, text: str, field: str) -> str | None:
        """``reader(text, field)``, or None and an ``unusual-value`` warning if not of its type."""
        try:
            return reader(text, field)
        except BadValue as e:
            self.warn("unusual-value", f"{e}: loaded without it")
            return None
