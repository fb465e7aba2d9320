"""One pipeline for every tool call, whatever the transport: look up, validate, select the account,
take quota and record the call in one transaction, run the handler, settle the record.

A billable call reserves its quota before the handler runs (so twenty concurrent calls with one left
admit exactly one) and gives it back if the handler fails: only a successful call consumes quota.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy.orm import Session

from threadline.context import AppContext
from threadline.kit.errors import ApiError
from threadline.kit.ids import new_id
from threadline.kit.ratelimit import Limit
from threadline.store.models import ToolCall
from threadline.tools import accounts, quota
from threadline.tools import repository as repo
from threadline.tools.auth import ToolPrincipal
from threadline.tools.catalog import registry
from threadline.tools.envelope import ToolError, success_body, tool_not_found
from threadline.tools.registry import Call, Tool

log = logging.getLogger("threadline.tools")


@dataclass(frozen=True)
class Success:
    tool: str
    text: str
    structured: dict[str, Any]
    quota: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return success_body(self.tool, self.text, self.structured, self.quota)


def find_tool(name: str) -> Tool:
    tool = registry().get(name)
    if tool is None:
        raise tool_not_found(name)
    return tool


def arguments_hash(arguments: Mapping[str, Any]) -> str:
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def check_rate(ctx: AppContext, principal: ToolPrincipal) -> None:
    item = ctx.rate_items.get("tools")
    if item is None:
        item = ctx.rate_items["tools"] = Limit(ctx.settings.tool_rate_limit_per_minute, 60.0)
    if ctx.limiter.allow(item, "tool", principal.key_id):
        return
    retry = ctx.limiter.peek(item, "tool", principal.key_id).retry_after
    raise ToolError(
        429,
        "rate_limited",
        f"Rate limit exceeded ({item.amount} tool calls per minute per key). Retry after {retry} seconds.",
        headers={"Retry-After": str(retry)},
    )


async def execute(
    ctx: AppContext,
    principal: ToolPrincipal,
    name: str,
    arguments: Mapping[str, Any],
    *,
    transport: str,
    idempotency_key: str | None = None,
) -> Success:
    tool = find_tool(name)
    check_rate(ctx, principal)
    args = tool.parse(arguments)
    account = None
    if tool.platform is not None:
        selected = getattr(args, tool.selector or "", None)
        account = await anyio.to_thread.run_sync(
            accounts.select_account, ctx, principal.org_id, tool.platform, selected
        )
    recorded = tool.billable or not tool.read_only
    call_id = None
    reserved: quota.Quota | None = None
    if recorded:
        call_id, reserved = await anyio.to_thread.run_sync(
            _begin, ctx, principal, tool, arguments_hash(arguments), transport
        )
    call = Call(ctx, principal.org_id, principal.key_id, account, idempotency_key, transport)
    try:
        result = await tool.handler(call, args)
    except BaseException as exc:
        if call_id is not None:
            err = _as_tool_error(exc) if isinstance(exc, ApiError) else None
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_fail, ctx, principal.org_id, call_id, tool, err)
        if isinstance(exc, ApiError):
            raise _as_tool_error(exc) from None
        raise
    if call_id is not None or result.commit is not None:
        await anyio.to_thread.run_sync(_succeed, ctx, call_id, tool.billable, result.commit)
    if reserved is None:
        reserved = result.quota
    if reserved is None:
        reserved = await quota.status(ctx, principal.org_id)
    return Success(tool.name, result.text, result.structured, reserved.block())


def _begin(
    ctx: AppContext, principal: ToolPrincipal, tool: Tool, args_hash: str, transport: str
) -> tuple[str, quota.Quota | None]:
    now = ctx.clock.now()
    call_id = new_id()
    refused: quota.Quota | None = None
    reserved: quota.Quota | None = None
    with ctx.db.write() as s:
        if tool.billable:
            reserved = quota.reserve(s, ctx.settings, principal.org_id, now)
            if reserved is None:
                refused = quota.current(s, ctx.settings, principal.org_id, now)
        s.add(
            ToolCall(
                id=call_id,
                org_id=principal.org_id,
                key_id=principal.key_id,
                tool=tool.name,
                transport=transport,
                arguments_hash=args_hash,
                status=402 if refused else 0,
                outcome="quota_exhausted" if refused else "running",
                quota_used=reserved is not None,
                created_at=int(now),
                finished_at=int(now) if refused else None,
            )
        )
    if refused is not None:
        quota.remember(ctx.tool_quotas, now, principal.org_id, refused)
        raise quota.exhausted(ctx.settings, refused)
    if reserved is not None:
        quota.remember(ctx.tool_quotas, now, principal.org_id, reserved)
    return call_id, reserved


def _succeed(
    ctx: AppContext, call_id: str | None, billable: bool, commit: Callable[[Session], None] | None
) -> None:
    with ctx.db.write() as s:
        if commit is not None:
            commit(s)
        if call_id is not None:
            repo.finish_call(
                s, call_id, status=200, outcome="ok", error=None, quota_used=billable, at=ctx.clock.now_s()
            )


def _fail(ctx: AppContext, org_id: str, call_id: str, tool: Tool, err: ToolError | None) -> None:
    now = ctx.clock.now()
    with ctx.db.write() as s:
        row = s.execute(repo.org_calls(org_id).where(ToolCall.id == call_id)).scalar_one()
        if row.quota_used:
            quota.refund(s, org_id, quota.period_of(row.created_at)[0])
        repo.finish_call(
            s,
            call_id,
            status=err.status if err else 500,
            outcome="error",
            error=(err.message if err else "internal error")[:500],
            quota_used=False,
            at=int(now),
        )
    quota.forget(ctx.tool_quotas, org_id)  # the count may have gone down: the next read asks the database


# Statuses a platform service may raise that are, for a tool, the tool's own error (400): an unknown
# campaign, a declined card, a conflicting state. 429 stays 429; our own bugs stay 5xx.
_AS_TOOL_ERROR = {400, 402, 403, 404, 405, 409, 413, 415, 422}


def _as_tool_error(err: ApiError) -> ToolError:
    if isinstance(err, ToolError):
        return err
    status = 400 if err.status in _AS_TOOL_ERROR else err.status
    if err.status == 503:  # an upstream we depend on is down: the agent should retry, not give up
        status = 429
    message = err.message
    if err.param and not message.startswith(err.param):  # a tool error names the argument it is about
        message = f"{err.param}: {message}"
    out = ToolError(status, err.code, message, err.param, headers=err.headers)
    if err.status == 503 and "Retry-After" not in out.headers:
        out.headers["Retry-After"] = "1"
    return out
