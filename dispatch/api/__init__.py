"""The REST API, version 1 (DESIGN §5): thin views over dispatch.services and dispatch.selectors."""
