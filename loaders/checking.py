"""The checks a record passes before it is written: limits, the ontology's shapes, then every
value's datatype (converting the values, which is kept for the writer).

They are a pure function of the record, the ontology and the settings, so they run where the
record was read: in the loading process, or in the worker process that parsed its file
(``loaders/parallel.py``), which leaves the loading process only the ordered work (identity,
rows, the write).
"""

from __future__ import annotations

from caregraph.loaders.limits import LoadLimits, breaches
from caregraph.loaders.records import Record, Rejected
from caregraph.loaders.write_rows import (
    OntologyView,
    Prepared,
    RowSettings,
    ValueTypeError,
    prepare,
)


class Validator:
    """Checks a record before it is written: limits, shapes, then every value's datatype
    (converting the values, which is kept for the writer)."""

    def __init__(
        self, onto: OntologyView, cfg: RowSettings, limits: LoadLimits | None = None
    ) -> None:
        from caregraph.ontology.record_validation import (
            RecordValidator,  # the shapes live with the ontology
        )

        self.onto = onto
        self.cfg = cfg
        self.limits = limits or LoadLimits()
        self.shapes = RecordValidator(onto)  # type: ignore[arg-type]

    def check(self, rec: Record) -> Prepared | Rejected:
        """The record ready to write (its sh:Warning and sh:Info findings, and any value left
        out, added to its warnings), or why it is rejected whole."""
        over = self.over_limits(rec)
        if over:
            return Rejected(rec.ref, rec.format, "; ".join(over), "limit")
        problems = self.problems(rec)
        if problems:
            return Rejected(rec.ref, rec.format, "; ".join(problems), "shape")
        ready = self.prepare(rec)
        if isinstance(ready, str):
            return Rejected(rec.ref, rec.format, ready, "shape")
        return ready

    def over_limits(self, rec: Record) -> list[str]:
        """What in the record is over a limit (it is rejected whole, code ``limit``)."""
        return breaches(rec, self.limits)

    def problems(self, rec: Record) -> list[str]:
        """What in the shapes makes the record unusable; its sh:Warning and sh:Info findings
        are added to it."""
        for message in self.shapes.leave_out_unparseable(rec):
            rec.warn("unusual-value", message)
        found: list[str] = []
        for finding in self.shapes.findings(rec):
            if finding.severity == "Violation":
                found.append(finding.message)
            else:
                rec.warn(finding.kind, finding.message)
        return found

    def prepare(self, rec: Record) -> Prepared | str:
        """The record with its values converted and its hash taken, or why a value does not
        fit its property's datatype. After problems(), which may leave values out."""
        try:
            return prepare(self.onto, rec, self.cfg)
        except ValueTypeError as e:
            return str(e)
