"""A source record: where a node or relationship came from."""

from __future__ import annotations

import strawberry

from caregraph.api.types import values
from caregraph.api.types.fields import made_of, read_stored, stored
from caregraph.api.types.load_run import LoadRun
from caregraph.graph.readers import Row


@strawberry.type(
    description="One record of a source system (a CSV line, an HL7 message, a DICOM file, an "
    "X12 claim) that asserted what the graph says, and the load run that read it."
)
class SourceRecord:
    key: str
    source_system: str | None = stored(description="The source system's name.")
    file: str | None = stored()
    position: str | None = stored(description="Where in the file: line, message...")
    record_id: str | None = stored(description="The record's own id in the source.")
    format: str | None = stored()
    kind: str | None = stored(description="What the record is (ADT^A01, claim...).")
    load_run: LoadRun | None = made_of("runId")

    @classmethod
    def from_record(cls, row: Row) -> SourceRecord:
        p = row.node
        run = row.run or ({"runId": p["runId"]} if p.get("runId") else None)
        return cls(
            key=values.public_key(row),
            **read_stored(cls, p),
            load_run=LoadRun.from_record(run) if run else None,
        )
