"""An audit record: one read of patient data (admins only)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from caregraph.api.types import values


@strawberry.type(
    description="One read of patient data: who, as what role, when, which patients, which "
    "fields, why (purpose of use) and with what outcome. Admins only."
)
class AuditEvent:
    id: str
    at: datetime | None
    subject: str = strawberry.field(description="Who: key:<id>, or the JWT's issuer#subject.")
    role: str
    method: str | None = strawberry.field(description="How they authenticated: api-key or jwt.")
    request_id: str | None
    purpose: str | None = strawberry.field(
        description="Purpose of use the caller declared (X-Purpose-Of-Use: TREAT, HPAYMT ...)."
    )
    channel: str | None = strawberry.field(description="graphql, mcp-http or mcp-stdio.")
    operation: str | None = strawberry.field(description="The operation's name, if it had one.")
    outcome: str = strawberry.field(description="ok, partial, failed or refused.")
    fields: list[str] = strawberry.field(description="The field paths the operation selected.")
    patients: list[str] = strawberry.field(description="Keys of the patients whose data it read.")
    error_codes: list[str]
    search: JSON | None = strawberry.field(
        description="For a search: per response path, the field searched, its terms as "
        "given and the keys it returned (JSON); null for any other read."
    )

    @classmethod
    def from_record(cls, p: dict[str, Any]) -> AuditEvent:
        return cls(
            id=str(p.get("id", "")),
            at=values.dt(p.get("at")),
            subject=str(p.get("subject", "")),
            role=str(p.get("role", "")),
            method=values.text(p.get("method")),
            request_id=values.text(p.get("requestId")),
            purpose=values.text(p.get("purpose")),
            channel=values.text(p.get("channel")),
            operation=values.text(p.get("operation")),
            outcome=str(p.get("outcome", "")),
            fields=values.texts(p.get("fields")),
            patients=values.texts(p.get("patients")),
            error_codes=values.texts(p.get("errorCodes")),
            search=json.loads(p["search"]) if isinstance(p.get("search"), str) else None,
        )
