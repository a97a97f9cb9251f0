"""The `caregraph` command line: one module per command group."""
