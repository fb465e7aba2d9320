"""Operator services of the tools slice: tool keys, plans, connections and the call log."""

from __future__ import annotations

from threadline.auth.keys import live_keys, mint_key, revoke_keys
from threadline.context import AppContext
from threadline.kit.errors import not_found
from threadline.kit.pagination import PageParams, keyset_page
from threadline.operator.listing import to_page
from threadline.operator.orgs import get_org
from threadline.operator.schemas import Page
from threadline.store.models import ToolCall, ToolPlan
from threadline.tools import accounts, quota
from threadline.tools import repository as repo
from threadline.tools.schemas import (
    ConnectionCreate,
    ConnectionOut,
    ToolCallOut,
    ToolKeyCreate,
    ToolKeyOut,
    ToolPlanOut,
)


def create_tool_key(ctx: AppContext, org_id: str, body: ToolKeyCreate) -> ToolKeyOut:
    with ctx.db.write() as s:
        get_org(s, org_id)
        row, plain = mint_key(s, ctx.clock, kind="tool", org_id=org_id, label=body.label)
    return ToolKeyOut(id=row.id, label=row.label, api_key=plain, created_at=row.created_at)


def revoke_tool_key(ctx: AppContext, org_id: str, key_id: str) -> None:
    with ctx.db.write() as s:
        get_org(s, org_id)
        if not revoke_keys(s, kind="tool", org_id=org_id, at=ctx.clock.now_s(), key_id=key_id):
            raise not_found("tool key", "key_id")
    ctx.keys.clear()


def list_tool_keys(ctx: AppContext, org_id: str) -> list[tuple[str, str, int]]:
    """(id, label, created_at) of the org's live tool keys, for the CLI."""
    with ctx.db.read() as s:
        get_org(s, org_id)
        return [(r.id, r.label, r.created_at) for r in live_keys(s, kind="tool", org_id=org_id)]


def _plan_out(org_id: str, q: quota.Quota) -> ToolPlanOut:
    return ToolPlanOut(org_id=org_id, tier=q.tier, limit=q.limit, used=q.used, period_end=q.period_end)


def get_plan(ctx: AppContext, org_id: str) -> ToolPlanOut:
    """The org's tier and this month's usage (what set_plan answers, without changing anything)."""
    with ctx.db.read() as s:
        get_org(s, org_id)
        q = quota.current(s, ctx.settings, org_id, ctx.clock.now())
    return _plan_out(org_id, q)


def set_plan(ctx: AppContext, org_id: str, tier: str) -> ToolPlanOut:
    with ctx.db.write() as s:
        get_org(s, org_id)
        plan = s.get(ToolPlan, org_id)
        if plan is None:
            s.add(ToolPlan(org_id=org_id, tier=tier, updated_at=ctx.clock.now_s()))
        else:
            plan.tier = tier
            plan.updated_at = ctx.clock.now_s()
        s.flush()
        q = quota.current(s, ctx.settings, org_id, ctx.clock.now())
    quota.forget(ctx.tool_quotas, org_id)  # a new tier is a new limit at once
    return _plan_out(org_id, q)


def connect(ctx: AppContext, org_id: str, body: ConnectionCreate) -> ConnectionOut:
    account = accounts.connect(
        ctx,
        org_id,
        platform=body.platform,
        account_id=body.advertiser_id,
        name=body.name,
        access_token=body.access_token,
    )
    return ConnectionOut.model_validate(account.out())


def list_connections(ctx: AppContext, org_id: str) -> list[ConnectionOut]:
    with ctx.db.read() as s:
        get_org(s, org_id)
    return [ConnectionOut.model_validate(a.out()) for a in accounts.list_accounts(ctx, org_id)]


def _call_out(c: ToolCall) -> ToolCallOut:
    return ToolCallOut(
        id=c.id,
        tool=c.tool,
        key_id=c.key_id,
        transport=c.transport,
        arguments_hash=c.arguments_hash,
        status=c.status,
        outcome=c.outcome,
        error=c.error,
        quota_used=c.quota_used,
        created_at=c.created_at,
        finished_at=c.finished_at,
    )


def list_tool_calls(ctx: AppContext, org_id: str, params: PageParams) -> Page[ToolCallOut]:
    with ctx.db.read() as s:
        get_org(s, org_id)
        page = keyset_page(s, repo.org_calls(org_id), seq=ToolCall.seq, id_=ToolCall.id, params=params)
    return to_page(page, _call_out)
