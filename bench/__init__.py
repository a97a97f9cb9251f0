"""caregraph's benchmark suite: ingest, queries and scale against the limit and the peer.

``python -m bench.run --sizes 1000`` generates the data, starts (or reaches) one Neo4j, and
measures in one run; see docs/benchmarks.md for the method and the latest figures.
"""
