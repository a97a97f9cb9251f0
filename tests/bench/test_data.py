"""The generated data's patient batches: a second batch adds patients, none twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import data
from caregraph.loaders.generator import ids
from caregraph.loaders.generator.generator import FILES_UP_TO


def test_batches_split_the_patients_and_batch_0_has_the_directory(tmp_path: Path) -> None:
    dataset = data.ensure(tmp_path, 30, layout="bulk", batch_size=10)
    assert dataset.path.name == "synth-30-bulk-10"
    first = dict(dataset.batches(0, 1))
    rest = dict(dataset.batches(1))
    assert list(first) == list(rest) == ["ehr", "scheduling", "adt", "pacs", "billing", "payer"]
    every = {f for _, files in dataset.batches(0) for f in files}
    one = {f for files in first.values() for f in files}
    other = {f for files in rest.values() for f in files}
    assert one.isdisjoint(other) and one | other == every
    assert {f.name for f in one} >= {"Practitioner.ndjson", "Organization.ndjson"}
    assert {f.name for f in other} >= {"Patient.0001.ndjson", "Patient.0002.ndjson", "837-0002.837"}

    def mrns(files: list[Path]) -> set[str]:
        return {
            i["value"]
            for f in files
            if f.name.startswith("Patient.")
            for line in f.read_text().splitlines()
            for i in json.loads(line).get("identifier", [])
            if i.get("system") == ids.MRN_SYSTEM
        }

    in_first, in_rest = mrns(first["ehr"]), mrns(rest["ehr"])
    assert in_first.isdisjoint(in_rest)  # namesakes (another MRN) stay with their batch too
    assert in_first >= {ids.mrn(i) for i in range(10)}
    assert in_rest >= {ids.mrn(i) for i in range(10, 30)}


def test_a_data_set_is_reused_only_for_the_same_layout_and_batch_size(tmp_path: Path) -> None:
    made = data.ensure(tmp_path, 12, layout="bulk", batch_size=6)
    assert made.generate_seconds is not None
    assert data.ensure(tmp_path, 12, layout="bulk", batch_size=6).generate_seconds is None
    other = data.ensure(tmp_path, 12, layout="bulk", batch_size=4)
    assert other.path != made.path and other.manifest["batchSize"] == 4


def test_batches_need_the_bulk_layout(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bulk"):
        data.ensure(tmp_path, 3, layout="files").batches(1)


def test_a_layout_the_size_would_get_anyway_keeps_the_plain_folder_name(tmp_path: Path) -> None:
    """The benchmark asks every size for the bulk layout (data.MEASURED_LAYOUT): a large size,
    bulk by default, reuses the data set already generated under its plain name; a small
    one gets a folder of its own beside the files layout's."""
    big = FILES_UP_TO + 1
    plain = tmp_path / f"synth-{big}"
    plain.mkdir()
    manifest = {"patients": big, "seed": 0, "layout": "bulk", "batchSize": data.BATCH_SIZE}
    (plain / "manifest.json").write_text(json.dumps({**manifest, "sources": {}}))
    found = data.ensure(tmp_path, big, layout=data.MEASURED_LAYOUT)
    assert (found.path, found.generate_seconds) == (plain, None)  # reused, not generated
    small = data.ensure(tmp_path, 6, layout=data.MEASURED_LAYOUT)
    assert small.path.name == f"synth-6-bulk-{data.BATCH_SIZE}"
    assert small.manifest["layout"] == "bulk"
