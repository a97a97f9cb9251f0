"""Source connectivity: a module per format, the record model, identity and the pipeline."""
