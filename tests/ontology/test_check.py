"""`caregraph ontology check`: the shipped ontology passes; broken copies fail, located."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.ontology.check import Problem, check
from caregraph.ontology.model import shipped_files
from caregraph.ontology.record_validation import shapes_path

SHIPPED = shipped_files()[0].read_text()


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def copy(tmp_path: Path, text: str, name: str = "caregraph.ttl") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_shipped_ontology_and_shapes_pass() -> None:
    assert check() == []


def test_a_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    text = SHIPPED.replace(
        'rdfs:label "Encounter"@en ;', 'rdfs:label "Encounter"@en ;;; cg:oops "unclosed ;', 1
    )
    path = copy(tmp_path, text)
    [problem] = check([path])
    assert problem.file == str(path)
    assert problem.line == line_of(text, "cg:oops")
    assert problem.term == "syntax"
    assert str(problem).startswith(f"{path}:{problem.line}: syntax: Turtle syntax error")


def test_a_subclass_of_an_undeclared_class_is_named(tmp_path: Path) -> None:
    text = SHIPPED + (
        "\ncg:Referral a owl:Class ;\n    rdfs:subClassOf cg:ClinicalEvnt ;\n"
        '    rdfs:label "Referral"@en ;\n    rdfs:comment "A request to another provider."@en ;\n'
        '    cg:domain "clinical" .\n'
    )
    path = copy(tmp_path, text)
    found = {(p.line, p.term, p.message) for p in errors(check([path]))}
    referral = line_of(text, "cg:Referral a owl:Class")
    assert (
        referral,
        "cg:Referral",
        "subclass of cg:ClinicalEvnt, which is not a declared class",
    ) in found
    assert any(t == "cg:ClinicalEvnt" and "not declared" in m for _, t, m in found)


def test_a_property_without_a_label_is_named(tmp_path: Path) -> None:
    text = SHIPPED.replace('    rdfs:label "birth date"@en ;\n', "", 1)
    path = copy(tmp_path, text)
    [problem] = errors(check([path]))
    assert (problem.file, problem.line, problem.term) == (
        str(path),
        line_of(text, "cg:birthDate a owl:DatatypeProperty"),
        "cg:birthDate",
    )
    assert problem.message == "datatype property without rdfs:label"


def test_cycles_ranges_and_captions_are_checked(tmp_path: Path) -> None:
    text = (
        SHIPPED.replace(
            "cg:Agent a owl:Class ;\n",
            "cg:Agent a owl:Class ;\n    rdfs:subClassOf cg:Patient ;\n",
            1,
        )
        .replace("rdfs:range cg:LoadRun ;", "rdfs:range cg:Run ;", 1)
        .replace("    cg:caption cg:runId ;", "    cg:caption cg:hasClaim ;", 1)
    )
    path = copy(tmp_path, text)
    messages = {(p.term, p.message) for p in errors(check([path]))}
    assert ("cg:Agent", "subclass cycle: the class is its own superclass") in messages
    assert ("cg:loadedIn", "rdfs:range names cg:Run, which is not a class") in messages
    assert ("cg:LoadRun", "cg:caption cg:hasClaim is not a datatype property") in messages


def test_shapes_naming_unknown_terms_are_located(tmp_path: Path) -> None:
    onto = copy(tmp_path, SHIPPED)
    shapes = (
        shapes_path().read_text().replace("sh:path cg:paymentAmount ;", "sh:path cg:paidAmount ;")
    )
    path = copy(tmp_path, shapes, "shapes.ttl")
    [problem] = check([onto, path])
    assert (problem.file, problem.line, problem.term) == (
        str(path),
        line_of(shapes, "cgsh:RemittanceShape a sh:NodeShape"),
        "cg:paidAmount",
    )
    assert problem.message == "sh:path names no property"


def test_cli_check_exits_non_zero_naming_file_line_and_term(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["ontology", "check"])
    assert ok.exit_code == 0, ok.output
    assert "ontology ok" in ok.output

    text = SHIPPED.replace('    rdfs:label "birth date"@en ;\n', "", 1)
    path = copy(tmp_path, text)
    bad = runner.invoke(app, ["ontology", "check", str(path)])
    assert bad.exit_code == 1
    line = line_of(text, "cg:birthDate a owl:DatatypeProperty")
    assert f"{path}:{line}: cg:birthDate: datatype property without rdfs:label" in bad.output
