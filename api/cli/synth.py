"""`caregraph synth`: a synthetic health system's records, in every source's own format."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from caregraph.loaders.generator import FORMATS, LAYOUTS, clear, generate
from caregraph.loaders.generator.generator import BATCH_SIZE, OUTPUTS


def synth(
    patients: Annotated[int, typer.Option("--patients", min=1, help="How many patients.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write into.")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Same seed, same bytes.")] = 0,
    formats: Annotated[
        str, typer.Option("--formats", help="Comma-separated: fhir,hl7v2,dicom,x12.")
    ] = ",".join(FORMATS),
    layout: Annotated[
        str,
        typer.Option(
            "--layout",
            help="files: a FHIR bundle per patient, DICOM Part 10; bulk: FHIR NDJSON, "
            "DICOM JSON; auto: files up to 1,000 patients, bulk above.",
        ),
    ] = "auto",
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Patients per HL7 v2, X12, bulk file.")
    ] = BATCH_SIZE,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace what an earlier run wrote in --out.")
    ] = False,
    duplicates: Annotated[
        float,
        typer.Option(
            "--duplicates",
            min=0.0,
            max=1.0,
            help="Share of patients registered twice in the EHR with a typo, a transposed "
            "birth date or missing fields (the truth is in the manifest); 0 by default.",
        ),
    ] = 0.0,
) -> None:
    """Write Riverside Health's EHR, scheduling, ADT, PACS, billing and payer files."""
    chosen = [f.strip() for f in formats.split(",") if f.strip()]
    unknown = sorted(set(chosen) - set(FORMATS))
    if unknown or not chosen:
        typer.echo(f"error: --formats takes {', '.join(FORMATS)}", err=True)
        raise typer.Exit(2)
    if layout not in LAYOUTS:
        typer.echo(f"error: --layout takes {', '.join(LAYOUTS)}", err=True)
        raise typer.Exit(2)
    if out.exists() and not out.is_dir():
        typer.echo(f"error: {out} is a file, not a folder", err=True)
        raise typer.Exit(2)
    earlier = [name for name in OUTPUTS if (out / name).exists()]
    if earlier and not overwrite:
        typer.echo(
            f"error: {out} already holds generated data ({', '.join(earlier)}); "
            "pass --overwrite to replace it",
            err=True,
        )
        raise typer.Exit(2)
    clear(out)
    started = time.perf_counter()
    manifest = generate(
        out,
        patients,
        seed=seed,
        formats=chosen,
        layout=layout,
        batch_size=batch_size,
        duplicates=duplicates,
    )
    seconds = time.perf_counter() - started
    typer.echo(f"{patients} patients (seed {seed}, {manifest['layout']} layout) in {seconds:.1f} s")
    for fmt, counts in manifest["counts"].items():
        typer.echo(f"  {fmt:<8} {json.dumps(counts)}")
    typer.echo("  load each source system with its own --source:")
    for source, paths in manifest["sources"].items():
        shown = " ".join(str(out / p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
        typer.echo(
            f"    caregraph load {shown} --source {source} --identity {out / 'identity.toml'}"
        )
