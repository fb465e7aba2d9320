"""The Graph error envelope and the OAuth error shape of the token endpoints (spec 70, Errors)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from threadline.kit.errors import ApiError

OAUTH = "OAuthException"
TH_API = "THApiException"
INVALID_TOKEN = "Invalid OAuth access token - Cannot parse access token"
NO_PERMISSION = "(#10) Application does not have permission for this action"


class GraphError(ApiError):
    """An ApiError carrying Graph's numeric code, subcode and the optional user-facing fields."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        subcode: int | None = None,
        type: str = TH_API,
        transient: bool | None = None,
        user_title: str | None = None,
        user_msg: str | None = None,
        status: int = 400,
        param: str | None = None,
    ) -> None:
        super().__init__(status, str(code), message, param, type=type)
        self.graph_code = code
        self.subcode = subcode
        self.transient = transient
        self.user_title = user_title
        self.user_msg = user_msg


def invalid_token() -> GraphError:
    return GraphError(190, INVALID_TOKEN, type=OAUTH)


def expired_token(expired_at: str) -> GraphError:
    return GraphError(
        190, f"Error validating access token: Session has expired on {expired_at}.", subcode=463, type=OAUTH
    )


def no_permission() -> GraphError:
    return GraphError(10, NO_PERMISSION, type=OAUTH)


def no_object(object_id: str) -> GraphError:
    return GraphError(
        100,
        f"Unsupported request - Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation",
        subcode=33,
    )


def unsupported_method(method: str) -> GraphError:
    return GraphError(100, f"Unsupported request - method type: {method.lower()}", subcode=33)


def bad_param(param: str, detail: str) -> GraphError:
    """Code 100 with the message naming the parameter, as Graph words it."""
    return GraphError(100, f"(#100) The parameter {param} {detail}", param=param)


def rule(prefix: str, detail: str, param: str | None = None) -> GraphError:
    """Code 100 whose message starts with a Threads constant (THREADS_API__...)."""
    return GraphError(100, f"{prefix}: {detail}", param=param)


def nonexisting_field(field: str, node_type: str) -> GraphError:
    return GraphError(100, f"Tried accessing nonexisting field ({field}) on node type ({node_type})")


def not_ready(media_id: str, *, carousel: bool = False) -> GraphError:
    return GraphError(
        24,
        "The requested resource does not exist",
        subcode=4279004 if carousel else 4279009,
        type=OAUTH,
        transient=True,
        user_title="Media Not Found",
        user_msg=(
            f"An item of the carousel with id {media_id} is not ready to be published."
            if carousel
            else f"The media with id {media_id} cannot be found."
        ),
    )


def user_limit() -> GraphError:
    return GraphError(17, "User request limit reached", transient=True)


def app_limit() -> GraphError:
    return GraphError(4, "Application request limit reached", transient=True)


def _graph_of(err: ApiError) -> GraphError:
    """Errors raised outside this slice (unknown path, body too large, validation, our bugs) in Graph form."""
    if isinstance(err, GraphError):
        return err
    if err.status >= 500:
        return GraphError(1, "An unknown error occurred", transient=True, status=500)
    if err.status == 404:
        return GraphError(100, "Unsupported request - unknown path", subcode=33)
    if err.status == 405:
        return GraphError(100, "Unsupported request - method not allowed on this path", subcode=33)
    return GraphError(100, f"(#100) {err.message}", param=err.param)


def graph_body(err: GraphError, trace_id: str) -> dict[str, Any]:
    error: dict[str, Any] = {"message": err.message, "type": err.type, "code": err.graph_code}
    if err.subcode is not None:
        error["error_subcode"] = err.subcode
    if err.transient is not None:
        error["is_transient"] = err.transient
    if err.user_title is not None:
        error["error_user_title"] = err.user_title
    if err.user_msg is not None:
        error["error_user_msg"] = err.user_msg
    error["fbtrace_id"] = trace_id
    return {"error": error}


def oauth_body(err: GraphError) -> dict[str, Any]:
    return {"error_type": OAUTH, "code": 400, "error_message": err.message}


def is_token_path(path: str) -> bool:
    # surfaces.py imports this module's renderer, so it is read when an error renders, not at import.
    from threadline.surfaces import GRAPH_TOKEN_PATHS, GRAPH_VERSION

    if path.startswith(GRAPH_VERSION + "/"):
        path = path[len(GRAPH_VERSION) :]
    return path in GRAPH_TOKEN_PATHS


def render_graph(err: ApiError, request: Request) -> Response:
    graph = _graph_of(err)
    status = 500 if graph.status >= 500 else 400
    if is_token_path(request.url.path):
        return JSONResponse(oauth_body(graph), status_code=status)
    trace_id = str(getattr(request.state, "request_id", "") or "")
    return JSONResponse(graph_body(graph, trace_id), status_code=status, headers=err.headers)
