"""Agent tools: the Adspirer-compatible execute API, quotas, connected accounts, adapters and MCP."""
