"""Which fields a caller may read: the hook that roles (issue 8) fill in.

Every renderer that writes fields into text (``patientContext.text``) asks the policy field
by field, by GraphQL type and field name, so text never shows a field the caller could not
query. The default policy allows everything: until authentication exists, every caller may
read every field.
"""

from __future__ import annotations

from typing import Protocol


class FieldPolicy(Protocol):
    """Decides, per GraphQL type and field, whether the caller may read it."""

    def allows(self, type_name: str, field_name: str) -> bool: ...


class AllowAll:
    """Every field is readable (no authentication configured)."""

    def allows(self, type_name: str, field_name: str) -> bool:
        return True


ALLOW_ALL = AllowAll()
