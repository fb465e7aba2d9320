"""The one tool registry: REST, MCP, /openapi.json, GET /api/v1/tools and docs/tools.md all read it.

Adding a tool is one ``Tool(...)`` definition in a catalog module (tools/catalog/).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from threadline.kit.errors import validation_to_api_error
from threadline.tools.envelope import ToolError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from threadline.context import AppContext
    from threadline.tools.accounts import Account
    from threadline.tools.quota import Quota

from threadline.tools.platforms import PLATFORMS, SELECTORS

__all__ = ["PLATFORMS", "SELECTORS"]


class Args(BaseModel):
    """Tool arguments: unknown names refused, JSON types not coerced (a string is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class NoArgs(Args):
    pass


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL with a host")
    return value


# A URL Threadline fetches itself (through the SSRF-safe fetcher, which also refuses private hosts).
HttpUrl = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_http_url)]


@dataclass(frozen=True)
class ToolResult:
    text: str  # markdown for a person
    structured: dict[str, Any]  # every id and number the text mentions
    # A handler that read the quota anyway (get_usage_status) hands it on: no second read.
    quota: Quota | None = None
    # Writes that must commit with the call's record (a scheduled post and its job): run in the
    # transaction that settles the call, so neither exists without the other.
    commit: Callable[[Session], None] | None = None


@dataclass(frozen=True)
class Call:
    """What a handler is given: the org it acts for and the account selected for its platform."""

    ctx: AppContext
    org_id: str
    key_id: str
    account: Account | None
    idempotency_key: str | None
    transport: str


Handler = Callable[[Call, Any], Awaitable[ToolResult]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[BaseModel]
    handler: Handler
    category: str  # general | thrad | tiktok_ads | threads: the section of the docs
    platform: str | None = None  # the connected-account platform it acts on (None: general)
    read_only: bool = False
    destructive: bool = False
    quota_free: bool = False
    # Calling it twice with the same arguments has no further effect (MCP idempotentHint).
    idempotent: bool = False
    examples: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    @property
    def selector(self) -> str | None:
        return SELECTORS[self.platform] if self.platform else None

    @property
    def billable(self) -> bool:
        return not self.quota_free

    def parse(self, arguments: Mapping[str, Any]) -> BaseModel:
        """Validated arguments, or a 400 naming the argument and the rule it broke."""
        try:
            # JSON mode: the wire types (enums and literals from strings) with strictness kept.
            return self.args.model_validate_json(json.dumps(arguments))
        except ValidationError as exc:
            err = validation_to_api_error(exc.errors(include_url=False))
            raise ToolError(400, err.code, _argument_message(err.message), err.param) from None

    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema of the arguments object, self-contained (``$defs`` inside)."""
        schema = self.args.model_json_schema()
        schema.setdefault("properties", {})
        schema["additionalProperties"] = False
        return schema


def _argument_message(message: str) -> str:
    # Our validation messages say "parameter"; in a tool call the client sends "arguments".
    return message.replace("Missing required parameter:", "Missing required argument:").replace(
        "Unknown parameter:", "Unknown argument:"
    )


class Registry:
    def __init__(self, tools: list[Tool]) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"duplicate tool {tool.name}")
            if tool.selector is not None and tool.selector not in tool.args.model_fields:
                raise ValueError(f"{tool.name}: platform tools take the {tool.selector} selector")
            self._tools[tool.name] = tool

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def all(self) -> list[Tool]:
        return list(self._tools.values())
