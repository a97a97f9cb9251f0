"""What a long-running caregraph process does once it has started: settle its memory.

Python's garbage collector walks every container object it tracks on each full pass, and a
caregraph process holds a large, fixed set of them from its first seconds: modules, the
GraphQL schema, the format libraries' dictionaries (pydicom's, fhir.resources' models), the
ontology's rdflib graph. None of it ever becomes garbage, so after start-up it is moved out of
the collector's view (``gc.freeze``, made for exactly this). Done once, at an entry point
(the service's start, ``caregraph load``; a parse worker, a process the loader starts itself,
freezes its own in loaders/parallel.py), never from library code: objects frozen are never
collected, so freezing a test's or a caller's objects would keep their garbage for good.

Measured (2-core Intel Xeon, 2026-12-06): a service worker's full passes showed as 100-150 ms
stalls at the 99th percentile of a traversal. An incremental load of the EHR's 95,315 records
(10,000 patients) spent 8.1 s in 110 full passes, 1.7 s with the start-up objects frozen; the
six sources of the benchmark's data set, loaded as ``make bench`` loads them, took 4-9% less of
the loading process's CPU (1,000 patients: 18.7-19.0 s against 17.2-17.6 s; 10,000: 175.7 s
against 168.0 s), their wall time within the run-to-run spread (Neo4j's share decides it).
"""

from __future__ import annotations

import gc

from caregraph.ontology.model import load_ontology


def settle_memory() -> None:
    """Read the ontology now, then move everything made so far out of the garbage
    collector's full passes."""
    load_ontology()
    gc.collect()
    gc.freeze()
