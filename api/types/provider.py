"""A claim's provider: a practitioner or an organization."""

from __future__ import annotations

from typing import Annotated

import strawberry

from caregraph.api.types.organization import Organization
from caregraph.api.types.practitioner import Practitioner

Provider = Annotated[
    Practitioner | Organization,
    strawberry.union("Provider", description="A practitioner or an organization."),
]
