"""GraphQL types, one per module, each with a ``from_record()`` mapper from a graph row."""
