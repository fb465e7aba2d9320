"""The demo's tool key and the lines `make run` prints for the tool API and MCP."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

from threadline.auth.keys import authenticate
from threadline.context import AppContext
from threadline.tools import keys
from threadline.tools.schemas import ToolKeyCreate

KEY_FILE = "demo-tool-key"
SEED_ARGUMENTS = {"image_urls": ["https://cdn.example.com/a.jpg"]}


def ensure_tool_key(ctx: AppContext, org_id: str) -> str:
    """The demo org's tool key: the one kept in the data dir while it still works, else a new one."""
    path = Path(ctx.settings.data_dir) / KEY_FILE
    try:
        kept = path.read_text().strip()
    except OSError:
        kept = ""
    if kept:
        principal = authenticate(ctx.db, ctx.keys, ctx.clock, kept, "tool")
        if principal is not None and principal.org_id == org_id:
            return kept
    plain = keys.create_tool_key(ctx, org_id, ToolKeyCreate(label="demo")).api_key
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(plain + "\n")
    os.replace(tmp, path)
    return plain


def banner(base_url: str, org_id: str, tool_key: str) -> str:
    base = base_url.rstrip("/")
    seed = json.dumps({"arguments": SEED_ARGUMENTS})
    mcp = json.dumps(
        {
            "mcpServers": {
                "threadline": {
                    "type": "http",
                    "url": f"{base}/mcp",
                    "headers": {"Authorization": f"Bearer {tool_key}"},
                }
            }
        },
        indent=2,
    )
    return "\n".join(
        [
            "Tool API (Adspirer-compatible) and MCP",
            f"  tool key       {tool_key}",
            "  The seed's request (answers 'connect a TikTok account' until one is connected:",
            f"  threadline connections add-tiktok {org_id} --advertiser-id ID --name NAME --access-token TOKEN):",
            f"  curl -s -X POST {base}/api/v1/tools/upload_tiktok_images/execute \\",
            f"       -H 'Authorization: Bearer {tool_key}' -H 'Content-Type: application/json' \\",
            f"       -H 'Idempotency-Key: demo-upload-1' -d {shlex.quote(seed)}",
            f"  curl -s -X POST {base}/api/v1/tools/get_thrad_campaign_performance/execute \\",
            f"       -H 'Authorization: Bearer {tool_key}' -H 'Content-Type: application/json' -d '{{\"arguments\": {{}}}}'",
            "  MCP client config (docs/tools.md has the stdio form):",
            *("  " + line for line in mcp.splitlines()),
            "",
        ]
    )
