"""A postal address."""

from __future__ import annotations

from typing import Any

import strawberry

from caregraph.api.types import values
from caregraph.api.types.fields import made_of


@strawberry.type(description="A postal address (FHIR Address).")
class Address:
    line: str | None = made_of("addressLine")
    city: str | None = made_of("city")
    state: str | None = made_of("state")
    postal_code: str | None = made_of("postalCode")
    country: str | None = made_of("country")

    @classmethod
    def from_props(cls, p: dict[str, Any]) -> Address | None:
        parts = {k: values.text(p.get(k)) for k in ("addressLine", "city", "state", "postalCode")}
        country = values.text(p.get("country"))
        if not any(parts.values()) and not country:
            return None
        return cls(
            line=parts["addressLine"],
            city=parts["city"],
            state=parts["state"],
            postal_code=parts["postalCode"],
            country=country,
        )
