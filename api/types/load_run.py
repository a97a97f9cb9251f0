"""A load run: one `caregraph load`, with its versions and times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from caregraph.api.types import values


@strawberry.type(description="One load of source files into the graph.")
class LoadRun:
    run_id: str
    started_at: datetime | None
    ended_at: datetime | None
    source_system: str | None
    caregraph_version: str | None
    ontology_version: str | None

    @classmethod
    def from_record(cls, props: dict[str, Any]) -> LoadRun:
        return cls(
            run_id=str(props.get("runId", "")),
            started_at=values.dt(props.get("startedAt")),
            ended_at=values.dt(props.get("endedAt")),
            source_system=values.text(props.get("sourceSystem")),
            caregraph_version=values.text(props.get("caregraphVersion")),
            ontology_version=values.text(props.get("ontologyVersion")),
        )
