"""General tools: accounts, connection status, primary account, usage, error explanations."""

from __future__ import annotations

from typing import Any, Literal

import anyio.to_thread
from pydantic import Field, model_validator

from threadline.tools import accounts, error_catalog, quota
from threadline.tools.envelope import ToolError
from threadline.tools.registry import PLATFORMS, SELECTORS, Args, Call, NoArgs, Tool, ToolResult

Platform = Literal["thrad", "threads", "tiktok_ads"]


class ListAccountsArgs(Args):
    platform: Platform | None = Field(None, description="Only this platform's accounts.")


async def list_connected_accounts(call: Call, args: ListAccountsArgs) -> ToolResult:
    found = await anyio.to_thread.run_sync(accounts.list_accounts, call.ctx, call.org_id, args.platform)
    if not found:
        return ToolResult("No accounts are connected.", {"accounts": []})
    lines = [
        f'- **{a.name}** ({a.platform}, {SELECTORS[a.platform]}="{a.account_id}"){"" if a.active else " — inactive"}'
        for a in found
    ]
    return ToolResult(
        f"{len(found)} connected account(s):\n" + "\n".join(lines), {"accounts": [a.out() for a in found]}
    )


async def get_connections_status(call: Call, _args: NoArgs) -> ToolResult:
    found = await anyio.to_thread.run_sync(accounts.list_accounts, call.ctx, call.org_id, None)
    platforms: list[dict[str, Any]] = []
    lines = []
    for platform in PLATFORMS:
        mine = [a for a in found if a.platform == platform]
        active = [a for a in mine if a.active]
        status = "connected" if active else ("inactive" if mine else "not_connected")
        platforms.append(
            {"platform": platform, "status": status, "connected": len(mine), "active": len(active)}
        )
        lines.append(f"- {platform}: {status} ({len(mine)} connected, {len(active)} active)")
    return ToolResult("Connections:\n" + "\n".join(lines), {"platforms": platforms})


class SwitchArgs(Args):
    platform: Platform = Field(description="The platform whose active account(s) to set.")
    account_id: str | None = Field(
        None, min_length=1, max_length=64, description="Make this the one active account."
    )
    account_ids: list[str] | None = Field(
        None, min_length=1, max_length=50, description="Make exactly these the active accounts."
    )

    @model_validator(mode="after")
    def _one_of(self) -> SwitchArgs:
        if (self.account_id is None) == (self.account_ids is None):
            raise ToolError(400, "invalid_value", "Pass either account_id or account_ids.", "account_id")
        return self


async def switch_primary_account(call: Call, args: SwitchArgs) -> ToolResult:
    ids = [args.account_id] if args.account_id is not None else list(args.account_ids or [])
    found = await anyio.to_thread.run_sync(accounts.switch_active, call.ctx, call.org_id, args.platform, ids)
    active = [a for a in found if a.active]
    names = ", ".join(f"{a.name} ({a.account_id})" for a in active)
    return ToolResult(
        f"Active {args.platform} account(s): {names}.",
        {
            "platform": args.platform,
            "active_account_ids": [a.account_id for a in active],
            "accounts": [a.out() for a in found],
        },
    )


async def get_usage_status(call: Call, _args: NoArgs) -> ToolResult:
    ctx = call.ctx
    q = await quota.status(ctx, call.org_id)
    remaining = max(0, q.limit - q.used)
    return ToolResult(
        f"{q.used}/{q.limit} tool calls used on the {q.tier.capitalize()} tier this month; "
        f"{remaining} left. The counter resets on {q.period_end}.",
        {**q.block(), "remaining": remaining, "upgrade_url": ctx.settings.tool_upgrade_url},
        quota=q,
    )


class ExplainArgs(Args):
    error: str = Field(
        min_length=1, max_length=4000, description="An error code or message from any Threadline surface."
    )


async def explain_platform_error(_call: Call, args: ExplainArgs) -> ToolResult:
    found = error_catalog.explain(args.error)
    if not found:
        return ToolResult(
            "This does not match a known Threadline error code. Read the message itself: it names the "
            "parameter and the rule.",
            {"matches": []},
        )
    parts = [
        f"**{e.code}**: {e.meaning} What to do: {e.action}{' (retryable)' if e.retryable else ''}"
        for e in found
    ]
    return ToolResult(
        "\n".join(parts),
        {
            "matches": [
                {"code": e.code, "meaning": e.meaning, "action": e.action, "retryable": e.retryable}
                for e in found
            ]
        },
    )


TOOLS = [
    Tool(
        "list_connected_accounts",
        "List the accounts this organization has connected (thrad ad accounts, threads profiles, TikTok "
        "advertisers) with the id to pass as each platform's selector. Free; call it first.",
        ListAccountsArgs,
        list_connected_accounts,
        "general",
        read_only=True,
        quota_free=True,
        idempotent=True,
    ),
    Tool(
        "get_connections_status",
        "Which platforms are connected and how many accounts of each are active. Free.",
        NoArgs,
        get_connections_status,
        "general",
        read_only=True,
        quota_free=True,
        idempotent=True,
    ),
    Tool(
        "switch_primary_account",
        "Choose which account(s) of a platform are active. With exactly one active account, tools of that "
        "platform no longer need the selector argument.",
        SwitchArgs,
        switch_primary_account,
        "general",
        idempotent=True,
    ),
    Tool(
        "get_usage_status",
        "This month's tool-call usage: used, limit, tier and the reset date. Free.",
        NoArgs,
        get_usage_status,
        "general",
        read_only=True,
        quota_free=True,
        idempotent=True,
    ),
    Tool(
        "explain_platform_error",
        "Explain an error code or message returned by any Threadline API or tool, and what to do about it. "
        "Free.",
        ExplainArgs,
        explain_platform_error,
        "general",
        read_only=True,
        quota_free=True,
        idempotent=True,
    ),
]
