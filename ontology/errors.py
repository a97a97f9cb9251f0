"""Errors raised by ontology/.

OntologyError
├── OntologyParseError     a Turtle file does not parse (file and line)
├── InvalidOntologyError   it parses, but cannot be used as the graph's vocabulary
└── SchemaChangeRefused    applying it would break existing data (graph/schema.py raises it)
"""

from __future__ import annotations

from pathlib import Path


class OntologyError(Exception):
    """Base of every error raised by ontology/."""


class OntologyParseError(OntologyError):
    """A Turtle file could not be parsed."""

    def __init__(self, file: Path | str, line: int | None, reason: str) -> None:
        self.file = str(file)
        self.line = line
        self.reason = reason
        where = f"{self.file}:{line}" if line else self.file
        super().__init__(f"{where}: {reason}")


class InvalidOntologyError(OntologyError):
    """The ontology parsed but names something the graph cannot use; lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n  ".join(problems)
        super().__init__(
            f"the ontology has {len(problems)} problem(s); run `caregraph ontology check`:"
            f"\n  {listed}"
        )


class SchemaChangeRefused(OntologyError):
    """Applying the ontology would break existing data; names each reason."""

    def __init__(self, reasons: list[str], report: object | None = None) -> None:
        self.reasons = reasons
        self.report = report  # the ApplyReport with the whole impact, for the CLI to print
        listed = "\n  ".join(reasons)
        super().__init__(
            f"refusing to apply the ontology: it would break existing data:\n  {listed}\n"
            "Fix the data or the ontology, or pass --force to apply anyway."
        )
