"""One word per participant role, whichever source coded it."""

from __future__ import annotations

import pytest

from caregraph.loaders.roles import role


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        ("ATND", None, "attending"),  # FHIR, v3 ParticipationType
        ("AT", "Attending", "attending"),  # HL7 v2 AIP-4, table 0443
        ("ref", None, "referring"),  # codes are read case-blind
        ("PPRF", None, "primary performer"),
        ("GI", "Gastroenterologist", "Gastroenterologist"),  # a local role: its text
        ("XYZ", None, "XYZ"),  # an unknown code: as given
        (None, None, None),
        ("", "  ", None),
    ],
)
def test_roles_from_every_table_read_as_one_word(
    code: str | None, text: str | None, expected: str | None
) -> None:
    assert role(code, text) == expected
