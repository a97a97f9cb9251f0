"""The schema's SDL, committed as ``api/schema.graphql`` so that a change shows up in review.

Regenerate after changing the schema: ``python -m caregraph.api.sdl``.
"""

from __future__ import annotations

from pathlib import Path

SDL_FILE = Path(__file__).resolve().parent / "schema.graphql"
REGENERATE = "python -m caregraph.api.sdl"


def sdl() -> str:
    """The schema as SDL text."""
    from caregraph.api.schema import schema

    return schema.as_str() + "\n"


def export(path: Path = SDL_FILE) -> Path:
    """Write the SDL snapshot."""
    path.write_text(sdl())
    return path


if __name__ == "__main__":
    print(f"wrote {export()}")
