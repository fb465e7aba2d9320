"""One /openapi.json path per tool (as Adspirer's spec has), with its argument schema and envelopes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from threadline.surfaces import TOOLS_PATH as TOOLS_PREFIX
from threadline.tools.catalog import registry
from threadline.tools.registry import Tool

_PREFIX = "Tool_"
_QUOTA = {
    "type": "object",
    "required": ["used", "limit", "tier", "period_end"],
    "properties": {
        "used": {"type": "integer"},
        "limit": {"type": "integer"},
        "tier": {"type": "string", "enum": ["free", "plus", "pro", "max"]},
        "period_end": {"type": "string", "format": "date"},
        "upgrade_url": {"type": "string"},
    },
}
COMPONENTS: dict[str, Any] = {
    "ToolQuota": _QUOTA,
    "ToolSuccessResponse": {
        "type": "object",
        "required": ["success", "data", "tool"],
        "properties": {
            "success": {"const": True},
            "data": {
                "type": "object",
                "required": ["text", "quota", "structured"],
                "properties": {
                    "text": {"type": "string"},
                    "quota": {"$ref": "#/components/schemas/ToolQuota"},
                    "structured": {"type": "object"},
                },
            },
            "tool": {"type": "string"},
        },
    },
    "ToolErrorResponse": {
        "type": "object",
        "required": ["success", "error", "is_error", "tool"],
        "properties": {
            "success": {"const": False},
            "error": {"type": "string"},
            "is_error": {"const": True},
            "tool": {"type": "string"},
            "structured_content": {"type": "object"},
        },
    },
    "ToolQuotaErrorResponse": {
        "type": "object",
        "required": ["success", "error", "is_error", "tool", "quota"],
        "properties": {
            "success": {"const": False},
            "error": {"type": "string"},
            "is_error": {"const": True},
            "tool": {"type": "string"},
            "quota": {"$ref": "#/components/schemas/ToolQuota"},
        },
    },
}
_ERRORS = {
    "400": "Tool-level error: bad or missing arguments, account selection, an upstream platform's refusal",
    "401": "No valid tool key",
    "404": "Unknown tool",
    "409": "Idempotency-Key reused with different arguments, or still in progress",
    "413": "Request body too large",
    "429": "Rate limited (our per-key rate or an upstream platform's)",
    "500": "Internal error (our bug)",
}


def _ref(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def _operation(tool: Tool, components: dict[str, Any]) -> dict[str, Any]:
    schema = tool.args.model_json_schema(ref_template=f"#/components/schemas/{_PREFIX}{{model}}")
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(_PREFIX + name, sub)
    schema["additionalProperties"] = False
    flags = [f for f in ("read_only", "destructive", "quota_free") if getattr(tool, f)]
    responses: dict[str, Any] = {"200": {"description": "Success", **_ref("ToolSuccessResponse")}}
    responses["402"] = {"description": "Monthly quota exhausted", **_ref("ToolQuotaErrorResponse")}
    for status, text in _ERRORS.items():
        responses[status] = {"description": text, **_ref("ToolErrorResponse")}
    return {
        "post": {
            "operationId": f"tool_{tool.name}",
            "tags": [f"tools: {tool.category}"],
            "summary": tool.name,
            "description": tool.description + (f"\n\nFlags: {', '.join(flags)}." if flags else ""),
            "security": [{"ToolKey": []}],
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["arguments"],
                            "additionalProperties": False,
                            "properties": {"arguments": schema},
                        }
                    }
                },
            },
            "responses": responses,
        }
    }


def extend(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(COMPONENTS)
    components.setdefault("securitySchemes", {})["ToolKey"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "Tool key: `Bearer sk_live_...`",
    }
    paths = schema.setdefault("paths", {})
    for tool in registry().all():
        paths[f"{TOOLS_PREFIX}/{tool.name}/execute"] = _operation(tool, schemas)


def register(app: FastAPI) -> None:
    extenders = getattr(app.state, "openapi_extenders", None)
    if extenders is None:
        extenders = app.state.openapi_extenders = []
    extenders.append(extend)
