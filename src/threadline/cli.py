"""The `threadline` command: run the server and operate it (the same services as /admin/v1)."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import structlog
import typer
import uvicorn
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError

from threadline import demo as demo_setup
from threadline import simulate as simulation
from threadline.advertiser.deposits import reconcile_pending_charges
from threadline.background import make_worker
from threadline.config import Settings
from threadline.context import AppContext, build_context
from threadline.kit.errors import ApiError, validation_to_api_error
from threadline.kit.jobs import Outcome
from threadline.kit.pagination import PageParams
from threadline.operator import event_keys, jobs, publishers, review, service
from threadline.operator.admin_token import ensure_admin_token
from threadline.operator.schemas import (
    EventKeyCreate,
    JobState,
    OrgCreate,
    PaymentMethodCreate,
    PublisherCreate,
    RejectBody,
)
from threadline.store.migrate import upgrade

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="threadline",
    help="Threadline: a self-hostable, Thrad-compatible ad platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
orgs_app = typer.Typer(help="Organisations, their advertiser keys and cards.", no_args_is_help=True)
review_app = typer.Typer(help="The campaign review queue.", no_args_is_help=True)
publishers_app = typer.Typer(help="Publishers (the chat apps that ask for ads).", no_args_is_help=True)
event_keys_app = typer.Typer(help="Event keys for the server-to-server Events API.", no_args_is_help=True)
billing_app = typer.Typer(help="Deposit charges.", no_args_is_help=True)
jobs_app = typer.Typer(help="Durable background jobs.", no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")
app.add_typer(review_app, name="review")
app.add_typer(publishers_app, name="publishers")
app.add_typer(event_keys_app, name="event-keys")
app.add_typer(billing_app, name="billing")
profiles_app = typer.Typer(help="Threads profiles and their access tokens.", no_args_is_help=True)
apps_app = typer.Typer(
    help="Threads apps (OAuth clients) and test authorization codes.", no_args_is_help=True
)
app.add_typer(profiles_app, name="profiles")
app.add_typer(apps_app, name="apps")
app.add_typer(jobs_app, name="jobs")

console = Console()
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of a table.")]
Limit = Annotated[int, typer.Option(min=1, max=500, help="Rows per page.")]
After = Annotated[str | None, typer.Option(help="Continue after this id (from the previous page).")]


class CliError(Exception):
    """A user-facing failure outside the API's own errors (configuration, store unreachable)."""


def _fail(message: str) -> typer.Exit:
    err_console.print(f"error: {message}", markup=False)
    return typer.Exit(1)


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can cause into one line on stderr and exit code 1, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ApiError as e:
            raise _fail(e.message) from None
        except ValidationError as e:
            raise _fail(validation_to_api_error(e.errors()).message) from None
        except CliError as e:
            raise _fail(str(e)) from None
        except OperationalError as e:
            detail = (str(e.orig or e).strip().splitlines() or ["unknown error"])[0]
            raise _fail(f"cannot use the database: {detail}") from None

    return wrapper


@contextmanager
def operator_context() -> Iterator[AppContext]:
    """An AppContext like the server's (settings from the environment), on a migrated store."""
    settings = Settings()
    upgrade(settings.resolved_database_url)
    try:
        ctx = build_context(settings)  # the same container as the server's, components not started
    except ValueError as e:  # a misconfigured payment provider or storage backend
        raise CliError(str(e)) from None
    try:
        yield ctx
    finally:
        ctx.db.dispose()


# --------------------------------------------------------------------------------------------- output


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return str(value.get("id", json.dumps(value)))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def emit(obj: BaseModel | dict[str, Any], as_json: bool, *, title: str | None = None) -> None:
    """One object: JSON, or a two-column table of its fields."""
    data = obj.model_dump(mode="json") if isinstance(obj, BaseModel) else obj
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        table.add_row(key, _cell(value))
    console.print(table)


def emit_rows(page: BaseModel | dict[str, Any], columns: Sequence[str], as_json: bool, *, title: str) -> None:
    """A list object: JSON as the API returns it, or a table of the chosen columns."""
    data = page.model_dump(mode="json") if isinstance(page, BaseModel) else page
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title=title)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in data["data"]:
        table.add_row(*(_cell(row.get(col)) for col in columns))
    console.print(table)
    if data["has_more"]:
        console.print(f"more rows: --after {data['last_id']}", markup=False)


@app.callback()
def _setup() -> None:
    # Log lines go to stderr so that --json output on stdout stays parseable.
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.dev.ConsoleRenderer(colors=False)],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )


# ---------------------------------------------------------------------------------------------- serve


def local_url(host: str, port: int) -> str:
    """How a client on this machine reaches a server bound to ``host``."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@app.command()
@user_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory (SQLite file, media, secrets).")
    ] = None,
    demo: Annotated[
        bool, typer.Option(help="Seed and print a ready-to-use demo org, publisher and campaign.")
    ] = False,
) -> None:
    """Run migrations, then the HTTP server."""
    # Workers are separate processes that read their settings from the environment.
    if data_dir is not None:
        os.environ["THREADLINE_DATA_DIR"] = str(data_dir)
    if demo:
        os.environ.setdefault("THREADLINE_AUTO_APPROVE", "true")
    # Click, view and media URLs must reach this server, wherever --host/--port put it.
    os.environ.setdefault("THREADLINE_PUBLIC_BASE_URL", local_url(host, port))
    with operator_context() as ctx:
        # Deposits whose request died mid-way are settled by the periodic job billing.reconcile, which
        # the in-server worker runs at start.
        generated = ensure_admin_token(ctx)
        if demo:
            info = demo_setup.seed(ctx)
            typer.echo(demo_setup.banner(info, ctx.settings, admin_token=generated))
            typer.echo(tools_cli.demo_banner(ctx, info.org_id))
        elif generated:
            typer.echo(
                f"Admin token (shown once, also in {Path(ctx.settings.data_dir) / 'admin-token'}): {generated}"
            )
    uvicorn.run("threadline.app:app_factory", factory=True, host=host, port=port, workers=workers)


@app.command()
@user_errors
def migrate() -> None:
    """Apply database migrations (serve does this too)."""
    settings = Settings()
    upgrade(settings.resolved_database_url)
    typer.echo("database is up to date")


@app.command("demo")
@user_errors
def demo_command(as_json: JsonFlag = False) -> None:
    """Seed the demo (idempotent) and print its keys and a few curl commands."""

    with operator_context() as ctx:
        generated = ensure_admin_token(ctx)
        info = demo_setup.seed(ctx)
        if as_json:
            typer.echo(json.dumps(info.as_dict(), indent=2))
        else:
            typer.echo(demo_setup.banner(info, ctx.settings, admin_token=generated))
            typer.echo(tools_cli.demo_banner(ctx, info.org_id))


@app.command()
@user_errors
def simulate(
    conversations: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="How many chat conversations to simulate.")
    ] = 100,
    base_url: Annotated[str, typer.Option(help="The running server.")] = "http://127.0.0.1:8000",
    seed: Annotated[
        int | None, typer.Option(min=0, help="Random seed (the same seed replays the same choices).")
    ] = None,
    conversion_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of clicks that convert.")
    ] = 0.3,
    concurrency: Annotated[int, typer.Option(min=1, max=256, help="Conversations in flight at once.")] = 8,
    publisher_key: Annotated[
        str | None, typer.Option(help="Publisher key (pk_...); default: the demo's.")
    ] = None,
    event_key: Annotated[str | None, typer.Option(help="Event key (ek_...); default: the demo's.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Send realistic publisher traffic (bids, views, clicks, votes, conversions) to a running server."""
    if publisher_key is None or event_key is None:
        keys_file = Path(Settings().data_dir) / demo_setup.KEYS_FILE
        try:
            found = simulation.load_demo_keys(keys_file)
        except simulation.SimulationError as e:
            raise CliError(str(e)) from None
        publisher_key = publisher_key or found.get("publisher_key")
        event_key = event_key or found.get("event_key")
        if not publisher_key or not event_key:
            raise CliError(f"{keys_file} lacks the publisher or event key")
    cfg = simulation.SimConfig(
        base_url=base_url.rstrip("/"),
        publisher_key=publisher_key,
        event_key=event_key,
        conversations=conversations,
        seed=seed if seed is not None else secrets.randbelow(1_000_000),
        conversion_rate=conversion_rate,
        concurrency=concurrency,
    )
    progress = Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,  # no bar in logs and pipes
    )
    with progress:
        task = progress.add_task("conversations", total=conversations)
        try:
            report = simulation.run(cfg, lambda: progress.advance(task))
        except simulation.SimulationError as e:
            raise CliError(str(e)) from None
    emit(report.as_dict(), as_json, title=f"Simulation against {cfg.base_url}")
    if report.errors:
        raise CliError(f"{report.errors} request(s) failed, first: {report.error_samples[0]}")


# ----------------------------------------------------------------------------------------------- orgs


@orgs_app.command("create")
@user_errors
def orgs_create(
    name: Annotated[str, typer.Argument(help="The organisation's name.")],
    url: Annotated[str | None, typer.Option(help="Its website.")] = None,
    card: Annotated[
        str | None, typer.Option(help="Attach a card token (sandbox: tok_visa, tok_mastercard, ...).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an organisation and print its advertiser key (shown once)."""

    body = OrgCreate(name=name, url=url)
    token = PaymentMethodCreate(token=card) if card is not None else None
    with operator_context() as ctx:
        if token is None:
            out: dict[str, Any] = service.create_org(ctx, body).model_dump(mode="json")
        else:
            created, pm = service.create_org_with_card(ctx, body, token)
            out = {**created.model_dump(mode="json"), "payment_method": pm.model_dump(mode="json")}
    emit(out, as_json, title="Organisation created (the api_key is shown only once)")


@orgs_app.command("list")
@user_errors
def orgs_list(limit: Limit = 20, after: After = None, as_json: JsonFlag = False) -> None:
    """List organisations, newest first."""

    with operator_context() as ctx:
        page = service.list_orgs(ctx, PageParams(limit=limit, after=after))
    emit_rows(page, ["id", "name", "url", "created_at"], as_json, title="Organisations")


@orgs_app.command("rotate-key")
@user_errors
def orgs_rotate_key(
    org: Annotated[str, typer.Argument(help="Organisation id.")], as_json: JsonFlag = False
) -> None:
    """Mint a new advertiser key; the previous one works until the grace window ends."""

    with operator_context() as ctx:
        rotated = service.rotate_api_key(ctx, org)
    emit(rotated, as_json, title="New advertiser key (shown only once)")


@orgs_app.command("revoke-key")
@user_errors
def orgs_revoke_key(org: Annotated[str, typer.Argument(help="Organisation id.")]) -> None:
    """Revoke the organisation's advertiser keys at once."""

    with operator_context() as ctx:
        service.revoke_api_key(ctx, org)
    typer.echo("advertiser keys revoked")


# --------------------------------------------------------------------------------------------- review


@review_app.command("list")
@user_errors
def review_list(as_json: JsonFlag = False) -> None:
    """Campaigns waiting for review, oldest first."""

    with operator_context() as ctx:
        queue = review.review_queue(ctx)
    emit_rows(queue, ["id", "name", "org_id", "status", "updated_at"], as_json, title="Review queue")


@review_app.command("approve")
@user_errors
def review_approve(
    campaign_id: Annotated[str, typer.Argument(metavar="ID", help="Campaign id.")], as_json: JsonFlag = False
) -> None:
    """Approve a campaign."""

    with operator_context() as ctx:
        campaign = review.approve(ctx, campaign_id)
    emit(campaign, as_json, title="Campaign approved")


@review_app.command("reject")
@user_errors
def review_reject(
    campaign_id: Annotated[str, typer.Argument(metavar="ID", help="Campaign id.")],
    reason: Annotated[str, typer.Option(help="Why; the advertiser sees it as rejection_reason.")],
    as_json: JsonFlag = False,
) -> None:
    """Reject a campaign with a reason."""

    body = RejectBody(reason=reason)
    with operator_context() as ctx:
        campaign = review.reject(ctx, campaign_id, body)
    emit(campaign, as_json, title="Campaign rejected")


# ----------------------------------------------------------------------------------------- publishers


@publishers_app.command("create")
@user_errors
def publishers_create(
    name: Annotated[str, typer.Argument(help="The publisher's name.")],
    supply: Annotated[str, typer.Option(help="Supply label insights split by.")] = "direct",
    floor_cpm_micros: Annotated[
        int, typer.Option(help="Floor price per 1000 impressions, in micros.")
    ] = 1_000_000,
    allowed_origin: Annotated[
        list[str] | None, typer.Option(help="Browser origin allowed to call the serving API (repeatable).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a publisher and print its key (shown once)."""

    body = PublisherCreate(
        name=name, supply=supply, floor_cpm_micros=floor_cpm_micros, allowed_origins=allowed_origin or []
    )
    with operator_context() as ctx:
        created = publishers.create_publisher(ctx, body)
    emit(created, as_json, title="Publisher created (the api_key is shown only once)")


@publishers_app.command("list")
@user_errors
def publishers_list(limit: Limit = 20, after: After = None, as_json: JsonFlag = False) -> None:
    """List publishers, newest first."""

    with operator_context() as ctx:
        page = publishers.list_publishers(ctx, PageParams(limit=limit, after=after))
    emit_rows(
        page, ["id", "name", "supply", "floor_cpm_micros", "allowed_origins"], as_json, title="Publishers"
    )


# ----------------------------------------------------------------------------------------- event keys


@event_keys_app.command("create")
@user_errors
def event_keys_create(
    org: Annotated[str, typer.Argument(help="Organisation id.")],
    label: Annotated[str, typer.Option(help="What the key is for, e.g. 'checkout backend'.")],
    as_json: JsonFlag = False,
) -> None:
    """Create an event key for an organisation and print it (shown once)."""

    body = EventKeyCreate(label=label)
    with operator_context() as ctx:
        created = event_keys.create_event_key(ctx, org, body)
    emit(created, as_json, title="Event key created (the api_key is shown only once)")


@billing_app.command("reconcile")
@user_errors
def billing_reconcile(
    older_than: Annotated[
        int | None, typer.Option(min=0, help="Seconds; default THREADLINE_RECONCILE_AFTER_SECONDS.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Settle pending deposit charges whose request never finished: refund or close them."""
    with operator_context() as ctx:
        threshold = ctx.settings.reconcile_after_seconds if older_than is None else older_than
        if threshold <= ctx.settings.idempotency_lease_seconds:
            raise CliError("--older-than must exceed THREADLINE_IDEMPOTENCY_LEASE_SECONDS")
        emit(dataclasses.asdict(reconcile_pending_charges(ctx, threshold)), as_json, title="Reconciled")


# ------------------------------------------------------------------------------------------ publishing

ScopesOpt = Annotated[
    str,
    typer.Option(
        "--scopes",
        help="Comma-separated scopes (threads_basic, threads_content_publish, threads_delete, ...).",
    ),
]
DEFAULT_SCOPES = (
    "threads_basic,threads_content_publish,threads_manage_replies,threads_read_replies,threads_delete"
)


def _scopes(text: str) -> list[Any]:
    return [s.strip() for s in text.split(",") if s.strip()]


@profiles_app.command("create")
@user_errors
def profiles_create(
    org: Annotated[str, typer.Argument(help="Organisation id.")],
    username: Annotated[str, typer.Argument(help="Username: a-z, 0-9, '.' and '_', up to 30.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    biography: Annotated[str | None, typer.Option(help="threads_biography.")] = None,
    geo_gating: Annotated[bool, typer.Option(help="Eligible for geo-gated posts.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a Threads profile owned by an organisation."""
    from threadline.publishing import accounts
    from threadline.publishing.schemas import ProfileCreate

    body = ProfileCreate(
        username=username, name=name, biography=biography, is_eligible_for_geo_gating=geo_gating
    )
    with operator_context() as ctx:
        created = accounts.create_profile(ctx, org, body)
    emit(created, as_json, title="Threads profile created")


@profiles_app.command("token")
@user_errors
def profiles_token(
    profile: Annotated[str, typer.Argument(help="Profile id or username.")],
    scopes: ScopesOpt = DEFAULT_SCOPES,
    long: Annotated[
        bool, typer.Option("--long/--short", help="Long-lived (60 days) or short-lived (1 h).")
    ] = False,
    app_id: Annotated[str | None, typer.Option(help="Bind the token to this app's client_id.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Mint an access token for a profile (shown once)."""
    from threadline.publishing import accounts
    from threadline.publishing.schemas import TokenCreate

    body = TokenCreate(scopes=_scopes(scopes), lifetime="long" if long else "short", app_id=app_id)
    with operator_context() as ctx:
        found = accounts.find_profile(ctx, profile)
        created = accounts.create_token(ctx, found.id, body)
    emit(created, as_json, title=f"Access token for @{found.username} (shown only once)")


@profiles_app.command("follow")
@user_errors
def profiles_follow(
    follower: Annotated[str, typer.Argument(help="The following profile (id or username).")],
    followed: Annotated[str, typer.Argument(help="The profile it follows (id or username).")],
    as_json: JsonFlag = False,
) -> None:
    """Make one profile follow another (reply_control's follow rules read this)."""
    from threadline.publishing import accounts, follows

    with operator_context() as ctx:
        a, b = accounts.find_profile(ctx, follower), accounts.find_profile(ctx, followed)
        created = follows.follow(ctx, a.id, b.id)
    emit(created, as_json, title=f"@{a.username} follows @{b.username}")


@profiles_app.command("unfollow")
@user_errors
def profiles_unfollow(
    follower: Annotated[str, typer.Argument(help="The following profile (id or username).")],
    followed: Annotated[str, typer.Argument(help="The profile it stops following (id or username).")],
) -> None:
    """Remove a follow between two profiles."""
    from threadline.publishing import accounts, follows

    with operator_context() as ctx:
        a, b = accounts.find_profile(ctx, follower), accounts.find_profile(ctx, followed)
        follows.unfollow(ctx, a.id, b.id)
    typer.echo(f"@{a.username} no longer follows @{b.username}")


upstream_app = typer.Typer(
    help="Mirror a profile to an upstream Threads account (graph.threads.net or another server).",
    no_args_is_help=True,
)
profiles_app.add_typer(upstream_app, name="upstream")


@upstream_app.command("link")
@user_errors
def profiles_upstream_link(
    profile: Annotated[str, typer.Argument(help="Profile id or username.")],
    access_token: Annotated[str, typer.Option(help="The upstream account's long-lived access token.")],
    base_url: Annotated[str, typer.Option(help="Upstream Graph base.")] = "https://graph.threads.net/v1.0",
    user_id: Annotated[str, typer.Option(help="Upstream Threads user id, or me.")] = "me",
    token_expires_at: Annotated[int | None, typer.Option(help="Unix time the token expires.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Link (or re-link) a profile: its posts are published upstream from now on (token kept encrypted)."""
    from threadline.publishing import accounts, mirror
    from threadline.publishing.outbound_schemas import UpstreamLink

    body = UpstreamLink(
        base_url=base_url, access_token=access_token, user_id=user_id, token_expires_at=token_expires_at
    )
    with operator_context() as ctx:
        found = accounts.find_profile(ctx, profile)
        linked = mirror.link_upstream(ctx, found.id, body)
    emit(linked, as_json, title=f"@{found.username} is mirrored upstream")


@upstream_app.command("show")
@user_errors
def profiles_upstream_show(
    profile: Annotated[str, typer.Argument(help="Profile id or username.")], as_json: JsonFlag = False
) -> None:
    """Show a profile's upstream link (never the token)."""
    from threadline.publishing import accounts, mirror

    with operator_context() as ctx:
        found = accounts.find_profile(ctx, profile)
        link = mirror.get_upstream(ctx, found.id)
    emit(link, as_json, title=f"Upstream of @{found.username}")


@upstream_app.command("unlink")
@user_errors
def profiles_upstream_unlink(profile: Annotated[str, typer.Argument(help="Profile id or username.")]) -> None:
    """Stop mirroring a profile (upstream copies stay where they are)."""
    from threadline.publishing import accounts, mirror

    with operator_context() as ctx:
        found = accounts.find_profile(ctx, profile)
        mirror.unlink_upstream(ctx, found.id)
    typer.echo(f"@{found.username} is no longer mirrored")


@apps_app.command("create")
@user_errors
def apps_create(
    name: Annotated[str, typer.Argument(help="The app's name.")],
    redirect_uri: Annotated[list[str] | None, typer.Option(help="Allowed redirect URI (repeatable).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register an app; prints its client_id and client_secret (shown once)."""
    from threadline.publishing import accounts
    from threadline.publishing.schemas import AppCreate

    with operator_context() as ctx:
        created = accounts.create_app(ctx, AppCreate(name=name, redirect_uris=redirect_uri or []))
    emit(created, as_json, title="App created (the client_secret is shown only once)")


@apps_app.command("code")
@user_errors
def apps_code(
    client_id: Annotated[str, typer.Argument(help="The app's client_id.")],
    profile: Annotated[str, typer.Option(help="Profile id or username that consents.")],
    redirect_uri: Annotated[str, typer.Option(help="The redirect URI the code is bound to.")],
    scopes: ScopesOpt = DEFAULT_SCOPES,
    as_json: JsonFlag = False,
) -> None:
    """Mint a single-use authorization code (10 min), as the consent screen will."""
    from threadline.publishing import accounts
    from threadline.publishing.schemas import CodeCreate

    with operator_context() as ctx:
        found = accounts.find_profile(ctx, profile)
        body = CodeCreate(profile_id=found.id, scopes=_scopes(scopes), redirect_uri=redirect_uri)
        created = accounts.create_code(ctx, client_id, body)
    emit(created, as_json, title="Authorization code (single use)")


# ----------------------------------------------------------------------------------------------- jobs


@app.command()
@user_errors
def worker(
    threads: Annotated[
        int | None, typer.Option(min=1, max=64, help="Claim loops; default THREADLINE_JOBS_WORKER_THREADS.")
    ] = None,
    drain: Annotated[
        bool, typer.Option(help="Run the jobs due now, then exit (for cron or one-offs).")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No line per job; start, stop and failures only.")] = False,
) -> None:
    """Run durable-job workers against the store (as many processes as you like, beside the servers).

    SIGTERM or Ctrl-C: claim nothing more, let running jobs finish (up to 30 s), exit 0.
    """
    counts: dict[str, int] = {}
    lock = threading.Lock()

    def report(o: Outcome) -> None:
        with lock:
            counts[o.state] = counts.get(o.state, 0) + 1
            if quiet and o.state in ("done", "retry"):
                return
            line = f"job {o.job.id} {o.job.kind} attempt {o.job.attempt}/{o.job.max_attempts}: {o.state}"
            line += f" in {o.seconds * 1000:.1f} ms"
            if o.retry_at is not None:
                line += f", next try at {o.retry_at}"
            if o.error:
                line += f" ({o.error.splitlines()[0]})"
            err_console.print(line, markup=False)

    with operator_context() as ctx:
        runner = make_worker(ctx, threads=threads, name="cli", on_outcome=report)
        kinds = ", ".join(ctx.jobs.kinds)
        if drain:
            runner.ensure_schedules()
            ran = runner.drain()
            err_console.print(f"drained {ran} job(s): {_counts(counts)}", markup=False)
            return
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            runner.start()
            err_console.print(
                f"worker {runner.owner} ready: {runner.threads} thread(s), kinds: {kinds}", markup=False
            )
            stop.wait()
            err_console.print("stopping: waiting for running jobs", markup=False)
            runner.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        err_console.print(f"worker stopped: {_counts(counts)}", markup=False)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}={counts.get(k, 0)}" for k in ("done", "retry", "dead", "lost"))


@jobs_app.command("list")
@user_errors
def jobs_list(
    state: Annotated[JobState | None, typer.Option(help="Only jobs in this state.")] = None,
    limit: Limit = 20,
    after: After = None,
    as_json: JsonFlag = False,
) -> None:
    """List jobs, newest first (dead ones with their error)."""

    with operator_context() as ctx:
        page = jobs.list_jobs(ctx, state, PageParams(limit=limit, after=after))
    emit_rows(
        page,
        ["id", "kind", "state", "attempts", "run_at", "last_error"],
        as_json,
        title="Jobs" if state is None else f"Jobs ({state})",
    )


from threadline.tools import cli as tools_cli  # noqa: E402  (its commands need the helpers above)

tools_cli.register(
    app, operator_context=operator_context, emit=emit, emit_rows=emit_rows, user_errors=user_errors
)


def main() -> None:
    app()
