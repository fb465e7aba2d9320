"""`threadline tool-keys|tool-plan|connections|tool-calls` and `threadline mcp` (stdio)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

import anyio
import typer

from threadline.context import AppContext
from threadline.kit.pagination import PageParams
from threadline.tools import keys
from threadline.tools.schemas import ConnectionCreate, ToolKeyCreate


def demo_banner(ctx: AppContext, org_id: str) -> str:
    from threadline.tools import demo

    return demo.banner(ctx.settings.public_base_url, org_id, demo.ensure_tool_key(ctx, org_id))


# Module level: Typer evaluates the (string) annotations against this module's globals.
Org = Annotated[str, typer.Argument(help="Organisation id.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(
    app: typer.Typer,
    *,
    operator_context: Callable[[], AbstractContextManager[AppContext]],
    emit: Callable[..., None],
    emit_rows: Callable[..., None],
    user_errors: Callable[[Any], Any],
) -> None:
    """Add the tools commands to the main CLI (kept here so cli.py only wires them in)."""
    keys_app = typer.Typer(help="Tool keys (sk_live_) for the tool API and MCP.", no_args_is_help=True)
    conn_app = typer.Typer(
        help="Connected accounts (TikTok advertisers) of an organisation.", no_args_is_help=True
    )
    app.add_typer(keys_app, name="tool-keys")
    app.add_typer(conn_app, name="connections")

    @keys_app.command("create")
    @user_errors
    def create(
        org: Org, label: Annotated[str, typer.Option(help="What the key is for.")], as_json: Json = False
    ) -> None:
        """Create a tool key and print it (shown once)."""
        body = ToolKeyCreate(label=label)
        with operator_context() as ctx:
            emit(keys.create_tool_key(ctx, org, body), as_json, title="Tool key created (shown only once)")

    @keys_app.command("revoke")
    @user_errors
    def revoke(org: Org, key_id: Annotated[str, typer.Argument(help="Tool key id.")]) -> None:
        """Revoke a tool key."""
        with operator_context() as ctx:
            keys.revoke_tool_key(ctx, org, key_id)
        typer.echo("revoked")

    @keys_app.command("list")
    @user_errors
    def list_keys(org: Org) -> None:
        """The organisation's live tool keys (ids and labels; secrets are never stored)."""
        with operator_context() as ctx:
            for key_id, label, created_at in keys.list_tool_keys(ctx, org):
                typer.echo(f"{key_id}\t{label}\t{created_at}")

    @app.command("tool-plan")
    @user_errors
    def tool_plan(
        org: Org,
        tier: Annotated[str, typer.Argument(help="free | plus | pro | max")],
        as_json: Json = False,
    ) -> None:
        """Set the organisation's tool tier (monthly call quota)."""
        from threadline.tools.schemas import ToolPlanIn

        body = ToolPlanIn.model_validate({"tier": tier})
        with operator_context() as ctx:
            emit(keys.set_plan(ctx, org, body.tier), as_json, title="Tool plan")

    @conn_app.command("add-tiktok")
    @user_errors
    def add_tiktok(
        org: Org,
        advertiser_id: Annotated[str, typer.Option(help="TikTok advertiser id.")],
        name: Annotated[str, typer.Option(help="A name people recognise.")],
        access_token: Annotated[
            str, typer.Option(envvar="THREADLINE_TIKTOK_ACCESS_TOKEN", help="The advertiser's access token.")
        ],
        as_json: Json = False,
    ) -> None:
        """Connect a TikTok advertiser account (the token is encrypted at rest)."""
        body = ConnectionCreate(
            platform="tiktok_ads", advertiser_id=advertiser_id, name=name, access_token=access_token
        )
        with operator_context() as ctx:
            emit(keys.connect(ctx, org, body), as_json, title="Connected")

    @app.command("tool-calls")
    @user_errors
    def tool_calls(
        org: Org,
        limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
        after: Annotated[str | None, typer.Option()] = None,
        as_json: Json = False,
    ) -> None:
        """The organisation's tool-call log, newest first."""
        with operator_context() as ctx:
            page = keys.list_tool_calls(ctx, org, PageParams(limit=limit, after=after))
        emit_rows(
            page,
            ["id", "tool", "transport", "status", "outcome", "quota_used", "created_at"],
            as_json,
            title="Tool calls",
        )

    @app.command("mcp")
    @user_errors
    def mcp(
        key: Annotated[
            str, typer.Option(envvar="THREADLINE_TOOL_KEY", help="The org's tool key (sk_live_...).")
        ],
    ) -> None:
        """Serve the tools over MCP on stdin/stdout (for local agents)."""
        from threadline.tools.auth import resolve_plain_key
        from threadline.tools.mcp_server import serve_stdio

        with operator_context() as ctx:

            async def run() -> None:
                principal = await resolve_plain_key(ctx, key)
                await serve_stdio(ctx, principal)

            anyio.run(run)
