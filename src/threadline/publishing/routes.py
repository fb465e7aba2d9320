"""The Graph surface (/v1.0/), the token endpoints (root and /v1.0/) and the permalink pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from threadline.context import AppContext
from threadline.kit.errors import ApiError
from threadline.publishing import insights, pages, service, social_service, tokens, visitors
from threadline.publishing.admin_routes import router as admin_router
from threadline.publishing.auth import ThreadsPrincipal, presented_token, resolve_token
from threadline.publishing.errors import app_limit, unsupported_method
from threadline.publishing.openapi_docs import (
    CHILDREN_DOC,
    CONVERSATION_DOC,
    CREATE_DOC,
    DELETE_DOC,
    EXCHANGE_DOC,
    LIMIT_DOC,
    LIST_DOC,
    MANAGE_REPLY_DOC,
    MEDIA_INSIGHTS_DOC,
    NODE_DOC,
    NODE_POST_DOC,
    OAUTH_CODE_DOC,
    PERMALINK_DOC,
    PUBLISH_DOC,
    REFRESH_DOC,
    REPLIES_DOC,
    REPOST_DOC,
    USER_INSIGHTS_DOC,
    VOTE_DOC,
)
from threadline.publishing.outbound_routes import router as outbound_router
from threadline.publishing.params import Params, read_params, text_param
from threadline.routing import mount

router = APIRouter(tags=["threads"])
token_router = APIRouter(tags=["threads oauth"])
page_router = APIRouter(tags=["threads pages"])


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _authenticate(ctx: AppContext, request: Request, params: Params) -> ThreadsPrincipal:
    token = presented_token(
        text_param(params, "access_token", max_chars=1024), request.headers.get("authorization")
    )
    principal = resolve_token(ctx, token)
    limiter = ctx.limiter
    if not limiter.allow(
        limiter.per_hour(ctx.settings.threads_calls_per_hour), "threads-token", str(principal.token_id)
    ):
        raise app_limit()
    return principal


async def _graph(request: Request, call: Callable[[AppContext, ThreadsPrincipal, Params], Any]) -> Response:
    ctx = _ctx(request)
    params = await read_params(request)

    def run() -> Any:
        return call(ctx, _authenticate(ctx, request, params), params)

    return JSONResponse(await run_in_threadpool(run))


async def _token(request: Request, call: Callable[[AppContext, Params], Any]) -> Response:
    ctx = _ctx(request)
    params = await read_params(request)
    return JSONResponse(await run_in_threadpool(call, ctx, params))


def _add_token_routes(prefix: str) -> None:
    async def exchange(request: Request) -> Response:
        return await _token(request, tokens.exchange)

    async def refresh(request: Request) -> Response:
        return await _token(request, tokens.refresh)

    async def oauth_code(request: Request) -> Response:
        return await _token(request, tokens.authorization_code)

    name = prefix.strip("/").replace(".", "_") or "root"
    token_router.add_api_route(
        f"{prefix}/access_token", exchange, methods=["GET"], name=f"exchange_{name}", **EXCHANGE_DOC
    )
    token_router.add_api_route(
        f"{prefix}/refresh_access_token", refresh, methods=["GET"], name=f"refresh_{name}", **REFRESH_DOC
    )
    token_router.add_api_route(
        f"{prefix}/oauth/access_token",
        oauth_code,
        methods=["POST"],
        name=f"oauth_code_{name}",
        **OAUTH_CODE_DOC,
    )


_add_token_routes("")
_add_token_routes("/v1.0")


@router.post("/v1.0/{user}/threads", **CREATE_DOC)
async def create_container(request: Request, user: str) -> Response:
    return await _graph(
        request, lambda ctx, p, params: {"id": service.create_container(ctx, p, user, params)}
    )


@router.get("/v1.0/{user}/threads", **LIST_DOC)
async def list_threads(request: Request, user: str) -> Response:
    url = str(request.url.replace(query=""))
    return await _graph(request, lambda ctx, p, params: service.list_posts(ctx, p, user, params, url))


@router.post("/v1.0/{user}/threads_publish", **PUBLISH_DOC)
async def publish(request: Request, user: str) -> Response:
    return await _graph(request, lambda ctx, p, params: {"id": service.publish(ctx, p, user, params)})


@router.get("/v1.0/{user}/threads_publishing_limit", **LIMIT_DOC)
async def publishing_limit(request: Request, user: str) -> Response:
    return await _graph(request, lambda ctx, p, params: service.publishing_limit(ctx, p, user, params))


@router.get("/v1.0/{node}/replies", **REPLIES_DOC)
async def replies(request: Request, node: str) -> Response:
    url = str(request.url.replace(query=""))
    return await _graph(request, lambda ctx, p, params: social_service.replies(ctx, p, node, params, url))


@router.get("/v1.0/{node}/conversation", **CONVERSATION_DOC)
async def conversation(request: Request, node: str) -> Response:
    url = str(request.url.replace(query=""))
    return await _graph(
        request, lambda ctx, p, params: social_service.conversation(ctx, p, node, params, url)
    )


@router.post("/v1.0/{node}/manage_reply", **MANAGE_REPLY_DOC)
async def manage_reply(request: Request, node: str) -> Response:
    return await _graph(request, lambda ctx, p, params: social_service.manage_reply(ctx, p, node, params))


@router.post("/v1.0/{node}/repost", **REPOST_DOC)
async def repost(request: Request, node: str) -> Response:
    return await _graph(request, lambda ctx, p, params: social_service.repost(ctx, p, node))


@router.get("/v1.0/{node}/insights", **MEDIA_INSIGHTS_DOC)
async def media_insights(request: Request, node: str) -> Response:
    return await _graph(request, lambda ctx, p, params: insights.media_insights(ctx, p, node, params))


@router.get("/v1.0/{user}/threads_insights", **USER_INSIGHTS_DOC)
async def user_insights(request: Request, user: str) -> Response:
    return await _graph(request, lambda ctx, p, params: insights.user_insights(ctx, p, user, params))


@router.get("/v1.0/{node}/children", **CHILDREN_DOC)
async def carousel_children(request: Request, node: str) -> Response:
    return await _graph(request, lambda ctx, p, params: service.list_children(ctx, p, node, params))


@router.get("/v1.0/{node}", **NODE_DOC)
async def read_node(request: Request, node: str) -> Response:
    return await _graph(request, lambda ctx, p, params: service.read_node(ctx, p, node, params))


@router.delete("/v1.0/{node}", **DELETE_DOC)
async def delete_node(request: Request, node: str) -> Response:
    return await _graph(request, lambda ctx, p, params: service.delete_post(ctx, p, node))


@router.post("/v1.0/{node}", **NODE_POST_DOC)
async def post_node(request: Request, node: str) -> Response:
    def refuse(ctx: AppContext, p: ThreadsPrincipal, params: Params) -> Any:
        raise unsupported_method("post")

    return await _graph(request, refuse)


@page_router.get("/@{username}/post/{code}", response_class=HTMLResponse, **PERMALINK_DOC)
async def permalink(request: Request, username: str, code: str) -> Response:
    ctx = _ctx(request)
    cookie = request.cookies.get(visitors.COOKIE)
    return await run_in_threadpool(pages.post_page, ctx, username, code, cookie)


@page_router.post("/@{username}/post/{code}/vote", response_class=HTMLResponse, **VOTE_DOC)
async def vote(request: Request, username: str, code: str) -> Response:
    ctx = _ctx(request)
    back = f"/@{username[:30]}/post/{code[:16]}"
    try:
        params = await read_params(request)
        option = text_param(params, "option", max_chars=16)
        token = text_param(params, "token", max_chars=visitors.MAX_TOKEN)
    except ApiError:
        return pages.message_page(400, "This vote could not be read.", back)
    cookie = request.cookies.get(visitors.COOKIE)
    try:
        await run_in_threadpool(visitors.vote, ctx, username, code, cookie, token, option)
    except ApiError as err:
        return pages.message_page(err.status, err.message, back if err.status != 404 else None)
    return RedirectResponse(back, status_code=303)


def install(app: FastAPI, ctx: AppContext) -> None:
    mount(app, token_router, router, page_router, admin_router, outbound_router)
