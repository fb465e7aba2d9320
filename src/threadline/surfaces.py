"""Every public surface, declared once. The only place path prefixes are written down.

To add a surface: declare it here (prefixes, credential, renderer, policies), add it to ``SURFACES``,
register a resolver for a new credential kind on the Authenticator (auth/authenticator.py), and mount
its router with ``routing.mount(app, router)`` from the slice's ``install``. Routes whose paths fall
under no prefix belong to ``PUBLIC``.
"""

from __future__ import annotations

from threadline.dashboard.errors import render_dashboard_error
from threadline.kit.errors import render_openai
from threadline.kit.surface import Cors, Credential, RatePolicy, Surface, SurfaceTable
from threadline.publishing.errors import render_graph
from threadline.serving.presenters import render_bid_error, render_legacy_error, render_tracking_error
from threadline.tools.envelope import NOT_AUTHENTICATED, render_tool_error

# Paths that code outside this module needs in order to build routes or classify a path, named here so
# that no other module writes a prefix. Route declarations below a prefix use these names.
EVENTS_MOUNTS = ("/v1/api", "/api")  # collect and conversion answer under both (the legacy one without /v1)
SERVING_BID_PATH = "/api/v1/ssp/bid-request"
TRACKING_CLICK = "/t/c/"
TRACKING_VIEW = "/t/v/"
TOOLS_PATH = "/api/v1/tools"
MCP_PATH = "/mcp"
GRAPH_VERSION = "/v1.0"  # Graph's version segment: every Graph route and the token routes again under it
GRAPH_TOKEN_PATHS = ("/access_token", "/refresh_access_token", "/oauth/access_token")

ADVERTISER = Surface(
    "advertiser",
    ("/v1/",),
    render_openai,
    credential=Credential("advertiser", stage="gate"),
    rate_limit=RatePolicy(
        "adv",
        "rate_limit_per_hour",
        routes=(("POST", "/v1/campaigns", RatePolicy("adv-create", "campaign_create_limit_per_hour")),),
    ),
    idempotency=True,
    streams=("/v1/upload",),  # multipart upload: the route streams and enforces its own 5 MB limit
    redirect_slashes=True,
)

EVENTS_RATE = RatePolicy("events", "events_rate_limit_per_hour", headers="refusal")
EVENTS = Surface(
    "events",
    (f"{EVENTS_MOUNTS[0]}/", f"{EVENTS_MOUNTS[1]}/collect", f"{EVENTS_MOUNTS[1]}/conversion"),
    render_openai,
    validation_status=422,
    credential=Credential("event"),
    rate_limit=EVENTS_RATE,
    body_limit="events_max_body_bytes",
    redirect_slashes=True,
)

_SERVING_CORS = Cors(
    allow_headers=(
        "Content-Type, thrad-api-key, X-THRADS-API-KEY, X-User-Country, X-User-Device, X-User-Timezone, "
        "X-User-Region, X-User-City"
    ),
    expose_headers="X-RateLimit-Remaining, X-RateLimit-Reset, X-Request-Id",
)
# One budget per publisher key across the current and the legacy request shapes.
_SERVE_RATE = RatePolicy(
    "serve",
    "serving_rate_limit_per_second",
    per="second",
    headers="remaining_reset",
    message="Rate limit exceeded.",
)

SERVING = Surface(
    "serving",
    ("/api/v1/ssp/",),
    render_bid_error,
    credential=Credential("publisher", header="thrad-api-key", bearer=False),
    rate_limit=_SERVE_RATE,
    cors=_SERVING_CORS,
    redirect_slashes=True,
)

SERVING_LEGACY = Surface(
    "serving-legacy",
    ("/developer/",),
    render_legacy_error,
    credential=Credential(
        "publisher", header="x-thrads-api-key", bearer=False, invalid_message="Invalid API key"
    ),
    rate_limit=_SERVE_RATE,
    cors=_SERVING_CORS,
    redirect_slashes=True,
)

TRACKING = Surface(
    "tracking",
    ("/t/", "/api/v1/tracking/"),  # TRACKING_CLICK and TRACKING_VIEW are under /t/
    render_tracking_error,
    cors=_SERVING_CORS,
    redirect_slashes=True,
)

OPERATOR = Surface(
    "operator",
    ("/admin/",),
    render_openai,
    credential=Credential("operator"),
    redirect_slashes=True,
)

# The agent tools (REST execute envelope and MCP). The route (and the /mcp gate) authenticates through the
# Authenticator's ``tool`` resolver (tools/auth.py) so a 401 carries the tool envelope; the per-key rate is tools.service.check_rate.
TOOLS = Surface(
    "tools",
    (TOOLS_PATH, MCP_PATH),
    render_tool_error,
    credential=Credential("tool", invalid_message=NOT_AUTHENTICATED),
)

# Threads Graph (spec 70). Tokens arrive as a query/form parameter or a header, so the route resolves them
# through the Authenticator's ``threads`` resolver (publishing/auth.py: resolve_token maps its answer to
# codes 190/463) and the Graph envelope renders every error.
THREADS = Surface(
    "threads",
    (f"{GRAPH_VERSION}/", *GRAPH_TOKEN_PATHS),
    render_graph,
    redirect_slashes=False,
)

# The web dashboard (spec 90) and the Threads OAuth consent screen: HTML pages behind a session cookie
# (dashboard/sessions.py). /v1.0/oauth/authorize lives under THREADS' prefix and reads the same cookie.
DASHBOARD = Surface(
    "dashboard",
    ("/app", "/oauth/authorize"),  # "/app" covers /app and /app/... (surfaces match by first segment)
    render_dashboard_error,
    credential=Credential("dashboard", header="x-threadline-session", bearer=False, cookie="tl_session"),
    body_limit="dashboard_max_body_bytes",
)

# Everything else: /media/, /healthz, /metrics, /docs, /openapi.json.
PUBLIC = Surface("public", ("/",), render_openai, redirect_slashes=True)

SURFACES: tuple[Surface, ...] = (
    ADVERTISER,
    EVENTS,
    SERVING,
    SERVING_LEGACY,
    TRACKING,
    OPERATOR,
    THREADS,
    TOOLS,
    DASHBOARD,
)


def surface_table() -> SurfaceTable:
    return SurfaceTable(PUBLIC, SURFACES)
