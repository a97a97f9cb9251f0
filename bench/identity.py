"""``python -m bench.identity``: precision and recall of identity, deterministic rules alone
and with the probabilistic stage, on generated data with known duplicates.

A generated Riverside Health EHR of ``--patients`` patients (FHIR; ``--formats`` for more
sources), ``--duplicates`` of them registered a second time under another MRN with a typo in
the family name, two birth-date digits swapped, or the middle name, postal code and phone
left out (loaders/generator/scenario.py), is loaded into a Neo4j of its own; then
``loaders.probabilistic.run`` proposes its candidates.

Counted over pairs of registrations (MRNs): the truth is each duplicate with its original;
the deterministic rules join two registrations when they put both MRNs on one patient; the
probabilistic stage adds every pair of MRNs of the two patients of a candidate. Precision is
the share of joined pairs that are true, recall the share of true pairs joined (overall and
per variant). It prints one JSON object: the figures, the load's and the stage's seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path
from typing import Any

from neo4j import Driver

from bench.database import BenchNeo4j
from caregraph.graph import candidates as store
from caregraph.graph import schema as graph_schema
from caregraph.loaders import probabilistic
from caregraph.loaders.generator import generate
from caregraph.loaders.generator.ids import MRN_SYSTEM
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load
from caregraph.ontology.model import load_ontology

Pair = tuple[str, str]


def mrns_by_patient(driver: Driver, database: str) -> dict[str, list[str]]:
    """Patient key -> the MRNs (of the generator's MRN system) that identify it."""
    records, _, _ = driver.execute_query(
        "MATCH (i:Identifier {system: $system})-[:IDENTIFIES]->(p:Patient) "
        "RETURN p.key AS key, collect(i.value) AS mrns",
        system=MRN_SYSTEM,
        database_=database,
    )
    return {r["key"]: sorted(r["mrns"]) for r in records}


def _pair(a: str, b: str) -> Pair:
    x, y = sorted((a, b))
    return x, y


def scores(truth: set[Pair], joined: set[Pair]) -> dict[str, float | int | None]:
    hit = len(truth & joined)
    return {
        "pairs": len(joined),
        "true": hit,
        "precision": round(hit / len(joined), 4) if joined else None,
        "recall": round(hit / len(truth), 4) if truth else None,
    }


def measure(
    neo: BenchNeo4j, work: Path, patients: int, rate: float, formats: list[str], threshold: float
) -> dict[str, Any]:
    data = work / f"riverside-{patients}"
    manifest = generate(data, patients, seed=0, formats=formats, duplicates=rate)
    identity = IdentityConfig.from_file(data / "identity.toml")
    neo.empty()
    graph_schema.apply(neo.driver, neo.database, load_ontology(), force=True)
    started = time.perf_counter()
    for source, paths in manifest["sources"].items():
        load(
            [data / p for p in paths],
            driver=neo.driver,
            database=neo.database,
            source=source,
            identity=identity,
        )
    load_s = time.perf_counter() - started
    duplicates = manifest["expected"]["duplicates"]
    truth = {_pair(d["mrn"], d["duplicateMrn"]) for d in duplicates}
    variant = {_pair(d["mrn"], d["duplicateMrn"]): d["variant"] for d in duplicates}

    by_patient = mrns_by_patient(neo.driver, neo.database)
    deterministic = {_pair(a, b) for mrns in by_patient.values() for a, b in combinations(mrns, 2)}
    run = probabilistic.run(
        neo.driver, neo.database, probabilistic.ProbabilisticConfig(threshold=threshold)
    )
    proposed: set[Pair] = set()
    for c in store.list_candidates(neo.driver, neo.database, limit=10**7):
        a, _, b = str(c["key"]).partition(store.SEPARATOR)
        proposed |= {_pair(x, y) for x in by_patient.get(a, []) for y in by_patient.get(b, [])}
    both = deterministic | proposed

    def per_variant(joined: set[Pair]) -> dict[str, float]:
        out = {}
        for name in sorted(set(variant.values())):
            of = {p for p, v in variant.items() if v == name}
            out[name] = round(len(of & joined) / len(of), 4)
        return out

    return {
        "patients": patients,
        "formats": formats,
        "duplicates": len(truth),
        "duplicateRate": rate,
        "patientNodes": run.patients,
        "threshold": threshold,
        "deterministic": {
            **scores(truth, deterministic), "recallByVariant": per_variant(deterministic),
        },
        "withProbabilistic": {**scores(truth, both), "recallByVariant": per_variant(both)},
        "candidates": run.proposed,
        "loadSeconds": round(load_s, 1),
        "stageSeconds": round(run.seconds, 1),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Identity's precision and recall, with and without "
                                "the probabilistic stage, on generated duplicates.")  # fmt: skip
    p.add_argument("--patients", type=int, default=10_000)
    p.add_argument("--duplicates", type=float, default=0.05, help="share registered twice")
    p.add_argument("--formats", default="fhir", help="comma-separated: fhir,hl7v2,dicom,x12")
    p.add_argument("--threshold", type=float, default=probabilistic.ProbabilisticConfig.threshold)
    p.add_argument("--heap", default="1g")
    p.add_argument("--pagecache", default="1g")
    args = p.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    with tempfile.TemporaryDirectory(prefix="caregraph-bench-identity-") as tmp:
        work = Path(tmp)
        neo = BenchNeo4j(work / "neo4j", heap=args.heap, pagecache=args.pagecache)
        neo.start()
        try:
            figures = measure(neo, work, args.patients, args.duplicates, formats, args.threshold)
            figures["neo4j"] = neo.version()
        finally:
            neo.stop()
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
