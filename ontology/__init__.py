"""The caregraph ontology: Turtle files an informaticist edits, and the Python that reads them."""
