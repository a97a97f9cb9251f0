"""A source record: where a node or relationship came from."""

from __future__ import annotations

import strawberry

from caregraph.api.types import values
from caregraph.api.types.load_run import LoadRun
from caregraph.graph.readers import Row


@strawberry.type(
    description="One record of a source system (a CSV line, an HL7 message, a DICOM file, an "
    "X12 claim) that asserted what the graph says, and the load run that read it."
)
class SourceRecord:
    key: str
    source_system: str | None = strawberry.field(description="The source system's name.")
    file: str | None
    position: str | None = strawberry.field(description="Where in the file: line, message...")
    record_id: str | None = strawberry.field(description="The record's own id in the source.")
    format: str | None
    kind: str | None = strawberry.field(description="What the record is (ADT^A01, claim...).")
    load_run: LoadRun | None

    @classmethod
    def from_record(cls, row: Row) -> SourceRecord:
        p = row.node
        run = row.run or ({"runId": p["runId"]} if p.get("runId") else None)
        return cls(
            key=values.public_key(row),
            source_system=values.text(p.get("sourceSystem")),
            file=values.text(p.get("file")),
            position=values.text(p.get("position")),
            record_id=values.text(p.get("recordId")),
            format=values.text(p.get("format")),
            kind=values.text(p.get("kind")),
            load_run=LoadRun.from_record(run) if run else None,
        )
