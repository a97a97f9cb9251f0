"""The peer: the Neo4j GraphQL Library (@neo4j/graphql) with Apollo Server, on Node.

The Node project beside this file (package.json, package-lock.json, server.mjs,
typedefs.graphql) is installed from the npm registry with ``npm ci`` on first use (its
node_modules is not committed) and started as a child listening on 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx

from bench.database import free_port
from bench.processes import Child, ChildFailed, neo4j_env
from caregraph.graph.settings import Neo4jSettings

HERE = Path(__file__).resolve().parent


def install() -> None:
    """``npm ci`` when node_modules is missing or older than the lock file."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise ChildFailed("Node.js 20+ and npm are needed for the peer (Debian: nodejs npm)")
    modules = HERE / "node_modules"
    lock = HERE / "package-lock.json"
    stamp = modules / ".package-lock.json"
    if stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    proc = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True,
        check=False, timeout=600,
    )  # fmt: skip
    if proc.returncode != 0:
        raise ChildFailed("npm ci failed: " + (proc.stderr or proc.stdout)[-500:])


def versions() -> dict[str, str]:
    """Installed versions of the peer's packages, and of Node."""
    out: dict[str, str] = {}
    for name in ("@neo4j/graphql", "@apollo/server", "graphql", "neo4j-driver"):
        manifest = HERE / "node_modules" / name / "package.json"
        if manifest.exists():
            out[name] = json.loads(manifest.read_text())["version"]
    node = shutil.which("node")
    if node:
        out["node"] = subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
    return out


class Peer:
    """server.mjs on 127.0.0.1 and a free port."""

    def __init__(self, logs: Path) -> None:
        self.port = free_port()
        self.child = Child("peer (@neo4j/graphql)", logs / "peer.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, conn: Neo4jSettings) -> None:
        install()
        node = shutil.which("node") or "node"
        env = {**neo4j_env(conn), "PEER_PORT": str(self.port)}
        self.child.start([node, "server.mjs"], env, self._ready, cwd=HERE, timeout_s=120.0)

    def _ready(self) -> bool:
        try:
            response = httpx.post(self.url, json={"query": "{ __typename }"}, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def stop(self) -> None:
        self.child.stop()
