"""The machine a run measured on: CPU, cores, memory, OS, Python, Neo4j, Node, load."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _os() -> str:
    pretty = ""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return f"{pretty or platform.system()} (kernel {platform.release()})"


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: other work on the machine shows up here."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def describe(neo4j_version: str, neo4j_memory: str, peer: dict[str, str]) -> dict[str, Any]:
    """The ``machine`` object of latest.json."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": _os(),
        "python": sys.version.split()[0],
        "neo4j": neo4j_version,
        "neo4j_memory": neo4j_memory,
        "node": peer.get("node"),
        "peer_packages": {k: v for k, v in peer.items() if k != "node"},
        "load_average_at_start": load_average(),
    }
