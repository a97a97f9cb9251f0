"""A person's name."""

from __future__ import annotations

from typing import Any

import strawberry

from caregraph.api.types import values
from caregraph.api.types.fields import made_of


@strawberry.type(description="A person's name (FHIR HumanName).")
class HumanName:
    family: str | None = made_of("familyName")
    given: list[str] = made_of("givenNames")
    text: str | None = made_of("nameText", "name", "givenNames", "familyName")

    @classmethod
    def from_props(cls, p: dict[str, Any]) -> HumanName | None:
        family = values.text(p.get("familyName"))
        given = values.texts(p.get("givenNames"))
        text = values.text(p.get("nameText")) or values.text(p.get("name"))
        if not (family or given or text):
            return None
        return cls(family=family, given=given, text=text or " ".join([*given, family or ""]))
