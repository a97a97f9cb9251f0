"""The exported SDL is committed; a schema change must come with it."""

from __future__ import annotations

from caregraph.api.sdl import REGENERATE, SDL_FILE, sdl


def test_committed_sdl_matches_the_schema() -> None:
    committed = SDL_FILE.read_text()
    assert committed == sdl(), (
        f"api/schema.graphql is not the schema's SDL: run `{REGENERATE}` and commit the file"
    )


def test_sdl_has_the_contracts_root_fields() -> None:
    text = sdl()
    for root in (
        "patient(identifier: String!): Patient",
        "practitioner(npi: String!): Practitioner",
        "organization(npi: String!): Organization",
        "encounter(identifier: String!): Encounter",
        "imagingStudy(studyInstanceUid: String!): ImagingStudy",
        "claim(controlNumber: String!): Claim",
        "ontology: Ontology!",
        "service: Service!",
    ):
        assert f"  {root}\n" in text, root
    assert "patientContext(\n    identifier: String!" in text
