"""Bounds on one source record, so that hostile or broken input cannot grow the graph without
end (an HL7 message with 10,000 PID-3 repetitions once became one patient with 10,004
identifiers, and junk identifiers resolved to it).

The pipeline checks every record of every format against them before it is written; a record
over a limit is rejected whole with code ``limit``, and the reason names the limit and the
setting that raises it, never a value. Read once at the edge (``caregraph load``) from the
environment, ``CAREGRAPH_LOAD_<NAME>``.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from caregraph.loaders.records import Record

PREFIX = "CAREGRAPH_LOAD_"


class LoadLimits(BaseSettings):
    """How much one record may hold."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True)

    # a patient has a handful of identifiers (MRNs of a few systems, SSN, member ids)
    max_identifiers: int = Field(50, ge=1, description="identifiers of one individual")
    max_values: int = Field(
        200, ge=1, description="values of one property (diagnosis codes, modalities, names)"
    )
    # a study's series, a claim's service lines (X12 allows 50 per claim), DICOMDIR folders
    max_nodes: int = Field(5000, ge=1, description="individuals one record asserts")
    max_links: int = Field(20000, ge=1, description="relationships one record asserts")
    # X12 elements are at most a few hundred characters; a note is longer
    max_text: int = Field(65536, ge=1, description="characters of one text value")

    def setting(self, name: str) -> str:
        """A limit's environment variable: max_text -> CAREGRAPH_LOAD_MAX_TEXT."""
        return PREFIX + name.upper()


def breaches(record: Record, limits: LoadLimits) -> list[str]:
    """What in the record is over a limit: counts and the setting, never values."""
    out: list[str] = []

    def over(what: str, count: int, name: str) -> None:
        limit = getattr(limits, name)
        if count > limit:
            out.append(f"{what}: {count}, more than the limit of {limit} ({limits.setting(name)})")

    over("individuals in the record", len(record.nodes), "max_nodes")
    over("relationships in the record", len(record.links), "max_links")
    for i, node in enumerate(record.nodes, 1):
        over(f"identifiers of individual {i}", len(node.identifiers), "max_identifiers")
        for prop, value in node.props.items():
            name = str(prop).rsplit("#", 1)[-1]
            if isinstance(value, list | tuple):
                over(f"values of {name} of individual {i}", len(value), "max_values")
                texts = [v for v in value if isinstance(v, str)]
            else:
                texts = [value] if isinstance(value, str) else []
            longest = max((len(t) for t in texts), default=0)
            over(f"characters of {name} of individual {i}", longest, "max_text")
    return out
