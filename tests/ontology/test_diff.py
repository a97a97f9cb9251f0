"""`caregraph ontology diff`: what changed between two versions, as a reviewer reads it."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.ontology.diff import diff_paths
from caregraph.ontology.model import ONTOLOGY_DIR

REFERRAL = """
cg:Referral a owl:Class ;
    rdfs:subClassOf cg:ClinicalEvent ;
    rdfs:label "Referral"@en ;
    rdfs:comment "A request from one practitioner to another to take over or share care."@en ;
    cg:domain "clinical" ;
    owl:hasKey ( cg:key ) .
"""


def version(
    tmp_path: Path, name: str, edit: str = "", shapes_edit: tuple[str, str] = ("", "")
) -> Path:
    """A copy of the shipped ontology directory with edits."""
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(ONTOLOGY_DIR / "shapes.ttl", folder / "shapes.ttl")
    text = (ONTOLOGY_DIR / "caregraph.ttl").read_text()
    (folder / "caregraph.ttl").write_text(text + edit)
    if shapes_edit[0]:
        shapes = (folder / "shapes.ttl").read_text().replace(*shapes_edit)
        (folder / "shapes.ttl").write_text(shapes)
    return folder


def renamed(text: str) -> str:
    return text.replace(
        "cg:birthDate a owl:DatatypeProperty", "cg:dateOfBirth a owl:DatatypeProperty"
    ).replace('"birth date"@en', '"date of birth"@en')


def test_no_changes(tmp_path: Path) -> None:
    d = diff_paths(version(tmp_path, "a"), version(tmp_path, "b"))
    assert d.empty and d.lines()[-1] == "no changes"


def test_an_added_class_with_its_key(tmp_path: Path) -> None:
    d = diff_paths(version(tmp_path, "old"), version(tmp_path, "new", REFERRAL))
    assert [c.term for c in d.of("class", "added")] == ["Referral"]
    assert [(c.term, c.detail) for c in d.of("key", "added")] == [("Referral", "key")]
    assert "  + class Referral" in d.lines()


def test_a_renamed_property_is_removed_and_added_with_a_hint(tmp_path: Path) -> None:
    old = version(tmp_path, "old")
    new = version(tmp_path, "new")
    (new / "caregraph.ttl").write_text(renamed((new / "caregraph.ttl").read_text()))
    # the shape still names the old property: the new shapes must follow the rename
    (new / "shapes.ttl").write_text(
        (new / "shapes.ttl").read_text().replace("cg:birthDate", "cg:dateOfBirth")
    )
    d = diff_paths(old, new)
    [removed] = d.of("datatype property", "removed")
    [added] = d.of("datatype property", "added")
    assert (removed.term, removed.detail) == ("birthDate", "possibly renamed to dateOfBirth")
    assert (added.term, added.detail) == ("dateOfBirth", "possibly renamed from birthDate")
    assert {c.term for c in d.of("shape", "removed")} == {"Patient.birthDate"}
    assert {c.term for c in d.of("shape", "added")} == {"Patient.dateOfBirth"}


def test_changed_terms_alignments_and_shapes(tmp_path: Path) -> None:
    old = version(tmp_path, "old")
    new = version(
        tmp_path,
        "new",
        shapes_edit=(
            "sh:path cg:controlNumber ;\n        sh:datatype xsd:string ;\n        sh:minCount 1 ;",
            "sh:path cg:controlNumber ;\n        sh:datatype xsd:string ;\n        sh:minCount 2 ;",
        ),
    )
    text = (new / "caregraph.ttl").read_text()
    text = text.replace('cg:hl7v2 "PID-7" ;', 'cg:hl7v2 "PID-7.1" ;').replace(
        'rdfs:comment "A person who receives or is registered to receive care."@en ;',
        'rdfs:comment "A person who receives care."@en ;',
    )
    (new / "caregraph.ttl").write_text(text)
    d = diff_paths(old, new)
    assert [(c.op, c.detail) for c in d.of("alignment") if c.term == "birthDate"] == [
        ("added", "hl7v2 PID-7.1"),
        ("removed", "hl7v2 PID-7"),
    ]
    [changed] = d.of("class", "changed")
    assert changed.term == "Patient" and changed.detail.startswith("comment: ")
    [shape] = d.of("shape", "changed")
    assert shape.term == "Claim.controlNumber" and "minCount 2" in shape.detail


def test_cli_diff_prints_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "ontology",
            "diff",
            str(version(tmp_path, "old")),
            str(version(tmp_path, "new", REFERRAL)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "+ class Referral" in result.output
    assert "+ key Referral: key" in result.output
