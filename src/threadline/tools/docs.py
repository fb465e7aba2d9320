"""docs/tools.md, generated from the registry: `python -m threadline.tools.docs > docs/tools.md`."""

from __future__ import annotations

import json

from threadline.tools.catalog import registry

_HEADER = """# Tools (generated from the registry — do not edit by hand)

Regenerate with `python -m threadline.tools.docs > docs/tools.md` (a test fails when this file is stale).

Every tool answers over REST, `POST /api/v1/tools/<name>/execute` with `{"arguments": {...}}`, and over MCP
at `/mcp` (streamable HTTP) or `threadline mcp --key sk_live_...` (stdio). Auth: `Authorization: Bearer
sk_live_...` (an operator mints tool keys: `POST /admin/v1/orgs/{org_id}/tool_keys` or `threadline tool-keys
create ORG --label ...`). Envelopes, statuses and quotas: spec 80 and docs/compatibility.md.

## Adding Threadline to an MCP client

Streamable HTTP (Claude Code, Cursor, the `mcp` SDK client, anything that sends a Bearer header):

```json
{
  "mcpServers": {
    "threadline": {
      "type": "http",
      "url": "http://127.0.0.1:8000/mcp",
      "headers": {"Authorization": "Bearer sk_live_..."}
    }
  }
}
```

stdio (a local agent starts the server itself; same database via `THREADLINE_DATA_DIR`/`THREADLINE_DATABASE_URL`):

```json
{
  "mcpServers": {
    "threadline": {"command": "threadline", "args": ["mcp", "--key", "sk_live_..."]}
  }
}
```

Behind a real domain set `THREADLINE_PUBLIC_BASE_URL` (its host is accepted by the DNS-rebinding check) or
`THREADLINE_MCP_ALLOWED_HOSTS`.

Flags: **read-only** (changes nothing), **destructive** (stops or removes something), **free** (takes no
quota). A platform tool takes its selector (`ad_account_id`, `profile_id`, `advertiser_id`) when more than
one account of the platform is active.
"""


def render() -> str:
    parts = [_HEADER]
    tools = registry().all()
    for category in dict.fromkeys(t.category for t in tools):
        parts.append(f"\n## {category}\n")
        for tool in (t for t in tools if t.category == category):
            flags = [
                label
                for label, on in (
                    ("read-only", tool.read_only),
                    ("destructive", tool.destructive),
                    ("free", tool.quota_free),
                    ("idempotent", tool.idempotent),
                )
                if on
            ]
            parts.append(f"\n### `{tool.name}`\n")
            parts.append(f"\n{tool.description}\n")
            meta = f"Platform: `{tool.platform}` (selector `{tool.selector}`)" if tool.platform else "General"
            parts.append(f"\n{meta}. Flags: {', '.join(flags) or 'none'}.\n")
            schema = json.dumps(tool.input_schema(), indent=2, sort_keys=True)
            parts.append(
                f"\n<details><summary>Arguments (JSON Schema)</summary>\n\n```json\n{schema}\n```\n\n</details>\n"
            )
    return "".join(parts)


if __name__ == "__main__":
    print(render(), end="")
