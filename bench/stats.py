"""Latency percentiles and throughput of one measured cell (a question, a system, a load)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks.

    The same definition as numpy's default ("linear"), written out so the harness needs no
    numpy: rank = q/100 * (n-1), interpolated between the values either side of it.
    """
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """What one cell measured: latencies in milliseconds, throughput in requests per second."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    throughput_rps: float
    # CPU milliseconds per request by process (the server, Neo4j, the client), when measured
    cpu_ms_per_request: dict[str, float] | None = None

    def as_json(self) -> dict[str, Any]:
        out = {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}
        if self.cpu_ms_per_request is None:
            del out["cpu_ms_per_request"]
        else:
            out["cpu_ms_per_request"] = {k: round(v, 3) for k, v in self.cpu_ms_per_request.items()}
        return out


def summarize(latencies_s: Sequence[float], errors: int, seconds: float) -> Summary:
    """Summarise the latencies (seconds) of the requests completed in ``seconds`` of wall time."""
    if not latencies_s:
        nan = float("nan")
        return Summary(0, errors, seconds, nan, nan, nan, nan, 0.0)
    ms = [x * 1000 for x in latencies_s]
    return Summary(
        requests=len(ms),
        errors=errors,
        seconds=seconds,
        p50_ms=percentile(ms, 50),
        p95_ms=percentile(ms, 95),
        p99_ms=percentile(ms, 99),
        mean_ms=sum(ms) / len(ms),
        throughput_rps=len(ms) / seconds if seconds > 0 else 0.0,
    )


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing, zero or not a number."""
    if numerator is None or denominator is None:
        return None
    if math.isnan(numerator) or math.isnan(denominator) or denominator == 0:
        return None
    return numerator / denominator
