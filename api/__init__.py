"""Every way into caregraph: the FastAPI app with GraphQL, the MCP tools, the command line."""
