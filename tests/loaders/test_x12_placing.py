"""The fast X12 reader against pyx12's validating reader: the same segments, loops and findings.

The fast reader (loaders/x12/placing.py) is what the loader reads with; pyx12's
``X12ContextReader`` is the reference. They must agree on every real X12 sample, on the
generator's 837 and 835, and on a file of each anomaly class (envelope counts, a broken
hierarchy, a segment with no place, an unusable date, time or number, control characters, a
truncated file, a header pyx12 refuses), and the records a file gives must not depend on which
reader read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from caregraph.loaders.generator import generate
from caregraph.loaders.x12 import LOADER
from caregraph.loaders.x12.reading import (
    READER_SETTING,
    FileProblem,
    ReadFailure,
    fast_segments,
    open_text,
    validated_segments,
)
from tests.conftest import SAMPLES

DATA = Path(__file__).resolve().parents[1] / "data" / "x12"
SAMPLE_FILES = sorted(
    p
    for folder in ("x12", "x12-more")
    for p in (SAMPLES / folder).glob("*")
    if p.is_file() and p.suffix not in (".md", ".tsv")
)


@dataclass(frozen=True)
class Reading:
    """What one reader made of a file: each segment as the loader sees it, and how it ended."""

    segments: list[tuple[object, ...]]
    ended: str  # "end", or the ReadFailure / FileProblem message

    @property
    def problems(self) -> int:
        return sum(len(s[4]) for s in self.segments)  # type: ignore[arg-type]

    @property
    def notes(self) -> int:
        return sum(len(s[5]) for s in self.segments)  # type: ignore[arg-type]


def read_with(reader: object, path: Path) -> Reading:
    out: list[tuple[object, ...]] = []
    try:
        with open_text(path) as stream:
            for seg in reader(stream):  # type: ignore[operator]
                out.append(
                    (seg.number, seg.id, seg.loops, seg.data.format(), tuple(seg.problems),
                     tuple(seg.notes))
                )  # fmt: skip
    except ReadFailure as e:
        return Reading(out, f"failure at segment {e.segment}: {e}")
    except FileProblem as e:
        return Reading(out, f"file: {e}")
    return Reading(out, "end")


def assert_same(path: Path) -> Reading:
    fast, full = read_with(fast_segments, path), read_with(validated_segments, path)
    assert fast.ended == full.ended, path.name
    for a, b in zip(fast.segments, full.segments, strict=True):
        assert a == b, path.name
    return fast


@pytest.mark.skipif(not SAMPLE_FILES, reason="../shared/samples is not there")
def test_the_fast_reader_equals_pyx12_on_every_x12_sample() -> None:
    readings = [assert_same(path) for path in SAMPLE_FILES]
    # the samples hold messy input, so the comparison covers findings, not only clean files
    assert sum(r.problems for r in readings) > 0
    assert sum(len(r.segments) for r in readings) > 1000


def test_the_fast_reader_equals_pyx12_on_the_generators_files(tmp_path: Path) -> None:
    generate(tmp_path, 40, seed=5, formats=("x12",))
    files = sorted((tmp_path / "x12").glob("*.83[57]"))
    assert {p.suffix for p in files} == {".837", ".835"}
    for path in files:
        reading = assert_same(path)
        assert reading.ended == "end" and reading.problems == 0
        loops = {loop for seg in reading.segments for loop in seg[2]}  # type: ignore[attr-defined]
        assert {"2000A", "2000B", "2300", "2400"} <= loops or {"2000", "2100", "2110"} <= loops


CLAIMS = (DATA / "claims.837").read_text()


def _break(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# one file per anomaly class, made from the project's valid 837P
ANOMALIES = {
    "envelope counts": lambda t: _break(t, "\nSE*", "\nSE*9"),
    "broken hierarchy": lambda t: _break(t, "\nHL*2*1*22", "\nHL*2*7*22"),
    "segment with no place": lambda t: _break(t, "\nCLM*", "\nZZZ*1*2~\nCLM*"),
    "qualifier outside the guide": lambda t: _break(t, "\nNM1*IL*", "\nNM1*Q9*"),
    "unusable date": lambda t: _break(t, "\nDTP*472*D8*2024", "\nDTP*472*D8*2024133"),
    "unusable number": lambda t: _break(t, "*100.00*UN*1*", "*100.00*UN*1x*"),
    "control characters": lambda t: _break(t, "\nNM1*IL*1*", "\nNM1*IL*1*\x07"),
    "truncated": lambda t: t[: len(t) * 2 // 3],
    "header pyx12 refuses": lambda t: _break(t, "ISA*00*", "ISA*0*"),
}


@pytest.mark.parametrize("anomaly", sorted(ANOMALIES))
def test_the_fast_reader_equals_pyx12_on_each_anomaly_class(anomaly: str, tmp_path: Path) -> None:
    clean = tmp_path / "clean.837"
    clean.write_text(CLAIMS)
    broken = tmp_path / "broken.837"
    broken.write_text(ANOMALIES[anomaly](CLAIMS))
    before, after = assert_same(clean), assert_same(broken)
    # the anomaly changed what was read: the comparison was not of two clean readings
    assert after != before


def test_the_records_do_not_depend_on_the_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path, 12, seed=8, formats=("x12",))
    paths = sorted((tmp_path / "x12").glob("*.83[57]"))
    paths += [p for p in SAMPLE_FILES if "x12-more" in str(p)][:6]

    def items(reader: str) -> list[str]:
        monkeypatch.setenv(READER_SETTING, reader)
        out = []
        for path in paths:
            out += [repr(item) for item in LOADER.read(path, "billing")]
        return out

    fast, full = items("fast"), items("pyx12")
    assert len(fast) > 20
    assert fast == full
