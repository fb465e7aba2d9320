"""The OAuth token endpoints: code → short-lived, short → long-lived exchange, long-lived refresh."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from threadline.context import AppContext
from threadline.kit.ids import parse_graph_id
from threadline.kit.secrets import constant_time_equal, hash_key
from threadline.publishing.accounts import mint_token
from threadline.publishing.auth import resolve_token
from threadline.publishing.errors import GraphError
from threadline.publishing.params import Params, text_param
from threadline.store.models import ThreadsApp, ThreadsAuthCode

REFRESH_MIN_AGE = 86400


def _oauth(message: str) -> GraphError:
    return GraphError(400, message, type="OAuthException")


def _required(params: Params, name: str) -> str:
    value = text_param(params, name, max_chars=2048)
    if not value:
        raise _oauth(f"Missing parameter: {name}")
    return value


def _grant(params: Params, expected: str) -> None:
    if _required(params, "grant_type") != expected:
        raise _oauth(f"Unsupported grant_type; expected {expected}")


def _answer(plain: str, expires_in: int) -> dict[str, Any]:
    return {"access_token": plain, "token_type": "bearer", "expires_in": expires_in}


def exchange(ctx: AppContext, params: Params) -> dict[str, Any]:
    _grant(params, "th_exchange_token")
    secret = _required(params, "client_secret")
    principal = resolve_token(ctx, _required(params, "access_token"))
    if principal.lifetime != "short":
        raise _oauth("Only a short-lived access token can be exchanged for a long-lived one")
    with ctx.db.write() as s:
        app = s.get(ThreadsApp, principal.app_id) if principal.app_id is not None else None
        if app is None or not constant_time_equal(app.secret_hash, hash_key(secret)):
            raise _oauth("Error validating client secret")
        row, plain = mint_token(
            s,
            ctx.clock,
            profile_id=principal.profile_id,
            scopes=principal.scopes,
            lifetime="long",
            app_id=app.id,
        )
    return _answer(plain, row.expires_at - row.created_at)


def refresh(ctx: AppContext, params: Params) -> dict[str, Any]:
    _grant(params, "th_refresh_token")
    principal = resolve_token(ctx, _required(params, "access_token"))
    if principal.lifetime != "long":
        raise _oauth("Only a long-lived access token can be refreshed")
    if ctx.clock.now() - principal.created_at < REFRESH_MIN_AGE:
        raise _oauth("A long-lived access token can be refreshed once it is at least 24 hours old")
    with ctx.db.write() as s:
        row, plain = mint_token(
            s,
            ctx.clock,
            profile_id=principal.profile_id,
            scopes=principal.scopes,
            lifetime="long",
            app_id=principal.app_id,
        )
    return _answer(plain, row.expires_at - row.created_at)


def authorization_code(ctx: AppContext, params: Params) -> dict[str, Any]:
    _grant(params, "authorization_code")
    client_id = parse_graph_id(_required(params, "client_id"))
    secret = _required(params, "client_secret")
    code = _required(params, "code").removesuffix("#_")
    redirect_uri = _required(params, "redirect_uri")
    now = ctx.clock.now_s()
    with ctx.db.write() as s:
        app = s.get(ThreadsApp, client_id) if client_id is not None else None
        if app is None or not constant_time_equal(app.secret_hash, hash_key(secret)):
            raise _oauth("Error validating client secret")
        row = s.execute(
            select(ThreadsAuthCode).where(
                ThreadsAuthCode.code_hash == hash_key(code), ThreadsAuthCode.app_id == app.id
            )
        ).scalar()
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise _oauth("Matching code was not found or was already used")
        if row.redirect_uri != redirect_uri:
            raise _oauth(
                "Error validating verification code. Please make sure your redirect_uri is identical"
            )
        # Single use even under concurrency: only the request whose UPDATE matched gets a token.
        taken = s.execute(
            update(ThreadsAuthCode)
            .where(ThreadsAuthCode.code_hash == row.code_hash, ThreadsAuthCode.used_at.is_(None))
            .values(used_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if not taken:
            raise _oauth("Matching code was not found or was already used")
        token, plain = mint_token(
            s, ctx.clock, profile_id=row.profile_id, scopes=row.scopes, lifetime="short", app_id=app.id
        )
    return {"access_token": plain, "user_id": str(token.profile_id)}
