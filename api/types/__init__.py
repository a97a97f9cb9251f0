"""GraphQL types, one per module. Each field is declared once in its type's class
(api/types/fields.py): a stored field with its property and how it is read, a traversal with
its name in api/paths.py and the type it reaches; the node types' ``from_record()`` (the
Entity and Event interfaces') reads a graph row from those declarations, and the role
projections read which properties each field is made of from them too."""
