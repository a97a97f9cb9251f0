"""GraphiQL at /graphql, served from this machine: example queries and an Authorization header.

Strawberry's own GraphiQL page loads React and GraphiQL from a CDN, which a closed network
(CI here, many hospital networks) cannot reach, so the page is blank. This page loads the
same files (the versions strawberry pins, checked against the same SRI hashes) from
``/graphiql/<file>``, served from :data:`ASSET_DIR`. ``make install`` fetches them from the
npm registry with ``npm pack`` (``python -m caregraph.api.graphiql``); they are not committed, being
4 MB of minified third-party code.

The page opens one tab per example query (patient context, encounter context, practitioner
schedule) and the headers editor with an Authorization header to fill in. The header is
sent only once the placeholder is replaced by a key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse
from starlette.types import ASGIApp, Receive, Scope, Send

ASSET_DIR = Path(sys.prefix) / "share" / "caregraph" / "graphiql"
ASSET_ROUTE = "/graphiql"
PAGE_PATH = "/graphql"
AUTH_PLACEHOLDER = "Bearer <key from: caregraph auth create-key>"


@dataclass(frozen=True)
class Asset:
    """A file of an npm package, pinned by version and by the SRI hash of its bytes."""

    name: str  # as served under ASSET_ROUTE
    package: str  # npm spec, name@version
    member: str  # path inside the package tarball
    integrity: str

    def matches(self, data: bytes) -> bool:
        digest = base64.b64encode(hashlib.sha384(data).digest()).decode()
        return self.integrity == f"sha384-{digest}"


# The versions and hashes of strawberry's own GraphiQL page (strawberry/static/graphiql.html).
ASSETS: tuple[Asset, ...] = (
    Asset(
        "react.production.min.js",
        "react@18.2.0",
        "package/umd/react.production.min.js",
        "sha384-tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8",
    ),
    Asset(
        "react-dom.production.min.js",
        "react-dom@18.2.0",
        "package/umd/react-dom.production.min.js",
        "sha384-bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh",
    ),
    Asset(
        "graphiql.min.js",
        "graphiql@3.8.3",
        "package/graphiql.min.js",
        "sha384-HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie",
    ),
    Asset(
        "graphiql.min.css",
        "graphiql@3.8.3",
        "package/graphiql.min.css",
        "sha384-Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM",
    ),
)
_BY_NAME = {a.name: a for a in ASSETS}


@dataclass(frozen=True)
class Example:
    """An example operation that GraphiQL opens in its own tab."""

    title: str
    query: str
    variables: dict[str, object]


# The examples' variables name patient 0 of the demo set that `make demo` loads.
EXAMPLES: tuple[Example, ...] = (
    Example(
        "Patient context",
        """\
# One patient's visits, appointments, images and claims
# in a window, as one timeline that fits a token budget,
# and what was left out. $patient: system|value, or a
# bare identifier value.
query PatientContext($patient: String!, $from: DateTime, $to: DateTime) {
  patientContext(identifier: $patient, from: $from, to: $to, budgetTokens: 800) {
    patient { display birthDate gender }
    text
    truncated
    totalEvents
    included { kind count }
    omitted { kind count }
    nextCursor
  }
}
""",
        {
            "patient": "urn:oid:2.16.840.1.113883.3.7777.1|10000000",
            "from": "2024-01-01T00:00:00Z",
            "to": "2024-12-31T23:59:59Z",
        },
    ),
    Example(
        "Encounter context",
        """\
# One visit: the patient, who took part, where, and the
# claims and images that belong to it, each with the
# rule that linked it (null: a source said so).
query EncounterContext($encounter: String!) {
  encounter(identifier: $encounter) {
    display
    start
    end
    patient { display }
    organization { display }
    practitioners(first: 10) { edges { node { display specialty } } }
    claims(first: 10) {
      totalCount
      edges { node { controlNumber totalCharge status link { rule inferred } } }
    }
    imagingStudies(first: 10) {
      edges { node { studyInstanceUid modality start link { rule inferred } } }
    }
  }
}
""",
        {"encounter": "urn:oid:2.16.840.1.113883.3.7777.2|V0000000000"},
    ),
    Example(
        "Practitioner schedule",
        """\
# A practitioner's appointments in a window, each with
# its patient and the encounter that followed it
# (null: no visit followed the booking).
query PractitionerSchedule($npi: String!, $from: DateTime, $to: DateTime) {
  practitioner(npi: $npi) {
    display
    specialty
    appointments(first: 20, from: $from, to: $to) {
      totalCount
      edges {
        node {
          start
          status
          patient { display }
          encounter { display start }
        }
      }
    }
  }
}
""",
        {"npi": "1314159264", "from": "2024-01-01T00:00:00Z", "to": "2024-12-31T23:59:59Z"},
    ),
    Example(
        "Service",
        """\
# Is the service up, and which Neo4j does it read?
query Service {
  service { version neo4jVersion neo4jEdition }
}
""",
        {},
    ),
)


# -- fetching the files (make install) -------------------------------------------------------
class AssetsError(RuntimeError):
    """GraphiQL's files could not be fetched or did not match their pinned hashes."""


def missing(dest: Path = ASSET_DIR) -> list[str]:
    """Names of the files not (or not correctly) in ``dest``."""
    return [
        a.name
        for a in ASSETS
        if not (dest / a.name).is_file() or not a.matches((dest / a.name).read_bytes())
    ]


def fetch(dest: Path = ASSET_DIR) -> list[Path]:
    """Fetch the files with ``npm pack`` into ``dest`` unless present; return what was written."""
    if not missing(dest):
        return []
    npm = shutil.which("npm")
    if npm is None:
        raise AssetsError("npm is not installed; it fetches GraphiQL (Debian: apt-get install npm)")
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        packages = sorted({a.package for a in ASSETS})
        proc = subprocess.run(
            [npm, "pack", "--silent", "--pack-destination", tmp, *packages],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise AssetsError(f"npm pack {' '.join(packages)} failed: {proc.stderr.strip()[-300:]}")
        for asset in ASSETS:
            name, version = asset.package.rsplit("@", 1)
            tarball = Path(tmp) / f"{name}-{version}.tgz"
            with tarfile.open(tarball) as tar:
                member = tar.extractfile(asset.member)
                data = member.read() if member else b""
            if not asset.matches(data):
                raise AssetsError(f"{asset.package} {asset.member} does not match its pinned hash")
            (dest / asset.name).write_bytes(data)
            written.append(dest / asset.name)
    return written


# -- the page --------------------------------------------------------------------------------
def _json_for_script(value: object) -> str:
    # "</" would end the <script> element early
    return json.dumps(value, indent=2).replace("</", "<\\/")


def page(examples: tuple[Example, ...] = EXAMPLES) -> str:
    """GraphiQL's HTML, with the example tabs and the Authorization header to fill in."""
    # presence only: the browser checks each file against its integrity attribute
    if any(not (ASSET_DIR / a.name).is_file() for a in ASSETS):
        return _MISSING.format(dest=ASSET_DIR)
    headers = json.dumps({"Authorization": AUTH_PLACEHOLDER}, indent=2)
    tabs = [
        {"query": e.query, "variables": json.dumps(e.variables, indent=2), "headers": headers}
        for e in examples
    ]
    tags = "\n".join(
        f'    <link rel="stylesheet" href="{ASSET_ROUTE}/{a.name}" integrity="{a.integrity}">'
        if a.name.endswith(".css")
        else f'    <script src="{ASSET_ROUTE}/{a.name}" integrity="{a.integrity}"></script>'
        for a in ASSETS
    )
    return _PAGE.format(
        assets=tags,
        tabs=_json_for_script(tabs),
        placeholder=_json_for_script(AUTH_PLACEHOLDER),
    )


_PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>caregraph GraphiQL</title>
    <style>
      body {{ height: 100%; margin: 0; width: 100%; overflow: hidden; }}
      #graphiql {{ height: 100vh; }}
    </style>
{assets}
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script>
      const tabs = {tabs};
      const placeholder = {placeholder};
      const send = GraphiQL.createFetcher({{ url: window.location.pathname }});
      // The headers editor starts with a placeholder Authorization header: send it only once
      // the user has put a key in its place.
      function fetcher(params, options) {{
        const headers = Object.assign({{}}, (options && options.headers) || {{}});
        for (const name of Object.keys(headers)) {{
          if (name.toLowerCase() === "authorization" && String(headers[name]).includes("<")) {{
            delete headers[name];
          }}
        }}
        return send(params, Object.assign({{}}, options, {{ headers }}));
      }}
      ReactDOM.createRoot(document.getElementById("graphiql")).render(
        React.createElement(GraphiQL, {{
          fetcher,
          defaultTabs: tabs,
          defaultHeaders: tabs[0].headers,
          isHeadersEditorEnabled: true,
          // keys are secrets: keep them out of the browser's storage
          shouldPersistHeaders: false,
          defaultEditorToolsVisibility: "headers",
        }}),
      );
    </script>
  </body>
</html>
"""

_MISSING = """<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>caregraph GraphiQL</title></head>
  <body>
    <h1>GraphiQL is not installed</h1>
    <p>Its files (graphiql, react, react-dom from the npm registry) are not in {dest}.
    Run <code>make install</code> (or <code>.venv/bin/python -m caregraph.api.graphiql</code>), then
    reload. GraphQL itself answers POST requests at /graphql meanwhile.</p>
  </body>
</html>
"""


# -- serving ---------------------------------------------------------------------------------
class _PageMiddleware:
    """Answers a browser's GET /graphql with the page, before the GraphQL router.

    The router computes the request context (and so, once configured, authenticates) before
    it decides to show its IDE; the page holds no data and must open without a key, which is
    entered in the page itself.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == PAGE_PATH:
            headers = dict(scope.get("headers") or [])
            accept = headers.get(b"accept", b"").decode("latin-1")
            query = scope.get("query_string", b"").decode("latin-1")
            asks_for_query = any(p.split("=", 1)[0] == "query" for p in query.split("&"))
            if "text/html" in accept and not asks_for_query:
                body = page().encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [
                            (b"content-type", b"text/html; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Serve the page at GET /graphql (for browsers) and its files under /graphiql/."""

    @app.get(ASSET_ROUTE + "/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        if name not in _BY_NAME or not (ASSET_DIR / name).is_file():
            raise HTTPException(404, f"no GraphiQL file {name}; run make install")
        media = "text/css" if name.endswith(".css") else "text/javascript"
        # pinned versions: the bytes under a name never change
        return FileResponse(
            ASSET_DIR / name, media_type=media, headers={"Cache-Control": "max-age=86400"}
        )

    app.add_middleware(_PageMiddleware)


if __name__ == "__main__":
    try:
        done = fetch()
    except AssetsError as e:
        sys.stderr.write(f"error: {e}\n")
        raise SystemExit(1) from e
    sys.stdout.write(
        f"GraphiQL files fetched into {ASSET_DIR}\n"
        if done
        else f"GraphiQL files present in {ASSET_DIR}\n"
    )
