"""Make /openapi.json describe the wire as it really is (our error bodies, not FastAPI's 422 default)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

_FASTAPI_422 = "#/components/schemas/HTTPValidationError"
_ERROR_REF = "#/components/schemas/ErrorResponse"


def _error_response() -> dict[str, Any]:
    return {"description": "Error", "content": {"application/json": {"schema": {"$ref": _ERROR_REF}}}}


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault(
            "ErrorResponse",
            {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["message", "type", "param", "code"],
                        "properties": {
                            "message": {"type": "string"},
                            "type": {"type": "string"},
                            "param": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                            "code": {"type": "string"},
                        },
                    }
                },
            },
        )
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                default_422 = responses.get("422", {})
                ref = default_422.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
                if ref == _FASTAPI_422:
                    del responses["422"]
                    responses.setdefault("400", _error_response())
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        # Surfaces whose paths are not FastAPI routes (one documented path per tool) add them here.
        for extend in getattr(app.state, "openapi_extenders", []):
            extend(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]
