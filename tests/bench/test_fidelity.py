"""Fidelity on the real samples (issue 14): every folder of ../shared/samples loaded as its own
source; no record rejected that its standard allows, and the graph's integrity holds."""

from __future__ import annotations

import pytest
from neo4j import Driver

from bench.fidelity import markdown, run_on
from tests.conftest import SAMPLES

pytestmark = pytest.mark.samples

# what a rejection may be: the bytes do not parse, there is no usable identity, a version or
# format caregraph does not read, a bound of loaders/limits.py
UNDERSTOOD_AS_UNUSABLE = ("syntax", "identity", "unsupported", "limit")


def test_every_sample_loads_with_only_unusable_records_rejected(
    clean_graph: Driver, database: str
) -> None:
    if not SAMPLES.is_dir():
        pytest.skip(f"the shared samples are not here ({SAMPLES}); a fresh clone has none")
    results = run_on(clean_graph, database, SAMPLES)
    assert {r.folder for r in results} >= {"fhir", "fhir-more", "hl7v2-more", "x12-more"}
    for r in results:
        assert r.read == r.written + r.skipped + r.rejected + r.not_attempted, r.folder
        assert r.fatal is None, (r.folder, r.fatal)
        codes = {reason.split(":", 1)[0] for reason in r.rejects}
        assert codes <= set(UNDERSTOOD_AS_UNUSABLE), (r.folder, sorted(r.rejects))
        # never two classes on a node, no self-loop, no event of two patients or two visits
        assert set(r.integrity.values()) == {0}, (r.folder, r.integrity)
    text = markdown(results)
    assert "| **total** |" in text and "## Rejections, by code and reason" in text
