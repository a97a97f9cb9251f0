"""Who may read what, in one place.

- :mod:`api.access.policy`: the role table, as data (every field readable, hidden or
  generalised per role; which filters read which field);
- :mod:`api.access.refusals`: the schema extension that refuses, before anything runs, an
  operation without a caller or with a field or filter the caller's role may not read;
- :mod:`api.access.selection`: what an operation selects, for the refusals and the audit;
- :mod:`api.access.projections`: the table turned into the projection every read query
  carries (graph/projection.py writes it as Cypher), so a hidden property never leaves Neo4j;
- :mod:`api.access.pseudonyms`: the analysts' stable pseudonyms of keys.
"""
