"""The demo data set, loaded the way a health system would load it: one source at a time."""

from __future__ import annotations

import json
from pathlib import Path

from neo4j import Driver

from caregraph.loaders.generator.generator import write_demo
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load
from caregraph.loaders.report import LoadReport


def load_demo(driver: Driver, database: str, folder: Path) -> list[LoadReport]:
    """Write Riverside Health's demo files into ``folder`` and load each source system."""
    manifest = write_demo(folder)
    identity = IdentityConfig.from_file(folder / manifest["identity"])
    reports = []
    for source, paths in manifest["sources"].items():
        reports.append(
            load(
                [folder / p for p in paths],
                driver=driver,
                database=database,
                source=source,
                identity=identity,
            )
        )
    (folder / "load-reports.json").write_text(
        json.dumps([r.as_json() for r in reports], indent=2, default=str) + "\n"
    )
    return reports
