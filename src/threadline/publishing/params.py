"""Graph parameters from the query string, a form (urlencoded or multipart) or a JSON body, merged.

Graph accepts all four for every call; the body wins over the query. Values stay as sent (strings, or
JSON values from a JSON body) and the rules in ``rules.py`` read them.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from threadline.publishing.errors import GraphError

Params = dict[str, Any]
MAX_PARAM_CHARS = 65_536


def _malformed(what: str) -> GraphError:
    return GraphError(100, f"(#100) The request body is not valid {what}")


def _merge_multi(items: list[tuple[str, Any]]) -> Params:
    """Repeated keys (``allowlisted_country_codes=US&allowlisted_country_codes=CA``) join with commas."""
    out: Params = {}
    for key, value in items:
        if isinstance(value, UploadFile):
            continue  # Graph takes media by URL only
        if key in out and isinstance(out[key], str) and isinstance(value, str):
            out[key] = f"{out[key]},{value}"
        else:
            out[key] = value
    return out


async def read_params(request: Request) -> Params:
    params = _merge_multi(list(request.query_params.multi_items()))
    if request.method in ("GET", "HEAD"):
        return params
    body = await _read_body(request)
    params.update(body)
    return params


async def _read_body(request: Request) -> Params:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise _malformed("JSON") from None
        if not isinstance(data, dict):
            raise _malformed("JSON object")
        return {str(k): v for k, v in data.items()}
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form()
        except Exception:  # python-multipart raises several types for broken bodies
            raise _malformed("form") from None
        return _merge_multi(list(form.multi_items()))
    return {}


def text_param(params: Params, name: str, *, max_chars: int = MAX_PARAM_CHARS) -> str | None:
    """A string parameter; numbers from a JSON body are accepted as their text."""
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        raise GraphError(100, f"(#100) The parameter {name} must be a string", param=name)
    if len(value) > max_chars or "\x00" in value:
        raise GraphError(100, f"(#100) The parameter {name} is not valid", param=name)
    return value


def bool_param(params: Params, name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise GraphError(100, f"(#100) The parameter {name} must be a boolean (true, false, 1 or 0)", param=name)


def json_param(params: Params, name: str) -> Any:
    """A JSON-encoded string parameter (or, from a JSON body, the value itself)."""
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, dict | list):
        return value
    if not isinstance(value, str):
        raise GraphError(100, f"(#100) The parameter {name} must be a JSON-encoded string", param=name)
    try:
        return json.loads(value)
    except ValueError:
        raise GraphError(100, f"(#100) The parameter {name} is not valid JSON", param=name) from None
