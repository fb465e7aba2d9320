"""Profiles, apps, tokens and authorization codes: the operator services (admin API and CLI share them)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from threadline.context import AppContext
from threadline.kit import crypto
from threadline.kit.clock import Clock
from threadline.kit.errors import ApiError, not_found
from threadline.kit.ids import new_graph_id, parse_graph_id
from threadline.kit.secrets import generate_key, hash_key
from threadline.publishing.auth import TOKEN_PREFIX
from threadline.publishing.schemas import (
    AppCreate,
    AppList,
    AppOut,
    CodeCreate,
    CodeOut,
    NewAppOut,
    ProfileCreate,
    ProfileList,
    ProfileOut,
    TokenCreate,
    TokenOut,
)
from threadline.store.models import Org, ThreadsApp, ThreadsAuthCode, ThreadsProfile, ThreadsToken

SHORT_LIVED_SECONDS = 3600
LONG_LIVED_SECONDS = 60 * 86400
CODE_SECONDS = 600
# The client_secret is kept hashed (to check it) and encrypted (to sign webhook deliveries with it).
APP_SECRET_PURPOSE = "threadline/threads-apps/client-secret"


def profile_out(p: ThreadsProfile) -> ProfileOut:
    return ProfileOut(
        id=str(p.id),
        org_id=p.org_id,
        username=p.username,
        name=p.name,
        threads_biography=p.biography,
        threads_profile_picture_url=p.profile_picture_url,
        is_verified=False,
        is_eligible_for_geo_gating=p.is_eligible_for_geo_gating,
        created_at=p.created_at,
    )


def _app_out(a: ThreadsApp) -> AppOut:
    return AppOut(
        client_id=str(a.id), name=a.name, redirect_uris=list(a.redirect_uris), created_at=a.created_at
    )


def mint_token(
    s: Session, clock: Clock, *, profile_id: int, scopes: Iterable[str], lifetime: str, app_id: int | None
) -> tuple[ThreadsToken, str]:
    """A token row and its plain text (shown once; only the hash is stored)."""
    plain = generate_key(TOKEN_PREFIX)
    now = clock.now_s()
    row = ThreadsToken(
        id=new_graph_id(clock.now()),
        token_hash=hash_key(plain),
        profile_id=profile_id,
        app_id=app_id,
        scopes=sorted(set(scopes)),
        lifetime=lifetime,
        created_at=now,
        expires_at=now + (LONG_LIVED_SECONDS if lifetime == "long" else SHORT_LIVED_SECONDS),
    )
    s.add(row)
    return row, plain


def token_out(row: ThreadsToken, plain: str) -> TokenOut:
    return TokenOut(
        id=str(row.id),
        access_token=plain,
        expires_in=row.expires_at - row.created_at,
        scopes=list(row.scopes),
    )


def profile_row(s: Session, profile_id: str) -> ThreadsProfile:
    pid = parse_graph_id(profile_id)
    profile = s.get(ThreadsProfile, pid) if pid is not None else None
    if profile is None:
        raise not_found("profile")
    return profile


def app_row(s: Session, app_id: str, param: str = "app_id") -> ThreadsApp:
    aid = parse_graph_id(app_id)
    app = s.get(ThreadsApp, aid) if aid is not None else None
    if app is None:
        raise not_found("app", param)
    return app


def app_secret(ctx: AppContext, app: ThreadsApp) -> str | None:
    """The app's client_secret in plain text (to sign webhooks with), if it is stored encrypted."""
    if app.secret_encrypted is None:
        return None
    return crypto.decrypt(ctx.secret_key, APP_SECRET_PURPOSE, app.secret_encrypted)


def _org(s: Session, org_id: str) -> Org:
    org = s.execute(select(Org).where(Org.id == org_id[:36])).scalar()
    if org is None or org.deleted_at is not None:
        raise not_found("organisation")
    return org


def find_profile(ctx: AppContext, profile: str) -> ProfileOut:
    """A profile by id or username (the CLI accepts either)."""
    with ctx.db.read() as s:
        found = s.execute(select(ThreadsProfile).where(ThreadsProfile.username == profile)).scalar()
        return profile_out(found if found is not None else profile_row(s, profile))


def create_profile(ctx: AppContext, org_id: str, body: ProfileCreate) -> ProfileOut:
    try:
        with ctx.db.write() as s:
            org = _org(s, org_id)
            profile = ThreadsProfile(
                id=new_graph_id(ctx.clock.now()),
                org_id=org.id,
                username=body.username,
                name=body.name or body.username,
                biography=body.biography or "",
                profile_picture_url=body.profile_picture_url or "",
                is_eligible_for_geo_gating=body.is_eligible_for_geo_gating,
                created_at=ctx.clock.now_s(),
            )
            s.add(profile)
            s.flush()
    except IntegrityError:
        raise ApiError(409, "username_taken", "That username is taken.", "username") from None
    return profile_out(profile)


def list_profiles(ctx: AppContext, org_id: str) -> ProfileList:
    with ctx.db.read() as s:
        _org(s, org_id)
        rows = s.execute(
            select(ThreadsProfile).where(ThreadsProfile.org_id == org_id).order_by(ThreadsProfile.id.desc())
        ).scalars()
        return ProfileList(data=[profile_out(p) for p in rows])


def create_token(ctx: AppContext, profile_id: str, body: TokenCreate) -> TokenOut:
    with ctx.db.write() as s:
        profile = profile_row(s, profile_id)
        app_id = app_row(s, body.app_id).id if body.app_id is not None else None
        row, plain = mint_token(
            s, ctx.clock, profile_id=profile.id, scopes=body.scopes, lifetime=body.lifetime, app_id=app_id
        )
    return token_out(row, plain)


def revoke_token(ctx: AppContext, profile_id: str, token_id: str) -> None:
    tid = parse_graph_id(token_id)
    with ctx.db.write() as s:
        profile = profile_row(s, profile_id)
        done = s.execute(
            update(ThreadsToken)
            .where(ThreadsToken.id == (tid or 0), ThreadsToken.profile_id == profile.id)
            .values(revoked_at=ctx.clock.now_s())
        ).rowcount  # type: ignore[attr-defined]
    if not done:
        raise not_found("token")
    ctx.keys.clear()  # the token's principal may be cached (auth/authenticator.py ThreadsTokenResolver)


def create_app(ctx: AppContext, body: AppCreate) -> NewAppOut:
    secret = generate_key("ths")
    with ctx.db.write() as s:
        app = ThreadsApp(
            id=new_graph_id(ctx.clock.now()),
            name=body.name,
            secret_hash=hash_key(secret),
            secret_encrypted=crypto.encrypt(ctx.secret_key, APP_SECRET_PURPOSE, secret),
            redirect_uris=list(body.redirect_uris),
            created_at=ctx.clock.now_s(),
        )
        s.add(app)
    return NewAppOut(**_app_out(app).model_dump(), client_secret=secret)


def list_apps(ctx: AppContext) -> AppList:
    with ctx.db.read() as s:
        rows = s.execute(select(ThreadsApp).order_by(ThreadsApp.id.desc())).scalars()
        return AppList(data=[_app_out(a) for a in rows])


def create_code(ctx: AppContext, client_id: str, body: CodeCreate) -> CodeOut:
    """A single-use authorization code, as the consent screen of a later issue will issue them."""
    plain = generate_key("thc")
    with ctx.db.write() as s:
        app = app_row(s, client_id)
        profile = profile_row(s, body.profile_id)
        now = ctx.clock.now_s()
        s.add(
            ThreadsAuthCode(
                code_hash=hash_key(plain),
                app_id=app.id,
                profile_id=profile.id,
                scopes=sorted(set(body.scopes)),
                redirect_uri=body.redirect_uri,
                created_at=now,
                expires_at=now + CODE_SECONDS,
            )
        )
    return CodeOut(code=plain, expires_in=CODE_SECONDS)
