"""One error type for every surface, and the renderers that give each surface its wire shape."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

TYPE_BY_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "card_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "idempotency_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(Exception):
    """Raised by services; each surface renders it in its own wire shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        param: str | None = None,
        *,
        type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.type = type or TYPE_BY_STATUS.get(status, "api_error")
        self.headers = dict(headers or {})


def not_found(what: str = "resource", param: str | None = None) -> ApiError:
    return ApiError(404, "not_found", f"No such {what}.", param)


def invalid(message: str, param: str | None = None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, code, message, param)


def openai_body(err: ApiError) -> dict[str, Any]:
    return {"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}}


def render_openai(err: ApiError, request: Request) -> Response:
    return JSONResponse(openai_body(err), status_code=err.status, headers=err.headers)


Renderer = Callable[[ApiError, Request], Response]


def format_loc(loc: Sequence[int | str]) -> str | None:
    """Pydantic's error location as a dotted path with indexes: ``ad_groups[0].ads[1].title``."""
    out = ""
    if loc and loc[0] in _SOURCES:
        loc = loc[1:]
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS or "[" in str(part):
            # discriminated-union tags and validator names are not fields
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or None


# Where FastAPI found the value (first element) and discriminated-union tags are not the client's path.
_SOURCES = {"body", "query", "path", "header"}
_UNION_TAGS = {"chat_card", "poll"}

_MISSING = {"missing", "missing_argument"}
_EXTRA = {"extra_forbidden", "unexpected_keyword_argument"}
_JSON = {"json_invalid", "json_type"}


def _describe(error: Mapping[str, Any], param: str | None) -> str:
    msg = str(error.get("msg") or "Invalid value.")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return f"{param}: {msg}" if param else msg


def validation_to_api_error(errors: Iterable[Mapping[str, Any]], *, status: int = 400) -> ApiError:
    """The first Pydantic/FastAPI validation error as an ApiError with our codes."""
    errs = list(errors)
    if not errs:
        return ApiError(status, "invalid_value", "Invalid request.")
    # An unknown field is the most useful thing to report first: it is usually a typo.
    errs.sort(key=lambda e: 0 if e.get("type") in _EXTRA else (1 if e.get("type") in _JSON else 2))
    first = errs[0]
    kind = str(first.get("type", ""))
    loc = tuple(first.get("loc", ()))
    param = format_loc(loc)
    if kind in _JSON:
        return ApiError(400, "invalid_json", "The request body is not valid JSON.", None)
    if loc and loc[0] == "body" and len(loc) == 1 and kind in _MISSING:
        return ApiError(400, "invalid_json", "A JSON object request body is required.", None)
    if kind in _MISSING:
        return ApiError(status, "missing_param", f"Missing required parameter: {param}.", param)
    if kind in _EXTRA:
        return ApiError(status, "unknown_param", f"Unknown parameter: {param}.", param)
    ctx = first.get("ctx") or {}
    if isinstance(ctx, Mapping) and isinstance(ctx.get("error"), ApiError):
        err: ApiError = ctx["error"]
        if err.param is None:
            err.param = param
        return err
    return ApiError(status, "invalid_value", _describe(first, param), param)
