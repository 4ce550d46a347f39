"""The REST API, version 1 (docs/PROTOCOL.md): thin views over dispatch and geo services and selectors."""
