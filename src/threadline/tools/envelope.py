"""The tool API's wire shapes (spec 80 / Adspirer): success, error and quota envelopes."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from threadline.kit.errors import ApiError

NOT_AUTHENTICATED = (
    "Not authenticated. Please connect your Threadline account first: create a tool key (sk_live_...)."
)


class ToolError(ApiError):
    """An ApiError that may carry machine-readable detail (``structured_content``) or a quota block."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        param: str | None = None,
        *,
        structured_content: dict[str, Any] | None = None,
        quota: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, code, message, param, headers=headers)
        self.structured_content = structured_content
        self.quota = quota


def tool_not_found(name: str) -> ToolError:
    return ToolError(404, "tool_not_found", f"Tool not found: {name}")


def not_authenticated() -> ToolError:
    return ToolError(401, "not_authenticated", NOT_AUTHENTICATED)


def success_body(tool: str, text: str, structured: dict[str, Any], quota: dict[str, Any]) -> dict[str, Any]:
    return {
        "success": True,
        "data": {"text": text, "quota": quota, "structured": structured},
        "tool": tool,
    }


def error_body(tool: str, err: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "error": err.message, "is_error": True, "tool": tool}
    if isinstance(err, ToolError):
        if err.quota is not None:
            body["quota"] = err.quota
        if err.structured_content is not None:
            body["structured_content"] = err.structured_content
    return body


def tool_name_of(path: str) -> str:
    """``/api/v1/tools/<name>/execute`` -> ``<name>`` (empty for other paths of the surface)."""
    # surfaces.py imports this module's renderer, so the prefix is read when an error renders.
    from threadline.surfaces import TOOLS_PATH

    rest = path[len(TOOLS_PATH) + 1 :] if path.startswith(TOOLS_PATH + "/") else ""
    return rest.split("/", 1)[0][:100]


def render_tool_error(err: ApiError, request: Request) -> Response:
    if err.status >= 500:
        request_id = getattr(request.state, "request_id", None) or "unknown"
        err = ApiError(err.status, err.code, f"Internal error: {request_id}")
    return JSONResponse(error_body(tool_name_of(request.url.path), err), err.status, headers=err.headers)
