"""How the Graph operations appear in /openapi.json: parameters in query, form, multipart or JSON."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class GraphErrorObject(BaseModel):
    message: str
    type: str
    code: int
    error_subcode: int | None = None
    is_transient: bool | None = None
    error_user_title: str | None = None
    error_user_msg: str | None = None
    fbtrace_id: str


class GraphErrorResponse(BaseModel):
    error: GraphErrorObject


class OAuthErrorResponse(BaseModel):
    error_type: str
    code: int
    error_message: str


_S = {"type": "string", "maxLength": 2048}
_TOKEN_Q = {
    "name": "access_token",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "maxLength": 512},
}
_FIELDS_Q = {
    "name": "fields",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "maxLength": 1024},
}


def _q(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": _S}


def _body(props: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": props}
    return {
        "requestBody": {
            "required": False,
            "content": {
                "application/x-www-form-urlencoded": {"schema": schema},
                "multipart/form-data": {"schema": schema},
                "application/json": {"schema": schema},
            },
        }
    }


def _ok(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


_GRAPH_ERR: dict[int | str, Any] = {400: {"model": GraphErrorResponse, "description": "Graph error"}}
_OAUTH_ERR: dict[int | str, Any] = {400: {"model": OAuthErrorResponse, "description": "OAuth error"}}
_ID_OUT = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
_OBJECT = {"type": "object"}
_DATA = {"type": "object", "required": ["data"], "properties": {"data": {"type": "array"}}}
_TOKEN_OUT = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string"},
        "expires_in": {"type": "integer"},
    },
}

CREATE_PARAMS = dict.fromkeys(
    [
        "access_token",
        "media_type",
        "text",
        "image_url",
        "video_url",
        "is_carousel_item",
        "children",
        "reply_to_id",
        "reply_control",
        "alt_text",
        "link_attachment",
        "quote_post_id",
        "poll_attachment",
        "topic_tag",
        "auto_publish_text",
        "text_entities",
        "is_spoiler_media",
        "text_attachment",
        "gif_attachment",
        "is_ghost_post",
        "allowlisted_country_codes",
        "enable_reply_approvals",
        "location_id",
    ],
    _S,
)


def _doc(
    summary: str,
    ok: dict[str, Any],
    *,
    query: list[dict[str, Any]],
    body: dict[str, Any] | None = None,
    errors: dict[int | str, Any] = _GRAPH_ERR,
) -> dict[str, Any]:
    extra: dict[str, Any] = {"parameters": query}
    if body is not None:
        extra.update(_body(body))
    return {"summary": summary, "responses": {200: ok, **errors}, "openapi_extra": extra}


CREATE_DOC = _doc("Create a media container", _ok(_ID_OUT), query=[_TOKEN_Q], body=CREATE_PARAMS)
LIST_DOC = _doc(
    "List the profile's posts",
    _ok(_DATA),
    query=[_TOKEN_Q, _FIELDS_Q, _q("since"), _q("until"), _q("limit"), _q("before"), _q("after")],
)
PUBLISH_DOC = _doc(
    "Publish a media container", _ok(_ID_OUT), query=[_TOKEN_Q], body={"access_token": _S, "creation_id": _S}
)
LIMIT_DOC = _doc("The profile's publishing quotas", _ok(_DATA), query=[_TOKEN_Q, _FIELDS_Q])
NODE_DOC = _doc("Read a profile (me), container or media object", _ok(_OBJECT), query=[_TOKEN_Q, _FIELDS_Q])
CHILDREN_DOC = _doc("A carousel's items", _ok(_DATA), query=[_TOKEN_Q, _FIELDS_Q])
DELETE_DOC = _doc(
    "Delete a published post",
    _ok({"type": "object", "required": ["success", "deleted_id"]}),
    query=[_TOKEN_Q],
)
NODE_POST_DOC = _doc("Not supported on nodes (Graph answers 100/33)", _ok(_OBJECT), query=[_TOKEN_Q])
EXCHANGE_DOC = _doc(
    "Exchange a short-lived token for a long-lived one",
    _ok(_TOKEN_OUT),
    query=[_q("grant_type"), _q("client_secret"), _TOKEN_Q],
    errors=_OAUTH_ERR,
)
REFRESH_DOC = _doc(
    "Refresh a long-lived token", _ok(_TOKEN_OUT), query=[_q("grant_type"), _TOKEN_Q], errors=_OAUTH_ERR
)
OAUTH_CODE_DOC = _doc(
    "Exchange an authorization code for a short-lived token",
    _ok({"type": "object", "required": ["access_token", "user_id"]}),
    query=[],
    body=dict.fromkeys(("client_id", "client_secret", "code", "grant_type", "redirect_uri"), _S),
    errors=_OAUTH_ERR,
)
_PAGED = [_TOKEN_Q, _FIELDS_Q, _q("limit"), _q("before"), _q("after"), _q("reverse")]
REPLIES_DOC = _doc(
    "A post's direct replies, or (for me) the profile's own replies", _ok(_DATA), query=[*_PAGED, _q("since")]
)
CONVERSATION_DOC = _doc("Every reply below a post, flattened", _ok(_DATA), query=_PAGED)
MANAGE_REPLY_DOC = _doc(
    "Hide or unhide a reply (the conversation's author only)",
    _ok({"type": "object", "required": ["success"]}),
    query=[_TOKEN_Q, _q("hide")],
    body={"access_token": _S, "hide": _S},
)
REPOST_DOC = _doc("Repost a post", _ok(_ID_OUT), query=[_TOKEN_Q], body={"access_token": _S})
MEDIA_INSIGHTS_DOC = _doc("A post's insights", _ok(_DATA), query=[_TOKEN_Q, _q("metric")])
USER_INSIGHTS_DOC = _doc(
    "The profile's insights", _ok(_DATA), query=[_TOKEN_Q, _q("metric"), _q("since"), _q("until")]
)
VOTE_DOC: dict[str, Any] = {
    "summary": "Vote on a post's poll (permalink page form; signed visitor cookie and vote token)",
    "responses": {
        303: {"description": "Voted: back to the post"},
        400: {
            "description": "Forged or missing token, or unknown option",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        404: {
            "description": "Unknown post or no poll",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        409: {"description": "Already voted", "content": {"text/html": {"schema": {"type": "string"}}}},
        410: {"description": "Poll closed", "content": {"text/html": {"schema": {"type": "string"}}}},
    },
    "openapi_extra": {
        "requestBody": {
            "required": False,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": {"option": _S, "token": _S}}
                }
            },
        }
    },
}
PERMALINK_DOC: dict[str, Any] = {
    "summary": "The public page of a post",
    "responses": {
        200: {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}},
        404: {"description": "Unknown post", "content": {"text/html": {"schema": {"type": "string"}}}},
    },
}
