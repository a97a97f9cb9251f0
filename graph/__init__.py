"""Neo4j for caregraph: the managed server, the driver, all Cypher, the writer, the readers."""
