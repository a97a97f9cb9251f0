"""Why a FHIR resource is rejected. Every text names elements and positions, never values.

FhirError            a resource that cannot be mapped (the loader turns it into a Rejected)
├── NotValid         fhir.resources' R4B model refuses it (the library's errors, values removed)
├── BadReference     a Reference that is not a FHIR reference (not Type/id, an unknown type, a
│                    #id naming no contained resource); one that is well formed but cannot be
│                    resolved here is a warning, not an error (see :mod:`references`)
└── NotKeyable       a resource with neither an id nor a business identifier to key it by

Each leaf says which report code its rejection carries (``Rejected.code``).
"""

from __future__ import annotations

from typing import ClassVar


class FhirError(Exception):
    """A resource that cannot be mapped; ``str()`` is safe to show (no patient values)."""

    code: ClassVar[str] = "invalid"


class NotValid(FhirError):
    code = "invalid"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"not valid FHIR R4 (fhir.resources R4B): {'; '.join(problems)}")


class BadReference(FhirError):
    code = "invalid"

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"{path}.reference {why}")


class NotKeyable(FhirError):
    code = "identity"

    def __init__(self, resource_type: str) -> None:
        super().__init__(
            f"the {resource_type} has no id and no identifier (system and value), so it cannot "
            "be keyed: give it an id or a business identifier"
        )
