"""`caregraph load PATH...`: files and folders into the graph, with a report."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from neo4j import Driver
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from caregraph.api.process import settle_memory
from caregraph.graph import scorecard
from caregraph.graph.driver import connection, session_driver
from caregraph.graph.errors import GraphError
from caregraph.graph.settings import Settings
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.initial import describe, import_initial
from caregraph.loaders.limits import LoadLimits
from caregraph.loaders.pipeline import Progress as Progress_
from caregraph.loaders.pipeline import default_source
from caregraph.loaders.pipeline import load as run_load
from caregraph.loaders.report import LoadReport


class Snapshot(StrEnum):
    """``caregraph load --snapshot``: when the run keeps a snapshot of the scorecard."""

    due = "due"
    always = "always"


def load(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (read recursively).")],
    source: Annotated[
        str | None,
        typer.Option(
            "--source", help="Name of the source system (default: the first path's name)."
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the report as JSON here.")
    ] = None,
    identity: Annotated[
        Path | None,
        typer.Option(
            "--identity",
            help="Identity rules (a TOML file with aliases, namespaces and rules tables).",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=20000)] = 500,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            max=64,
            help="Read and check files in this many worker processes (0: in the loading "
            "process). Default: for a load, one when the input holds 8 MiB or more in files "
            "of 256 KiB or more and the machine has two cores or more, else 0 (a worker "
            "costs seconds to start); one per core with --initial (Neo4j is idle while the "
            "files are read).",
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Reject records that carry warnings instead of writing them."
        ),
    ] = False,
    retry_for: Annotated[
        float,
        typer.Option(
            "--retry-for",
            min=0,
            max=3600,
            help="Seconds a batch is retried while Neo4j is unreachable before the load stops "
            "with its report (run the same load again to finish it).",
        ),
    ] = 30.0,
    initial: Annotated[
        bool,
        typer.Option(
            "--initial",
            help="Build an empty database with neo4j-admin (the managed Neo4j only: it is "
            "stopped and started again); the same graph as a load of the same input.",
        ),
    ] = False,
    snapshot: Annotated[
        Snapshot,
        typer.Option(
            "--snapshot",
            help="When the run keeps a snapshot of the scorecard (a point in each measure's "
            "history) at its end: 'due' when the last one cost at most 5 s or a tenth of the "
            "loading since it, 'always' at the end of this run whatever it costs (an "
            "initial import keeps one at its end).",
        ),
    ] = Snapshot.due,
    per_path: Annotated[
        bool,
        typer.Option(
            "--per-path",
            help="With --initial: each PATH is its own source system, named by its name, "
            "imported in the order given (as one `caregraph load` per PATH would).",
        ),
    ] = False,
) -> None:
    """Load files as one source system. Exit 0: all loaded; 1: some rejected; 2: fatal."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        typer.echo(f"error: no such file or folder: {', '.join(missing)}", err=True)
        raise typer.Exit(2)
    settings = Settings()
    config = IdentityConfig.from_file(identity) if identity else _default_identity(settings)
    name = source or default_source(paths)
    rejects = settings.paths.home / "rejects"
    console = Console(stderr=True)
    if per_path and not initial:
        typer.echo("error: --per-path goes with --initial", err=True)
        raise typer.Exit(2)
    if initial:
        groups: list[tuple[str | None, list[Path]]] = (
            [(None, [p]) for p in paths] if per_path else [(name, paths)]
        )
        # Neo4j is stopped or idle while an initial import reads: every core can read
        readers = workers if workers is not None else os.cpu_count() or 1
        _initial(settings, groups, config, batch_size, rejects, strict, readers, report, console)
        return
    settle_memory()  # the ontology read and the start-up objects out of the collector's passes
    try:
        with session_driver(connection(settings), max_retry_time=retry_for) as driver:
            if sys.stderr.isatty():
                with Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    TextColumn("{task.completed} records"),
                    TimeElapsedColumn(),
                    console=console,
                    transient=True,
                ) as bar:
                    task = bar.add_task("loading", total=None)

                    def progress(path: str, count: int) -> None:
                        bar.update(task, description=Path(path).name, completed=count)

                    result = _run(
                        paths, driver, settings, name, config, batch_size, rejects, progress,
                        strict, workers, _history(snapshot),
                    )  # fmt: skip
            else:
                result = _run(
                    paths, driver, settings, name, config, batch_size, rejects, None, strict,
                    workers, _history(snapshot),
                )  # fmt: skip
    except GraphError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    except KeyboardInterrupt:
        typer.echo(
            "interrupted: the batches written before stay (each is one transaction), the "
            "one being written was finished first; run the same load again to complete it "
            "(what is already loaded is skipped as unchanged)",
            err=True,
        )
        raise typer.Exit(2) from None
    _print(result, console)
    if report:
        result.write_json(report)
    raise typer.Exit(result.exit_code)


def _initial(
    settings: Settings,
    groups: list[tuple[str | None, list[Path]]],
    config: IdentityConfig,
    batch_size: int,
    rejects: Path,
    strict: bool,
    workers: int,
    report: Path | None,
    console: Console,
) -> None:
    """``load --initial``: the bulk import into the managed server's empty database."""
    if settings.neo4j.external:
        typer.echo(
            f"error: NEO4J_URI is set ({settings.neo4j.uri}): an initial import writes the "
            "store's files with neo4j-admin, which needs the managed Neo4j; load into an "
            "external server with `caregraph load` (without --initial), or build the store "
            "where the server runs",
            err=True,
        )
        raise typer.Exit(2)
    from caregraph.graph.server import ManagedNeo4j  # local: external mode never needs it

    settle_memory()  # as an incremental load does (above)
    server = ManagedNeo4j(settings.paths.neo4j_home, settings.managed)
    try:
        server.start()
        result = import_initial(
            groups,
            server=server,
            database=settings.neo4j.database,
            identity=config,
            batch_size=batch_size,
            rejects_dir=rejects,
            strict=strict,
            limits=LoadLimits(),  # CAREGRAPH_LOAD_MAX_*: read here, at the edge
            workers=workers,
        )
    except GraphError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    except KeyboardInterrupt:
        typer.echo(
            "interrupted: the database is the one before the import or the imported one, "
            "never part of each; `caregraph neo4j start` settles which and says so. If it is "
            "the old one, run the initial import again",
            err=True,
        )
        raise typer.Exit(2) from None
    for one in result.reports:
        _print(one, console)
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    total = sum(result.seconds.values())
    console.print(
        f"initial import: {result.records} records in {total:.1f} s "
        f"({result.records / total if total else 0:.0f} records/s; {phases})"
    )
    for rule, count in result.links.items():
        console.print(f"linked by {rule}: {count}")
    if report:
        Path(report).write_text(json.dumps(describe(result), indent=2, default=str))
    codes = [r.exit_code for r in result.reports]
    raise typer.Exit(max(codes) if codes else 0)


def _default_identity(settings: Settings) -> IdentityConfig:
    path = settings.paths.home / "identity.toml"
    return IdentityConfig.from_file(path) if path.exists() else IdentityConfig()


def _run(
    paths: list[Path],
    driver: Driver,
    settings: Settings,
    name: str,
    config: IdentityConfig,
    batch_size: int,
    rejects: Path,
    progress: Progress_ | None,
    strict: bool,
    workers: int | None = 0,
    history: scorecard.HistoryBudget | None = None,
) -> LoadReport:
    database = connection(settings).database
    result = run_load(
        paths,
        driver=driver,
        database=database,
        source=name,
        identity=config,
        batch_size=batch_size,
        # one listing per run, named by source and run id, so a load never overwrites the last
        rejects_dir=rejects / name,
        on_progress=progress,
        strict=strict,
        limits=LoadLimits(),  # CAREGRAPH_LOAD_MAX_*: read here, at the edge
        workers=workers,
        history=history,
    )
    return result


def _history(snapshot: Snapshot) -> scorecard.HistoryBudget:
    return scorecard.EVERY_RUN if snapshot is Snapshot.always else scorecard.HistoryBudget()


def _print(result: LoadReport, console: Console) -> None:
    table = Table(title=f"load {result.run_id} (source {result.source})")
    counts = ("read", "written", "warned", "unchanged", "skipped", "rejected", "not_attempted")
    for col in ("file", "format", *counts):
        table.add_column(col, justify="left" if col in ("file", "format") else "right")
    for f in result.files:
        table.add_row(f.path, f.format, *(str(getattr(f, c)) for c in counts))
    console.print(table)
    console.print(
        f"nodes created {result.nodes_created}, updated {result.nodes_updated}; "
        f"relationships created {result.relationships_created}, "
        f"updated {result.relationships_updated}; {result.seconds:.1f} s "
        f"({result.records_per_second():.0f} records/s)"
    )
    for rej in result.rejects[:20]:
        console.print(f"rejected: {rej.ref.where()}: {rej.reason}")
    if len(result.rejects) > 20:
        console.print(f"... and {len(result.rejects) - 20} more")
    if result.warnings:
        by_code = ", ".join(f"{k} {v}" for k, v in result.warning_counts().items())
        console.print(f"warnings ({by_code}):")
    for w in result.warnings[:20]:
        console.print(f"warning: {w.ref.where()}: {w.warning.code}: {w.warning.message}")
    if len(result.warnings) > 20:
        console.print(f"... and {len(result.warnings) - 20} more warnings")
    if result.rejects_file:
        console.print(f"rejects and warnings listed in {result.rejects_file}")
    for c in result.conflicts:
        console.print(f"identity conflict: {c}")
    for rule, count in result.ambiguous.items():
        console.print(
            f"ambiguous: {count} record(s) left unlinked by {rule}: more than one target qualified"
        )
    said = result.scorecard
    if said is not None and said.outcome == "deferred":
        console.print(
            f"scorecard snapshot deferred: the last one took {said.last_seconds:.1f} s, more "
            f"than a tenth of the {said.loading_seconds:.1f} s of loading since it; a later "
            "run keeps one (or load with --snapshot always). `caregraph scorecard` measures "
            "the graph as it is now"
        )
    if result.fatal:
        console.print(f"error: {result.fatal}")
        if result.files_not_read:
            console.print(f"not read: {len(result.files_not_read)} file(s): run the load again")
