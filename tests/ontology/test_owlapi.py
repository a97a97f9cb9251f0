"""The shipped ontology opens with the OWL API (what Protégé uses) and is in OWL 2 DL."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ontology.model import load_ontology, shipped_files

HERE = Path(__file__).parent / "owlapi"


@pytest.fixture(scope="module")
def classpath(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not (shutil.which("mvn") and shutil.which("java")):
        pytest.skip("needs mvn and java (as the managed Neo4j does)")
    out = tmp_path_factory.mktemp("owlapi") / "cp.txt"
    subprocess.run(
        ["mvn", "-q", "-f", str(HERE / "pom.xml"), "dependency:build-classpath",
         f"-Dmdep.outputFile={out}"],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return out.read_text().strip()


def test_protege_reads_every_term_and_the_ontology_is_owl2_dl(classpath: str) -> None:
    [ttl] = shipped_files()
    proc = subprocess.run(
        ["java", "-cp", classpath, str(HERE / "OwlCheck.java"), str(ttl)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    facts = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    onto = load_ontology()
    assert int(facts["classes"]) == len(onto.classes)
    assert int(facts["objectProperties"]) == len(onto.object_properties)
    assert int(facts["dataProperties"]) == len(onto.datatype_properties)
    assert facts["dl"] == "true", proc.stdout
