"""`caregraph`: the entry point that gathers the command groups."""

from __future__ import annotations

import typer

from caregraph.api.cli import (
    analyst,
    audit,
    auth,
    demo,
    explain,
    identity,
    load,
    mcp,
    neo4j,
    ontology,
    scorecard,
    serve,
    synth,
    terminology,
)

app = typer.Typer(
    name="caregraph",
    help="Knowledge-graph context service for healthcare AI.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(neo4j.app, name="neo4j")
app.add_typer(analyst.app, name="analyst")
app.add_typer(ontology.app, name="ontology")
app.add_typer(auth.app, name="auth")
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.command("load")(load.load)
app.command("explain")(explain.explain)
app.command("synth")(synth.synth)
app.command("mcp")(mcp.mcp)
app.command("scorecard")(scorecard.scorecard_command)
app.add_typer(audit.app, name="audit")
app.add_typer(terminology.app, name="terminology")
app.add_typer(identity.app, name="identity")


if __name__ == "__main__":
    app()
